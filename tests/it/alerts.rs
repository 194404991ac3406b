//! The alert policy and the digest email through real runs, delivered to a
//! real SMTP server and read back: subjects, recipients, both parts.

use std::time::{Duration, Instant};

use crate::support::{
    SmtpServer, World, assert_contains, assert_within, closed_port, hostname, run_and_collect,
    services, set_down, switchable,
};

/// A `switchable` service as a (name, body) pair.
fn switch(name: &str) -> (String, String) {
    (name.to_string(), switchable(name))
}

fn config(top: &str, smtp: &SmtpServer, entries: &[(String, String)]) -> String {
    let entries: Vec<(&str, &str)> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_str()))
        .collect();
    format!(
        "title = \"vps-1\"\n{top}\n{}{}",
        smtp.email_config(),
        services(&entries)
    )
}

#[test]
fn an_outage_is_mailed_once_the_threshold_is_reached_with_both_parts() {
    let smtp = SmtpServer::plain();
    let world = World::new(&config(
        "alert_after = 2",
        &smtp,
        &[switch("price-api"), switch("chat")],
    ));
    set_down(&world, "price-api", true);
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        Vec::<String>::new(),
        "one failure is not an outage yet"
    );
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN 1/2: price-api"]
    );
    let mail = smtp.received().pop().unwrap();
    assert_eq!(mail.to, ["ops@example.com", "oncall@example.com"]);
    assert_eq!(mail.from, "upcheck@example.com");
    let raw = String::from_utf8_lossy(&mail.data);
    assert_contains(&raw, "multipart/alternative");
    assert_contains(&raw, "Auto-Submitted: auto-generated");
    let text = mail.text();
    assert_contains(&text, "DOWN price-api offline just now: exit 1");
    assert_contains(&text, "exit 1");
    assert_contains(&text, "because: down price-api.");
    // Every line fits 78 columns (but a single longer word, such as a path).
    for line in text.lines() {
        let fits = line.chars().count() <= 78 || !line.trim().contains(' ');
        assert!(fits, "{} columns: {line}", line.chars().count());
    }
    let html = mail.html().expect("an HTML part");
    assert_contains(&html, "<strong>price-api</strong>");
    assert_contains(&html, "because: down price-api.");
    // The database records it as sent, once.
    let sent = world
        .count("SELECT count(*) FROM notifications WHERE kind = 'down' AND sent_at IS NOT NULL");
    assert_eq!(sent, 1);
}

#[test]
fn ten_failing_services_make_one_digest() {
    let smtp = SmtpServer::plain();
    let mut entries: Vec<(String, String)> = (0..10).map(|i| switch(&format!("svc-{i}"))).collect();
    entries.push(switch("healthy"));
    let world = World::new(&config("alert_after = 1", &smtp, &entries));
    for i in 0..10 {
        set_down(&world, &format!("svc-{i}"), true);
    }
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN 10/11: svc-0, svc-1, svc-2, +7"]
    );
    let text = smtp.received()[0].text();
    for i in 0..10 {
        assert_contains(&text, &format!("DOWN svc-{i} "));
    }
}

#[test]
fn exponential_reminders_come_at_the_1st_2nd_4th_8th_failing_run_after_the_alert() {
    let smtp = SmtpServer::plain();
    let world = World::new(&config("alert_after = 1", &smtp, &[switch("chat")]));
    set_down(&world, "chat", true);
    let per_run: Vec<usize> = (0..10)
        .map(|_| run_and_collect(&world, &smtp, &[]).len())
        .collect();
    // Run 1 alerts; runs 2, 3, 5 and 9 are the 1st, 2nd, 4th and 8th after it.
    assert_eq!(per_run, [1, 1, 1, 0, 1, 0, 0, 0, 1, 0]);
    let subjects: Vec<String> = smtp.received().iter().map(|m| m.subject()).collect();
    assert_eq!(subjects[0], "[vps-1] DOWN 1/1: chat");
    assert!(
        subjects[1..]
            .iter()
            .all(|s| s == "[vps-1] still down: chat"),
        "{subjects:?}"
    );
}

#[test]
fn remind_never_sends_only_the_alert() {
    let smtp = SmtpServer::plain();
    let world = World::new(&config(
        "alert_after = 1\nremind = \"never\"",
        &smtp,
        &[switch("chat")],
    ));
    set_down(&world, "chat", true);
    let per_run: Vec<usize> = (0..5)
        .map(|_| run_and_collect(&world, &smtp, &[]).len())
        .collect();
    assert_eq!(per_run, [1, 0, 0, 0, 0]);
}

#[test]
fn recovery_is_announced_after_recover_after_passing_runs() {
    let smtp = SmtpServer::plain();
    let world = World::new(&config(
        "alert_after = 1\nrecover_after = 2\nremind = \"never\"",
        &smtp,
        &[switch("api")],
    ));
    set_down(&world, "api", true);
    assert_eq!(run_and_collect(&world, &smtp, &[]).len(), 1);
    set_down(&world, "api", false);
    assert!(
        run_and_collect(&world, &smtp, &[]).is_empty(),
        "one passing run is not yet a recovery"
    );
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] RECOVERED: api"]
    );
    assert!(run_and_collect(&world, &smtp, &[]).is_empty());
    assert_contains(&smtp.received()[1].text(), "RECOVERED api");
}

/// A header of a received message, unfolded.
fn header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw)
        .replace("\r\n ", " ")
        .replace("\r\n\t", " ");
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string();
    head.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim().to_string())
}

#[test]
fn reminders_and_the_recovery_thread_under_the_outages_first_alert() {
    let smtp = SmtpServer::plain();
    let world = World::new(&config(
        "alert_after = 1\nremind = \"exponential\"",
        &smtp,
        &[switch("api")],
    ));
    set_down(&world, "api", true);
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN 1/1: api"]
    );
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] still down: api"]
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    set_down(&world, "api", false);
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] RECOVERED: api"]
    );
    let mails = smtp.received();
    let first = header(&mails[0].data, "Message-ID").expect("a Message-ID");
    assert!(header(&mails[0].data, "In-Reply-To").is_none());
    for follow_up in &mails[1..] {
        assert_eq!(header(&follow_up.data, "In-Reply-To"), Some(first.clone()));
        assert_eq!(header(&follow_up.data, "References"), Some(first.clone()));
        assert_ne!(header(&follow_up.data, "Message-ID"), Some(first.clone()));
    }
    // The id is kept with the alert it carried.
    let stored: String = world
        .db()
        .query_row(
            "SELECT message_id FROM notifications WHERE kind = 'down'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, first);
    // The recovery says when the outage began and how long it lasted.
    let text = mails[2]
        .text()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_contains(&text, "RECOVERED api online again: down for ");
    assert_contains(&text, " UTC to ");
}

#[test]
fn a_recovery_whose_down_alert_never_got_through_says_so() {
    let smtp = SmtpServer::plain();
    let world = World::new(&config(
        "alert_after = 1\nremind = \"never\"",
        &smtp,
        &[switch("api")],
    ));
    set_down(&world, "api", true);
    smtp.refusing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(world.run(&[]).code, 1, "mail refused: the run failed");
    set_down(&world, "api", false);
    smtp.refusing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] RECOVERED: api"]
    );
    let mail = smtp.received().pop().unwrap();
    let unwrapped = mail.text().split_whitespace().collect::<Vec<_>>().join(" ");
    assert_contains(&unwrapped, "(its DOWN alert never got through)");
    assert!(
        header(&mail.data, "In-Reply-To").is_none(),
        "nothing to thread under"
    );
}

#[test]
fn a_quiet_recovery_sends_nothing() {
    let smtp = SmtpServer::plain();
    let world = World::new(&config(
        "alert_after = 1\nremind = \"never\"\nnotify_recovery = false",
        &smtp,
        &[switch("api")],
    ));
    set_down(&world, "api", true);
    assert_eq!(run_and_collect(&world, &smtp, &[]).len(), 1);
    set_down(&world, "api", false);
    assert!(run_and_collect(&world, &smtp, &[]).is_empty());
}

#[test]
fn force_always_sends_the_full_report() {
    let smtp = SmtpServer::plain();
    let world = World::new(&config("", &smtp, &[switch("a"), switch("b")]));
    assert!(
        run_and_collect(&world, &smtp, &[]).is_empty(),
        "a healthy run sends nothing"
    );
    assert_eq!(
        run_and_collect(&world, &smtp, &["--force"]),
        ["[vps-1] all 2 services online"]
    );
    assert_eq!(
        run_and_collect(&world, &smtp, &["run", "--force"]),
        ["[vps-1] all 2 services online"]
    );
    let mail = smtp.received().pop().unwrap();
    assert_contains(&mail.text(), "because: --force.");
    let reports = world
        .count("SELECT count(*) FROM notifications WHERE kind = 'report' AND sent_at IS NOT NULL");
    assert_eq!(reports, 2);
}

#[test]
fn mail_down_keeps_the_alert_due_and_the_next_run_delivers_it_exactly_once() {
    let smtp = SmtpServer::plain();
    let down_config = |port: u16| {
        config(
            "alert_after = 1\nremind = \"never\"",
            &smtp,
            &[switch("api")],
        )
        .replace(
            &format!("smtp_port = {}", smtp.port),
            &format!("smtp_port = {port}"),
        )
    };
    let world = World::new(&down_config(closed_port()));
    set_down(&world, "api", true);
    let run = world.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(
        &run.stderr,
        "delivering the report (it stays due; the next run retries)",
    );
    assert_contains(&run.stderr, "Connection refused");
    assert_eq!(
        world.count("SELECT count(*) FROM checks"),
        1,
        "the checks were stored"
    );
    let (due, error): (i64, String) = world
        .db()
        .query_row(
            "SELECT count(*), max(error) FROM notifications WHERE sent_at IS NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(due, 1);
    assert_contains(&error, "Connection refused");

    // Mail is back: the alert goes out once, and not again.
    world.write("upcheck.toml", &down_config(smtp.port));
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN 1/1: api"]
    );
    assert!(run_and_collect(&world, &smtp, &[]).is_empty());
    let runs_failed = world.count("SELECT count(*) FROM runs WHERE error IS NOT NULL");
    assert_eq!(runs_failed, 1);
}

#[test]
fn an_smtp_server_that_never_answers_cannot_hold_the_run() {
    // Accepts TCP (the kernel completes the handshake) but never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let world = World::new(&format!(
        "alert_after = 1\n[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\n\
         smtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nsmtp_tls = \"none\"\nsmtp_timeout = \"1s\"\n\n{}",
        services(&[("api", "command = [\"false\"]")])
    ));
    let started = Instant::now();
    let run = world.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(&run.stderr, "sending mail through 127.0.0.1");
    // Bounded: the 1s SMTP timeout, twice (report and fallback), plus the run itself.
    assert_within(started, Duration::from_secs(30));
    drop(silent);
}

#[test]
fn starttls_and_auth_deliver_to_a_server_with_a_private_ca() {
    let world = World::new("");
    let smtp = SmtpServer::starttls_with_auth(&world, "correct horse");
    world.write(
        "upcheck.toml",
        &format!(
            "title = \"vps-1\"\n{}{}",
            smtp.starttls_email_config(),
            services(&[("api", "command = [\"true\"]")])
        ),
    );
    assert_eq!(
        run_and_collect(&world, &smtp, &["--force"]),
        ["[vps-1] all 1 services online"]
    );
    let mail = smtp.received().pop().unwrap();
    // mailin offers AUTH only inside TLS: authenticated means STARTTLS happened.
    assert_eq!(mail.auth, Some(("upcheck".into(), "correct horse".into())));

    // A wrong password is a failed run, with the server's reason.
    world.write("smtp-password", "wrong");
    let run = world.run(&["--force"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(&run.stderr, "Invalid credentials");
}

#[test]
fn an_unwritable_database_sends_the_fallback_alert() {
    let smtp = SmtpServer::plain();
    let world = World::new("");
    world.write("not-a-folder", "");
    world.write(
        "upcheck.toml",
        &format!(
            "title = \"vps-1\"\ndatabase = \"not-a-folder/upcheck.db\"\n{}{}",
            smtp.email_config(),
            services(&[("api", "command = [\"true\"]")])
        ),
    );
    let run = world.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(&run.stderr, "not-a-folder");
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    let host = hostname();
    // The subject says what failed; the body, what the run had done.
    assert!(
        mails[0]
            .subject()
            .starts_with("[vps-1] upcheck failed: creating the database folder "),
        "{}",
        mails[0].subject()
    );
    assert_contains(&mails[0].subject(), "not-a-folder");
    assert_contains(&mails[0].text(), &format!("upcheck failed on {host} at "));
    assert_contains(&mails[0].text(), "- stored no checks");
    assert!(mails[0].html().is_none(), "the fallback is plain text");
}

#[test]
fn a_panic_sends_one_fallback_and_the_due_alert_survives_for_the_next_run() {
    let smtp = SmtpServer::plain();
    let world = World::new(&config(
        "alert_after = 1\nremind = \"never\"",
        &smtp,
        &[switch("api")],
    ));
    set_down(&world, "api", true);
    let run = world.run_env(&[], &[("UPCHECK_TEST_FAULT", "panic-after-store")]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(&run.stderr, "injected panic after storing the checks");
    let subjects: Vec<String> = smtp.received().iter().map(|m| m.subject()).collect();
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    assert!(
        subjects[0].starts_with(
            "[vps-1] upcheck failed: panic: injected panic after storing the checks at src/"
        ),
        "{subjects:?}"
    );
    let text = smtp.received()[0].text();
    assert_contains(&text, "panic: injected panic after storing the checks");
    assert_contains(
        &text,
        "- probed 1 service (1 failing) and stored the checks",
    );
    assert_contains(&text, "- did not get as far as sending alerts");
    // The alert decided before the panic was stored, and goes out next run.
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN 1/1: api"]
    );
}

#[test]
fn hostile_names_and_output_are_escaped_in_the_email() {
    let smtp = SmtpServer::plain();
    let world = World::new(&config(
        "alert_after = 1",
        &smtp,
        &[(
            "<script>alert(1)</script>".to_string(),
            "command = [\"sh\", \"-c\", \"echo '<img src=x onerror=alert(2)>' >&2; exit 1\"]"
                .to_string(),
        )],
    ));
    assert_eq!(run_and_collect(&world, &smtp, &[]).len(), 1);
    let mail = smtp.received().pop().unwrap();
    let html = mail.html().unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("<img"),
        "unescaped target text in:\n{html}"
    );
    assert_contains(&html, "&lt;script&gt;alert(1)&lt;/script&gt;");
    assert_contains(&html, "&lt;img src=x onerror=alert(2)&gt;");
    assert!(mail.subject().contains("DOWN 1/"), "{}", mail.subject());
    assert_contains(&mail.subject(), ": <script>alert(1)</script>");
}

#[test]
fn the_file_transport_writes_one_eml_per_message() {
    let world = World::new(&format!(
        "title = \"demo\"\nalert_after = 1\n[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\n\
         transport = \"file\"\noutbox = \"outbox\"\n\n{}",
        services(&[("api", "command = [\"false\"]")])
    ));
    assert_eq!(world.run(&[]).code, 0);
    assert_eq!(world.run(&["--force"]).code, 0);
    let mut files: Vec<_> = std::fs::read_dir(world.path("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files
            .iter()
            .all(|f| f.extension().is_some_and(|e| e == "eml"))
    );
    let first = std::fs::read(&files[0]).unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&first).unwrap();
    assert_eq!(parsed.subject(), Some("[demo] DOWN 1/1: api"));
    assert!(parsed.body_html(0).is_some() && parsed.body_text(0).is_some());
}

#[test]
fn the_sendmail_transport_pipes_the_message_to_sendmail() {
    let world = World::new("");
    let bin = world.path("bin");
    std::fs::create_dir(&bin).unwrap();
    // A stand-in sendmail: a real process that keeps what it was given.
    world.script(
        "bin/sendmail",
        &format!(
            "#!/bin/sh\necho \"$@\" > {0}/args\ncat > {0}/message\n",
            world.dir.path().display()
        ),
    );
    world.write(
        "upcheck.toml",
        &format!(
            "title = \"vps-1\"\n[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\ntransport = \"sendmail\"\n\n{}",
            services(&[("api", "command = [\"true\"]")])
        ),
    );
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let run = world.run_env(&["--force"], &[("PATH", path.as_str())]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_contains(
        &std::fs::read_to_string(world.path("args")).unwrap(),
        "ops@example.com",
    );
    let message = std::fs::read(world.path("message")).unwrap();
    let parsed = mail_parser::MessageParser::default()
        .parse(&message)
        .unwrap();
    assert_eq!(parsed.subject(), Some("[vps-1] all 1 services online"));
}

#[test]
fn panics_in_several_probe_threads_send_one_fallback_and_store_every_check() {
    let smtp = SmtpServer::plain();
    let entries: Vec<(String, String)> = (0..3).map(|i| switch(&format!("svc-{i}"))).collect();
    let world = World::new(&config("", &smtp, &entries));
    let run = world.run_env(&[], &[("UPCHECK_TEST_FAULT", "panic-in-probes")]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stderr.matches("injected panic in the probe of").count(),
        3,
        "{}",
        run.stderr
    );
    let mails = smtp.received();
    assert_eq!(
        mails.len(),
        1,
        "one fallback alert per run, however many threads panic"
    );
    assert_contains(&mails[0].text(), "injected panic in the probe of svc-");
    assert_eq!(world.count("SELECT count(*) FROM checks"), 3);
    assert_contains(
        &world.latest("svc-0").1.unwrap(),
        "upcheck itself failed while probing this service",
    );
}

#[test]
fn two_runs_at_once_never_send_the_same_alert_twice() {
    let smtp = SmtpServer::plain();
    let world = World::new(&config(
        "alert_after = 1\nremind = \"never\"",
        &smtp,
        &[
            switch("api"),
            (
                "slow".to_string(),
                "command = [\"sleep\", \"0.5\"]".to_string(),
            ),
        ],
    ));
    set_down(&world, "api", true);
    let runs: Vec<_> = (0..3)
        .map(|_| world.command(&[]).spawn().unwrap())
        .collect();
    for mut r in runs {
        assert!(r.wait().unwrap().success());
    }
    let subjects: Vec<String> = smtp.received().iter().map(|m| m.subject()).collect();
    assert_eq!(subjects, ["[vps-1] DOWN 1/2: api"]);
}

/// Issue 11, finding 6: no email carried a Message-ID (lettre adds one only
/// when asked); relays that refuse such mail, or bounce it after accepting,
/// turn an alert marked sent into one nobody got. Every message, the
/// fallback too, each with its own id.
#[test]
fn every_email_has_a_message_id_the_fallback_too() {
    let smtp = SmtpServer::plain();
    let world = World::new(&config(
        "alert_after = 1\nremind = \"never\"",
        &smtp,
        &[switch("api")],
    ));
    set_down(&world, "api", true);
    let run = world.run_env(&[], &[("UPCHECK_TEST_FAULT", "panic-after-store")]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run_and_collect(&world, &smtp, &[]).len(), 1);
    let mails = smtp.received();
    assert_eq!(mails.len(), 2, "the fallback, then the DOWN alert");
    let ids: Vec<String> = mails
        .iter()
        .map(|m| {
            let id = m.parsed().message_id().map(str::to_string);
            id.unwrap_or_else(|| panic!("no Message-ID in:\n{}", String::from_utf8_lossy(&m.data)))
        })
        .collect();
    for id in &ids {
        let (left, right) = id.split_once('@').unwrap_or_else(|| panic!("{id:?}"));
        assert!(!left.is_empty() && !right.is_empty(), "{id:?}");
    }
    assert_ne!(ids[0], ids[1], "each message its own id");
}

/// Issue 11, finding 5: `to = ["ops@bücher.example"]` passed check-config,
/// then a server without SMTPUTF8 refused every run's mail, the fallback
/// too. The domain goes out as punycode, in the envelope and the headers.
#[test]
fn a_non_ascii_recipient_domain_is_sent_as_punycode() {
    let smtp = SmtpServer::plain();
    let email = smtp
        .email_config()
        .replace(
            "to = [\"ops@example.com\", \"oncall@example.com\"]",
            "to = [\"Ops <ops@bücher.example>\"]",
        )
        .replace("upcheck@example.com", "upcheck@straße.example");
    assert!(email.contains("bücher"), "the replacement took: {email}");
    let world = World::new(&format!(
        "title = \"vps-1\"\nalert_after = 1\n{email}{}",
        services(&[("api", &switchable("api"))])
    ));
    set_down(&world, "api", true);
    let check = world.run(&["check-config"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert_eq!(
        run_and_collect(&world, &smtp, &[]),
        ["[vps-1] DOWN 1/1: api"]
    );
    let mail = &smtp.received()[0];
    assert_eq!(mail.to, ["ops@xn--bcher-kva.example"]);
    assert_eq!(mail.from, "upcheck@xn--strae-oqa.example");
    let head = String::from_utf8_lossy(&mail.data);
    let head = head.split("\r\n\r\n").next().unwrap_or_default();
    assert_contains(head, "ops@xn--bcher-kva.example");
    assert!(head.is_ascii(), "headers are ASCII:\n{head}");
}

/// Issue 11, finding 16: a long name is not a bad name (a DNS name alone may
/// be 253 characters); names over 100 characters were refused. Where space is
/// tight (the subject, the HTML table) a long name is shortened with an
/// ellipsis; the text part, the database and JSON keep it whole.
#[test]
fn a_long_name_is_a_name_shortened_only_where_space_is_tight() {
    let smtp = SmtpServer::plain();
    let long = format!("{}.example.com", "very-long-label-of-a-host.".repeat(11));
    assert!(long.chars().count() > 253, "{}", long.len());
    let world = World::new(&config(
        "alert_after = 1",
        &smtp,
        &[(long.clone(), switchable("api"))],
    ));
    set_down(&world, "api", true);
    let check = world.run(&["check-config"]);
    assert_eq!(check.code, 0, "{check:?}");
    let subjects = run_and_collect(&world, &smtp, &[]);
    assert_eq!(subjects.len(), 1);
    assert!(
        subjects[0].contains('…') && !subjects[0].contains(&long),
        "{}",
        subjects[0]
    );
    assert!(
        subjects[0].starts_with("[vps-1] DOWN 1/1: "),
        "the count comes first: {}",
        subjects[0]
    );
    let mail = &smtp.received()[0];
    assert_contains(&mail.text(), &long);
    let html = mail.html().unwrap();
    assert!(
        !html.contains(&format!(">{long}<")),
        "the table shortens it"
    );
    assert_contains(&html, &format!("title=\"{long}\""));
    let json = world.run(&["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["services"][0]["name"], long.as_str());
    assert_eq!(
        world.count(&format!(
            "SELECT count(*) FROM checks WHERE service = '{long}'"
        )),
        1
    );
}
