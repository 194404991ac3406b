//! What a run does beyond the email: watchdog restarts, the heartbeat to a
//! dead-man's switch, and alert commands; all through real runs and real
//! scripts that record what they were given.

use std::time::{Duration, Instant};

use crate::support::{
    HttpServer, SmtpServer, World, assert_contains, assert_within, closed_port, hostname,
    run_and_collect, services, set_down, switchable,
};

fn lines(world: &World, file: &str) -> usize {
    std::fs::read_to_string(world.path(file))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[test]
fn restarts_follow_the_threshold_and_the_budget_and_are_mailed() {
    let smtp = SmtpServer::plain();
    let world = World::new("");
    world.script(
        "restart.sh",
        "#!/bin/sh\necho \"$UPCHECK_SERVICE\" >> restarts.log\necho restarted\n",
    );
    world.write(
        "upcheck.toml",
        &format!(
            "title = \"vps-1\"\nalert_after = 3\n{}{}",
            smtp.email_config(),
            services(&[(
                "api",
                &format!(
                    "{}\nrestart = [\"./restart.sh\"]\nrestart_after = 2\nrestart_limit = 2\nrestart_window = \"1h\"\nrestart_timeout = \"1s\"",
                    switchable("api")
                ),
            )])
        ),
    );
    set_down(&world, "api", true);
    let mailed: Vec<Vec<String>> = (0..5)
        .map(|_| run_and_collect(&world, &smtp, &[]))
        .collect();
    assert_eq!(
        lines(&world, "restarts.log"),
        2,
        "two restarts, then the budget is spent"
    );
    assert_eq!(
        mailed,
        [
            vec![],
            vec!["[vps-1] restarted: api".to_string()],
            vec!["[vps-1] DOWN 1/1: api; restarted: api".to_string()],
            vec!["[vps-1] still down: api".to_string()],
            vec!["[vps-1] still down: api".to_string()],
        ]
    );
    let mails = smtp.received();
    assert_contains(&mails[0].text(), "restarted api at ");
    assert_contains(&mails[0].text(), ": exit 0");
    assert_contains(&mails[0].html().unwrap(), "restarted api at ");
    assert_contains(
        &mails[2].text(),
        "api: still failing after 2 restarts within 1h",
    );
    let db = world.db();
    let (count, output, outcome): (i64, String, String) = db
        .query_row(
            "SELECT count(*), max(output), max(outcome) FROM restarts WHERE exit_code = 0",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (count, output.trim(), outcome.as_str()),
        (2, "restarted", "exit 0")
    );
}

#[test]
fn a_restart_that_works_is_reported_without_an_alert() {
    let smtp = SmtpServer::plain();
    let world = World::new(&format!(
        "title = \"vps-1\"\nalert_after = 3\n{}{}",
        smtp.email_config(),
        services(&[(
            "api",
            &format!(
                "{}\nrestart = [\"rm\", \"-f\", \"api.down\"]",
                switchable("api")
            )
        )])
    ));
    set_down(&world, "api", true);
    let mailed: Vec<Vec<String>> = (0..4)
        .map(|_| run_and_collect(&world, &smtp, &[]))
        .collect();
    assert_eq!(
        mailed,
        [
            vec![],
            vec!["[vps-1] restarted: api".to_string()],
            vec![],
            vec![]
        ]
    );
    assert_eq!(world.latest("api").0, "online");
}

#[test]
fn a_restart_that_hangs_is_killed_at_its_timeout() {
    let world = World::new(&services(&[(
        "api",
        "command = [\"false\"]\nrestart = [\"sleep\", \"30\"]\nrestart_after = 1\nrestart_timeout = \"300ms\"",
    )]));
    let started = Instant::now();
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    assert_within(started, Duration::from_secs(10));
    let (exit_code, outcome): (Option<i64>, String) = world
        .db()
        .query_row("SELECT exit_code, outcome FROM restarts", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(
        (exit_code, outcome.as_str()),
        (None, "still running at the timeout, killed")
    );
}

#[test]
fn the_heartbeat_is_pinged_after_every_run_and_fail_url_after_a_failed_one() {
    let http = HttpServer::start();
    let heartbeat = format!(
        "[heartbeat]\nurl = {:?}\nfail_url = {:?}\n\n",
        http.url("/ping/ok"),
        http.url("/ping/fail")
    );
    let world = World::new(&format!(
        "{heartbeat}{}",
        services(&[("api", "command = [\"true\"]")])
    ));
    assert_eq!(world.run(&[]).code, 0);
    assert_eq!(world.run(&[]).code, 0);
    assert_eq!(http.pings(), ["/ping/ok", "/ping/ok"]);

    // A failed run (mail cannot be delivered) pings fail_url instead.
    world.write(
        "upcheck.toml",
        &format!(
            "{heartbeat}[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\nsmtp_host = \"127.0.0.1\"\n\
             smtp_port = {}\nsmtp_tls = \"none\"\n\n{}",
            closed_port(),
            services(&[("api", "command = [\"true\"]")])
        ),
    );
    assert_eq!(world.run(&["--force"]).code, 1);
    assert_eq!(http.pings(), ["/ping/ok", "/ping/ok", "/ping/fail"]);
    let kinds: Vec<(String, i64)> = world
        .db()
        .prepare("SELECT kind, status_code FROM heartbeats ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        kinds,
        [
            ("success".to_string(), 200),
            ("success".to_string(), 200),
            ("fail".to_string(), 200)
        ]
    );
}

#[test]
fn a_heartbeat_that_never_answers_is_bounded_by_its_timeout() {
    // Takes the request and says nothing.
    let silent = crate::support::raw_server(|mut s| {
        crate::support::read_head(&mut s);
        std::thread::sleep(Duration::from_secs(30));
    });
    let world = World::new(&format!(
        "[heartbeat]\nurl = \"http://127.0.0.1:{silent}/ping\"\ntimeout = \"1s\"\n\n{}",
        services(&[("api", "command = [\"true\"]")])
    ));
    let started = Instant::now();
    let run = world.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_contains(&run.stderr, "the heartbeat failed");
    assert_within(started, Duration::from_secs(12));
}

#[test]
fn an_unreachable_heartbeat_is_a_warning_not_a_failed_run() {
    let world = World::new(&format!(
        "[heartbeat]\nurl = \"http://127.0.0.1:{}/ping\"\ntimeout = \"2s\"\n\n{}",
        closed_port(),
        services(&[("api", "command = [\"true\"]")])
    ));
    let run = world.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_contains(&run.stderr, "the heartbeat failed");
    let error: String = world
        .db()
        .query_row("SELECT error FROM heartbeats", [], |r| r.get(0))
        .unwrap();
    assert_contains(&error, "the heartbeat failed");
    let finished: Option<String> = world
        .db()
        .query_row("SELECT error FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(finished, None, "the run itself did not fail");
    // In JSON, the warning is one parsable line too.
    let run = world.run(&["--log-format", "json"]);
    let line: serde_json::Value = serde_json::from_str(run.stderr.trim()).expect("one JSON line");
    assert_eq!(line["level"], "warn");
}

/// An alert command that records its UPCHECK_ environment, one file per call.
const RECORDER: &str = "#!/bin/sh\nmkdir -p calls\nn=$(ls calls | wc -l)\nenv | grep '^UPCHECK_' | sort > \"calls/$n\"\n";

fn calls(world: &World) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(world.path("calls"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

#[test]
fn alert_commands_run_once_per_due_notification_with_the_facts_in_the_environment() {
    let smtp = SmtpServer::plain();
    let world = World::new("");
    world.script("record.sh", RECORDER);
    world.write(
        "upcheck.toml",
        &format!(
            "title = \"vps-1\"\nalert_after = 1\nremind = \"never\"\n\n[[alert_command]]\ncommand = [\"./record.sh\"]\n\n{}{}",
            smtp.email_config(),
            services(&[("api", &switchable("api")), ("db", "command = [\"true\"]")])
        ),
    );
    assert_eq!(run_and_collect(&world, &smtp, &[]).len(), 0);
    assert!(calls(&world).is_empty(), "a quiet run runs no command");
    set_down(&world, "api", true);
    assert_eq!(run_and_collect(&world, &smtp, &[]).len(), 1);
    assert_eq!(run_and_collect(&world, &smtp, &[]).len(), 0);
    set_down(&world, "api", false);
    assert_eq!(run_and_collect(&world, &smtp, &[]).len(), 1);
    let calls = calls(&world);
    assert_eq!(calls.len(), 2, "{calls:?}");
    let host = hostname();
    assert_contains(&calls[0], "UPCHECK_KIND=down\n");
    assert_contains(&calls[0], "UPCHECK_SERVICE=api\n");
    assert_contains(&calls[0], "UPCHECK_STATUS=offline\n");
    assert_contains(&calls[0], "UPCHECK_REASON=exit 1\n");
    assert_contains(&calls[0], "UPCHECK_SUBJECT=[vps-1] DOWN 1/2: api\n");
    assert_contains(&calls[0], &format!("UPCHECK_HOST={host}\n"));
    assert!(calls[0].contains("UPCHECK_SINCE=20"), "{}", calls[0]);
    assert_contains(&calls[1], "UPCHECK_KIND=recovery\n");
    assert_contains(&calls[1], "UPCHECK_STATUS=online\n");
}

#[test]
fn alert_commands_only_get_the_kinds_they_ask_for() {
    let world = World::new("");
    world.script("record.sh", RECORDER);
    world.write(
        "upcheck.toml",
        &format!(
            "alert_after = 1\n[[alert_command]]\ncommand = [\"./record.sh\"]\non = [\"recovery\"]\n\n{}",
            services(&[("api", &switchable("api"))])
        ),
    );
    set_down(&world, "api", true);
    for _ in 0..3 {
        assert_eq!(world.run(&[]).code, 0);
    }
    assert!(
        calls(&world).is_empty(),
        "down and reminders were not asked for"
    );
    set_down(&world, "api", false);
    assert_eq!(world.run(&[]).code, 0);
    let calls = calls(&world);
    assert_eq!(calls.len(), 1);
    assert_contains(&calls[0], "UPCHECK_KIND=recovery\n");
}

#[test]
fn a_hostile_service_name_reaches_the_command_as_data_never_as_shell() {
    let world = World::new("");
    world.script("record.sh", RECORDER);
    let hostile = "x; touch pwned; $(touch pwned2) `touch pwned3`";
    world.write(
        "upcheck.toml",
        &format!(
            "alert_after = 1\n[[alert_command]]\ncommand = [\"./record.sh\"]\n\n{}",
            services(&[(hostile, "command = [\"false\"]")])
        ),
    );
    assert_eq!(world.run(&[]).code, 0);
    for f in ["pwned", "pwned2", "pwned3"] {
        assert!(
            !world.path(f).exists(),
            "{f} was created: the name reached a shell"
        );
    }
    assert_contains(&calls(&world)[0], &format!("UPCHECK_SERVICE={hostile}\n"));
}

#[test]
fn a_failing_alert_command_stays_due_and_is_retried_next_run() {
    let world = World::new("");
    world.script("notify.sh", "#!/bin/sh\n[ -e service-up ] || { echo 'ntfy: 503' >&2; exit 1; }\necho \"$UPCHECK_KIND\" >> sent.log\n");
    world.write(
        "upcheck.toml",
        &format!(
            "alert_after = 1\nremind = \"never\"\n[[alert_command]]\ncommand = [\"./notify.sh\"]\n\n{}",
            services(&[("api", "command = [\"false\"]")])
        ),
    );
    let run = world.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(&run.stderr, "alert command ");
    assert_contains(
        &run.stderr,
        "exit 1: ntfy: 503 (it stays due; the next run retries)",
    );
    world.write("service-up", "");
    let run = world.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(world.run(&[]).code, 0);
    assert_eq!(
        std::fs::read_to_string(world.path("sent.log")).unwrap(),
        "down\n",
        "delivered exactly once"
    );
    let (attempts, sent): (i64, Option<String>) = world
        .db()
        .query_row(
            "SELECT attempts, sent_at FROM command_deliveries",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(attempts, 2);
    assert!(sent.is_some());
}

#[test]
fn the_fallback_runs_alert_commands_that_ask_for_it() {
    let world = World::new("");
    world.script("record.sh", RECORDER);
    world.write("not-a-folder", "");
    world.write(
        "upcheck.toml",
        &format!(
            "title = \"vps-1\"\ndatabase = \"not-a-folder/upcheck.db\"\n[[alert_command]]\ncommand = [\"./record.sh\"]\non = [\"fallback\"]\n\n{}",
            services(&[("api", "command = [\"true\"]")])
        ),
    );
    assert_eq!(world.run(&[]).code, 1);
    let calls = calls(&world);
    assert_eq!(calls.len(), 1);
    assert_contains(&calls[0], "UPCHECK_KIND=fallback\n");
    assert_contains(
        &calls[0],
        "UPCHECK_SUBJECT=[vps-1] upcheck failed: creating the database folder ",
    );
    assert_contains(&calls[0], "not-a-folder");
}

/// Issue 11, finding 2: due deliveries were keyed by the command's argv, so
/// fixing a broken command (a typo in its path) skipped what it owed as
/// "removed from the config", forever.
#[test]
fn fixing_a_broken_alert_command_delivers_what_it_owed() {
    let world = World::new("");
    world.script(
        "notify.sh",
        "#!/bin/sh\necho \"$UPCHECK_KIND $UPCHECK_SERVICE\" >> sent.log\n",
    );
    let config = |command: &str| {
        format!(
            "alert_after = 1\nremind = \"never\"\n[[alert_command]]\ncommand = [\"{command}\"]\n\n{}",
            services(&[("api", "command = [\"false\"]")])
        )
    };
    world.write("upcheck.toml", &config("./notfiy.sh"));
    let run = world.run(&[]);
    assert_eq!(run.code, 1, "the typo fails: {run:?}");
    world.write("upcheck.toml", &config("./notify.sh"));
    let run = world.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        std::fs::read_to_string(world.path("sent.log")).unwrap_or_default(),
        "down api\n",
        "the fixed command got the alert the broken one owed"
    );
    assert_eq!(
        world.count("SELECT count(*) FROM command_deliveries WHERE sent_at IS NULL"),
        0,
        "nothing left due"
    );
}

/// Issue 11, finding 3: a command that failed for 5 runs with 3 services
/// down made 12 calls once it worked (a DOWN and each reminder, per
/// service). Commands now fold what is due per service, as the email does.
#[test]
fn alert_commands_fold_what_is_due_per_service() {
    let world = World::new("");
    world.script(
        "notify.sh",
        "#!/bin/sh\n[ -e works ] || exit 1\necho \"$UPCHECK_KIND $UPCHECK_SERVICE\" >> sent.log\n",
    );
    world.write(
        "upcheck.toml",
        &format!(
            "alert_after = 1\nremind = \"exponential\"\n[[alert_command]]\ncommand = [\"./notify.sh\"]\n\n{}",
            services(&[
                ("a", "command = [\"false\"]"),
                ("b", "command = [\"false\"]"),
                ("c", "command = [\"false\"]"),
            ])
        ),
    );
    for _ in 0..5 {
        assert_eq!(world.run(&[]).code, 1);
    }
    assert!(
        world.count("SELECT count(*) FROM command_deliveries WHERE sent_at IS NULL") > 3,
        "reminders piled up while the command failed"
    );
    world.write("works", "");
    assert_eq!(world.run(&[]).code, 0);
    let mut calls: Vec<String> = std::fs::read_to_string(world.path("sent.log"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    calls.sort();
    assert_eq!(
        calls,
        ["down a", "down b", "down c"],
        "one call per service"
    );
    assert_eq!(
        world.count("SELECT count(*) FROM command_deliveries WHERE sent_at IS NULL"),
        0
    );
}

/// Issue 11, finding 3: due deliveries ran one after another, so with 8
/// services down and a command hanging to its 2 s timeout, runs took 20 s,
/// 36 s, 52 s, growing every run. They now run at once, and everything after
/// probing is bounded by `run_timeout`.
#[test]
fn hanging_alert_commands_run_at_once_and_within_the_runs_bound() {
    let world = World::new("");
    world.script("hang.sh", "#!/bin/sh\nsleep 30\n");
    let down: Vec<(String, String)> = (0..8)
        .map(|i| (format!("s{i}"), "command = [\"false\"]".to_string()))
        .collect();
    let down: Vec<(&str, &str)> = down.iter().map(|(n, b)| (n.as_str(), b.as_str())).collect();
    world.write(
        "upcheck.toml",
        &format!(
            "alert_after = 1\nremind = \"exponential\"\nrun_timeout = \"3s\"\n\
             [[alert_command]]\ncommand = [\"./hang.sh\"]\ntimeout = \"2s\"\n\n{}",
            services(&down)
        ),
    );
    for _ in 0..3 {
        let started = Instant::now();
        let run = world.run(&[]);
        assert_eq!(run.code, 1, "{run:?}");
        // 2 s for the calls at once, and a margin for a busy machine; one
        // after another they took 16 s and more.
        assert_within(started, Duration::from_secs(7));
    }
}

/// Finding 20: the email that tells of a restart says whether the service
/// came back, from a probe after the restart, not the run's earlier check.
#[test]
fn a_restart_email_says_what_came_of_the_restart() {
    let smtp = SmtpServer::plain();
    let world = World::new("");
    // Exits at once; the service comes back a second later, as a slow
    // `systemctl restart` of a real service would.
    world.script(
        "restart.sh",
        "#!/bin/sh\n(sleep 1; rm -f api.down) >/dev/null 2>&1 &\nexit 0\n",
    );
    world.write(
        "upcheck.toml",
        &format!(
            "title = \"vps-1\"\nalert_after = 5\n{}{}",
            smtp.email_config(),
            services(&[
                (
                    "api",
                    &format!(
                        "{}\nrestart = [\"./restart.sh\"]\nrestart_after = 1",
                        switchable("api")
                    ),
                ),
                // Restarted to no avail: probed again until its restart_timeout.
                (
                    "worker",
                    &format!(
                        "{}\nrestart = [\"true\"]\nrestart_after = 1\nrestart_timeout = \"2s\"",
                        switchable("worker")
                    ),
                ),
            ])
        ),
    );
    set_down(&world, "api", true);
    set_down(&world, "worker", true);
    let started = Instant::now();
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] restarted: api, worker"]
    );
    assert_within(started, Duration::from_secs(15));
    let text = smtp.received()[0].text();
    let api = text
        .lines()
        .find(|l| l.contains("restarted api at "))
        .unwrap_or_else(|| panic!("no restart line for api in:\n{text}"));
    assert_contains(api, ": exit 0; online again ");
    assert_contains(api, "s later");
    let worker = text
        .lines()
        .find(|l| l.contains("restarted worker at "))
        .unwrap_or_else(|| panic!("no restart line for worker in:\n{text}"));
    assert_contains(worker, ": exit 0; still failing ");
    assert_contains(worker, "s later: offline");
    assert_contains(
        &smtp.received()[0].html().unwrap(),
        ": exit 0; online again ",
    );
    // Stored beside the restart, for sqlite3.
    let db = world.db();
    let stored: Vec<(String, String, i64)> = db
        .prepare("SELECT service, recheck_status, recheck_ms FROM restarts ORDER BY service")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(stored[0].0, "api");
    assert_eq!(stored[0].1, "online");
    assert!(
        (900..10_000).contains(&stored[0].2),
        "api came back about 1 s after its restart: {stored:?}"
    );
    assert_eq!(stored[1].0, "worker");
    assert_eq!(stored[1].1, "offline");
    assert!(
        (1_900..10_000).contains(&stored[1].2),
        "worker was probed again until its 2 s restart_timeout: {stored:?}"
    );
}
