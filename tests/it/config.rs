//! Config discovery and errors through the binary: exit 2, file and line
//! named, nothing probed, nothing written.

use crate::support::{BIN, World, assert_contains, services};

#[test]
fn a_bad_config_exits_2_naming_file_line_and_key_and_probes_nothing() {
    let world = World::new(
        "timeout = \"10s\"\n\n[[service]]\nname = \"a\"\ntcp = \"127.0.0.1:1\"\ntimout = \"5s\"\n",
    );
    for args in [
        &[][..],
        &["run", "--dry-run"],
        &["status"],
        &["check-config"],
    ] {
        let run = world.run(args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert_eq!(run.stdout, "");
        let file = world.config_path().display().to_string();
        assert_contains(
            &run.stderr,
            &format!("{file}:6: key `service[1].timout`: unknown field `timout`"),
        );
    }
    assert!(
        !world.path("upcheck.db").exists(),
        "a bad config must not create the database"
    );
}

#[test]
fn config_is_found_by_flag_env_then_working_directory() {
    let world = World::new(&services(&[("from-cwd", "command = [\"true\"]")]));
    world.write(
        "other.toml",
        &services(&[("from-env", "command = [\"true\"]")]),
    );
    let plain = |env: Option<&str>| {
        let mut cmd = std::process::Command::new(BIN);
        cmd.env_clear()
            .current_dir(world.dir.path())
            .arg("check-config");
        if let Some(v) = env {
            cmd.env("UPCHECK_CONFIG", v);
        }
        cmd.output().unwrap()
    };
    assert_contains(&String::from_utf8_lossy(&plain(None).stdout), "from-cwd");
    assert_contains(
        &String::from_utf8_lossy(&plain(Some("other.toml")).stdout),
        "from-env",
    );
    let flagged = world.run(&["check-config"]);
    assert_contains(&flagged.stdout, "from-cwd");

    let empty = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .env_clear()
        .current_dir(empty.path())
        .arg("check-config")
        .output()
        .unwrap();
    // /etc/upcheck/upcheck.toml is the last resort; on a test machine it is absent.
    if !std::path::Path::new("/etc/upcheck/upcheck.toml").exists() {
        assert_eq!(out.status.code(), Some(2));
        assert_contains(
            &String::from_utf8_lossy(&out.stderr),
            "no config file found",
        );
    }
}

#[test]
fn check_config_prints_what_would_be_checked_and_where_mail_goes() {
    let world = World::new(&format!(
        "title = \"vps-1\"\n[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\nsmtp_host = \"mail.example.com\"\nsmtp_user = \"upcheck\"\nsmtp_password_env = \"UPCHECK_SMTP_PASSWORD\"\n\n{}",
        services(&[
            (
                "api",
                "url = \"https://example.com/health\"\nexpect_status = [200]\nbody_contains = \"ok\"\ntimeout = \"5s\""
            ),
            ("postgres", "tcp = \"127.0.0.1:5432\""),
        ])
    ));
    let run = world.run_env(&["check-config"], &[("UPCHECK_SMTP_PASSWORD", "hunter2")]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_contains(&run.stdout, "title      vps-1");
    assert_contains(
        &run.stdout,
        "via SMTP mail.example.com:587 (Starttls, as upcheck)",
    );
    assert_contains(
        &run.stdout,
        "api       GET https://example.com/health, expect 200, body contains \"ok\"  (timeout 5s",
    );
    assert_contains(&run.stdout, "postgres  tcp 127.0.0.1:5432");
    assert!(!run.stdout.contains("hunter2"), "the password was printed");
    assert!(
        !world.path("upcheck.db").exists(),
        "check-config wrote the database"
    );

    // Without the password in the environment, mail would fail: a config problem.
    let run = world.run(&["check-config"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_contains(
        &run.stderr,
        "environment variable UPCHECK_SMTP_PASSWORD (smtp_password_env) is not set",
    );
}

#[test]
fn names_and_titles_that_would_not_stay_one_visible_line_are_refused() {
    for (toml, key, says) in [
        (
            "[[service]]\nname = \"api\\nSubject: x\"\ncommand = [\"true\"]\n",
            "service[1].name",
            "'\\n' (U+000A)",
        ),
        (
            "[[service]]\nname = \"ipa\\u202E\"\ncommand = [\"true\"]\n",
            "service[1].name",
            "(U+202E)",
        ),
        (
            &format!(
                "[[service]]\nname = \"{}\"\ncommand = [\"true\"]\n",
                "n".repeat(101)
            ),
            "service[1].name",
            "longer than 100 characters",
        ),
        (
            "title = \"vps\\r\\nBcc: x@y\"\n[[service]]\nname = \"api\"\ncommand = [\"true\"]\n",
            "title",
            "'\\r' (U+000D)",
        ),
    ] {
        let world = World::new(toml);
        let run = world.run(&[]);
        assert_eq!(run.code, 2, "{toml}: {run:?}");
        let line = if key == "title" { 1 } else { 2 };
        assert_contains(&run.stderr, &format!("upcheck.toml:{line}: key `{key}`"));
        assert_contains(&run.stderr, says);
        assert!(!world.path("upcheck.db").exists());
    }
}

#[test]
fn a_config_that_is_not_a_text_file_is_refused_with_exit_2() {
    let world = World::new("");
    std::fs::write(world.path("binary.toml"), [0xff, 0xfe, 0x00, 0x80]).unwrap();
    for (path, says) in [
        ("/dev/zero", "cannot read: larger than 16384 KiB"),
        (".", "cannot read: Is a directory"),
        (
            "binary.toml",
            "cannot read: stream did not contain valid UTF-8",
        ),
    ] {
        let run: crate::support::Run = std::process::Command::new(BIN)
            .current_dir(world.dir.path())
            .args(["--config", path, "check-config"])
            .output()
            .unwrap()
            .into();
        assert_eq!(run.code, 2, "{path}: {run:?}");
        assert_contains(&run.stderr, &format!("{path}: {says}"));
    }
}
