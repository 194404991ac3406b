//! The store's unit tests: the schema and its migrations, a run's rows and
//! the outbox marks, the rollups against a recount of the raw checks,
//! retention, and malformed stored values read back as errors.

use chrono::Utc;
use rusqlite::Connection;

use super::Store;
use super::schema::SCHEMA_VERSION;
use crate::alert::{AlertState, Decision, Notice};
use crate::check::{CheckResult, Status};
use crate::config::AlertCommand;
use crate::rng::Rng;
use crate::timefmt::{iso, parse_iso};
use crate::watchdog::{Recheck, RestartAttempt};

fn result(service: &str, at: &str, status: Status) -> CheckResult {
    CheckResult::new(service, parse_iso(at).unwrap(), status)
}

#[test]
fn schema_applies_to_an_empty_database_and_sets_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a.db")).unwrap();
    let v: i64 = store
        .sqlite()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    // Opening again is a no-op, not a second CREATE.
    drop(store);
    Store::open(&dir.path().join("a.db")).unwrap();
}

#[test]
fn a_restart_and_what_came_of_it_read_back_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("a.db")).unwrap();
    let at = parse_iso("2026-11-21T10:05:00.000Z").unwrap();
    let run = store
        .begin_run(at, false, "h", "00000000-0000-4000-8000-000000000000")
        .unwrap();
    let mut attempt = RestartAttempt {
        id: None,
        service: "web".into(),
        started_at: at,
        exit_code: Some(0),
        outcome: "exit 0".into(),
        output: "restarted\n".into(),
        duration_ms: 812,
        recheck: Some(Recheck {
            status: Status::Offline,
            reason: Some("connection refused".into()),
            after_ms: 4_100,
        }),
    };
    let mut unprobed = attempt.clone();
    unprobed.recheck = None;
    let id = store.record_restart(run, &attempt).unwrap();
    store
        .record_recheck(id, attempt.recheck.as_ref().unwrap())
        .unwrap();
    store.record_restart(run, &unprobed).unwrap();
    let read = store.unreported_restarts().unwrap();
    (attempt.id, unprobed.id) = (Some(1), Some(2));
    assert_eq!(read, [attempt, unprobed]);
}

#[test]
fn a_run_is_recorded_with_its_state_and_due_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("a.db")).unwrap();
    let at = parse_iso("2026-11-21T10:05:00.000Z").unwrap();
    let run = store
        .begin_run(at, false, "h", "00000000-0000-4000-8000-000000000000")
        .unwrap();
    let state = AlertState {
        status: Status::Offline,
        since: Some(parse_iso("2026-11-21T10:00:00.000Z").unwrap()),
        fail_streak: 2,
        pass_streak: 0,
        down: true,
        runs_since_alert: 0,
        last_notice_at: Some(at),
    };
    let decision = Decision {
        service: "web".into(),
        state: state.clone(),
        due: Some(Notice::Down),
        held: false,
    };
    store
        .record_run(
            run,
            &[result("web", "2026-11-21T10:05:00.000Z", Status::Offline)],
            &[decision],
            &[],
        )
        .unwrap();
    assert_eq!(store.alert_states().unwrap()["web"], state);
    let due = store.due_notifications().unwrap();
    assert_eq!((due.len(), due[0].kind), (1, Notice::Down));
    store.record_sending(&[due[0].id], "<m@test>").unwrap();
    store
        .record_delivery(run, &[due[0].id], &[], false, at, Some("refused"))
        .unwrap();
    let due = store.due_notifications().unwrap();
    assert_eq!(due.len(), 1, "a failed delivery stays due");
    assert!(
        !due[0].interrupted,
        "a failure is known not to have gone out"
    );
    // A run that dies while sending leaves the mark for the next one...
    store.record_sending(&[due[0].id], "<m@test>").unwrap();
    assert!(store.due_notifications().unwrap()[0].interrupted);
    // ... and a failed retry does not wipe it: it may still have gone out.
    store.record_sending(&[due[0].id], "<m@test>").unwrap();
    store
        .record_delivery(run, &[due[0].id], &[], false, at, Some("refused"))
        .unwrap();
    assert!(store.due_notifications().unwrap()[0].interrupted);
    store.record_sending(&[due[0].id], "<m@test>").unwrap();
    store
        .record_delivery(run, &[due[0].id], &[], true, at, None)
        .unwrap();
    assert!(store.due_notifications().unwrap().is_empty());
    let (attempts, reports): (i64, i64) = store
        .sqlite()
        .query_row(
            "SELECT (SELECT attempts FROM notifications WHERE kind = 'down'),
                    (SELECT count(*) FROM notifications WHERE kind = 'report' AND sent_at IS NOT NULL)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((attempts, reports), (4, 1));
    assert_eq!(
        iso(store.summaries().unwrap()["web"].since),
        "2026-11-21T10:00:00.000Z"
    );
}

/// Appends a random history (3 services, `runs` runs at random times within
/// the last 40 days, in time order) through `record_run`.
/// A decision that leaves `service` at `status` since `at`, nothing due.
fn nothing_due(service: &str, status: Status, at: chrono::DateTime<Utc>) -> Decision {
    Decision {
        service: service.into(),
        state: AlertState {
            status,
            since: Some(at),
            ..AlertState::default()
        },
        due: None,
        held: false,
    }
}

fn random_history(store: &mut Store, seed: u64, runs: usize) {
    let mut rng = Rng::new(seed);
    let now = Utc::now();
    let mut offsets: Vec<i64> = (0..runs)
        .map(|_| rng.below(40 * 86_400_000) as i64)
        .collect();
    offsets.sort_unstable_by(|a, b| b.cmp(a));
    for offset in offsets {
        let at = now - chrono::Duration::milliseconds(offset);
        let run = store
            .begin_run(at, false, "h", "00000000-0000-4000-8000-000000000000")
            .unwrap();
        let mut results = Vec::new();
        let mut decisions = Vec::new();
        for service in ["a", "b", "c"] {
            let status = Status::STORED[rng.below(4) as usize];
            let mut r = result(service, &iso(at), status);
            r.response_ms = Some(rng.below(3000));
            decisions.push(nothing_due(service, status, at));
            results.push(r);
        }
        store.record_run(run, &results, &decisions, &[]).unwrap();
    }
}

/// Rollup rows, and uptime rows: (service, checks, 24h, 7d, 30d, all).
type Story = (
    Vec<(String, String, i64, i64, i64)>,
    Vec<(
        String,
        i64,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
    )>,
);

/// What the rollups and the uptime view must equal: the raw checks, counted directly.
fn recompute(store: &Store) -> Story {
    let rollups = store
        .sqlite()
        .prepare(
            "SELECT service, strftime('%Y-%m-%dT%H:00:00.000Z', checked_at), count(*), sum(status = 'online'),
                    sum(response_ms) FROM checks GROUP BY 1, 2 ORDER BY 1, 2",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    // The view's windows: whole UTC hours for 24h, whole UTC days for 7d and 30d.
    let pct = |start: &str| {
        format!(
            "round(100.0 * sum(status = 'online' AND checked_at >= {start}) / nullif(sum(checked_at >= {start}), 0), 3)"
        )
    };
    let sql = format!(
        "SELECT service, count(*), {}, {}, {}, round(100.0 * sum(status = 'online') / count(*), 3)
         FROM checks GROUP BY service ORDER BY service",
        pct("strftime('%Y-%m-%dT%H:00:00.000Z', 'now', '-24 hours')"),
        pct("strftime('%Y-%m-%d', 'now', '-7 days')"),
        pct("strftime('%Y-%m-%d', 'now', '-30 days')"),
    );
    let uptime = store
        .sqlite()
        .prepare(&sql)
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    (rollups, uptime)
}

fn stored(store: &Store) -> Story {
    let rollups = store
        .sqlite()
        .prepare("SELECT service, hour, checks, online, total_ms FROM checks_hourly ORDER BY 1, 2")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    let uptime = store
        .sqlite()
        .prepare("SELECT service, checks, uptime_24h, uptime_7d, uptime_30d, uptime_all FROM uptime ORDER BY service")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    (rollups, uptime)
}

fn assert_daily_sums_hourly(store: &Store) {
    let rows = |sql: &str| -> Vec<(String, String, i64, i64, i64)> {
        store
            .sqlite()
            .prepare(sql)
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    assert_eq!(
        rows("SELECT service, day, checks, online, total_ms FROM checks_daily ORDER BY 1, 2"),
        rows(
            "SELECT service, substr(hour, 1, 10), sum(checks), sum(online), sum(total_ms)
             FROM checks_hourly GROUP BY 1, 2 ORDER BY 1, 2"
        )
    );
}

#[test]
fn rollups_and_uptime_equal_a_recount_of_the_raw_checks() {
    for seed in 1..=12 {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("a.db")).unwrap();
        random_history(&mut store, seed, 40 + seed as usize * 7);
        assert_eq!(stored(&store), recompute(&store), "seed {seed}");
        assert_daily_sums_hourly(&store);
    }
}

#[test]
fn retention_deletes_only_old_raw_checks_in_bounded_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("a.db")).unwrap();
    random_history(&mut store, 7, 120);
    let cutoff = Utc::now() - chrono::Duration::days(20);
    let count = |store: &Store, sql: &str| -> i64 {
        store.sqlite().query_row(sql, [], |r| r.get(0)).unwrap()
    };
    let old_sql = format!(
        "SELECT count(*) FROM checks WHERE checked_at < '{}'",
        iso(cutoff)
    );
    let old = count(&store, &old_sql);
    let young = count(&store, "SELECT count(*) FROM checks") - old;
    let rollups_before = stored(&store).0;
    assert!(old > 10, "the history must reach past the cutoff");
    let mut batches = 0;
    loop {
        let deleted = store.prune(cutoff, 10).unwrap();
        assert!(deleted <= 10, "a batch deleted {deleted}");
        if deleted == 0 {
            break;
        }
        batches += 1;
    }
    assert!(
        batches >= old as usize / 10,
        "{batches} batches for {old} old checks"
    );
    assert_eq!(count(&store, &old_sql), 0);
    assert_eq!(
        count(&store, "SELECT count(*) FROM checks"),
        young,
        "young checks were kept"
    );
    assert_eq!(
        stored(&store).0,
        rollups_before,
        "rollups outlive the raw checks"
    );
}

#[test]
fn retention_keeps_the_latest_check_of_a_service() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("a.db")).unwrap();
    let long_ago = Utc::now() - chrono::Duration::days(400);
    let run = store
        .begin_run(long_ago, false, "h", "00000000-0000-4000-8000-000000000000")
        .unwrap();
    let d = Decision {
        service: "gone".into(),
        state: AlertState::default(),
        due: None,
        held: false,
    };
    store
        .record_run(
            run,
            &[result("gone", &iso(long_ago), Status::Online)],
            &[d],
            &[],
        )
        .unwrap();
    assert_eq!(store.prune(Utc::now(), 100).unwrap(), 0);
    assert!(store.summaries().unwrap().contains_key("gone"));
}

#[test]
fn a_version_1_database_migrates_with_its_rollups_backfilled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    // A database as version 1 left it, with a history.
    let fresh = tempfile::tempdir().unwrap();
    let mut source = Store::open(&fresh.path().join("src.db")).unwrap();
    random_history(&mut source, 99, 80);
    {
        let v1 = Connection::open(&path).unwrap();
        v1.execute_batch(include_str!("../../tests/fixtures/schema-v1.sql"))
            .unwrap();
        v1.pragma_update(None, "user_version", 1).unwrap();
        v1.execute_batch(&format!(
            "ATTACH '{}' AS src;
             INSERT INTO runs SELECT id, started_at, finished_at, forced, host, version, services, failing, error
                    FROM src.runs;
             INSERT INTO checks SELECT * FROM src.checks;
             INSERT INTO service_state SELECT service, status, since, last_check_id, fail_streak, pass_streak,
                    down, runs_since_alert, last_notice_at FROM src.service_state;",
            fresh.path().join("src.db").display()
        ))
        .unwrap();
    }
    let migrated = Store::open(&path).unwrap();
    let version: i64 = migrated
        .sqlite()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(stored(&migrated), recompute(&migrated));
    assert_daily_sums_hourly(&migrated);
    assert_eq!(
        stored(&migrated),
        stored(&source),
        "the same story as a database that grew up on version 2"
    );
    // Version 10 kept every check's id and counts on from the largest, and
    // each service's state still finds its latest check.
    let db = migrated.sqlite();
    let (ids, distinct, max, last): (i64, i64, i64, i64) = db
        .query_row(
            "SELECT count(id), count(DISTINCT id), max(id), (SELECT last FROM sequences) FROM checks",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    let (source_rows, source_ids): (i64, i64) = source
        .sqlite()
        .query_row("SELECT count(*), sum(id) FROM checks", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(source_rows > 100, "{source_rows}");
    assert_eq!((ids, distinct, last), (source_rows, source_rows, max));
    let ids_sum: i64 = db
        .query_row("SELECT sum(id) FROM checks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ids_sum, source_ids);
    let latest: i64 = db
        .query_row("SELECT count(*) FROM latest", [], |r| r.get(0))
        .unwrap();
    let states: i64 = db
        .query_row("SELECT count(*) FROM service_state", [], |r| r.get(0))
        .unwrap();
    assert_eq!(latest, states);
    assert!(states > 0);
}

#[test]
fn migrations_and_schema_sql_build_the_same_database() {
    let shape = |conn: &Connection| -> Vec<String> {
        let mut out = Vec::new();
        let objects: Vec<(String, String)> = conn
            .prepare("SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for (kind, name) in objects {
            out.push(format!("{kind} {name}"));
            if kind == "table" || kind == "view" {
                let cols: Vec<String> = conn
                    .prepare(&format!("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('{name}')"))
                    .unwrap()
                    .query_map([], |r| {
                        Ok(format!(
                            "  {} {} {} {:?} {}",
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, Option<String>>(3)?,
                            r.get::<_, i64>(4)?
                        ))
                    })
                    .unwrap()
                    .collect::<rusqlite::Result<_>>()
                    .unwrap();
                out.extend(cols);
            }
        }
        out
    };
    let dir = tempfile::tempdir().unwrap();
    let fresh = Store::open(&dir.path().join("fresh.db")).unwrap();
    let old = dir.path().join("old.db");
    {
        let v1 = Connection::open(&old).unwrap();
        v1.execute_batch(include_str!("../../tests/fixtures/schema-v1.sql"))
            .unwrap();
        v1.pragma_update(None, "user_version", 1).unwrap();
    }
    let migrated = Store::open(&old).unwrap();
    assert_eq!(shape(migrated.sqlite()), shape(fresh.sqlite()));
}

#[test]
fn a_malformed_stored_value_is_an_error_naming_it_not_a_default() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("a.db")).unwrap();
    let at = parse_iso("2026-11-21T10:05:00.000Z").unwrap();
    let run = store
        .begin_run(at, false, "h", "00000000-0000-4000-8000-000000000000")
        .unwrap();
    let decision = Decision {
        service: "web".into(),
        state: AlertState {
            status: Status::Offline,
            since: Some(at),
            fail_streak: 2,
            down: true,
            ..AlertState::default()
        },
        due: Some(Notice::Down),
        held: false,
    };
    let command = AlertCommand {
        argv: vec!["page".into()],
        on: vec![Notice::Down],
        on_fallback: false,
        timeout: std::time::Duration::from_secs(1),
        dir: dir.path().to_path_buf(),
    };
    store
        .record_run(
            run,
            &[result("web", "2026-11-21T10:05:00.000Z", Status::Offline)],
            &[decision],
            &[command],
        )
        .unwrap();
    let restart = RestartAttempt {
        id: None,
        service: "web".into(),
        started_at: at,
        exit_code: Some(0),
        outcome: "exit 0".into(),
        output: String::new(),
        duration_ms: 5,
        recheck: None,
    };
    store.record_restart(run, &restart).unwrap();
    store
        .sqlite()
        .execute_batch(
            "UPDATE service_state SET since = 'garbage';
             -- Both ends of the reference at once, as a sqlite3 session could.
             PRAGMA foreign_keys = OFF;
             UPDATE checks SET checked_at = 'whenever';
             UPDATE service_state SET last_checked_at = 'whenever';
             PRAGMA foreign_keys = ON;
             UPDATE notifications SET created_at = 'yesterday';
             UPDATE restarts SET started_at = 'later';
             UPDATE runs SET started_at = 'soon';",
        )
        .unwrap();
    let says = |e: anyhow::Error, context: &str, bad: &str| {
        let text = format!("{e:#}");
        assert!(
            text.contains(context) && text.matches(bad).count() == 1,
            "{text:?} should name {context:?} and, once, {bad:?}"
        );
    };
    let stamp = |column: &str, bad: &str| format!("column {column}: not a timestamp: {bad:?}");
    says(
        store.alert_states().unwrap_err(),
        "reading the alert state",
        &format!(
            "{} (in the row where service = 'web')",
            stamp("since", "garbage")
        ),
    );
    says(
        store.summaries().unwrap_err(),
        "reading service summaries",
        &stamp("since", "garbage"),
    );
    says(
        store.due_notifications().unwrap_err(),
        "reading due notifications",
        &stamp("created_at", "yesterday"),
    );
    says(
        store.due_command_deliveries().unwrap_err(),
        "reading due alert commands",
        &stamp("created_at", "yesterday"),
    );
    says(
        store.unreported_restarts().unwrap_err(),
        "reading restarts",
        &stamp("started_at", "later"),
    );
    says(
        store.recent_run_starts(Some(run)).unwrap_err(),
        "reading when the last runs started",
        &stamp("started_at", "soon"),
    );
    store
        .sqlite()
        .execute(
            "UPDATE service_state SET since = ?1, status = 'up'",
            [iso(at)],
        )
        .unwrap();
    says(
        store.alert_states().unwrap_err(),
        "reading the alert state",
        r#"column status: unknown status "up""#,
    );
    // The summary reads the status before the check's time.
    says(
        store.summaries().unwrap_err(),
        "reading service summaries",
        r#"column status: unknown status "up""#,
    );
    store
        .sqlite()
        .execute("UPDATE service_state SET status = 'offline'", [])
        .unwrap();
    says(
        store.summaries().unwrap_err(),
        "reading service summaries",
        &stamp("checked_at", "whenever"),
    );
}

/// Pruning by age must stay a range at the start of `checks` (kept in time
/// order): a scan of the whole table would cost every run seconds on a year
/// of history.
#[test]
fn pruning_reads_the_start_of_the_checks_never_scans_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a.db")).unwrap();
    let plan: Vec<String> = store
        .sqlite()
        .prepare(&format!("EXPLAIN QUERY PLAN {}", super::runs::PRUNE))
        .unwrap()
        .query_map(["2026-01-01T00:00:00.000Z", "10"], |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let plan = plan.join("\n");
    assert!(
        plan.contains("SEARCH checks USING PRIMARY KEY (checked_at<?)"),
        "{plan}"
    );
    assert!(!plan.contains("SCAN checks"), "{plan}");
}

#[test]
fn rebuilding_notifications_for_the_network_kind_keeps_every_row_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v5.db");
    {
        let v5 = Connection::open(&path).unwrap();
        v5.execute_batch(include_str!("../../tests/fixtures/schema-v1.sql"))
            .unwrap();
        for sql in &super::schema::MIGRATIONS[..4] {
            v5.execute_batch(sql).unwrap();
        }
        v5.execute_batch(
            "PRAGMA foreign_keys = ON;
             INSERT INTO runs (id, started_at, host, version) VALUES (1, '2026-11-21T10:00:00.000Z', 'h', 'v');
             INSERT INTO notifications (id, run_id, service, kind, created_at, attempts, error)
                 VALUES (7, 1, 'web', 'down', '2026-11-21T10:00:00.000Z', 2, 'mail down');
             INSERT INTO command_deliveries (notification_id, command) VALUES (7, '[\"page\"]');",
        )
        .unwrap();
        v5.pragma_update(None, "user_version", 5).unwrap();
    }
    let migrated = Store::open(&path).unwrap();
    let kept: (i64, String, String, i64, String) = migrated
        .sqlite()
        .query_row(
            "SELECT n.id, n.service, n.kind, n.attempts, c.command
             FROM notifications n JOIN command_deliveries c ON c.notification_id = n.id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(
        kept,
        (7, "web".into(), "down".into(), 2, "[\"page\"]".into())
    );
    let broken: i64 = migrated
        .sqlite()
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(broken, 0);
    migrated
        .sqlite()
        .execute(
            "INSERT INTO notifications (run_id, kind, created_at) VALUES (1, 'network', '2026-11-21T10:05:00.000Z')",
            [],
        )
        .unwrap();
    // The foreign key from command_deliveries still points at notifications.
    let fk: String = migrated
        .sqlite()
        .query_row(
            "SELECT \"table\" FROM pragma_foreign_key_list('command_deliveries')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(fk, "notifications");
}

#[test]
fn a_report_is_queued_once_per_period_and_a_newer_period_supersedes_an_unsent_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("u.db")).unwrap();
    let run = store
        .begin_run(
            Utc::now(),
            false,
            "h",
            "00000000-0000-4000-8000-000000000000",
        )
        .unwrap();
    store
        .queue_summary(run, "week 2026-11-16", Utc::now())
        .unwrap();
    store
        .queue_summary(run, "week 2026-11-16", Utc::now())
        .unwrap();
    let (first, key, maybe) = store.due_summary().unwrap().unwrap();
    assert_eq!((key.as_str(), maybe), ("week 2026-11-16", None));
    // Still unsent when the next period is queued: only the newer is due.
    store
        .queue_summary(run, "week 2026-11-23", Utc::now())
        .unwrap();
    let (id, key, _) = store.due_summary().unwrap().unwrap();
    assert!(id > first && key == "week 2026-11-23");
    store.record_sending(&[id], "<r@test>").unwrap();
    // A run stopped mid-send: the retry gets the Message-ID to reuse.
    assert_eq!(
        store.due_summary().unwrap().unwrap().2.as_deref(),
        Some("<r@test>")
    );
    store
        .record_delivery(run, &[id], &[], false, Utc::now(), None)
        .unwrap();
    assert_eq!(
        store.due_summary().unwrap(),
        None,
        "the superseded one is never sent"
    );
    // A change of `every` is a new series, not blocked by the weekly rows.
    store
        .queue_summary(run, "month 2026-11-01", Utc::now())
        .unwrap();
    assert_eq!(store.due_summary().unwrap().unwrap().1, "month 2026-11-01");
}

/// Where an outage began and ended, found through the hourly rollups (so a
/// long outage is not walked check by check), agrees with a plain search
/// of every check: random histories of three services, runs 7 to 40
/// minutes apart over two days, each failing check of `a` taken as an
/// alert.
#[test]
fn outage_edges_found_by_the_rollups_agree_with_a_search_of_every_check() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 1..=4 {
        let mut store = Store::open(&dir.path().join(format!("{seed}.db"))).unwrap();
        let mut rng = Rng::new(seed);
        let mut at = Utc::now() - chrono::Duration::days(2);
        let mut failing = false;
        while at < Utc::now() - chrono::Duration::minutes(1) {
            let run = store
                .begin_run(at, false, "h", "00000000-0000-4000-8000-000000000000")
                .unwrap();
            // `a` flips between long streaks; `b` and `c` are noise.
            if rng.below(8) == 0 {
                failing = !failing;
            }
            let mut results = Vec::new();
            let mut decisions = Vec::new();
            for service in ["a", "b", "c"] {
                let status = match (service, failing) {
                    ("a", true) => [Status::Offline, Status::Timeout][rng.below(2) as usize],
                    ("a", false) => Status::Online,
                    _ => Status::STORED[rng.below(4) as usize],
                };
                results.push(result(service, &iso(at), status));
                decisions.push(nothing_due(service, status, at));
            }
            store.record_run(run, &results, &decisions, &[]).unwrap();
            at += chrono::Duration::minutes(7 + rng.below(34) as i64);
        }
        let db = store.sqlite();
        let alerts: Vec<String> = db
            .prepare("SELECT checked_at FROM checks WHERE service = 'a' AND status != 'online'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(alerts.len() > 20, "seed {seed}: {}", alerts.len());
        let scan = |sql: &str, at: &str| -> Option<String> {
            db.query_row(sql, [at], |r| r.get(0)).unwrap()
        };
        for alerted in &alerts {
            let began = scan(
                "SELECT min(checked_at) FROM checks WHERE service = 'a' AND checked_at <= ?1
                   AND checked_at > coalesce((SELECT max(checked_at) FROM checks
                       WHERE service = 'a' AND checked_at < ?1 AND status = 'online'), '')",
                alerted,
            );
            let ended = scan(
                "SELECT min(checked_at) FROM checks WHERE service = 'a' AND checked_at > ?1 AND status = 'online'",
                alerted,
            );
            let at = parse_iso(alerted).unwrap();
            assert_eq!(
                store.outage_began("a", at).unwrap().map(iso),
                began,
                "seed {seed}, alert at {alerted}"
            );
            assert_eq!(
                store.outage_ended("a", 0, at).unwrap().map(iso),
                ended,
                "seed {seed}, alert at {alerted}"
            );
        }
    }
}
