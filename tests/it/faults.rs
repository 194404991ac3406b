//! Faults around a run: mail servers that refuse or break off, a database
//! that is locked, deleted or replaced, a full disk, kills at random moments,
//! a clock that goes back, a run that hangs. Whatever happens, the checks
//! are stored, no due alert is lost, and none is sent twice.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::support::{
    SmtpServer, World, assert_contains, cutting_proxy, run_and_collect, services, set_down,
    switchable,
};

/// One service, `api`, that fails while `api.down` exists; mail to `port`.
fn world_mailing_to(port: u16) -> World {
    World::new(&mail_config(port))
}

fn mail_config(port: u16) -> String {
    format!(
        "title = \"vps-1\"\nalert_after = 1\nremind = \"never\"\n\
         [email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\n\
         smtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nsmtp_tls = \"none\"\nsmtp_timeout = \"5s\"\n\n{}",
        services(&[("api", &switchable("api"))])
    )
}

fn count(world: &World, sql: &str) -> i64 {
    world.db().query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Notifications stored but not yet delivered.
fn due(world: &World) -> i64 {
    count(
        world,
        "SELECT count(*) FROM notifications WHERE sent_at IS NULL",
    )
}

#[test]
fn an_smtp_server_refusing_the_recipient_keeps_the_alert_due() {
    let smtp = SmtpServer::plain();
    smtp.refusing.store(true, Ordering::SeqCst);
    let world = world_mailing_to(smtp.port);
    set_down(&world, "api", true);
    let run = world.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(&run.stderr, "550");
    assert_contains(&run.stderr, "it stays due; the next run retries");
    assert_eq!(count(&world, "SELECT count(*) FROM checks"), 1);
    assert_eq!(due(&world), 1);
    assert!(smtp.received().is_empty());

    smtp.refusing.store(false, Ordering::SeqCst);
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN: api (1 of 1 services)"]
    );
    assert!(run_and_collect(&world, &smtp, &[]).is_empty());
    assert_eq!(due(&world), 0);
}

#[test]
fn an_smtp_connection_cut_mid_data_keeps_the_alert_due() {
    let smtp = SmtpServer::plain();
    let cut = Arc::new(AtomicBool::new(true));
    let proxy = cutting_proxy(smtp.port, cut.clone());
    let world = world_mailing_to(proxy);
    set_down(&world, "api", true);
    let run = world.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(&run.stderr, "it stays due; the next run retries");
    assert_eq!(due(&world), 1);
    assert!(smtp.received().is_empty(), "a cut message is not delivered");

    cut.store(false, Ordering::SeqCst);
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN: api (1 of 1 services)"]
    );
    assert!(run_and_collect(&world, &smtp, &[]).is_empty());
}

#[test]
fn starttls_required_but_not_offered_sends_nothing_in_the_clear() {
    let smtp = SmtpServer::plain();
    let world = World::new(
        &mail_config(smtp.port).replace("smtp_tls = \"none\"", "smtp_tls = \"starttls\""),
    );
    set_down(&world, "api", true);
    let run = world.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(&run.stderr, "sending mail through 127.0.0.1");
    assert!(smtp.received().is_empty(), "nothing went out unencrypted");
    assert_eq!(due(&world), 1);
    assert_eq!(count(&world, "SELECT count(*) FROM checks"), 1);
}

/// A `sqlite3` shell holding the write lock on `world`'s database: an open
/// `BEGIN IMMEDIATE` transaction, until its stdin is closed.
fn hold_write_lock(world: &World) -> std::process::Child {
    let mut shell = Command::new("sqlite3")
        .arg(world.path("upcheck.db"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sqlite3 (tests/deps.sh installs it)");
    let stdin = shell.stdin.as_mut().unwrap();
    stdin
        .write_all(b"BEGIN IMMEDIATE;\nSELECT 'locked';\n")
        .unwrap();
    stdin.flush().unwrap();
    // Wait for the shell to say it holds the lock.
    let mut line = String::new();
    let mut out = std::io::BufReader::new(shell.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line.trim(), "locked");
    shell
}

#[test]
fn a_database_locked_briefly_by_sqlite3_makes_the_run_wait_not_fail() {
    let world = World::new(&services(&[("api", "command = [\"true\"]")]));
    assert_eq!(world.run(&[]).code, 0);
    let mut shell = hold_write_lock(&world);
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        drop(shell.stdin.take());
        shell.wait().unwrap();
    });
    let run = world.run(&[]);
    release.join().unwrap();
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    assert_eq!(count(&world, "SELECT count(*) FROM checks"), 2);
}

#[test]
fn a_database_locked_for_longer_than_the_busy_timeout_fails_the_run_loudly() {
    let smtp = SmtpServer::plain();
    let world = world_mailing_to(smtp.port);
    assert_eq!(world.run(&[]).code, 0);
    let mut shell = hold_write_lock(&world);
    set_down(&world, "api", true);
    let run = world.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(&run.stderr, "database is locked");
    // Nobody would know otherwise: the fallback alert says so.
    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_contains(&mails[0].subject(), "upcheck failed");
    drop(shell.stdin.take());
    shell.wait().unwrap();
    // The lock is gone: the next run stores its checks and sends the alert.
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN: api (1 of 1 services)"]
    );
}

#[test]
fn a_database_deleted_between_runs_starts_afresh() {
    let world = World::new(&services(&[("api", "command = [\"true\"]")]));
    for _ in 0..3 {
        assert_eq!(world.run(&[]).code, 0);
    }
    std::fs::remove_file(world.path("upcheck.db")).unwrap();
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    assert_eq!(count(&world, "SELECT count(*) FROM runs"), 1);
    assert_eq!(count(&world, "SELECT count(*) FROM checks"), 1);
    let integrity: String = world
        .db()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}

#[test]
fn a_database_replaced_between_runs_is_the_one_used() {
    // Restoring a backup (or copying in another host's history) must not be
    // undone by what the old database left beside it.
    let world = World::new(&services(&[("api", "command = [\"true\"]")]));
    assert_eq!(world.run(&[]).code, 0);
    assert_eq!(world.run(&["backup", "one-run.db"]).code, 0);
    for _ in 0..3 {
        assert_eq!(world.run(&[]).code, 0);
    }
    std::fs::copy(world.path("one-run.db"), world.path("upcheck.db")).unwrap();
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    assert_eq!(
        count(&world, "SELECT count(*) FROM runs"),
        2,
        "the restored run and this one"
    );
    // A plain copy of the file between runs is a whole database too.
    std::fs::copy(world.path("upcheck.db"), world.path("copy.db")).unwrap();
    let copy = rusqlite::Connection::open(world.path("copy.db")).unwrap();
    let runs: i64 = copy
        .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(runs, 2);
}
