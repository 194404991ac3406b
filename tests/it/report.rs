//! The periodic report through real runs, the clock moved with libfaketime:
//! sent once by the first run after a period ends, to its own recipients,
//! retried until accepted, never for a period before the first run, and
//! only for the last complete period.

use std::process::Command;

use crate::support::{SmtpServer, World, assert_contains, run_and_collect, services};

fn world(smtp: &SmtpServer) -> World {
    World::new(&format!(
        "title = \"vps-1\"\n{}[report]\nevery = \"week\"\nto = [\"boss@example.com\"]\n\n{}",
        smtp.email_config(),
        services(&[("api", "command = [\"true\"]")])
    ))
}

/// The first day (UTC) of last week: the period the report tells of.
fn last_monday() -> String {
    let date = |args: &[&str]| {
        let out = Command::new("date").arg("-u").args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // %u: 1 on Monday. Back to this week's Monday, then a week more.
    let weekday: i64 = date(&["+%u"]).parse().unwrap();
    date(&["-d", &format!("{} days ago", weekday - 1 + 7), "+%Y-%m-%d"])
}

#[test]
fn the_report_goes_out_once_after_its_period_to_its_own_recipients() {
    let smtp = SmtpServer::plain();
    let world = world(&smtp);
    // A week ago, always within last week: this install ran then, and that
    // run itself reports nothing.
    let run = world.run_at("-7d", &[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    assert!(smtp.received().is_empty());
    // A week after the last run the clock is doubted (for pruning and for
    // queueing a report), and said so; the next run believes it.
    let run = world.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_contains(&run.stderr, "nothing is pruned this run");
    assert!(smtp.received().is_empty());
    let subjects = run_and_collect(&world, &smtp, &[]);
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    assert!(
        subjects[0].starts_with("[vps-1] weekly report: ") && subjects[0].ends_with(", 0 outages"),
        "{subjects:?}"
    );
    let mail = smtp.received().pop().unwrap();
    assert_eq!(mail.to, ["boss@example.com"]);
    let text = mail.text();
    assert_contains(&text, &format!("For the week of {} to ", last_monday()));
    assert_contains(&text, "    uptime 100.00%");
    assert!(mail.html().is_some());
    // Never twice for a period.
    assert!(run_and_collect(&world, &smtp, &[]).is_empty());
    assert_eq!(
        world.count(
            "SELECT count(*) FROM notifications WHERE kind = 'summary' AND sent_at IS NOT NULL"
        ),
        1
    );
    let period: String = world
        .db()
        .query_row(
            "SELECT period FROM notifications WHERE kind = 'summary'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(period, format!("week {}", last_monday()));
}

#[test]
fn no_report_for_a_period_that_ended_before_the_first_run() {
    let smtp = SmtpServer::plain();
    let world = world(&smtp);
    assert!(run_and_collect(&world, &smtp, &[]).is_empty());
    assert!(run_and_collect(&world, &smtp, &[]).is_empty());
    assert_eq!(
        world.count("SELECT count(*) FROM notifications WHERE kind = 'summary'"),
        0
    );
}

#[test]
fn a_host_off_for_three_weeks_sends_one_report_and_a_refused_one_is_retried() {
    let smtp = SmtpServer::plain();
    let world = world(&smtp);
    assert_eq!(world.run_at("-22d", &[]).code, 0);
    assert_eq!(world.run(&[]).code, 0, "back after three weeks");
    smtp.refusing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let run = world.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(
        &run.stderr,
        "delivering the periodic report (it stays due; the next run retries)",
    );
    smtp.refusing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let subjects = run_and_collect(&world, &smtp, &[]);
    // Last week only, with no checks in it: the host was off.
    assert_eq!(subjects, ["[vps-1] weekly report: no checks, 0 outages"]);
    assert!(run_and_collect(&world, &smtp, &[]).is_empty());
    assert_eq!(
        world.count("SELECT count(*) FROM notifications WHERE kind = 'summary'"),
        1
    );
}
