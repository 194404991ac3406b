//! The deployment files in `cron/`: the systemd units pass
//! `systemd-analyze verify` (installed by tests/deps.sh).

use std::process::Command;

use crate::support::{BIN, assert_checker_passed};

#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let repo = env!("CARGO_MANIFEST_DIR");
    for unit in [
        "upcheck.service",
        "upcheck.timer",
        "upcheck-failure@.service",
    ] {
        let text = std::fs::read_to_string(format!("{repo}/cron/{unit}")).unwrap();
        // verify checks that ExecStart exists: point it at the binary under test.
        std::fs::write(
            dir.path().join(unit),
            text.replace("/usr/local/bin/upcheck", BIN),
        )
        .unwrap();
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(
            [
                "upcheck.service",
                "upcheck.timer",
                "upcheck-failure@.service",
            ]
            .map(|u| dir.path().join(u)),
        )
        .output()
        .expect("systemd-analyze is missing: run tests/deps.sh (apt-get install systemd)");
    assert_checker_passed("systemd-analyze verify", &out, "");
}

#[test]
fn the_crontab_line_runs_upcheck_every_five_minutes_with_mailto() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/cron/upcheck.cron")).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert!(lines[0].starts_with("MAILTO="), "{lines:?}");
    let fields: Vec<&str> = lines[1].split_whitespace().collect();
    // /etc/cron.d format: five time fields, the user, the command.
    assert_eq!(fields[..6], ["*/5", "*", "*", "*", "*", "upcheck"]);
    assert_eq!(fields[6], "/usr/local/bin/upcheck");
}
