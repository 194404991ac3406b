//! Faults around a run: mail servers that refuse or break off, a database
//! that is locked, deleted or replaced, a full disk, kills at random moments,
//! a clock that goes back, a run that hangs. Whatever happens, the checks
//! are stored, no due alert is lost, and none is sent twice.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::rng::Rng;
use crate::support::{
    SmtpServer, World, assert_contains, assert_within, count, cutting_proxy, integrity,
    run_and_collect, services, set_down, switchable,
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

/// Notifications stored but not yet delivered.
fn due(world: &World) -> i64 {
    world.count("SELECT count(*) FROM notifications WHERE sent_at IS NULL")
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
    assert_eq!(world.count("SELECT count(*) FROM checks"), 1);
    assert_eq!(due(&world), 1);
    assert!(smtp.received().is_empty());

    smtp.refusing.store(false, Ordering::SeqCst);
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN 1/1: api"]
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
        ["[vps-1] DOWN 1/1: api"]
    );
    assert!(run_and_collect(&world, &smtp, &[]).is_empty());
}

#[test]
fn implicit_tls_against_a_plain_smtp_server_fails_in_bounded_time() {
    let smtp = SmtpServer::plain();
    let world =
        World::new(&mail_config(smtp.port).replace("smtp_tls = \"none\"", "smtp_tls = \"tls\""));
    set_down(&world, "api", true);
    let started = Instant::now();
    let run = world.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(&run.stderr, "sending mail through 127.0.0.1");
    // Two attempts (the report, then the fallback), each bounded by smtp_timeout.
    assert_within(started, Duration::from_secs(25));
    assert!(smtp.received().is_empty());
    assert_eq!(due(&world), 1);
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
    assert_eq!(world.count("SELECT count(*) FROM checks"), 1);
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
    assert_eq!(world.count("SELECT count(*) FROM checks"), 2);
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
        ["[vps-1] DOWN 1/1: api"]
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
    assert_eq!(world.count("SELECT count(*) FROM runs"), 1);
    assert_eq!(world.count("SELECT count(*) FROM checks"), 1);
    assert_eq!(integrity(&world.db()), "ok");
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
        world.count("SELECT count(*) FROM runs"),
        2,
        "the restored run and this one"
    );
    // A plain copy of the file between runs is a whole database too.
    std::fs::copy(world.path("upcheck.db"), world.path("copy.db")).unwrap();
    let copy = rusqlite::Connection::open(world.path("copy.db")).unwrap();
    assert_eq!(count(&copy, "SELECT count(*) FROM runs"), 2);
}

/// The email's words when it retries alerts a killed run may have sent.
const MAYBE_REPEAT: &str = "you may have received them already";

#[test]
fn a_run_killed_after_the_mail_server_accepted_flags_the_retry_as_a_possible_repeat() {
    // Between the server's "250 OK" and upcheck noting it lies a moment no
    // mail client can close. A run killed there must not lose the alert; the
    // next run sends it again and says it may be a repeat.
    let smtp = SmtpServer::plain();
    let world = world_mailing_to(smtp.port);
    set_down(&world, "api", true);
    let run = world.run_env(&[], &[("UPCHECK_TEST_FAULT", "abort-after-send")]);
    assert_ne!(run.code, 0, "the run died: {run:?}");
    assert_eq!(smtp.received().len(), 1, "the server had accepted it");
    assert!(!smtp.received()[0].text().contains(MAYBE_REPEAT));
    assert_eq!(due(&world), 1, "not noted as sent");
    // A retry that fails (the server refuses) does not wipe the uncertainty.
    smtp.refusing.store(true, Ordering::SeqCst);
    assert_eq!(world.run(&[]).code, 1);
    smtp.refusing.store(false, Ordering::SeqCst);

    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN 1/1: api"]
    );
    let retry = smtp.received().pop().unwrap();
    // The text part wraps it at 78 columns.
    let unwrapped = retry
        .text()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_contains(&unwrapped, MAYBE_REPEAT);
    assert_contains(&retry.html().unwrap(), MAYBE_REPEAT);
    assert!(run_and_collect(&world, &smtp, &[]).is_empty());
}

#[test]
fn kill_9_at_random_moments_loses_no_check_and_no_alert() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    // Seeded from the clock; a failing sequence is replayed from the seed it prints.
    let mut rng = Rng::new(seed);
    let smtp = SmtpServer::plain();
    let mut config = mail_config(smtp.port).replace(
        "remind = \"never\"",
        "remind = \"never\"\nrecover_after = 1\nstatus_page = \"www/index.html\"\nprometheus_textfile = \"metrics/upcheck.prom\"",
    );
    for i in 0..20 {
        config.push_str(&services(&[(
            &format!("ok-{i:02}"),
            "command = [\"true\"]",
        )]));
    }
    let world = World::new(&config);
    // How long a whole run takes here: the kills land anywhere within it.
    let started = Instant::now();
    assert_eq!(world.run(&[]).code, 0);
    let span = started.elapsed().as_micros() as u64 * 12 / 10;
    let mut down = false;
    let (mut killed, mut completed) = (0, 0);
    for i in 0..60 {
        if i % 5 == 0 {
            down = !down;
            set_down(&world, "api", down);
        }
        let mut child = world
            .command(&[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.below(span)));
        let _ = child.kill();
        if child.wait().unwrap().success() {
            completed += 1;
        } else {
            killed += 1;
        }
    }
    // Two ordinary runs deliver whatever the kills left due.
    for _ in 0..2 {
        let run = world.run(&[]);
        assert_eq!(
            (run.code, run.stderr.as_str()),
            (0, ""),
            "seed {seed}: {run:?}"
        );
    }
    let context = format!("seed {seed}, {killed} killed, {completed} completed");
    assert!(killed > 0, "no run was killed: {context}");
    assert_eq!(integrity(&world.db()), "ok", "{context}");
    // A run's checks are stored whole or not at all.
    let partial = world.count(
        "SELECT count(*) FROM (SELECT run_id FROM checks GROUP BY run_id HAVING count(*) != 21)",
    );
    assert_eq!(partial, 0, "{context}");
    // Nothing due is left, and every email is either noted as delivered or
    // was cut off by a kill and then repeated with a warning.
    assert_eq!(due(&world), 0, "{context}");
    let mails = smtp.received();
    let noted = world
        .count("SELECT count(DISTINCT sent_at) FROM notifications WHERE sent_at IS NOT NULL")
        as usize;
    let flagged = mails
        .iter()
        .filter(|m| {
            let unwrapped = m.text().split_whitespace().collect::<Vec<_>>().join(" ");
            unwrapped.contains(MAYBE_REPEAT)
        })
        .count();
    assert!(
        noted <= mails.len() && mails.len() - noted <= flagged,
        "{context}: {} emails, {noted} noted as sent, {flagged} flagged as possible repeats",
        mails.len()
    );
    // The last word on api matches where it stands.
    let last = mails.last().map(|m| m.subject()).unwrap_or_default();
    let expected = if down { "DOWN: api" } else { "RECOVERED: api" };
    assert_contains(&format!("{last} ({context})"), expected);
    // The outputs are whole, and kills left at most the one temp file the
    // next write reuses, not one per killed run.
    let page = std::fs::read_to_string(world.path("www/index.html")).unwrap();
    assert!(page.trim_end().ends_with("</html>"), "{context}");
    let metrics = std::fs::read_to_string(world.path("metrics/upcheck.prom")).unwrap();
    assert_contains(&metrics, "upcheck_last_run_timestamp_seconds");
    for folder in ["www", "metrics"] {
        let files = std::fs::read_dir(world.path(folder)).unwrap().count();
        assert!(files <= 2, "{context}: {files} files in {folder}");
    }
    eprintln!("{context}, {} emails", mails.len());
}

#[test]
fn a_full_disk_fails_the_run_loudly_and_the_next_run_after_space_returns_catches_up() {
    // The state folder is a 1 MiB tmpfs, mounted in a private mount namespace
    // (unshare, from util-linux) so nothing outside the test sees it.
    let smtp = SmtpServer::plain();
    let world = World::new(
        &mail_config(smtp.port).replace("title =", "database = \"state/upcheck.db\"\ntitle ="),
    );
    std::fs::create_dir(world.path("state")).unwrap();
    let script = r#"
        set -u
        mount -t tmpfs -o size=1m tmpfs state || exit 90
        "$BIN" --config upcheck.toml >out1 2>err1; echo $? >code1
        dd if=/dev/zero of=state/filler bs=64k 2>/dev/null
        touch api.down
        "$BIN" --config upcheck.toml >out2 2>err2; echo $? >code2
        rm state/filler
        "$BIN" --config upcheck.toml >out3 2>err3; echo $? >code3
        cp state/upcheck.db after.db
    "#;
    // Root mounts in a private mount namespace; anyone else needs a user
    // namespace too, where they are root over that mount only.
    let mut args = vec!["--mount", "--propagation", "private"];
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        args.insert(0, "--map-root-user");
    }
    let out = Command::new("unshare")
        .args(&args)
        .args(["sh", "-c", script])
        .current_dir(world.dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("BIN", crate::support::BIN)
        .output()
        .expect("unshare (util-linux; tests/deps.sh installs it)");
    assert!(
        out.status.success(),
        "a private tmpfs could not be mounted (needs root or user namespaces): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| std::fs::read_to_string(world.path(name)).unwrap_or_default();
    assert_eq!(
        (read("code1").trim(), read("err1").as_str()),
        ("0", ""),
        "with room"
    );
    // Full: the run fails, says why, and the fallback alert gets out.
    assert_eq!(read("code2").trim(), "1", "{}", read("err2"));
    assert_contains(&read("err2"), "full");
    let mails = smtp.received();
    assert_eq!(mails.len(), 2, "the fallback and then the alert");
    assert_contains(&mails[0].subject(), "upcheck failed");
    // Room again: everything stored before is intact, and the alert goes out.
    assert_eq!(
        (read("code3").trim(), read("err3").as_str()),
        ("0", ""),
        "after room returned"
    );
    assert_eq!(mails[1].subject(), "[vps-1] DOWN 1/1: api");
    let db = rusqlite::Connection::open(world.path("after.db")).unwrap();
    assert_eq!(integrity(&db), "ok");
    let stored = count(&db, "SELECT count(*) FROM checks");
    assert_eq!(stored, 2, "the first and the last run's checks");
}

#[test]
fn the_clock_going_back_between_runs_neither_loses_nor_repeats_an_alert() {
    let smtp = SmtpServer::plain();
    let world = World::new(&mail_config(smtp.port).replace(
        "remind = \"never\"",
        "remind = \"never\"\nrecover_after = 1",
    ));
    let silent_at = |offset: &str, args: &[&str]| {
        let run = world.run_at(offset, args);
        assert_eq!(run.code, 0, "at {offset}: {run:?}");
        assert_eq!(run.stderr, "", "at {offset}");
        run
    };
    // A run whose clock reads earlier than the previous run's start says so
    // (and prunes nothing), and otherwise goes on as usual.
    let back_at = |offset: &str| {
        let run = world.run_at(offset, &[]);
        assert_eq!(run.code, 0, "at {offset}: {run:?}");
        assert_contains(&run.stderr, "earlier than the previous run's start");
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    };
    silent_at("+0", &[]);
    set_down(&world, "api", true);
    back_at("-3h");
    silent_at("+0", &[]);
    set_down(&world, "api", false);
    back_at("-6h");
    silent_at("+0", &[]);
    let subjects: Vec<String> = smtp.received().iter().map(|m| m.subject()).collect();
    assert_eq!(
        subjects,
        ["[vps-1] DOWN 1/1: api", "[vps-1] RECOVERED: api"]
    );
    // Reading it back works at any of those clocks.
    for offset in ["-6h", "+0"] {
        assert_contains(&silent_at(offset, &["status"]).stdout, "api");
        assert_contains(&silent_at(offset, &["status", "--json"]).stdout, "\"api\"");
    }
    assert_eq!(world.count("SELECT count(*) FROM checks"), 5);
}

#[test]
fn a_run_starting_while_the_previous_one_hangs_gives_up_and_says_so() {
    let smtp = SmtpServer::plain();
    let world = World::new(&format!(
        "lock_timeout = \"1s\"\n{}",
        mail_config(smtp.port).replace(
            "[[service]]",
            "[[service]]\nname = \"slow\"\ncommand = [\"sleep\", \"1\"]\n\n[[service]]"
        )
    ));
    // The previous run: frozen (SIGSTOP) while it holds the lock.
    let mut hung = world.command(&[]).spawn().unwrap();
    let waiting = Instant::now();
    loop {
        let held = std::fs::File::open(world.path("upcheck.db.lock"))
            .map(|f| matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)))
            .unwrap_or(false);
        if held {
            break;
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "never took the lock"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let signal = |sig| {
        // SAFETY: a plain signal to our own child.
        let rc = unsafe { libc::kill(hung.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0);
    };
    signal(libc::SIGSTOP);
    let run = world.run(&[]);
    signal(libc::SIGCONT);
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(&run.stderr, "is a previous run hanging?");
    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_contains(&mails[0].subject(), "upcheck failed");
    assert_contains(&mails[0].text(), "is a previous run hanging?");
    // Thawed, the hung run finishes, and the next run goes through.
    assert!(hung.wait().unwrap().success());
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
}

#[test]
fn a_database_replaced_by_garbage_is_set_aside_and_monitoring_goes_on() {
    let smtp = SmtpServer::plain();
    let world = world_mailing_to(smtp.port);
    set_down(&world, "api", true);
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN 1/1: api"]
    );
    // Not a database: overwritten by something else, or a half-copied file.
    let mut rng = Rng::new(0x5eed);
    let garbage: Vec<u8> = (0..20_000).map(|_| rng.below(256) as u8).collect();
    std::fs::write(world.path("upcheck.db"), &garbage).unwrap();
    let run = world.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(
        &run.stderr,
        "could not be read (not an SQLite database, or corrupt)",
    );
    // Kept byte for byte where the message says.
    let aside: Vec<std::path::PathBuf> = std::fs::read_dir(world.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.to_string_lossy();
            name.contains("upcheck.db.unreadable-")
                && !name.ends_with("-wal")
                && !name.ends_with("-shm")
        })
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_contains(&run.stderr, &aside[0].display().to_string());
    assert_eq!(std::fs::read(&aside[0]).unwrap(), garbage);
    // Monitoring went on: the new database has this run's check, and as its
    // alert state starts over, api is alerted again; the fallback says why.
    assert_eq!(world.count("SELECT count(*) FROM checks"), 1);
    let subjects: Vec<String> = smtp.received()[1..].iter().map(|m| m.subject()).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert_eq!(subjects[0], "[vps-1] DOWN 1/1: api");
    assert_contains(&subjects[1], "upcheck failed");
    // And from then on, runs are ordinary.
    assert!(run_and_collect(&world, &smtp, &[]).is_empty());
}

/// A scripted SMTP server that answers each line with `answer(line)`, after
/// `pause`: for servers that misbehave in ways a real one will not on request.
fn scripted_smtp(pause: Duration, answer: fn(&str) -> Option<&'static str>) -> u16 {
    use std::io::{BufRead, BufReader};
    crate::support::raw_server(move |stream| {
        let mut out = stream.try_clone().unwrap();
        let _ = out.write_all(b"220 scripted ESMTP\r\n");
        let mut in_data = false;
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if in_data {
                if line == "." {
                    in_data = false;
                    std::thread::sleep(pause);
                    let _ = out.write_all(b"250 queued\r\n");
                }
                continue;
            }
            std::thread::sleep(pause);
            let reply = match answer(&line) {
                Some(reply) => reply.to_string(),
                None if line.starts_with("DATA") => {
                    in_data = true;
                    "354 go ahead".to_string()
                }
                None if line.starts_with("QUIT") => {
                    let _ = out.write_all(b"221 bye\r\n");
                    return;
                }
                None => "250 ok".to_string(),
            };
            let _ = out.write_all(format!("{reply}\r\n").as_bytes());
        }
    })
}

/// Issue 11, finding 9: every SMTP error was printed twice, and the server's
/// text reached stderr and the database with raw escape sequences.
#[test]
fn smtp_server_text_is_said_once_and_without_escape_sequences() {
    let port = scripted_smtp(Duration::ZERO, |line| {
        line.starts_with("RCPT")
            .then_some("550 5.1.1 \u{1b}[31mno such user\u{1b}[0m \u{1b}]0;pwned\u{7}here")
    });
    let world = World::new(&format!(
        "alert_after = 1\n[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\n\
         smtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nsmtp_tls = \"none\"\nsmtp_timeout = \"5s\"\n{}",
        services(&[("down", "command = [\"false\"]")])
    ));
    let run = world.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        !run.stderr.contains('\u{1b}') && !run.stderr.contains('\u{7}'),
        "{:?}",
        run.stderr
    );
    // The digest and the fallback each fail, each said once on a line of its own.
    let said: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("no such user"))
        .collect();
    assert_eq!(said.len(), 2, "{}", run.stderr);
    for line in said {
        assert_eq!(line.matches("no such user").count(), 1, "{line}");
    }
    assert_contains(&run.stderr, "550");
    let stored: String = world
        .db()
        .query_row(
            "SELECT error FROM notifications WHERE kind = 'down'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!stored.contains('\u{1b}'), "{stored:?}");
    assert_eq!(stored.matches("no such user").count(), 1, "{stored}");
}

/// Issue 11, finding 9: `smtp_timeout` bounded each command, not the
/// delivery: a server answering every line after 1.5 s, with
/// `smtp_timeout = "2s"`, held the run for about 9 s per email (45 s at 5 s a
/// line). The whole delivery is now bounded; the alert stays due, and since
/// the server may have taken it, its retry says it may be a repeat.
#[test]
fn a_server_slow_at_every_line_cannot_stretch_a_delivery_past_smtp_timeout() {
    let port = scripted_smtp(Duration::from_millis(1500), |_| None);
    let world = World::new(&format!(
        "alert_after = 1\n[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\n\
         smtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nsmtp_tls = \"none\"\nsmtp_timeout = \"2s\"\n{}",
        services(&[("down", "command = [\"false\"]")])
    ));
    let started = Instant::now();
    let run = world.run(&[]);
    // The digest and the fallback, 2 s each at most, and a margin for a busy
    // machine: one unbounded delivery alone takes 9 s here.
    assert_within(started, Duration::from_secs(7));
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(
        &run.stderr,
        "did not finish the delivery within 2s (smtp_timeout)",
    );
    assert_eq!(due(&world), 1, "the alert stays due");
    let interrupted = world.count(
        "SELECT count(*) FROM notifications WHERE kind = 'down' AND error LIKE 'a run was stopped while sending%'",
    );
    assert_eq!(interrupted, 1, "marked as possibly sent");
}

/// Issue 11, finding 1: one run with the clock a year ahead deleted the
/// history (everything was "older than the retention"), and back at the
/// right time pruning, reminders and the restart budget stalled on the
/// future timestamps. A run whose clock reads more than a day after the
/// previous run's start, or earlier than it, deletes nothing and says so.
#[test]
fn a_forward_clock_jump_deletes_no_history() {
    let world = World::new(&services(&[("api", "command = [\"true\"]")]));
    for _ in 0..3 {
        assert_eq!(world.run_at("+0", &[]).code, 0);
    }
    let ahead = world.run_at("+365d", &[]);
    assert_eq!(ahead.code, 0, "{ahead:?}");
    assert_contains(&ahead.stderr, "further after the previous run's start");
    assert_contains(&ahead.stderr, "nothing is pruned");
    assert_eq!(
        world.count("SELECT count(*) FROM checks"),
        4,
        "nothing deleted"
    );
    let back = world.run_at("+0", &[]);
    assert_eq!(back.code, 0, "{back:?}");
    assert_contains(&back.stderr, "earlier than the previous run");
    assert_eq!(world.count("SELECT count(*) FROM checks"), 5);
    // The next run agrees with the one before it: silent.
    let next = world.run_at("+0", &[]);
    assert_eq!((next.code, next.stderr.as_str()), (0, ""));
}

/// Finding 1 (and 15): back at the right time after a run a year ahead,
/// checks stamped in the future do not stall pruning by age, a check with an
/// old time but a new id is pruned, and the 24 h uptime does not count the
/// future hours.
#[test]
fn future_timestamps_never_freeze_pruning_or_uptime_windows() {
    let world = World::new(&services(&[("api", &switchable("api"))]));
    for _ in 0..3 {
        assert_eq!(world.run_at("+0", &[]).code, 0);
    }
    set_down(&world, "api", true);
    assert_eq!(world.run_at("+365d", &[]).code, 0);
    set_down(&world, "api", false);
    assert_eq!(world.run_at("+0", &[]).code, 0);
    // A check with an old time but the newest id (written out of order).
    world
        .db()
        .execute_batch(
            "INSERT INTO checks (id, run_id, service, checked_at, status)
             SELECT (SELECT last + 1 FROM sequences WHERE name = 'checks'), max(id), 'api',
                    strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-100 days'), 'online' FROM runs;
             UPDATE sequences SET last = last + 1 WHERE name = 'checks';",
        )
        .unwrap();
    let run = world.run_at("+0", &[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    assert_eq!(
        world.count("SELECT count(*) FROM checks WHERE checked_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-90 days')"),
        0,
        "the old check went, though its id is the newest"
    );
    assert_eq!(
        world.count("SELECT count(*) FROM checks"),
        6,
        "the rest stayed"
    );
    let status = world.run_at("+0", &["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(doc["services"][0]["uptime"]["24h"], 100.0, "{doc}");
}

/// Finding 1: a reminder or a restart stamped a year ahead froze duration
/// reminders and the restart budget for a year once the clock was right
/// again (the gap to a future time is negative).
#[test]
fn future_timestamps_never_freeze_reminders_or_the_restart_budget() {
    let smtp = SmtpServer::plain();
    let world = World::new(
        &mail_config(smtp.port)
            .replace("remind = \"never\"", "remind = \"1h\"")
            .replace(
                "[[service]]\nname = \"api\"",
                "[[service]]\nname = \"api\"\nrestart = [\"true\"]\nrestart_after = 1\nrestart_limit = 1\nrestart_window = \"1h\"\nrestart_timeout = \"1s\"",
            ),
    );
    assert_contains(
        &std::fs::read_to_string(world.config_path()).unwrap(),
        "restart_window",
    );
    set_down(&world, "api", true);
    let subjects = |world: &World| -> usize {
        let _ = world;
        smtp.received().len()
    };
    assert_eq!(world.run_at("+0", &[]).code, 0);
    assert_eq!(world.run_at("+365d", &[]).code, 0);
    let mailed_before = subjects(&world);
    let run = world.run_at("+2h", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let mailed: Vec<String> = smtp.received()[mailed_before..]
        .iter()
        .map(|m| m.subject())
        .collect();
    assert!(
        mailed.iter().any(|s| s.contains("still down: api")),
        "a reminder two hours after the last real one: {mailed:?}"
    );
    assert_eq!(
        world.count("SELECT count(*) FROM restarts"),
        3,
        "a restart in each run"
    );
}

/// Processes whose command line holds `marker`, still alive.
fn processes_with(marker: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(marker))
        .collect()
}

/// Issue 11, finding 8: a check command outlived a run that ended at its
/// `run_timeout` (`sleep` lived on with ppid 1).
#[test]
fn a_check_command_does_not_outlive_the_run() {
    let world = World::new(&format!(
        "run_timeout = \"2s\"\n{}",
        services(&[(
            "slow",
            "command = [\"sleep\", \"50.4571\"]\ntimeout = \"60s\""
        )])
    ));
    let run = world.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(world.latest("slow").0, "timeout");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        processes_with("50.4571"),
        Vec::<String>::new(),
        "left running"
    );
}

/// Issue 11, finding 8: SIGTERM (systemd stopping the unit) or SIGINT
/// (Ctrl-C on `--force`) left the run's row unfinished with no error and
/// its commands running. Now: stop, kill what it started, store what was
/// probed (a check cut short is not a finding), say why in `runs.error`,
/// exit 128 + the signal, page nobody.
#[test]
fn a_signal_stops_the_run_stores_what_it_has_and_leaves_nothing_running() {
    for (signal, name, code) in [
        (libc_sig::TERM, "SIGTERM", 143),
        (libc_sig::INT, "SIGINT", 130),
    ] {
        let marker = format!("50.{signal}{signal}9");
        let world = World::new(&services(&[
            ("quick", "command = [\"touch\", \"quick.done\"]"),
            (
                "slow",
                &format!("command = [\"sleep\", \"{marker}\"]\ntimeout = \"60s\""),
            ),
        ]));
        let child = world.command(&[]).stderr(Stdio::piped()).spawn().unwrap();
        // Signal once the slow check is running.
        let waiting = Instant::now();
        while processes_with(&marker).is_empty() || !world.path("quick.done").exists() {
            assert!(
                waiting.elapsed() < Duration::from_secs(10),
                "the check never started"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The quick check has exited; give the run a moment to collect it.
        std::thread::sleep(Duration::from_millis(300));
        let killed = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let started = Instant::now();
        let out = child.wait_with_output().unwrap();
        assert_within(started, Duration::from_secs(5));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{name}: {stderr}");
        assert_contains(&stderr, &format!("stopped by {name}"));
        let error: String = world
            .db()
            .query_row(
                "SELECT error FROM runs WHERE finished_at IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_contains(&error, &format!("stopped by {name}"));
        assert_eq!(
            world.latest("quick").0,
            "online",
            "what was probed is stored"
        );
        // The check cut short says nothing of the service: not stored, so it
        // cannot count towards an alert.
        assert_eq!(
            world.count("SELECT count(*) FROM checks WHERE service = 'slow'"),
            0
        );
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            processes_with(&marker),
            Vec::<String>::new(),
            "{name}: left running"
        );
    }
}

/// Signal numbers, without a libc dependency in the tests.
mod libc_sig {
    pub const INT: i32 = 2;
    pub const TERM: i32 = 15;
}

/// Issue 11, finding 7: a `sqlite3` session holding the write lock for 25 s
/// during a run lost that run's checks (storing failed after the 10 s busy
/// timeout), and the error shown was closing the run's row, not that. Now
/// storing is tried again within the run's bound: the checks survive a lock
/// longer than the busy timeout, and the DOWN alert goes out in this run.
#[test]
fn a_database_locked_mid_run_keeps_the_checks() {
    let smtp = SmtpServer::plain();
    let world = World::new(&mail_config(smtp.port).replace(
        "[[service]]",
        "[[service]]\nname = \"slow\"\ncommand = [\"sleep\", \"3\"]\n\n[[service]]",
    ));
    assert_eq!(world.run(&[]).code, 0);
    set_down(&world, "api", true);
    let runs = world.count("SELECT count(*) FROM runs");
    let child = world.command(&[]).stderr(Stdio::piped()).spawn().unwrap();
    // The run has begun (its row is written) and is probing: lock it out.
    let waiting = Instant::now();
    while world.count("SELECT count(*) FROM runs") == runs {
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "the run never began"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut shell = hold_write_lock(&world);
    let release = std::thread::spawn(move || {
        // Longer than the 10 s busy timeout, shorter than the run's bound.
        std::thread::sleep(Duration::from_secs(12));
        drop(shell.stdin.take());
        shell.wait().unwrap();
    });
    let out = child.wait_with_output().unwrap();
    release.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        world.count("SELECT count(*) FROM checks WHERE run_id = (SELECT max(id) FROM runs)"),
        2,
        "the run's checks were stored"
    );
    let subjects: Vec<String> = smtp.received().iter().map(|m| m.subject()).collect();
    assert_eq!(subjects, ["[vps-1] DOWN 1/2: api"]);
}

/// Review of finding 8: a signal while alert commands run (after the checks
/// are stored) also stops the run as a stop, not as a failure that pages.
#[test]
fn a_signal_while_alerting_stops_the_run_without_paging() {
    let world = World::new(&format!(
        "alert_after = 1\n[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\ntransport = \"file\"\n\n\
         [[alert_command]]\ncommand = [\"sleep\", \"50.777\"]\ntimeout = \"60s\"\non = [\"down\"]\n\n{}",
        services(&[("api", "command = [\"false\"]")])
    ));
    let child = world.command(&[]).stderr(Stdio::piped()).spawn().unwrap();
    let waiting = Instant::now();
    while processes_with("50.777").is_empty() {
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "the command never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-15".to_string(), child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert_contains(&stderr, "stopped by SIGTERM");
    let fallbacks = std::fs::read_dir(world.path("outbox"))
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .contains("upcheck failed")
        })
        .count();
    assert_eq!(fallbacks, 0, "a stop pages nobody");
    assert_eq!(
        world.count("SELECT count(*) FROM checks"),
        1,
        "the check was stored"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(processes_with("50.777"), Vec::<String>::new());
}

/// Finding 20, from review: probing a restarted service again can take up
/// to `restart_timeout`; a signal meanwhile stops the run at once, and the
/// restart is already stored, so it counts against the budget.
#[test]
fn a_signal_while_probing_again_after_a_restart_stops_the_run_with_the_restart_stored() {
    let world = World::new(&services(&[(
        "api",
        "command = [\"test\", \"!\", \"-e\", \"api.down\"]\nrestart = [\"touch\", \"restarted\"]\nrestart_after = 1\nrestart_timeout = \"60s\"",
    )]));
    set_down(&world, "api", true);
    let child = world.command(&[]).stderr(Stdio::piped()).spawn().unwrap();
    let waiting = Instant::now();
    while !world.path("restarted").exists() {
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "the restart never ran"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Probing again, every second, for up to 60 s.
    std::thread::sleep(Duration::from_millis(1500));
    let signalled = Instant::now();
    let killed = Command::new("kill")
        .args(["-15".to_string(), child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_within(signalled, Duration::from_secs(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert_contains(&stderr, "stopped by SIGTERM");
    let (outcome, recheck): (String, Option<String>) = world
        .db()
        .query_row("SELECT outcome, recheck_status FROM restarts", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(outcome, "exit 0");
    // What the probes before the signal found.
    assert_eq!(recheck.as_deref(), Some("offline"));

    // Killed outright (SIGKILL, the OOM killer) while probing again: the
    // restart is stored all the same.
    std::fs::remove_file(world.path("restarted")).unwrap();
    let mut child = world.command(&[]).stderr(Stdio::null()).spawn().unwrap();
    let waiting = Instant::now();
    while !world.path("restarted").exists() {
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "the restart never ran"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        world.count("SELECT count(*) FROM restarts WHERE outcome = 'exit 0'"),
        2,
        "both restarts are stored, the second without what came of it"
    );
}
