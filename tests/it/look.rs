//! What people see, checked by tools we did not write: every kind of email
//! scored by SpamAssassin (Debian's, local rules only, no network tests)
//! and its HTML, with the status page's, checked by html-validate (npm,
//! `tests/tools/`), with the rules an email cannot follow turned off
//! (`tests/tools/htmlvalidate.json`: inline styles, because mail clients
//! strip `<style>`; `bgcolor`/`cellpadding`/`align`, the only layout Outlook
//! for Windows honours; implied `<tbody>`, bytes under the email's budget;
//! the status page's one-minute `meta refresh`, what a read-only page that
//! runs no script does to stay current).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{World, services, set_down, switchable};

/// Every kind of email upcheck sends, as `.eml` files from the file
/// transport: DOWN, a reminder with the weekly report, RECOVERED, a forced
/// report, `test-alert`, and the fallback of a run that could not open its
/// database.
fn every_kind_of_email() -> (World, Vec<PathBuf>) {
    let world = World::new(&format!(
        "title = \"vps-1\"\nalert_after = 1\nstatus_page = \"www/index.html\"\n\
         [email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck <upcheck@example.com>\"\ntransport = \"file\"\n\n\
         [report]\nevery = \"week\"\n\n{}",
        services(&[("api", &switchable("api")), ("db", "command = [\"true\"]"),])
    ));
    set_down(&world, "api", true);
    assert_eq!(world.run_at("-8d", &[]).code, 0, "DOWN");
    assert_eq!(world.run(&[]).code, 0, "a reminder and the report");
    set_down(&world, "api", false);
    assert_eq!(world.run(&[]).code, 0, "RECOVERED");
    assert_eq!(world.run(&["--force"]).code, 0, "a forced report");
    assert_eq!(world.run(&["test-alert"]).code, 0, "test-alert");
    // A database path under a file: the run fails, the fallback goes out.
    world.write("blocker", "");
    let config = std::fs::read_to_string(world.path("upcheck.toml")).unwrap();
    world.write(
        "upcheck.toml",
        &format!("database = \"blocker/upcheck.db\"\n{config}"),
    );
    assert_eq!(world.run(&[]).code, 1, "the fallback");
    world.write("upcheck.toml", &config);
    let mut emails: Vec<PathBuf> = std::fs::read_dir(world.path("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    emails.sort();
    let subjects: Vec<String> = emails.iter().map(|e| subject(e)).collect();
    assert!(
        subjects.iter().any(|s| s.contains("DOWN 1/2")),
        "{subjects:?}"
    );
    assert!(
        subjects.iter().any(|s| s.contains("weekly report")),
        "{subjects:?}"
    );
    assert!(
        subjects.iter().any(|s| s.contains("RECOVERED")),
        "{subjects:?}"
    );
    assert!(subjects.iter().any(|s| s.contains("test:")), "{subjects:?}");
    assert!(
        subjects.iter().any(|s| s.contains("upcheck failed:")),
        "{subjects:?}"
    );
    (world, emails)
}

fn subject(eml: &Path) -> String {
    let text = std::fs::read_to_string(eml).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_default()
        .to_string()
}

/// SpamAssassin's score for one message, and the rules that fired.
fn spam_score(eml: &Path) -> (f64, String) {
    let out = Command::new("spamassassin")
        .args(["-t", "-L"])
        .stdin(std::fs::File::open(eml).unwrap())
        .output()
        .expect("spamassassin (tests/deps.sh installs it)");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    let score = report
        .lines()
        .find_map(|l| l.strip_prefix("X-Spam-Status: "))
        .and_then(|l| l.split("score=").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no score for {}:\n{report}", eml.display()));
    (score, report)
}

#[test]
fn every_email_scores_under_one_point_with_spamassassin_and_its_html_validates() {
    let (world, emails) = every_kind_of_email();
    let scored: Vec<(f64, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = emails.iter().map(|e| s.spawn(|| spam_score(e))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (eml, (score, report)) in emails.iter().zip(&scored) {
        assert!(score < &1.0, "{} scored {score}:\n{report}", subject(eml));
    }
    // The HTML parts, and the status page.
    let mut html = vec![world.path("www/index.html")];
    for (i, eml) in emails.iter().enumerate() {
        if let Some(part) = html_part(eml) {
            let path = world.path(&format!("email-{i}.html"));
            std::fs::write(&path, part).unwrap();
            html.push(path);
        }
    }
    assert!(html.len() >= 5, "{html:?}");
    html_validate(&html);
}

/// The decoded HTML part of an `.eml`, through the same parser the SMTP tests use.
fn html_part(eml: &Path) -> Option<String> {
    let bytes = std::fs::read(eml).unwrap();
    let message = mail_parser::MessageParser::default().parse(&bytes)?;
    // A plain-text message has no HTML part (the parser would make one up).
    message.html_part(0).filter(|p| p.is_text_html())?;
    message.body_html(0).map(|h| h.into_owned())
}

fn html_validate(files: &[PathBuf]) {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools");
    let out = Command::new(tools.join("node_modules/.bin/html-validate"))
        .arg("-c")
        .arg(tools.join("htmlvalidate.json"))
        .args(files)
        .output()
        .expect("html-validate (tests/deps.sh installs it into tests/tools)");
    assert!(
        out.status.success(),
        "html-validate:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
