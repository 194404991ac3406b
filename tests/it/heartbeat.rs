//! The heartbeat as dead-man's switches understand it, against a recording
//! switch: the method, the path and its `rid`, the body and its limit, and
//! retries of a ping the switch did not take.

use crate::support::{Switch, World, assert_contains, closed_port, services};

/// A version 4 UUID, as healthchecks accepts for `rid`.
fn is_uuid_v4(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    lengths == [8, 4, 4, 4, 12]
        && text
            .chars()
            .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        && parts[2].starts_with('4')
        && matches!(parts[3].chars().next(), Some('8' | '9' | 'a' | 'b'))
}

#[test]
fn post_sends_a_summary_of_the_run_as_the_body() {
    let switch = Switch::start(&[]);
    let world = World::new(&format!(
        "[heartbeat]\nurl = {:?}\nmethod = \"POST\"\n\n{}",
        switch.url("/ping/abc"),
        services(&[
            (
                "api",
                "command = [\"sh\", \"-c\", \"echo connection refused; exit 1\"]"
            ),
            ("web", "command = [\"true\"]"),
        ])
    ));
    assert_eq!(world.run(&[]).code, 0);
    let pings = switch.pings();
    assert_eq!(pings.len(), 1, "{pings:?}");
    assert_eq!(
        (pings[0].method.as_str(), pings[0].url.as_str()),
        ("POST", "/ping/abc")
    );
    assert_eq!(
        pings[0].body,
        "probed 2 services, 1 failing\napi: offline: exit 1: connection refused"
    );
}

#[test]
fn the_body_stays_within_the_switchs_limit() {
    let switch = Switch::start(&[]);
    let long = "command = [\"sh\", \"-c\", \"printf '%0300d' 0; exit 1\"]";
    let names: Vec<String> = (0..60).map(|i| format!("svc-{i:02}")).collect();
    let list: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), long)).collect();
    let world = World::new(&format!(
        "[heartbeat]\nurl = {:?}\nmethod = \"POST\"\n\n{}",
        switch.url("/ping/abc"),
        services(&list)
    ));
    assert_eq!(world.run(&[]).code, 0);
    let body = &switch.pings()[0].body;
    assert!(body.len() <= 10_000 && body.len() > 9_000, "{}", body.len());
    assert!(body.starts_with("probed 60 services, 60 failing\nsvc-00: offline: exit 1: 000"));
    assert!(body.ends_with('…'));
}

#[test]
fn healthchecks_style_pings_start_and_the_exit_status_with_one_run_uuid() {
    let switch = Switch::start(&[]);
    let heartbeat = format!(
        "[heartbeat]\nurl = {:?}\nstyle = \"healthchecks\"\n\n",
        switch.url("/hc/key/host-1/")
    );
    let list = services(&[("api", "command = [\"true\"]")]);
    let world = World::new(&format!("{heartbeat}{list}"));
    let run = world.run(&["-v", "--log-format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let pings = switch.pings();
    assert_eq!(pings.len(), 2, "{pings:?}");
    let (start, rid) = pings[0].url.split_once("?rid=").unwrap();
    assert_eq!(
        (pings[0].method.as_str(), start),
        ("POST", "/hc/key/host-1/start")
    );
    assert!(is_uuid_v4(rid), "{rid}");
    assert_eq!(pings[1].url, format!("/hc/key/host-1/0?rid={rid}"));
    assert_eq!(pings[1].body, "probed 1 service, 0 failing");
    // The same id ties the run's log lines and its row together.
    assert_contains(&run.stderr, &format!("\"run_id\":\"{rid}\""));
    let uuid: String = world
        .db()
        .query_row("SELECT uuid FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(uuid, rid);
    // Both pings are recorded, with the run.
    assert_eq!(
        world.count(
            "SELECT count(*) FROM heartbeats WHERE run_id = 1 AND kind IN ('start', 'success')"
        ),
        2
    );
    // A failed run (mail cannot be delivered): its exit status and why.
    world.write(
        "upcheck.toml",
        &format!(
            "{heartbeat}[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\nsmtp_host = \"127.0.0.1\"\n\
             smtp_port = {}\nsmtp_tls = \"none\"\n\n{list}",
            closed_port()
        ),
    );
    assert_eq!(world.run(&["--force"]).code, 1);
    let pings = switch.pings();
    assert_eq!(pings.len(), 4, "{pings:?}");
    let (_, rid2) = pings[2].url.split_once("?rid=").unwrap();
    assert!(is_uuid_v4(rid2) && rid2 != rid, "a new id per run");
    assert_eq!(pings[3].url, format!("/hc/key/host-1/1?rid={rid2}"));
    assert!(
        pings[3].body.starts_with("upcheck run failed: "),
        "{}",
        pings[3].body
    );
    assert_contains(&pings[3].body, "probed 1 service, 0 failing");
}

#[test]
fn a_ping_the_switch_did_not_take_is_tried_again_within_the_timeout() {
    // A 503, then a dropped connection would be the same: tried again.
    let switch = Switch::start(&[503, 502]);
    let world = World::new(&format!(
        "[heartbeat]\nurl = {:?}\ntimeout = \"5s\"\n\n{}",
        switch.url("/ping/abc"),
        services(&[("api", "command = [\"true\"]")])
    ));
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    assert_eq!(switch.pings().len(), 3);
    assert_eq!(world.count("SELECT status_code FROM heartbeats"), 200);
    // A 4xx is the switch's answer, not a lost ping: not tried again.
    let refusing = Switch::start(&[404, 404, 404]);
    world.write(
        "upcheck.toml",
        &format!(
            "[heartbeat]\nurl = {:?}\n\n{}",
            refusing.url("/ping/abc"),
            services(&[("api", "command = [\"true\"]")])
        ),
    );
    let run = world.run(&[]);
    assert_eq!(run.code, 0);
    assert_contains(&run.stderr, "the heartbeat answered HTTP 404");
    assert_eq!(refusing.pings().len(), 1);
    let _ = closed_port;
}

#[test]
fn fail_url_beside_the_healthchecks_style_is_a_config_error() {
    let world = World::new(&format!(
        "[heartbeat]\nurl = \"https://hc-ping.example/key/host\"\nstyle = \"healthchecks\"\nfail_url = \"https://hc-ping.example/key/host/fail\"\n\n{}",
        services(&[("api", "command = [\"true\"]")])
    ));
    let run = world.run(&["check-config"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_contains(&run.stderr, "upcheck.toml:4: key `heartbeat.fail_url`");
    assert_contains(&run.stderr, "leave fail_url out");
}

#[test]
fn a_run_that_could_not_take_the_lock_pings_and_records_it_without_a_run() {
    let switch = Switch::start(&[]);
    let world = World::new(&format!(
        "lock_timeout = \"300ms\"\n[heartbeat]\nurl = {:?}\nfail_url = {:?}\n\n{}",
        switch.url("/ping/ok"),
        switch.url("/ping/fail"),
        services(&[("api", "command = [\"true\"]")])
    ));
    assert_eq!(world.run(&[]).code, 0);
    let holder = std::fs::File::create(world.path("upcheck.db.lock")).unwrap();
    holder.lock().unwrap();
    let run = world.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    let urls: Vec<String> = switch.pings().into_iter().map(|p| p.url).collect();
    assert_eq!(urls, ["/ping/ok", "/ping/fail"]);
    assert_eq!(
        world.count("SELECT count(*) FROM heartbeats WHERE run_id IS NULL AND kind = 'fail' AND status_code = 200"),
        1,
        "the ping of the run that never got a row"
    );
    assert_eq!(world.count("SELECT count(*) FROM runs"), 1);
}
