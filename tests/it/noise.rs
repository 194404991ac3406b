//! Noise control through real runs: retries within a run, silences,
//! maintenance windows, the connectivity guard, dependencies, test-alert.

use std::time::{Duration, Instant};

use chrono::Datelike;

use crate::support::{
    SmtpServer, World, assert_contains, assert_within, run_and_collect, services, set_down,
    switchable,
};

/// A command check that fails its first `fails` attempts (counted in
/// `<name>.count` beside the config), then passes.
fn flaky(world: &World, name: &str, fails: u32) -> String {
    world.script(
        &format!("{name}.sh"),
        &format!(
            "#!/bin/sh\nn=$(cat {name}.count 2>/dev/null || echo 0)\nn=$((n + 1))\necho $n > {name}.count\n\
             [ $n -gt {fails} ] || {{ echo \"attempt $n failed\" >&2; exit 1; }}\n"
        ),
    );
    format!("command = [\"./{name}.sh\"]")
}

fn attempts(world: &World, name: &str) -> u32 {
    std::fs::read_to_string(world.path(&format!("{name}.count")))
        .map_or(0, |s| s.trim().parse().unwrap())
}

#[test]
fn retries_within_a_run_store_only_the_last_attempt() {
    let world = World::new("");
    let config = format!(
        "retries = 2\nretry_delay = \"200ms\"\n\n{}",
        services(&[
            // Passes on its last attempt: online, one check stored.
            ("blip", &flaky(&world, "blip", 2)),
            // Fails every attempt: the reason says how many were made.
            (
                "down",
                &format!("{}\nretry_delay = \"100ms\"", flaky(&world, "down", 99))
            ),
            // No retries for this one.
            (
                "once",
                &format!("{}\nretries = 0", flaky(&world, "once", 99))
            ),
        ])
    );
    world.write("upcheck.toml", &config);
    let started = Instant::now();
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "two retries 200 ms apart"
    );
    assert_eq!(attempts(&world, "blip"), 3);
    assert_eq!(world.latest("blip"), ("online".to_string(), None));
    assert_eq!(attempts(&world, "down"), 3);
    assert_eq!(
        world.latest("down"),
        (
            "offline".to_string(),
            Some("exit 1: attempt 3 failed (3 attempts)".to_string())
        )
    );
    assert_eq!(attempts(&world, "once"), 1);
    assert_eq!(
        world.latest("once").1.as_deref(),
        Some("exit 1: attempt 1 failed")
    );
    assert_eq!(world.count("SELECT count(*) FROM checks"), 3);
}

#[test]
fn retries_never_run_past_run_timeout() {
    let world = World::new("");
    let config = format!(
        "run_timeout = \"2s\"\nretries = 10\nretry_delay = \"700ms\"\n\n{}",
        services(&[("down", &flaky(&world, "down", 99))])
    );
    world.write("upcheck.toml", &config);
    let started = Instant::now();
    let run = world.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_within(started, Duration::from_secs(4));
    let made = attempts(&world, "down");
    assert!(
        (2..=3).contains(&made),
        "{made} attempts in 2 s, 700 ms apart"
    );
    let reason = world.latest("down").1.unwrap();
    assert_contains(
        &reason,
        &format!("({made} of 11 attempts: run_timeout left no time for more)"),
    );
}

/// `silence add`, as a person types it: one line on stdout, exit 0.
fn silence(world: &World, args: &[&str]) -> String {
    let mut all = vec!["silence"];
    all.extend_from_slice(args);
    let run = world.run(&all);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    assert_eq!(run.stdout.lines().count(), 1, "{run:?}");
    run.stdout
}

#[test]
fn a_silence_holds_alerts_and_restarts_and_the_alert_follows_its_end() {
    let smtp = SmtpServer::plain();
    let world = World::new("");
    world.write(
        "upcheck.toml",
        &format!(
            "title = \"vps-1\"\nalert_after = 1\nprometheus_textfile = \"metrics.prom\"\nstatus_page = \"status.html\"\n{}\
             [[alert_command]]\ncommand = [\"./notify.sh\"]\n\n{}",
            smtp.email_config(),
            services(&[
                (
                    "api",
                    &format!(
                        "{}\nrestart = [\"touch\", \"restarted\"]\nrestart_after = 1\nrestart_timeout = \"1s\"",
                        switchable("api")
                    ),
                ),
                ("web", "command = [\"true\"]"),
            ])
        ),
    );
    world.script(
        "notify.sh",
        "#!/bin/sh\necho \"$UPCHECK_KIND $UPCHECK_SERVICE\" >> told\n",
    );
    let said = silence(&world, &["add", "api", "--for", "3s", "--reason", "deploy"]);
    assert!(
        said.starts_with("silenced api until ") && said.ends_with(": deploy (silence 1)\n"),
        "{said:?}"
    );
    set_down(&world, "api", true);
    let started = std::time::Instant::now();
    // Failing while silenced: probed and stored, nobody told, no restart.
    assert_eq!(run_and_collect(&world, &smtp, &[]), Vec::<String>::new());
    assert_eq!(world.latest("api").0, "offline");
    assert!(
        !world.path("restarted").exists(),
        "a silenced service is not restarted"
    );
    assert!(
        !world.path("told").exists(),
        "no alert command for a silenced service"
    );
    let json: serde_json::Value =
        serde_json::from_str(&world.run(&["status", "--json"]).stdout).unwrap();
    let api = &json["services"][0];
    assert_eq!(api["name"], "api");
    assert_eq!(api["silence_reason"], "deploy");
    assert!(
        api["silenced_until"].as_str().unwrap().ends_with('Z'),
        "{api}"
    );
    assert_eq!(
        json["services"][1]["silenced_until"],
        serde_json::Value::Null
    );
    assert_contains(&world.run(&["status"]).stdout, "[silenced until ");
    let metrics = std::fs::read_to_string(world.path("metrics.prom")).unwrap();
    assert_contains(&metrics, "upcheck_silenced{service=\"api\"} 1\n");
    assert_contains(&metrics, "upcheck_silenced{service=\"web\"} 0\n");
    assert_contains(
        &std::fs::read_to_string(world.path("status.html")).unwrap(),
        "silenced until ",
    );
    // A forced report shows it as silenced, until when and why.
    assert_eq!(
        run_and_collect(&world, &smtp, &["--force"]),
        ["[vps-1] 1 of 2 services failing"]
    );
    let report = smtp.received().pop().unwrap();
    assert_contains(&report.text(), "    silenced until ");
    assert_contains(&report.html().unwrap(), ": deploy");

    // The first run after the silence ends: the alert, and the restart.
    std::thread::sleep(Duration::from_secs(3).saturating_sub(started.elapsed()));
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN 1/2: api; restarted: api"]
    );
    assert!(world.path("restarted").exists());
    assert_eq!(
        std::fs::read_to_string(world.path("told")).unwrap(),
        "down api\n"
    );
    let metrics = std::fs::read_to_string(world.path("metrics.prom")).unwrap();
    assert_contains(&metrics, "upcheck_silenced{service=\"api\"} 0\n");
    assert_eq!(
        world.count("SELECT count(*) FROM checks WHERE service = 'api'"),
        3
    );
}

#[test]
fn a_recovery_within_a_silence_sends_nothing() {
    let smtp = SmtpServer::plain();
    let world = World::new("");
    world.write(
        "upcheck.toml",
        &format!(
            "title = \"vps-1\"\nalert_after = 1\n{}{}",
            smtp.email_config(),
            services(&[("api", &switchable("api"))])
        ),
    );
    silence(&world, &["add", "--all", "--for", "1h"]);
    set_down(&world, "api", true);
    assert_eq!(run_and_collect(&world, &smtp, &[]), Vec::<String>::new());
    set_down(&world, "api", false);
    assert_eq!(run_and_collect(&world, &smtp, &[]), Vec::<String>::new());
    // Ended early by hand: still online, so still nothing to say.
    assert_eq!(
        silence(&world, &["remove", "1"]).split(" (").next(),
        Some("ended silence 1")
    );
    assert_eq!(run_and_collect(&world, &smtp, &[]), Vec::<String>::new());
    // Then a real outage alerts as usual.
    set_down(&world, "api", true);
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN 1/1: api"]
    );
}

#[test]
fn silence_commands_list_remove_and_refuse_what_they_cannot_do() {
    let world = World::new(&services(&[
        ("api", "command = [\"true\"]"),
        ("web", "command = [\"true\"]"),
    ]));
    let refused = |args: &[&str], says: &str| {
        let mut all = vec!["silence"];
        all.extend_from_slice(args);
        let run = world.run(&all);
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (2, ""),
            "{args:?}: {run:?}"
        );
        assert_contains(&run.stderr, says);
    };
    refused(
        &["add", "apx", "--for", "1h"],
        "no service named \"apx\" in ",
    );
    refused(&["add", "apx", "--for", "1h"], "(there are: api, web)");
    refused(
        &["add", "api", "--for", "soon"],
        "--for: invalid duration \"soon\"",
    );
    refused(
        &["add", "api", "--until", "2020-01-01T00:00:00Z"],
        "--until: 2020-01-01 00:00 UTC has passed",
    );
    refused(
        &["add", "api", "--until", "18:00 Mars/Olympus"],
        "unknown time zone \"Mars/Olympus\"",
    );
    refused(
        &["add", "api", "--for", "1h", "--until", "18:00"],
        "cannot be used with",
    );
    refused(&["add", "api"], "--for");
    refused(&["remove", "7"], "there is no silence 7");
    assert_eq!(
        world.run(&["silence", "list"]).stdout,
        "no silences in force or to come\n"
    );

    let two = silence(
        &world,
        &[
            "add",
            "api",
            "web",
            "--until",
            "23:59",
            "--reason",
            "maintenance\nwindow",
        ],
    );
    assert!(two.starts_with("silenced api, web until "), "{two}");
    assert!(
        two.ends_with(" 23:59 UTC: maintenance window (silences 1, 2)\n"),
        "{two}"
    );
    let all = silence(&world, &["add", "--all", "--until", "12:00 Europe/Berlin"]);
    assert!(all.starts_with("silenced every service until "), "{all}");
    assert!(all.ends_with(" UTC (silence 3)\n"), "{all}");

    let list = world.run(&["silence", "list"]).stdout;
    assert_eq!(list.lines().count(), 4, "{list}");
    assert_contains(&list, "(every service)");
    let json: serde_json::Value =
        serde_json::from_str(&world.run(&["silence", "list", "--json"]).stdout).unwrap();
    let ends: Vec<chrono::DateTime<chrono::Utc>> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["ends_at"].as_str().unwrap().parse().unwrap())
        .collect();
    let now = chrono::Utc::now();
    for end in &ends {
        assert!(
            *end > now && *end <= now + chrono::Duration::hours(24),
            "{json}"
        );
    }
    let berlin = json
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == 3)
        .unwrap();
    assert_eq!(berlin["service"], serde_json::Value::Null);
    // Noon in Berlin is 11:00 UTC in winter, 10:00 in summer.
    assert!(
        ["T11:00:00.000Z", "T10:00:00.000Z"]
            .iter()
            .any(|t| berlin["ends_at"].as_str().unwrap().ends_with(t)),
        "{berlin}"
    );
    let first = json
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == 1)
        .unwrap();
    assert_eq!(first["reason"], "maintenance window");

    assert_contains(
        &silence(&world, &["remove", "2"]),
        "ended silence 2 (web, until ",
    );
    let list = world.run(&["silence", "list"]).stdout;
    assert_eq!(list.lines().count(), 3, "{list}");
    // Kept for the record, ended; removing it again says so.
    assert_eq!(world.count("SELECT count(*) FROM silences"), 3);
    assert_contains(
        &silence(&world, &["remove", "2"]),
        "silence 2 had already ended (web, until ",
    );
    refused(
        &["add", "api", "--for", "3000000d"],
        "--for is too far ahead: a silence must end by the year 9999",
    );
}

/// The README's query for "what was silenced last month" runs on a real
/// database and finds exactly last month's silences.
#[test]
fn the_readmes_silenced_last_month_query_answers_it() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let after = &readme[readme.find("silenced last month").expect("the question")..];
    let sql = after
        .split("```sql\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("the query");
    let world = World::new(&services(&[("api", "command = [\"true\"]")]));
    assert_eq!(world.run(&[]).code, 0);
    let now = chrono::Utc::now();
    let this_month = now.format("%Y-%m-01T00:00:00.000Z").to_string();
    let last_month = (now.date_naive().with_day(1).unwrap() - chrono::Days::new(1))
        .format("%Y-%m-15T10:00:00.000Z")
        .to_string();
    let two_ago = (now.date_naive().with_day(1).unwrap() - chrono::Days::new(40))
        .format("%Y-%m-%dT10:00:00.000Z")
        .to_string();
    let db = world.db();
    for (service, starts, why) in [
        (Some("api"), last_month.as_str(), "deploy"),
        (None, two_ago.as_str(), "long ago"),
        (None, this_month.as_str(), "this month"),
    ] {
        db.execute(
            "INSERT INTO silences (service, starts_at, ends_at, reason, created_at) VALUES (?1, ?2, ?2, ?3, ?2)",
            rusqlite::params![service, starts, why],
        )
        .unwrap();
    }
    let found: Vec<String> = db
        .prepare(sql)
        .unwrap()
        .query_map([], |r| r.get::<_, String>(4))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(found, ["deploy"]);
}

/// A window in a zone other than UTC: scheduled at this minute of Kolkata's
/// wall clock (UTC+5:30), it is open now; the same numbers in UTC are not.
#[test]
fn a_maintenance_window_in_a_time_zone_holds_its_services() {
    let smtp = SmtpServer::plain();
    let world = World::new("");
    let kolkata = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Kolkata").expect("tzdata has Asia/Kolkata"));
    let (minute, hour) = (kolkata.minute(), kolkata.hour());
    world.write(
        "upcheck.toml",
        &format!(
            "title = \"vps-1\"\nalert_after = 1\n{}\
             [[maintenance]]\nschedule = \"{minute} {hour} * * *\"\nduration = \"10m\"\ntimezone = \"Asia/Kolkata\"\nservices = [\"api\"]\nreason = \"backup\"\n\n\
             [[maintenance]]\nschedule = \"{minute} {hour} * * *\"\nduration = \"10m\"\nservices = [\"web\"]\n\n{}",
            smtp.email_config(),
            services(&[("api", &switchable("api")), ("web", &switchable("web"))])
        ),
    );
    set_down(&world, "api", true);
    set_down(&world, "web", true);
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN 1/2: web"]
    );
    let status = world.run(&["status"]).stdout;
    assert_contains(&status, "[maintenance until ");
    assert_contains(&status, ": backup] ");
    let json: serde_json::Value =
        serde_json::from_str(&world.run(&["status", "--json"]).stdout).unwrap();
    let api = json["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "api")
        .unwrap();
    let until: chrono::DateTime<chrono::Utc> =
        api["silenced_until"].as_str().unwrap().parse().unwrap();
    let left = until - chrono::Utc::now();
    assert!(
        left > chrono::Duration::minutes(8) && left <= chrono::Duration::minutes(10),
        "{api}"
    );
    assert_eq!(api["silence_reason"], "backup");
    assert_contains(
        &world.run(&["check-config"]).stdout,
        "in Asia/Kolkata for 10m: api (backup)",
    );
}

/// router ← gateway ← api: while the router fails, only it is alerted on;
/// the others are listed under it, and the restart of api waits. When the
/// router is back and they still fail, their alerts are due in that run.
#[test]
fn a_three_level_dependency_chain_alerts_on_its_root_only() {
    let smtp = SmtpServer::plain();
    let world = World::new("");
    world.write(
        "upcheck.toml",
        &format!(
            "title = \"vps-1\"\nalert_after = 1\n{}{}",
            smtp.email_config(),
            services(&[
                ("router", &switchable("router")),
                ("gateway", &format!("{}\ndepends_on = [\"router\"]", switchable("gateway"))),
                (
                    "api",
                    &format!(
                        "{}\ndepends_on = [\"gateway\"]\nrestart = [\"touch\", \"restarted\"]\nrestart_after = 1\nrestart_timeout = \"1s\"",
                        switchable("api")
                    ),
                ),
                ("web", "command = [\"true\"]"),
            ])
        ),
    );
    for s in ["router", "gateway", "api"] {
        set_down(&world, s, true);
    }
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN 1/4: router"]
    );
    let mail = smtp.received().pop().unwrap();
    assert_contains(
        &mail.text(),
        "also failing, depends on router: gateway, api",
    );
    assert_contains(
        &mail.html().unwrap(),
        "also failing, depends on router: gateway, api",
    );
    assert!(
        !world.path("restarted").exists(),
        "api's restart waits for the router"
    );
    let json: serde_json::Value =
        serde_json::from_str(&world.run(&["status", "--json"]).stdout).unwrap();
    let held_by = |name: &str| {
        json["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["held_by"]
            .clone()
    };
    assert_eq!(held_by("api"), "router");
    assert_eq!(held_by("gateway"), "router");
    assert_eq!(held_by("router"), serde_json::Value::Null);
    assert_contains(
        &world.run(&["status"]).stdout,
        "[held: depends on router, which is failing]",
    );
    // Still down: the router's reminder, nothing for the others.
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] still down: router"]
    );
    // The router is back; the gateway fails on its own now, and api waits
    // for the gateway.
    set_down(&world, "router", false);
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN 1/4: gateway; RECOVERED: router"]
    );
    assert_contains(
        &smtp.received().pop().unwrap().text(),
        "also failing, depends on gateway: api",
    );
    assert!(!world.path("restarted").exists());
    // The gateway is back too: api's own alert, and its restart.
    set_down(&world, "gateway", false);
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN 1/4: api; RECOVERED: gateway; restarted: api"]
    );
    assert!(world.path("restarted").exists());
}

#[test]
fn test_alert_tries_every_channel_and_says_which_failed() {
    let smtp = SmtpServer::plain();
    let world = World::new("");
    world.script(
        "notify-ok.sh",
        "#!/bin/sh\necho \"$UPCHECK_KIND|$UPCHECK_SUBJECT|$UPCHECK_HOST\" > told\n",
    );
    world.script(
        "notify-broken.sh",
        "#!/bin/sh\necho 'no token' >&2\nexit 3\n",
    );
    world.write(
        "upcheck.toml",
        &format!(
            "title = \"vps-1\"\n{}\
             [[alert_command]]\ncommand = [\"./notify-ok.sh\"]\non = [\"down\"]\n\n\
             [[alert_command]]\ncommand = [\"./notify-broken.sh\"]\n\n{}",
            smtp.email_config(),
            services(&[("api", "command = [\"false\"]")])
        ),
    );
    let run = world.run(&["test-alert"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stdout,
        "email to ops@example.com, oncall@example.com: accepted\n\
         command notify-ok.sh: exit 0\n\
         command notify-broken.sh: failed: exit 3: no token\n"
    );
    assert_contains(&run.stderr, "1 of 3 channels failed");
    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "the test email only, no fallback");
    assert_eq!(mails[0].subject(), "[vps-1] test: upcheck can reach you");
    assert_contains(&mails[0].text(), "Nothing is wrong");
    // Every command runs, whatever its `on`; the kind says it is a test.
    let told = std::fs::read_to_string(world.path("told")).unwrap();
    assert!(
        told.starts_with("test|[vps-1] test: upcheck can reach you|"),
        "{told}"
    );
    // Nothing probed, nothing stored.
    assert!(!world.path("upcheck.db").exists());

    // With the broken command gone and mail down: the email line fails.
    drop(smtp);
    world.write(
        "upcheck.toml",
        &format!(
            "title = \"vps-1\"\n[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\n\
             smtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_tls = \"none\"\nsmtp_timeout = \"2s\"\n\n\
             [[alert_command]]\ncommand = [\"./notify-ok.sh\"]\n\n{}",
            crate::support::closed_port(),
            services(&[("api", "command = [\"false\"]")])
        ),
    );
    let run = world.run(&["test-alert"]);
    assert_eq!(run.code, 1, "{run:?}");
    let mut lines = run.stdout.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("email to ops@example.com: failed: sending mail through 127.0.0.1:"),
        "{run:?}"
    );
    assert_eq!(lines.next(), Some("command notify-ok.sh: exit 0"));
    // Everything fine: exit 0.
    world.write(
        "upcheck.toml",
        &format!(
            "[[alert_command]]\ncommand = [\"./notify-ok.sh\"]\n\n{}",
            services(&[("api", "command = [\"false\"]")])
        ),
    );
    let run = world.run(&["test-alert"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "command notify-ok.sh: exit 0\n", "")
    ); // No channel at all is not a pass.
    world.write(
        "upcheck.toml",
        &services(&[("api", "command = [\"false\"]")]),
    );
    let run = world.run(&["test-alert"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(
        &run.stderr,
        "nothing to test: there is no [email] section and no [[alert_command]]",
    );
}

/// The guard's one target goes away, stays away, comes back, goes again:
/// while it is away nothing is probed or stored, one `network` notice per
/// outage goes out, and the outputs say their data is stale.
#[test]
fn the_connectivity_guard_flapping_holds_everything_and_tells_once_per_outage() {
    let smtp = SmtpServer::plain();
    let world = World::new("");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    world.script(
        "notify.sh",
        "#!/bin/sh\necho \"$UPCHECK_KIND|$UPCHECK_REASON\" >> told\n",
    );
    world.write(
        "upcheck.toml",
        &format!(
            "title = \"vps-1\"\nalert_after = 1\nstatus_page = \"status.html\"\nprometheus_textfile = \"metrics.prom\"\n\
             [connectivity]\ntargets = [\"127.0.0.1:{port}\"]\ntimeout = \"2s\"\n\n{}\
             [[alert_command]]\ncommand = [\"./notify.sh\"]\non = [\"network\"]\n\n{}",
            smtp.email_config(),
            services(&[("api", &switchable("api"))])
        ),
    );
    set_down(&world, "api", true);
    let metric = |world: &World| {
        std::fs::read_to_string(world.path("metrics.prom"))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("upcheck_connectivity_up "))
            .map(String::from)
    };
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN 1/1: api"]
    );
    assert_eq!(metric(&world).as_deref(), Some("upcheck_connectivity_up 1"));

    // The network goes: nothing probed, the streak kept, one notice.
    drop(listener);
    let streak =
        |world: &World| world.count("SELECT fail_streak FROM service_state WHERE service = 'api'");
    let before = chrono::Utc::now();
    let mailed = run_and_collect(&world, &smtp, &[]);
    let expected = |t: chrono::DateTime<chrono::Utc>| {
        vec![format!(
            "[vps-1] NETWORK: upcheck on {} cannot reach 127.0.0.1:{port} (connection refused): alerts held since {}",
            crate::support::hostname(),
            t.format("%H:%M UTC")
        )]
    };
    // The minute may turn during the run.
    assert!(
        mailed == expected(before) || mailed == expected(chrono::Utc::now()),
        "{mailed:?}"
    );
    assert_eq!(
        world.count("SELECT count(*) FROM checks"),
        1,
        "nothing probed"
    );
    assert_eq!(streak(&world), 1);
    assert_eq!(metric(&world).as_deref(), Some("upcheck_connectivity_up 0"));
    assert_contains(
        &std::fs::read_to_string(world.path("status.html")).unwrap(),
        "nothing was checked at ",
    );
    assert_eq!(
        std::fs::read_to_string(world.path("told")).unwrap(),
        format!("network|cannot reach 127.0.0.1:{port} (connection refused)\n")
    );
    assert_contains(
        &world.run(&["status"]).stdout,
        &format!(
            "the last run cannot reach 127.0.0.1:{port} (connection refused): nothing was checked"
        ),
    );
    let json: serde_json::Value =
        serde_json::from_str(&world.run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(
        json["network_error"],
        format!("cannot reach 127.0.0.1:{port} (connection refused)")
    );
    // Still away: nothing more to say.
    assert_eq!(run_and_collect(&world, &smtp, &[]), Vec::<String>::new());
    assert_eq!(world.count("SELECT count(*) FROM checks"), 1);
    assert_eq!(
        world.count("SELECT count(*) FROM runs WHERE network_error IS NOT NULL"),
        2
    );

    // Back: probing resumes where it was (the next failing run after the alert).
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] still down: api"]
    );
    assert_eq!(streak(&world), 2);
    assert_eq!(metric(&world).as_deref(), Some("upcheck_connectivity_up 1"));
    let json: serde_json::Value =
        serde_json::from_str(&world.run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(json["network_error"], serde_json::Value::Null);

    // Away again: a new outage, a new notice; a silence still shows.
    silence(&world, &["add", "api", "--for", "1h", "--reason", "known"]);
    drop(listener);
    assert_eq!(run_and_collect(&world, &smtp, &[]).len(), 1);
    assert_contains(
        &std::fs::read_to_string(world.path("status.html")).unwrap(),
        "silenced until ",
    );
    assert_eq!(
        world.count("SELECT count(*) FROM notifications WHERE kind = 'network'"),
        2
    );
    assert_eq!(
        std::fs::read_to_string(world.path("told"))
            .unwrap()
            .lines()
            .count(),
        2
    );
}
