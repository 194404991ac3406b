//! What a run publishes beside the email, and the history commands: the
//! status page, the Prometheus textfile (checked by promtool), `status --json`
//! and `backup`. All tell the story the database holds.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::support::{
    HttpServer, World, assert_checker_passed, assert_contains, closed_port, count, integrity,
    services,
};

fn world_with_outputs() -> World {
    World::new(&format!(
        "title = \"vps-1\"\nstatus_page = \"www/index.html\"\nprometheus_textfile = \"metrics/upcheck.prom\"\n{}",
        services(&[
            ("api <b>&</b>", "command = [\"true\"]"),
            ("db", &format!("tcp = \"127.0.0.1:{}\"", closed_port())),
            ("web \"quoted\"\\", "url = \"http://127.0.0.1:1/\""),
        ])
    ))
}

#[test]
fn the_status_page_is_written_whole_readable_and_escaped() {
    // Their folders do not exist yet: upcheck creates them.
    let world = world_with_outputs();
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    let page = std::fs::read_to_string(world.path("www/index.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>"));
    assert_contains(&page, "2 of 3 services failing");
    assert_contains(&page, "api &lt;b&gt;&amp;&lt;/b&gt;");
    assert!(!page.contains("<b>&"), "unescaped name");
    assert_contains(&page, "connection refused");
    assert_contains(&page, "all 100.00%");
    for external in ["src=", "href=", "<link", "<script", "url("] {
        assert!(
            !page.contains(external),
            "self-contained, yet it has {external}"
        );
    }
    let mode = std::fs::metadata(world.path("www/index.html"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o644);
    let mut leftovers: Vec<_> = std::fs::read_dir(world.path("www"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    leftovers.sort();
    assert_eq!(
        leftovers,
        ["index.html", "status.json"],
        "temporary files left"
    );
    // A second run knows when the next one is due.
    assert_eq!(world.run(&[]).code, 0);
    assert_contains(
        &std::fs::read_to_string(world.path("www/index.html")).unwrap(),
        "Next check expected around",
    );
}

#[test]
fn the_textfile_passes_promtool_and_tells_the_same_story() {
    let world = world_with_outputs();
    std::fs::create_dir(world.path("www")).unwrap();
    std::fs::create_dir(world.path("metrics")).unwrap();
    assert_eq!(world.run(&[]).code, 0);
    let path = world.path("metrics/upcheck.prom");
    let text = std::fs::read_to_string(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    promtool_passes(&text);
    assert_contains(&text, "upcheck_up{service=\"db\"} 0\n");
    assert_contains(&text, "upcheck_up{service=\"api <b>&</b>\"} 1\n");
    assert_contains(&text, "upcheck_up{service=\"web \\\"quoted\\\"\\\\\"} 0\n");
    assert_contains(
        &text,
        "upcheck_status{service=\"db\",status=\"offline\"} 1\n",
    );
    assert_contains(
        &text,
        "upcheck_http_status_code{service=\"web \\\"quoted\\\"\\\\\"} 0\n",
    );
    // The JSON status agrees.
    let json: serde_json::Value =
        serde_json::from_str(&world.run(&["status", "--json"]).stdout).unwrap();
    let statuses: Vec<(String, String)> = json["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (name, status) in statuses {
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        assert_contains(
            &text,
            &format!("upcheck_status{{service=\"{escaped}\",status=\"{status}\"}} 1\n"),
        );
    }
}

#[test]
fn readers_never_see_half_a_status_page() {
    let world = world_with_outputs();
    std::fs::create_dir(world.path("www")).unwrap();
    std::fs::create_dir(world.path("metrics")).unwrap();
    assert_eq!(world.run(&[]).code, 0);
    let stop = Arc::new(AtomicBool::new(false));
    let (page, textfile) = (
        world.path("www/index.html"),
        world.path("metrics/upcheck.prom"),
    );
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(Ordering::SeqCst) {
                let html = std::fs::read_to_string(&page).unwrap();
                assert!(
                    html.ends_with("</html>"),
                    "a torn page: {} bytes",
                    html.len()
                );
                let prom = std::fs::read_to_string(&textfile).unwrap();
                assert!(
                    prom.ends_with('\n') && prom.contains("upcheck_run_duration_seconds "),
                    "a torn textfile"
                );
                reads += 1;
            }
            reads
        })
    };
    for _ in 0..15 {
        assert_eq!(world.run(&[]).code, 0);
    }
    stop.store(true, Ordering::SeqCst);
    let reads = reader.join().expect("the reader saw a torn file");
    assert!(reads > 15, "only {reads} reads");
}

#[test]
fn an_output_that_cannot_be_written_fails_the_run_after_storing_the_checks() {
    let world = world_with_outputs();
    // www is a file, so www/index.html cannot be written.
    world.write("www", "");
    let run = world.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_contains(&run.stderr, "writing the status page");
    assert_eq!(world.count("SELECT count(*) FROM checks"), 3);
}

#[test]
fn a_backup_taken_during_a_run_is_consistent() {
    let http = HttpServer::start();
    let world = World::new(&services(&[
        ("slow", &format!("url = {:?}", http.url("/slow/800"))),
        ("shell", "command = [\"true\"]"),
    ]));
    assert_eq!(world.run(&[]).code, 0);
    let mut running = world.command(&[]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let backup = world.path("backup.db");
    let run = world.run(&["backup", backup.to_str().unwrap()]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", ""),
        "{run:?}"
    );
    assert!(running.wait().unwrap().success());
    let copy = rusqlite::Connection::open(&backup).unwrap();
    assert_eq!(integrity(&copy), "ok");
    let checks = count(&copy, "SELECT count(*) FROM checks");
    assert!(checks >= 2, "the backup holds the first run's checks");
    // An existing file is never overwritten.
    let again = world.run(&["backup", backup.to_str().unwrap()]);
    assert_eq!(again.code, 1);
    assert_contains(&again.stderr, "already exists");
}

/// `promtool check metrics` on `text`.
fn promtool_passes(text: &str) {
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is missing: run tests/deps.sh (apt-get install prometheus)");
    std::io::Write::write_all(&mut promtool.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert_checker_passed("promtool check metrics", &out, text);
}

/// Issue 11, finding 19: with mail down for days,
/// `upcheck_last_run_timestamp_seconds` still advanced each run, so the
/// README's `UpcheckNotRunning` rule never fired and no series showed the
/// alerts nobody had received.
#[test]
fn prometheus_sees_a_run_that_keeps_failing_to_deliver() {
    let email = |port: u16| {
        format!(
            "[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\nsmtp_host = \"127.0.0.1\"\n\
             smtp_port = {port}\nsmtp_tls = \"none\"\nsmtp_timeout = \"2s\"\n"
        )
    };
    let config = |port: u16| {
        format!(
            "alert_after = 1\nprometheus_textfile = \"upcheck.prom\"\n{}{}",
            email(port),
            services(&[("down", "command = [\"false\"]")])
        )
    };
    let world = World::new(&config(closed_port()));
    assert_eq!(world.run(&[]).code, 1, "mail is down");
    let text = std::fs::read_to_string(world.path("upcheck.prom")).unwrap();
    promtool_passes(&text);
    assert_contains(&text, "upcheck_last_run_success 0\n");
    assert_contains(&text, "upcheck_notifications_undelivered 1\n");
    let oldest = text
        .lines()
        .find_map(|l| l.strip_prefix("upcheck_oldest_undelivered_notification_timestamp_seconds "))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("the oldest undelivered notification's time");
    let now = chrono::Utc::now().timestamp() as f64;
    assert!((now - 60.0..=now).contains(&oldest), "{oldest} vs {now}");
    // Mail back: delivered, and the series say so.
    let smtp = crate::support::SmtpServer::plain();
    world.write("upcheck.toml", &config(smtp.port));
    assert_eq!(world.run(&[]).code, 0);
    let text = std::fs::read_to_string(world.path("upcheck.prom")).unwrap();
    assert_contains(&text, "upcheck_last_run_success 1\n");
    assert_contains(&text, "upcheck_notifications_undelivered 0\n");
    assert_contains(
        &text,
        "upcheck_oldest_undelivered_notification_timestamp_seconds 0\n",
    );
}

/// The alert rules the README gives for the textfile are rules Prometheus
/// accepts: checked with `promtool check rules`, as a person would.
#[test]
fn the_readme_alert_rules_pass_promtool() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("Alert rules (Prometheus `rules.yml`):\n\n```yaml\n")
        .expect("the README's rules");
    let rules = &readme[start..];
    let rules = &rules[rules.find("groups:").unwrap()..];
    let rules = &rules[..rules.find("```").unwrap()];
    let world = World::new("");
    world.write("rules.yml", rules);
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(world.path("rules.yml"))
        .output()
        .expect("promtool is missing: run tests/deps.sh (apt-get install prometheus)");
    let said = String::from_utf8_lossy(&out.stdout);
    let complained = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "promtool check rules:\n{said}{complained}\n{rules}"
    );
    assert_contains(&said, "SUCCESS: 5 rules found");
    assert_contains(
        rules,
        "upcheck_oldest_undelivered_notification_timestamp_seconds",
    );
}

/// Days ago, as the `checks_daily` key: `2026-11-30`.
fn day(days_ago: i64) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("{days_ago} days ago"), "+%Y-%m-%d"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_status_page_shows_90_days_recent_outages_and_writes_status_json() {
    let world = World::new(&format!(
        "title = \"vps-1\"\nstatus_page = \"www/index.html\"\nalert_after = 1\n{}",
        services(&[
            ("api", &crate::support::switchable("api")),
            ("db", "command = [\"true\"]"),
        ])
    ));
    crate::support::set_down(&world, "api", true);
    assert_eq!(world.run(&[]).code, 0);
    crate::support::set_down(&world, "api", false);
    assert_eq!(world.run(&[]).code, 0);
    // A history as a long-running install has: five past days for api, one bad.
    let db = world.db();
    for (ago, online) in [(1, 288), (2, 288), (3, 274), (4, 288), (89, 288)] {
        db.execute(
            "INSERT INTO checks_daily VALUES ('api', ?1, 288, ?2, 2880)",
            rusqlite::params![day(ago), online],
        )
        .unwrap();
    }
    drop(db);
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    let page = std::fs::read_to_string(world.path("www/index.html")).unwrap();
    // 90 marks per service, a tooltip each, coloured by the day's uptime.
    assert_eq!(page.matches("<div class=\"days\"").count(), 2);
    assert_eq!(
        page.matches("<i ").count(),
        180,
        "90 marks for each of 2 services"
    );
    assert_contains(&page, &format!("title=\"{}: 95.14%\"", day(3)));
    assert_contains(&page, &format!("title=\"{}: no data\"", day(5)));
    assert_contains(&page, &format!("title=\"{}: 100.00%\"", day(89)));
    // The outage: began, ended, its reason.
    assert_contains(&page, "Recent outages");
    assert_contains(&page, "exit 1");
    assert!(!page.contains("ongoing"), "the outage ended");
    // status.json: `status --json`'s document plus 90 days per service.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(world.path("www/status.json")).unwrap())
            .unwrap();
    let api = &json["services"][0];
    assert_eq!(api["name"], "api");
    let days = api["days"].as_array().unwrap();
    assert_eq!(days.len(), 90);
    assert_eq!(days[86]["day"], day(3).as_str());
    assert_eq!(days[86]["uptime"], 95.14);
    assert_eq!(days[84]["uptime"], serde_json::Value::Null);
    assert_eq!(json["services"][1]["name"], "db");
    assert!(json["generated_at"].is_string() && api["uptime"]["24h"].is_number());
    // `status --json` itself has no days.
    let status = world.run(&["status", "--json"]);
    assert!(!status.stdout.contains("\"days\""), "{}", status.stdout);
}

#[test]
fn a_public_status_page_leaves_reasons_codes_and_response_times_out() {
    let http = HttpServer::start();
    let secret = "db-primary.internal:5432";
    let world = World::new(&format!(
        "status_page = \"www/index.html\"\nstatus_page_details = \"status\"\nalert_after = 1\n{}",
        services(&[
            (
                "billing",
                &format!("command = [\"sh\", \"-c\", \"echo 'cannot reach {secret}'; exit 1\"]"),
            ),
            ("web", &format!("url = {:?}", http.url("/ok"))),
        ])
    ));
    for _ in 0..2 {
        let run = world.run(&[]);
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    }
    let page = std::fs::read_to_string(world.path("www/index.html")).unwrap();
    let json = std::fs::read_to_string(world.path("www/status.json")).unwrap();
    for (what, text) in [("page", &page), ("status.json", &json)] {
        assert!(!text.contains(secret), "{what} tells the reason: {text}");
        assert!(!text.contains("HTTP 200"), "{what} tells the code");
    }
    // What the public may see: names, statuses, uptime, the bars, the outage.
    assert_contains(&page, "billing");
    assert_contains(&page, "OFFLINE");
    assert_contains(&page, "uptime 24h");
    assert_contains(&page, "<div class=\"days\"");
    assert_contains(&page, "Recent outages");
    assert!(!page.contains(" ms"), "no response times");
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    for s in doc["services"].as_array().unwrap() {
        assert!(
            s["reason"].is_null() && s["status_code"].is_null() && s["response_ms"].is_null(),
            "{s}"
        );
        assert_eq!(s["days"].as_array().unwrap().len(), 90);
    }
    // The operator's own view still has it all.
    assert_contains(&world.run(&["status", "--json"]).stdout, secret);
}

#[test]
fn badges_are_svg_named_by_slug_and_rewritten_only_when_they_change() {
    use std::os::unix::fs::MetadataExt;
    let world = World::new(&format!(
        "badges = \"www/badges\"\n{}",
        services(&[
            ("Payments API", "command = [\"true\"]"),
            (
                "db (eu/1)",
                &format!("tcp = \"127.0.0.1:{}\"", closed_port())
            ),
        ])
    ));
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    let read =
        |name: &str| std::fs::read_to_string(world.path(&format!("www/badges/{name}"))).unwrap();
    for (name, label) in [
        ("payments-api.svg", "Payments API: online"),
        ("payments-api-uptime.svg", "Payments API uptime: 100.00%"),
        ("db-eu-1.svg", "db (eu/1): offline"),
        ("db-eu-1-uptime.svg", "db (eu/1) uptime: 0.00%"),
    ] {
        let svg = read(name);
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{name}: {e}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.attribute("aria-label"), Some(label), "{name}");
        let mode = std::fs::metadata(world.path(&format!("www/badges/{name}")))
            .unwrap()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{name}");
    }
    // Nothing changed: the files are the same files, not rewritten.
    let inode = |name: &str| {
        std::fs::metadata(world.path(&format!("www/badges/{name}")))
            .unwrap()
            .ino()
    };
    let before = (inode("payments-api.svg"), inode("db-eu-1.svg"));
    assert_eq!(world.run(&[]).code, 0);
    assert_eq!((inode("payments-api.svg"), inode("db-eu-1.svg")), before);
}

#[test]
fn two_services_with_one_badge_name_are_a_config_error() {
    let world = World::new(&format!(
        "badges = \"badges\"\n{}",
        services(&[
            ("API", "command = [\"true\"]"),
            ("api!", "command = [\"true\"]")
        ])
    ));
    let run = world.run(&["check-config"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_contains(
        &run.stderr,
        "key `badges`: services \"API\" and \"api!\" would both write api.svg: rename one",
    );
    // `api uptime`'s status badge would be `api`'s uptime badge.
    world.write(
        "upcheck.toml",
        &format!(
            "badges = \"badges\"\n{}",
            services(&[
                ("api", "command = [\"true\"]"),
                ("api uptime", "command = [\"true\"]")
            ])
        ),
    );
    let run = world.run(&["check-config"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_contains(&run.stderr, "would both write api-uptime.svg");
}
