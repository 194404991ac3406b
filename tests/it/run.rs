//! Whole runs through the CLI: silence, dry runs, the database, the lock,
//! `status`, and that stored checks survive a failing later step.

use std::fs::File;
use std::thread;
use std::time::Duration;

use crate::support::{HttpServer, World, assert_contains, closed_port, integrity, services};

fn healthy() -> String {
    services(&[("shell", "command = [\"true\"]")])
}

/// `shell` passes and `db` is refused, under the title `vps-1`.
fn one_of_two_failing() -> String {
    format!(
        "title = \"vps-1\"\n{}",
        services(&[
            ("shell", "command = [\"true\"]"),
            ("db", &format!("tcp = \"127.0.0.1:{}\"", closed_port())),
        ])
    )
}

#[test]
fn a_healthy_run_prints_nothing_and_stores_one_run() {
    let world = World::new(&healthy());
    let run = world.run(&[]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", "")
    );
    let run = world.run(&["run"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", "")
    );
    let db = world.db();
    let (runs, finished): (i64, i64) = db
        .query_row("SELECT count(*), count(finished_at) FROM runs", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((runs, finished), (2, 2));
    assert_eq!(world.latest("shell"), ("online".to_string(), None));
}

#[test]
fn a_run_with_failures_still_exits_zero_and_prints_nothing() {
    // Down services are what the email is for, not a failed run.
    let world = World::new(&services(&[(
        "db",
        &format!("tcp = \"127.0.0.1:{}\"", closed_port()),
    )]));
    let run = world.run(&[]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", "")
    );
    assert_eq!(world.latest("db").0, "offline");
}

#[test]
fn dry_run_prints_the_report_and_writes_nothing() {
    let world = World::new(&one_of_two_failing());
    let run = world.run(&["run", "--dry-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_contains(&run.stdout, "vps-1: 1 of 2 services failing");
    assert_contains(&run.stdout, "db       offline");
    assert_contains(&run.stdout, "connection refused");
    assert!(
        !world.path("upcheck.db").exists(),
        "dry run created the database"
    );
    assert!(
        !world.path("upcheck.db.lock").exists(),
        "dry run took the lock"
    );
}

#[test]
fn the_schema_has_the_documented_tables_and_views() {
    let world = World::new(&healthy());
    assert_eq!(world.run(&[]).code, 0);
    let db = world.db();
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 10);
    let mode: String = db
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // The column names PRODUCT.md promises to sqlite3 users.
    db.prepare("SELECT id, started_at, finished_at, forced FROM runs")
        .unwrap();
    db.prepare("SELECT id, service, starts_at, ends_at, reason, created_at FROM silences")
        .unwrap();
    db.prepare("SELECT id, run_id, service, checked_at, status, response_ms, status_code, error FROM checks")
        .unwrap();
    let latest: (String, String, String) = db
        .query_row("SELECT service, checked_at, status FROM latest", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((latest.0.as_str(), latest.2.as_str()), ("shell", "online"));
    // UTC ISO-8601 with milliseconds.
    assert!(
        latest.1.len() == 24 && latest.1.ends_with('Z'),
        "{}",
        latest.1
    );
    let uptime: (String, i64, f64, f64, f64, f64) = db
        .query_row(
            "SELECT service, checks, uptime_24h, uptime_7d, uptime_30d, uptime_all FROM uptime",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(uptime, ("shell".to_string(), 1, 100.0, 100.0, 100.0, 100.0));
    // Checks are kept in time order: a time window is one range of the
    // table, never a scan of it, and each service's latest one is a seek.
    let plan: String = db
        .query_row(
            "EXPLAIN QUERY PLAN SELECT * FROM checks WHERE checked_at >= '2026-01-01' ORDER BY checked_at",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert_eq!(plan, "SEARCH checks USING PRIMARY KEY (checked_at>?)");
    let plans: Vec<String> = db
        .prepare("EXPLAIN QUERY PLAN SELECT * FROM latest")
        .unwrap()
        .query_map([], |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // One pass over the states (by whichever of its indexes covers it),
    // one seek into checks for each.
    assert_eq!(plans.len(), 2, "{plans:?}");
    assert!(plans[0].starts_with("SCAN s"), "{plans:?}");
    assert_eq!(
        plans[1],
        "SEARCH c USING PRIMARY KEY (checked_at=? AND id=?)"
    );
}

#[test]
fn a_database_from_a_newer_upcheck_is_refused() {
    let world = World::new(&healthy());
    assert_eq!(world.run(&[]).code, 0);
    world
        .db()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let run = world.run(&[]);
    assert_eq!(run.code, 1);
    assert_contains(
        &run.stderr,
        "schema version 99, newer than this upcheck understands (10)",
    );
    assert_eq!(
        world.count("SELECT count(*) FROM runs"),
        1,
        "nothing was written to the newer database"
    );
}

#[test]
fn checks_are_stored_even_when_a_later_step_fails() {
    let world = World::new(&healthy());
    for (fault, message) in [
        ("after-store", "injected fault after storing the checks"),
        (
            "panic-after-store",
            "injected panic after storing the checks",
        ),
    ] {
        let run = world.run_env(&[], &[("UPCHECK_TEST_FAULT", fault)]);
        assert_eq!(run.code, 1, "{run:?}");
        assert_contains(&run.stderr, message);
    }
    assert_eq!(
        world.count("SELECT count(*) FROM checks"),
        2,
        "both runs' checks were stored"
    );
    let error: String = world
        .db()
        .query_row("SELECT error FROM runs ORDER BY id LIMIT 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_contains(&error, "injected fault");
}

#[test]
fn two_runs_at_once_take_turns() {
    let http = HttpServer::start();
    let world = World::new(&services(&[(
        "slow",
        &format!("url = {:?}", http.url("/slow/700")),
    )]));
    let mut first = world.command(&[]).spawn().unwrap();
    let mut second = world.command(&[]).spawn().unwrap();
    assert!(first.wait().unwrap().success());
    assert!(second.wait().unwrap().success());
    let db = world.db();
    let runs: Vec<(String, String)> = db
        .prepare("SELECT started_at, finished_at FROM runs ORDER BY started_at")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(runs.len(), 2);
    // The second began (took the lock) only after the first had finished.
    assert!(runs[1].0 >= runs[0].1, "runs overlapped: {runs:?}");
    assert_eq!(world.count("SELECT count(*) FROM checks"), 2);
    assert_eq!(integrity(&db), "ok");
}

#[test]
fn a_run_that_cannot_get_the_lock_gives_up_with_a_clear_message() {
    let world = World::new(&format!("lock_timeout = \"300ms\"\n{}", healthy()));
    let holder = File::create(world.path("upcheck.db.lock")).unwrap();
    holder.lock().unwrap();
    let run = world.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(&run.stderr, "another upcheck run still holds");
    assert_contains(&run.stderr, "after waiting 300ms");
    assert!(
        !world.path("upcheck.db").exists(),
        "it probed and wrote without the lock"
    );
    // Released: the next run goes through.
    drop(holder);
    thread::sleep(Duration::from_millis(10));
    assert_eq!(world.run(&[]).code, 0);
}

#[test]
fn status_reads_the_database_only() {
    let world = World::new(&one_of_two_failing());
    // Before any run: every service unknown, and no database is created.
    let before = world.run(&["status"]);
    assert_eq!(before.code, 0, "{before:?}");
    assert_contains(&before.stdout, "shell    unknown  never checked");
    assert!(!world.path("upcheck.db").exists());

    assert_eq!(world.run(&[]).code, 0);
    assert_eq!(world.run(&[]).code, 0);
    let text = world.run(&["status"]);
    assert_eq!(text.code, 0);
    assert_contains(&text.stdout, "vps-1: 1 of 2 services failing");
    assert_contains(&text.stdout, "db       offline");
    assert_contains(&text.stdout, "connection refused");
    assert_contains(&text.stdout, "100.00%");

    let json = world.run(&["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("status --json is JSON");
    assert_eq!(doc["title"], "vps-1");
    assert!(
        doc["next_run"].is_string(),
        "two runs give a next_run guess"
    );
    let services = doc["services"].as_array().unwrap();
    assert_eq!(services[0]["name"], "db", "problems first");
    assert_eq!(services[0]["status"], "offline");
    assert_eq!(services[0]["reason"], "connection refused");
    assert_eq!(services[1]["uptime"]["24h"], 100.0);
    assert_eq!(services[1]["uptime"]["all"], 100.0);
    for key in ["since", "last_check", "next_check", "response_ms", "kind"] {
        assert!(!services[1][key].is_null(), "{key} missing");
    }
}

#[test]
fn verbose_runs_say_what_they_did() {
    let world = World::new(&healthy());
    let run = world.run(&["-v"]);
    assert_eq!(run.code, 0);
    assert_contains(&run.stderr, "probed 1 services");
    let run = world.run(&["-vv", "--log-format", "json"]);
    for line in run.stderr.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        assert!(v["timestamp"].is_string() && v["level"].is_string() && v["run_id"].is_string());
    }
    assert!(
        run.stderr.contains("\"service\":\"shell\""),
        "{}",
        run.stderr
    );
}

/// A world whose failures would page: mail into an outbox, and an alert
/// command for the fallback that leaves a mark.
fn pager_world() -> World {
    let world = World::new(&format!(
        "[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\ntransport = \"file\"\n\n\
         [[alert_command]]\ncommand = [\"./page.sh\"]\non = [\"fallback\"]\n\n{}",
        healthy()
    ));
    world.script(
        "page.sh",
        "#!/bin/sh\necho \"$UPCHECK_KIND\" >> paged.log\n",
    );
    world
}

/// Emails in the outbox and calls of the fallback command so far.
fn pages(world: &World) -> (usize, usize) {
    let emails = std::fs::read_dir(world.path("outbox"))
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "eml"))
            })
            .count()
        })
        .unwrap_or(0);
    let calls = std::fs::read_to_string(world.path("paged.log"))
        .map(|t| t.lines().count())
        .unwrap_or(0);
    (emails, calls)
}

/// Issue 11, finding 11: `backup` onto an existing file or before the first
/// run, and `status` on a database it cannot open, sent the fallback email
/// and ran the fallback commands. Only a run pages people.
#[test]
fn backup_and_status_failures_tell_the_person_at_the_terminal_not_the_pager() {
    let world = pager_world();
    let before_first_run = world.run(&["backup", "copy.db"]);
    assert_eq!(before_first_run.code, 1, "{before_first_run:?}");
    assert_contains(&before_first_run.stderr, "there is no database");
    assert_eq!(world.run(&[]).code, 0);
    world.write("copy.db", "an older copy");
    let onto_existing = world.run(&["backup", "copy.db"]);
    assert_eq!(onto_existing.code, 1, "{onto_existing:?}");
    assert_contains(&onto_existing.stderr, "already exists");
    std::fs::remove_file(world.path("upcheck.db")).unwrap();
    std::fs::create_dir(world.path("upcheck.db")).unwrap();
    let status = world.run(&["status"]);
    assert_eq!(status.code, 1, "{status:?}");
    assert_eq!(pages(&world), (0, 0), "nobody was paged");
    // The same broken database under a run does page: the outbox and the
    // command are wired as the assertion above assumes.
    assert_eq!(world.run(&[]).code, 1);
    assert_eq!(pages(&world), (1, 1));
}

/// Issue 11, finding 17: `upcheck status --json | head -6` (and `status`,
/// `check-config`, `run --dry-run` into a closed pipe) panicked on EPIPE,
/// printed a backtrace, exited 1 and paged the team.
#[test]
fn a_closed_stdout_is_a_normal_end_not_a_page() {
    use std::process::Stdio;
    let world = pager_world();
    assert_eq!(world.run(&[]).code, 0);
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["check-config"],
        &["run", "--dry-run"],
    ] {
        let mut child = world
            .command(args)
            .env("RUST_BACKTRACE", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before upcheck has written a byte.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
    assert_eq!(pages(&world), (0, 0), "nobody was paged");
}

/// Issue 11, finding 21 (and "status during a run"): a `--force` by hand
/// threw off the "next check expected" guess, and `status` during a run
/// reported the unfinished run as `last_run`.
#[test]
fn the_next_run_is_guessed_from_scheduled_runs_that_finished() {
    let world = World::new(&healthy());
    for args in [&[][..], &[], &["--force"], &[]] {
        assert_eq!(world.run(args).code, 0);
        thread::sleep(Duration::from_millis(30));
    }
    // The last run is still going, as `status` sees it during a run.
    world
        .db()
        .execute(
            "UPDATE runs SET finished_at = NULL WHERE id = (SELECT max(id) FROM runs)",
            [],
        )
        .unwrap();
    let starts: Vec<String> = world
        .db()
        .prepare("SELECT started_at FROM runs ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    // Scheduled and finished: the first two (the third was forced).
    let expected_next = at(&starts[1]) + (at(&starts[1]) - at(&starts[0]));
    let run = world.run(&["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["last_run"], starts[1].as_str(), "{doc}");
    let next = at(doc["next_run"].as_str().unwrap());
    assert_eq!(next, expected_next, "{doc}");
}

/// Issue 11, finding 10: with `--log-format json`, a panic printed four plain
/// lines and no JSON error line, and usage errors were plain text: a log
/// shipper parsing stderr lost exactly the lines that mattered.
#[test]
fn json_logs_stay_json_on_a_panic_and_a_usage_error() {
    let world = World::new(&healthy());
    let every_line_json = |stderr: &str| -> Vec<serde_json::Value> {
        stderr
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
            .collect()
    };
    let panicked = world.run_env(
        &["--log-format", "json"],
        &[("UPCHECK_TEST_FAULT", "panic-after-store")],
    );
    assert_eq!(panicked.code, 1, "{panicked:?}");
    let lines = every_line_json(&panicked.stderr);
    assert!(
        lines.iter().any(|l| l["level"] == "error"
            && l["message"]
                .as_str()
                .is_some_and(|m| m.contains("panic: injected panic after storing the checks"))),
        "{lines:?}"
    );
    for args in [
        &["--log-format", "json", "--bogus"][..],
        &["--log-format=json", "--force", "status"],
        &["status", "--log-format", "json", "--jsn"],
    ] {
        let run = world.run(args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        let lines = every_line_json(&run.stderr);
        assert!(
            lines.iter().any(|l| l["level"] == "error"),
            "{args:?}: {lines:?}"
        );
    }
}

/// Every `sqlite3` question in the README answers on a real history, and
/// none reads the whole of `checks` (which on years of history would take
/// seconds; bench scenario C times them on a year): each is a range at the
/// end of a table, or one row per service.
#[test]
fn the_readmes_sqlite3_questions_answer_without_reading_all_checks() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme
        .split("Questions people ask (`sqlite3")
        .nth(1)
        .and_then(|rest| rest.split("```sql\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the README's sqlite3 questions");
    let questions: Vec<&str> = block
        .split(';')
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .collect();
    assert_eq!(questions.len(), 7, "{block}");
    let world = World::new(&format!(
        "{}\n{}",
        services(&[("price-api", &crate::support::switchable("price-api"))]),
        "[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\ntransport = \"file\"\n"
    ));
    assert_eq!(world.run(&[]).code, 0);
    crate::support::set_down(&world, "price-api", true);
    for _ in 0..3 {
        assert_eq!(world.run(&[]).code, 0);
    }
    crate::support::set_down(&world, "price-api", false);
    for _ in 0..3 {
        assert_eq!(world.run(&[]).code, 0);
    }
    let db = world.db();
    for q in &questions {
        let plan: Vec<String> = db
            .prepare(&format!("EXPLAIN QUERY PLAN {q}"))
            .unwrap_or_else(|e| panic!("{e}: {q}"))
            .query_map([], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            !plan
                .iter()
                .any(|step| step == "SCAN checks" || step == "SCAN c"),
            "{q}\n{plan:#?}"
        );
        let mut stmt = db.prepare(q).unwrap();
        let width = stmt.column_count();
        let rows: Vec<Vec<rusqlite::types::Value>> = stmt
            .query_map([], |r| (0..width).map(|i| r.get(i)).collect())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        if q.contains("The last outage of price-api") {
            assert_eq!(rows.len(), 1, "{q}");
            assert!(
                rows[0]
                    .iter()
                    .all(|v| !matches!(v, rusqlite::types::Value::Null)),
                "began, alerted, ended and why are all known: {rows:?}"
            );
        }
        if q.contains("Uptime per service over the last 7 days") {
            assert_eq!(rows.len(), 1, "{q}");
            assert_eq!(rows[0][2], rusqlite::types::Value::Integer(7), "{rows:?}");
        }
    }
}
