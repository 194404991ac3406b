//! The SMTP password stays secret: it is in nothing upcheck prints, mails,
//! stores or publishes, whether the server takes it or refuses it. Secrets
//! that every user on the machine can read draw a warning.

use std::os::unix::fs::PermissionsExt;

use crate::support::{SmtpServer, World, assert_contains, services};

const PASSWORD: &str = "Sentinel-pa55-7f3a";
const WRONG: &str = "Sentinel-wrong-91c2";

fn chmod(world: &World, name: &str, mode: u32) {
    std::fs::set_permissions(world.path(name), std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn the_smtp_password_appears_nowhere_upcheck_writes() {
    let world = World::new("");
    let smtp = SmtpServer::starttls_with_auth(&world, PASSWORD);
    world.write(
        "upcheck.toml",
        &format!(
            "title = \"vps-1\"\nalert_after = 1\nstatus_page = \"status.html\"\nprometheus_textfile = \"upcheck.prom\"\n{}{}",
            smtp.starttls_email_config(),
            services(&[("api", "command = [\"false\"]")])
        ),
    );
    let mut said = String::new();
    let mut say = |args: &[&str]| {
        let run = world.run(args);
        said.push_str(&run.stdout);
        said.push_str(&run.stderr);
        run.code
    };
    // Accepted: an alert, a forced report, verbose JSON logs, every reader.
    assert_eq!(say(&[]), 0);
    assert_eq!(say(&["--force", "-vv", "--log-format", "json"]), 0);
    assert_eq!(say(&["check-config"]), 0);
    assert_eq!(say(&["status"]), 0);
    assert_eq!(say(&["status", "--json"]), 0);
    assert_eq!(smtp.received().len(), 2);
    // Refused: the error, the stored error and the fallback alert's attempt.
    world.write("smtp-password", WRONG);
    assert_eq!(say(&["--force", "-v"]), 1);
    assert_contains(&said, "Invalid credentials");

    let mut written = said.into_bytes();
    for m in smtp.received() {
        written.extend_from_slice(&m.data);
    }
    for file in ["upcheck.db", "status.html", "upcheck.prom"] {
        written.extend(std::fs::read(world.path(file)).unwrap_or_default());
    }
    let written = String::from_utf8_lossy(&written);
    for secret in [PASSWORD, WRONG] {
        assert!(
            !written.contains(secret),
            "the password {secret} leaked into upcheck's output, mail, database or files"
        );
    }
    // It was there to leak: the file held it, and the server checked it.
    assert_eq!(
        smtp.received()[0].auth,
        Some(("upcheck".into(), PASSWORD.into()))
    );
}

#[test]
fn secrets_readable_by_every_user_draw_a_warning() {
    let world = World::new("");
    // Others may enter the folder (a temp dir is 0700): the files' own modes decide.
    std::fs::set_permissions(world.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    world.write("smtp-password", PASSWORD);
    world.write(
        "upcheck.toml",
        &format!(
            "[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\n\
             smtp_host = \"127.0.0.1\"\nsmtp_port = 1\nsmtp_user = \"upcheck\"\n\
             smtp_password_file = \"smtp-password\"\n\n{}",
            services(&[("api", "command = [\"true\"]")])
        ),
    );
    // 0640 (as written): quiet.
    let run = world.run(&["check-config"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));

    chmod(&world, "smtp-password", 0o644);
    let run = world.run(&["check-config"]);
    assert_eq!(run.code, 0, "a warning, not an error");
    assert_contains(
        &run.stderr,
        "smtp-password is readable by every user (mode 0644)",
    );
    assert_contains(&run.stderr, "chmod o-rwx");
    // The config holds no credential: readable by all is fine.
    chmod(&world, "smtp-password", 0o600);
    chmod(&world, "upcheck.toml", 0o644);
    let run = world.run(&["check-config"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));

    // A header (a bearer token) or a password in a URL (the target's or
    // the proxy's) makes it a secret.
    for service in [
        "url = \"http://127.0.0.1:1/\"\nheaders = { Authorization = \"Bearer t0ken\" }",
        "url = \"http://monitor:hunter2@127.0.0.1:1/\"",
        "url = \"http://127.0.0.1:1/\"\nproxy = \"http://monitor:hunter2@127.0.0.1:3128\"",
    ] {
        world.write("upcheck.toml", &services(&[("api", service)]));
        chmod(&world, "upcheck.toml", 0o644);
        let run = world.run(&["check-config"]);
        assert_eq!(run.code, 0);
        assert_contains(
            &run.stderr,
            "upcheck.toml holds credentials (HTTP headers or a password in a URL) and is readable by every user (mode 0644)",
        );
        let said = format!("{}{}", run.stdout, run.stderr);
        assert!(
            !said.contains("t0ken") && !said.contains("hunter2"),
            "{said}"
        );
        // Behind a folder others cannot enter, it is not exposed.
        std::fs::set_permissions(world.dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(world.run(&["check-config"]).stderr, "");
        std::fs::set_permissions(world.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        chmod(&world, "upcheck.toml", 0o640);
        assert_eq!(world.run(&["check-config"]).stderr, "");
    }
    // A header that carries no credential is no secret.
    world.write(
        "upcheck.toml",
        &services(&[(
            "api",
            "url = \"http://127.0.0.1:1/\"\nheaders = { Accept = \"application/json\" }",
        )]),
    );
    chmod(&world, "upcheck.toml", 0o644);
    assert_eq!(world.run(&["check-config"]).stderr, "");
}
