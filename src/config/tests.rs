//! The loader's unit tests: defaults and overrides, the exact text of every
//! kind of mistake, a fuzz campaign on the sample config, URL redaction.

use super::secrets::url_has_password;
use super::*;
use crate::alert::Remind;

fn load(text: &str) -> Result<Config, ConfigError> {
    parse(Path::new("/srv/up/upcheck.toml"), text, None, |a| {
        // The shape the tests need; the real check is the mail module's.
        match a.rsplit_once('@') {
            Some((user, domain)) if !user.is_empty() && !domain.is_empty() => Ok(()),
            _ => Err(format!("{a:?} is not an email address")),
        }
    })
}

/// `check(toml, expected error)`: the whole message, file, line and key.
fn check_err(text: &str, expected: &str) {
    match load(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => assert_eq!(e.to_string(), expected, "for:\n{text}"),
    }
}

#[test]
fn defaults_apply_and_paths_resolve_against_the_config_folder() {
    let c = load(
        r#"
        [[service]]
        name = "web"
        url = "https://example.com/health"
        [[service]]
        name = "script"
        command = ["./check.sh", "x"]
        "#,
    )
    .unwrap();
    assert_eq!(c.database.file(), Some(Path::new("/srv/up/upcheck.db")));
    assert_eq!(c.parallel, 32);
    assert_eq!(c.retention, Duration::from_secs(90 * 86_400));
    let web = &c.services[0];
    assert_eq!(web.timeout, Duration::from_secs(10));
    assert_eq!(
        web.policy,
        AlertPolicy {
            alert_after: 2,
            recover_after: 1,
            remind: Remind::Exponential,
            notify_recovery: true
        }
    );
    let Target::Http(h) = &web.target else {
        panic!()
    };
    assert_eq!(h.method, "GET");
    assert_eq!(h.cert_warn, Duration::from_secs(14 * 86_400));
    let Target::Command(cmd) = &c.services[1].target else {
        panic!()
    };
    assert_eq!(cmd.argv, ["/srv/up/./check.sh", "x"]);
}

#[test]
fn services_override_the_top_level_defaults() {
    let c = load(
        r#"
        timeout = "3s"
        alert_after = 4
        remind = "6h"
        [[service]]
        name = "a"
        tcp = "127.0.0.1:22"
        [[service]]
        name = "b"
        tcp = "[::1]:22"
        timeout = "500ms"
        alert_after = 1
        remind = "never"
        notify_recovery = false
        "#,
    )
    .unwrap();
    assert_eq!(c.services[0].timeout, Duration::from_secs(3));
    assert_eq!(c.services[0].policy.alert_after, 4);
    assert_eq!(
        c.services[0].policy.remind,
        Remind::Every(Duration::from_secs(6 * 3600))
    );
    assert_eq!(c.services[1].timeout, Duration::from_millis(500));
    assert_eq!(c.services[1].policy.alert_after, 1);
    assert_eq!(c.services[1].policy.remind, Remind::Never);
    assert!(!c.services[1].policy.notify_recovery);
}

#[test]
fn every_mistake_names_file_line_and_key() {
    let f = "/srv/up/upcheck.toml";
    check_err(
        "titel = \"x\"",
        &format!(
            "{f}:1: key `titel`: unknown field `titel`, expected one of `title`, `database`, `database_password_env`, `database_password_file`, `probe`, `confirm`, `fresh_within`, `state_dir`, `timeout`, `parallel`, `run_timeout`, `lock_timeout`, `retention`, `status_page`, `status_page_details`, `badges`, `prometheus_textfile`, `alert_after`, `recover_after`, `remind`, `notify_recovery`, `slow_after`, `cert_warn`, `ca_file`, `proxy`, `retries`, `retry_delay`, `email`, `report`, `heartbeat`, `alert_command`, `service`, `maintenance`, `connectivity`"
        ),
    );
    check_err(
        "\n[[service]]\nname = \"a\"\ntcp = \"h:1\"\ncolour = 1",
        &format!(
            "{f}:5: key `service[1].colour`: unknown field `colour`, expected one of `name`, `url`, `tcp`, `command`, `tls`, `starttls`, `dns`, `record`, `expect`, `server`, `proxy`, `method`, `headers`, `expect_status`, `body_contains`, `body`, `json`, `body_matches`, `body_not_contains`, `expect_headers`, `follow_redirects`, `timeout`, `alert_after`, `recover_after`, `remind`, `notify_recovery`, `slow_after`, `cert_warn`, `ca_file`, `retries`, `retry_delay`, `depends_on`, `restart`, `restart_after`, `restart_limit`, `restart_window`, `restart_timeout`"
        ),
    );
    check_err(
        "timeout = \"10 seconds\"",
        &format!(
            "{f}:1: key `timeout`: invalid duration \"10 seconds\": expected a whole number and a unit (ms, s, m, h, d), e.g. \"10s\""
        ),
    );
    check_err(
        "timeout = \"0s\"",
        &format!("{f}:1: key `timeout`: \"0s\" must be greater than zero"),
    );
    check_err(
        "parallel = 0",
        &format!("{f}:1: key `parallel`: must be 1 or more"),
    );
    check_err(
        "alert_after = 0",
        &format!("{f}:1: key `alert_after`: must be a whole number of runs, 1 or more (got 0)"),
    );
    let svc = "\n[[service]]\nname = \"api\"\ntcp = \"h:1\"\n";
    for (window, expected) in [
        (
            "schedule = \"0 2 * *\"\nduration = \"1h\"",
            "{f}:2: key `maintenance[1].schedule`: invalid schedule \"0 2 * *\": expected five cron fields",
        ),
        (
            "schedule = \"0 2 * * sun\"\nduration = \"1h\"\ntimezone = \"Berlin\"",
            "{f}:4: key `maintenance[1].timezone`: unknown time zone \"Berlin\": expected an IANA name like \"Europe/Berlin\"",
        ),
        (
            "schedule = \"0 2 * * sun\"",
            "{f}:2: key `maintenance[1].duration`: a `schedule` needs a `duration`",
        ),
        (
            "schedule = \"0 2 * * sun\"\nduration = \"1h\"\nservices = [\"api\", \"apx\"]",
            "{f}:4: key `maintenance[1].services`: no service named \"apx\"",
        ),
        (
            "from = \"2026-12-24T18:00:00+01:00\"",
            "key `maintenance[1].schedule`: a window needs either `schedule` and `duration`, or `from` and `until`",
        ),
        (
            "from = \"2026-12-24T18:00:00+01:00\"\nuntil = \"2026-12-24T17:00:00Z\"",
            "{f}:3: key `maintenance[1].until`: must be later than `from`",
        ),
        (
            "from = \"2026-12-24\"",
            "{f}:2: key `maintenance[1].from`: invalid time \"2026-12-24\": expected RFC 3339 with an offset",
        ),
        (
            "from = \"2026-12-24T18:00:00Z\"\nuntil = \"2026-12-25T18:00:00Z\"\ntimezone = \"UTC\"",
            "{f}:2: key `maintenance[1].timezone`: `timezone` applies only to a `schedule`",
        ),
    ] {
        let text = format!("[[maintenance]]\n{window}\n{svc}");
        let expected = expected.replace("{f}", f);
        match load(&text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => assert!(
                e.to_string().contains(&expected),
                "{e}\nshould contain\n{expected}"
            ),
        }
    }
    check_err(
        "retries = 11",
        &format!("{f}:1: key `retries`: must be a whole number from 0 to 10 (got 11)"),
    );
    check_err(
        "[[service]]\nname = \"a\"\ntcp = \"h:1\"\nretries = -1",
        &format!("{f}:4: key `service[1].retries`: must be a whole number from 0 to 10 (got -1)"),
    );
    check_err(
        "remind = \"sometimes\"",
        &format!(
            "{f}:1: key `remind`: expected \"exponential\", \"never\" or a duration like \"6h\", got \"sometimes\""
        ),
    );
    check_err(
        "[[service]]\nname = \"a\"\nurl = \"ftp://x\"",
        &format!(
            "{f}:3: key `service[1].url`: invalid URL \"ftp://x\": scheme \"ftp\" is not http or https"
        ),
    );
    check_err(
        "[[service]]\nname = \"a\"\nurl = \"example.com/health\"",
        &format!(
            "{f}:3: key `service[1].url`: invalid URL \"example.com/health\": it needs http:// or https://"
        ),
    );
    check_err(
        "[[service]]\nname = \"a\"\ntcp = \"localhost\"",
        &format!(
            "{f}:3: key `service[1].tcp`: invalid address \"localhost\": expected host:port, e.g. \"127.0.0.1:5432\""
        ),
    );
    check_err(
        "[[service]]\nname = \"a\"\ncommand = []",
        &format!(
            "{f}:3: key `service[1].command`: expected a program and its arguments, e.g. [\"/usr/local/bin/check-backup\", \"--max-age\", \"26h\"]"
        ),
    );
    check_err(
        "[[service]]\nname = \"a\"\ntcp = \"h:1\"\n[[service]]\nname = \"a\"\ntcp = \"h:2\"",
        &format!("{f}:5: key `service[2].name`: duplicate service name \"a\""),
    );
    check_err(
        "[[service]]\nname = \"a\"",
        &format!(
            "{f}:2: key `service[1].name`: service \"a\" needs exactly one of `url`, `tcp`, `command`, `tls` or `dns`"
        ),
    );
    check_err(
        "[[service]]\nname = \"a\"\ntcp = \"h:1\"\ncommand = [\"true\"]",
        &format!(
            "{f}:2: key `service[1].name`: service \"a\" needs exactly one of `url`, `tcp`, `command`, `tls` or `dns`"
        ),
    );
    check_err(
        "[[service]]\nname = \"a\"\ntls = \"h:1\"\ndns = \"h\"",
        &format!(
            "{f}:2: key `service[1].name`: service \"a\" needs exactly one of `url`, `tcp`, `command`, `tls` or `dns`"
        ),
    );
    for (lines, key, owners) in [
        (
            "tcp = \"h:1\"\ncert_warn = \"3d\"",
            "cert_warn",
            "`url` and `tls` checks",
        ),
        (
            "tls = \"h:1\"\nproxy = \"http://p:3128\"",
            "proxy",
            "`url` checks",
        ),
        (
            "url = \"http://h/\"\nstarttls = \"smtp\"",
            "starttls",
            "`tls` checks",
        ),
        ("tls = \"h:1\"\nrecord = \"MX\"", "record", "`dns` checks"),
        ("dns = \"h\"\nmethod = \"GET\"", "method", "`url` checks"),
        (
            "dns = \"h\"\nca_file = \"x\"",
            "ca_file",
            "`url` and `tls` checks",
        ),
    ] {
        check_err(
            &format!("[[service]]\nname = \"a\"\n{lines}"),
            &format!("{f}:2: key `service[1].{key}`: `{key}` applies only to {owners}"),
        );
    }
    check_err(
        "[[service]]\nname = \"a\"\ndns = \"h\"\nrecord = \"A\"\nexpect = [\"10.0.0.1\", \"mail.example.com\"]",
        &format!(
            "{f}:5: key `service[1].expect`: \"mail.example.com\" is not an IPv4 address, as `record = \"A\"` answers"
        ),
    );
    check_err(
        "[[service]]\nname = \"a\"\ndns = \"h\"\nserver = \"ns1.example.com\"",
        &format!(
            "{f}:4: key `service[1].server`: invalid server \"ns1.example.com\": expected an IP address, with its port if not 53, e.g. \"127.0.0.1:53\" or \"[::1]:5353\" (a name would need the DNS this checks)"
        ),
    );
    check_err(
        "[[service]]\nname = \"a\"\ndns = \"h\"\nrecord = \"SOA\"",
        &format!(
            "{f}:4: key `service[1].record`: unknown variant `SOA`, expected one of `A`, `AAAA`, `CNAME`, `MX`, `TXT`, `NS`"
        ),
    );
    check_err(
        "[[service]]\nname = \"a\"\nurl = \"http://h/\"\nproxy = \"https://mon:hunter2@p:3128\"",
        &format!(
            "{f}:4: key `service[1].proxy`: invalid proxy \"https://mon:***@p:3128\": only http:// proxies are supported; expected e.g. \"http://proxy.internal:3128\""
        ),
    );
    check_err(
        "[[service]]\nname = \"a\"\nurl = \"http://h/\"\nproxy = \"socks5://p:1080\"",
        &format!(
            "{f}:4: key `service[1].proxy`: invalid proxy \"socks5://p:1080\": only http:// proxies are supported; expected e.g. \"http://proxy.internal:3128\""
        ),
    );
    check_err(
        "[[service]]\nname = \"a\"\ntcp = \"h:1\"\nbody_contains = \"ok\"",
        &format!(
            "{f}:2: key `service[1].body_contains`: `body_contains` applies only to `url` checks"
        ),
    );
    check_err(
        "[[service]]\nname = \"a\"\nurl = \"http://h/\"\nexpect_status = [200, 999]",
        &format!(
            "{f}:4: key `service[1].expect_status[2]`: 999 is not an HTTP status code (100 to 599)"
        ),
    );
    check_err(
        "[[service]]\nname = \"a\"\nurl = \"http://h/\"\nmethod = \"GE T\"",
        &format!("{f}:4: key `service[1].method`: invalid HTTP method \"GE T\""),
    );
    check_err(
        "[email]\nto = []\nfrom = \"a@b\"\ntransport = \"file\"",
        &format!("{f}:2: key `email.to`: needs at least one address"),
    );
    check_err(
        "[email]\nto = [\"a@b\"]\nfrom = \"a@b\"\ntransport = \"pigeon\"",
        &format!(
            "{f}:4: key `email.transport`: unknown variant `pigeon`, expected one of `smtp`, `sendmail`, `file`"
        ),
    );
    check_err(
        "[email]\nto = [\"a@b\"]\nfrom = \"a@b\"",
        &format!("{f}:3: key `email.smtp_host`: transport \"smtp\" needs smtp_host"),
    );
    check_err(
        "[email]\nto = [\"a@b\"]\nfrom = \"a@b\"\ntransport = \"file\"\nsmtp_host = \"x\"",
        &format!("{f}:4: key `email.smtp_host`: applies only to transport = \"smtp\""),
    );
    check_err(
        "title = ",
        &format!("{f}:1: string values must be quoted, expected literal string"),
    );
}

/// PRODUCT.md's sample config, every key in use.
const SAMPLE: &str = r#"
title = "vps-1"
database = "upcheck.db"
timeout = "10s"
parallel = 32
alert_after = 2
recover_after = 1
remind = "exponential"
notify_recovery = true
retention = "90d"

[email]
to = ["ops@example.com"]
from = "upcheck <upcheck@example.com>"
transport = "smtp"
smtp_host = "smtp.example.com"
smtp_port = 587
smtp_tls = "starttls"
smtp_user = "upcheck"
smtp_password_env = "UPCHECK_SMTP_PASSWORD"

[[service]]
name = "price-api"
url = "https://example.com/api/health"
method = "GET"
headers = { Authorization = "Bearer ..." }
expect_status = [200]
body_contains = "ok"
slow_after = "2s"
cert_warn = "14d"
timeout = "5s"

[[service]]
name = "postgres"
tcp = "127.0.0.1:5432"

[[service]]
name = "backups-fresh"
command = ["/usr/local/bin/check-backup", "--max-age", "26h"]
"#;

#[test]
fn the_product_sample_config_loads() {
    let c = load(SAMPLE).unwrap();
    assert_eq!(c.services.len(), 3);
}

/// Mutated and random inputs: the loader may refuse them, never panic, and
/// every refusal names the file.
#[test]
fn mangled_configs_get_clear_errors_never_a_panic() {
    // A longer campaign: UPCHECK_FUZZ_ROUNDS=300000 UPCHECK_FUZZ_SEED=7 cargo test mangled
    let setting = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rounds = setting("UPCHECK_FUZZ_ROUNDS", 3000);
    let mut rng = crate::rng::Rng::new(setting("UPCHECK_FUZZ_SEED", 0x5eed));
    let mut next = |below: usize| rng.below(below as u64) as usize;
    let pieces = [
        "\"",
        "[",
        "]",
        "=",
        "\n",
        "[[service]]\n",
        "0",
        "-1",
        "\"0s\"",
        "{",
        "}",
        "é",
        "\u{0}",
        "#",
        "\"\"\"",
        "\\u202E",
        "\\n",
        "name = \"",
        "url = \"http://u:p@",
        "headers = { A = \"",
        "9999999999999999999999",
    ];
    for round in 0..rounds {
        let mut text = SAMPLE.as_bytes().to_vec();
        for _ in 0..1 + next(4) {
            let at = next(text.len());
            match next(4) {
                0 => text.truncate(at),
                1 => {
                    if at < text.len() {
                        text.remove(at);
                    }
                }
                2 => {
                    let piece = pieces[next(pieces.len())].as_bytes();
                    text.splice(at..at, piece.iter().copied());
                }
                _ => {
                    if let Some(b) = text.get_mut(at) {
                        *b = next(256) as u8;
                    }
                }
            }
        }
        if round % 10 == 0 {
            text = (0..next(200)).map(|_| next(256) as u8).collect();
        }
        let input = String::from_utf8_lossy(&text).into_owned();
        match std::panic::catch_unwind(|| load(&input)) {
            Err(_) => panic!("the loader panicked on:\n{input}"),
            Ok(Err(e)) => assert!(e.to_string().starts_with("/srv/up/upcheck.toml"), "{e}"),
            Ok(Ok(_)) => {}
        }
    }
}

#[test]
fn passwords_in_urls_are_redacted_and_nothing_else() {
    assert_eq!(
        redacted_url("https://mon:s3cr:et@host:8443/health?x=a@b"),
        "https://mon:***@host:8443/health?x=a@b"
    );
    assert_eq!(redacted_url("http://user@host/"), "http://user@host/");
    assert_eq!(redacted_url("http://host/a:b@c"), "http://host/a:b@c");
    assert!(!url_has_password("http://host:8080/"));
}

#[test]
fn a_default_location_that_cannot_be_looked_at_yields_to_one_that_exists() {
    // Root is never refused a look, so "cannot be looked at" is a path
    // through a plain file (ENOTDIR), which the search meets the same way as
    // a folder this user may not search (EACCES).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plain"), "").unwrap();
    std::fs::write(dir.path().join("real.toml"), "").unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    let (unseen, real, missing) = (at("plain/upcheck.toml"), at("real.toml"), at("none.toml"));
    let found = |locations: &[&str]| default_location(locations).map_err(|e| e.to_string());
    assert_eq!(found(&[&unseen, &real]), Ok(PathBuf::from(&real)));
    // None exists: the one that could not be looked at is read, to say why.
    assert_eq!(found(&[&unseen, &missing]), Ok(PathBuf::from(&unseen)));
    let none = found(&["upcheck.toml-nowhere", &missing]).unwrap_err();
    assert!(
        none.contains(&format!(
            "no config file found (looked for ./upcheck.toml-nowhere and {missing})"
        )),
        "{none}"
    );
}

#[test]
fn dependencies_name_services_and_never_lead_back() {
    let svc = |name: &str, deps: &str| {
        format!("[[service]]\nname = \"{name}\"\ntcp = \"h:1\"\ndepends_on = [{deps}]\n")
    };
    let f = "/srv/up/upcheck.toml";
    let chain = [
        svc("db", ""),
        svc("api", "\"db\""),
        svc("web", "\"api\", \"db\""),
    ]
    .concat();
    let config = load(&chain).unwrap();
    assert_eq!(config.services[2].depends_on, ["api", "db"]);
    check_err(
        &[svc("api", "\"db\"")].concat(),
        &format!("{f}:4: key `service[1].depends_on`: no service named \"db\""),
    );
    check_err(
        &[svc("api", "\"api\"")].concat(),
        &format!("{f}:4: key `service[1].depends_on`: a dependency cycle: api → api"),
    );
    // Found from `web`, told from the first of the cycle in the file.
    check_err(
        &[
            svc("db", "\"web\""),
            svc("api", "\"db\""),
            svc("web", "\"api\""),
        ]
        .concat(),
        &format!("{f}:4: key `service[1].depends_on`: a dependency cycle: db → web → api → db"),
    );
}
