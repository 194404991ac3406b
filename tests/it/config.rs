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
        "via SMTP mail.example.com:587 (STARTTLS, as upcheck)",
    );
    assert_contains(
        &run.stdout,
        "api       GET https://example.com/health, expect 200, body contains \"ok\"  (timeout 5s",
    );
    assert_contains(&run.stdout, "postgres  tcp 127.0.0.1:5432");
    assert_contains(&run.stdout, "\n2 services, up to 32 probes");
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
                "n".repeat(1001)
            ),
            "service[1].name",
            "longer than 1000 characters",
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

/// Issue 11, finding 4: `retention = "100000000d"` passed check-config, then
/// every run panicked before the DOWN alert went out; `restart_window` the same.
#[test]
fn a_huge_duration_is_refused_at_load_not_a_panic_every_run() {
    for (key, line) in [
        ("retention", "retention = \"100000000d\"\n"),
        ("service[1].restart_window", ""),
        ("remind", "remind = \"100000000d\"\n"),
    ] {
        let service = if line.is_empty() {
            "command = [\"false\"]\nrestart = [\"true\"]\nrestart_window = \"100000000d\""
        } else {
            "command = [\"false\"]"
        };
        let world = World::new(&format!(
            "{line}alert_after = 1\n{}",
            services(&[("down", service)])
        ));
        for args in [&["check-config"][..], &[]] {
            let run = world.run(args);
            assert_eq!(run.code, 2, "{key} {args:?}: {run:?}");
            assert_contains(
                &run.stderr,
                &format!(
                    "key `{key}`: \"100000000d\" is too large: it would carry a date past the year 9999"
                ),
            );
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        }
        assert!(!world.path("upcheck.db").exists(), "refused before probing");
    }
}

/// Issue 11, finding 12: `status_page = "u.db"` passed check-config and
/// overwrote the database with HTML; `prometheus_textfile = "upcheck.toml"`
/// overwrote the config.
#[test]
fn an_output_path_that_is_the_database_or_the_config_is_refused_at_load() {
    let cases = [
        (
            "database = \"u.db\"\nstatus_page = \"u.db\"\n",
            "status_page",
            "u.db is the database",
        ),
        (
            "prometheus_textfile = \"upcheck.toml\"\n",
            "prometheus_textfile",
            "upcheck.toml is the config itself",
        ),
        (
            "status_page = \"www/../upcheck.db-wal\"\n",
            "status_page",
            "upcheck.db-wal is the database's WAL",
        ),
        (
            "prometheus_textfile = \"./upcheck.db.lock\"\n",
            "prometheus_textfile",
            "upcheck.db.lock is the database's lock",
        ),
        (
            "database = \"upcheck.toml\"\n",
            "database",
            "upcheck.toml is the config itself",
        ),
        (
            "[email]\nto = [\"a@example.com\"]\nfrom = \"b@example.com\"\ntransport = \"file\"\noutbox = \"upcheck.db\"\n",
            "email.outbox",
            "upcheck.db is the database",
        ),
    ];
    for (text, key, said) in cases {
        let world = World::new(&format!(
            "{text}{}",
            services(&[("a", "command = [\"true\"]")])
        ));
        world.write("upcheck.db", "not touched");
        for args in [&["check-config"][..], &[]] {
            let run = world.run(args);
            assert_eq!(run.code, 2, "{text} {args:?}: {run:?}");
            assert_contains(&run.stderr, &format!("key `{key}`: "));
            assert_contains(&run.stderr, said);
            assert_contains(&run.stderr, "writing there would destroy it");
        }
        assert_eq!(
            std::fs::read_to_string(world.path("upcheck.db")).unwrap(),
            "not touched"
        );
    }
}

/// Issue 11, finding 13 (part): `database = ""` passed check-config and made
/// every run create `./.lock` in cron's working directory.
#[test]
fn an_empty_database_path_is_refused_at_load() {
    let world = World::new(&format!(
        "database = \"\"\n{}",
        services(&[("a", "command = [\"true\"]")])
    ));
    for args in [&["check-config"][..], &[]] {
        let run = world.run(args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert_contains(&run.stderr, ":1: key `database`: needs a file name");
    }
}

/// Issue 11, finding 13: check-config passed what `run` then failed on, and
/// a missing `ca_file` turned every https service offline (a DOWN alert for
/// a typo). Each is now exit 2 naming file, line and key, from check-config
/// and from `run`, before anything is probed.
#[test]
fn check_config_catches_what_run_would_trip_over() {
    let web = "url = \"https://127.0.0.1:1/\"";
    let mail = "[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\ntransport = \"file\"\n";
    let smtp = "[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\nsmtp_host = \"127.0.0.1\"\n";
    let cases: Vec<(String, &str)> = vec![
        (
            services(&[("web", &format!("{web}\nca_file = \"missing.pem\""))]),
            ":4: key `service[1].ca_file`: cannot read ",
        ),
        (
            services(&[("web", &format!("{web}\nca_file = \"ca.der\""))]),
            ":4: key `service[1].ca_file`: holds no PEM certificate",
        ),
        (
            format!("ca_file = \"missing.pem\"\n{}", services(&[("web", web)])),
            ":1: key `ca_file`: cannot read ",
        ),
        (
            format!(
                "{smtp}smtp_ca_file = \"missing.pem\"\n{}",
                services(&[("web", web)])
            ),
            ":5: key `email.smtp_ca_file`: cannot read ",
        ),
        (
            format!(
                "{}{}",
                mail.replace("upcheck@example.com", "not an address"),
                services(&[("web", web)])
            ),
            ":3: key `email.from`: \"not an address\" is not an email address",
        ),
        (
            format!(
                "{}{}",
                mail.replace("[\"ops@example.com\"]", "[\"ops@example.com\", \"ops@\"]"),
                services(&[("web", web)])
            ),
            ":2: key `email.to[2]`: \"ops@\" is not an email address",
        ),
        (
            format!(
                "{mail}\n[email]\nto = [\"b@example.com\"]\n{}",
                services(&[("web", web)])
            ),
            ":6: key `email`: duplicate key",
        ),
        (
            "title = \"vps-1\"\n".to_string(),
            "no [[service]] table: there is nothing to check",
        ),
        (
            services(&[("web", web), ("web ", web)]),
            "key `service[2].name`: duplicate service name \"web \" (\"web\" but for spaces)",
        ),
    ];
    for (text, expected) in cases {
        let world = World::new(&text);
        world.write("ca.der", "\u{30}\u{82}\u{1}\u{a}binary, not PEM");
        for args in [&["check-config"][..], &[]] {
            let run = world.run(args);
            assert_eq!(run.code, 2, "{text}\n{args:?}: {run:?}");
            assert_contains(&run.stderr, expected);
        }
        assert!(
            !world.path("upcheck.db").exists(),
            "nothing probed:\n{text}"
        );
    }
}

/// Issue 11, finding 21: check-config printed enum names (`(None)`,
/// `(Starttls)`) and "1 services".
#[test]
fn check_config_speaks_words_not_enum_names() {
    let world = World::new(&format!(
        "[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\nsmtp_host = \"mail.example.com\"\nsmtp_tls = \"none\"\n\n{}",
        services(&[("postgres", "tcp = \"127.0.0.1:5432\"")])
    ));
    let run = world.run(&["check-config"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_contains(&run.stdout, "via SMTP mail.example.com:25 (no TLS)");
    assert_contains(&run.stdout, "\n1 service, up to 32 probes");
    assert!(!run.stdout.contains("(None)"), "{}", run.stdout);
}

/// Issue 11, finding 18: `status_page` and `prometheus_textfile` where this
/// user cannot write passed check-config (which did not even print them);
/// the first run then failed with a fallback email.
#[test]
fn check_config_names_every_file_a_run_writes_and_that_it_can() {
    let healthy = services(&[("a", "command = [\"true\"]")]);
    let world = World::new(&format!(
        "status_page = \"www/index.html\"\nprometheus_textfile = \"metrics/upcheck.prom\"\n{healthy}"
    ));
    let run = world.run(&["check-config"]);
    assert_eq!(run.code, 0, "{run:?}");
    let page = world.path("www/index.html").display().to_string();
    let metrics = world.path("metrics/upcheck.prom").display().to_string();
    assert_contains(&run.stdout, &format!("page       {page} (the status page)"));
    assert_contains(
        &run.stdout,
        &format!("metrics    {metrics} (Prometheus textfile)"),
    );
    // A folder in the way that is a file: no user can write there (root
    // included, which is who runs these tests; a folder without write
    // permission was not tried for that reason).
    for key in ["status_page", "prometheus_textfile"] {
        let world = World::new(&format!("{key} = \"blocked/out\"\n{healthy}"));
        world.write("blocked", "a file, not a folder");
        let run = world.run(&["check-config"]);
        assert_eq!(run.code, 2, "{key}: {run:?}");
        let blocked = world.path("blocked").display().to_string();
        assert_contains(
            &run.stderr,
            &format!("key `{key}`: a run could not write {blocked}/out: {blocked} is not a folder"),
        );
    }
}

/// Finding 21: a default config that exists but this user cannot reach is
/// said as such, not as "no config file found". Run as `nobody` (the tests
/// run as root, whom permissions never stop) from a working directory only
/// root may search, as a unit running as `upcheck` meets a root-only folder.
#[test]
fn an_unreadable_default_config_is_said_as_permission_denied_not_missing() {
    let world = World::new(&services(&[("api", "command = [\"true\"]")]));
    // The binary where `nobody` may run it: the build folder may sit below
    // one only root can search.
    let bin_dir = tempfile::tempdir().unwrap();
    let bin = bin_dir.path().join("upcheck");
    std::fs::copy(BIN, &bin).unwrap();
    let open = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(bin_dir.path(), open).unwrap();
    let private = std::os::unix::fs::PermissionsExt::from_mode(0o700);
    std::fs::set_permissions(world.dir.path(), private).unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(&bin)
        .arg("check-config")
        .env_clear()
        .current_dir(world.dir.path())
        .output()
        .expect("setpriv (util-linux)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_contains(&stderr, "upcheck.toml: cannot read: Permission denied");
    assert_contains(&stderr, "uid 65534");
    assert!(!stderr.contains("no config file found"), "{stderr}");
}
