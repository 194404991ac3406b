//! Every status and its reason, from real targets: HTTP, TLS, TCP, commands.

use crate::support::{Ca, Cert, HttpServer, World, assert_within, closed_port, services};

/// Runs one config and returns the world to read the results from.
fn run_once(config: &str) -> World {
    let world = World::new(config);
    let run = world.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        (run.stdout.as_str(), run.stderr.as_str()),
        ("", ""),
        "a run prints nothing"
    );
    world
}

#[track_caller]
fn expect(world: &World, service: &str, status: &str, reason: Option<&str>) {
    let (got_status, got_reason) = world.latest(service);
    assert_eq!(
        (got_status.as_str(), got_reason.as_deref()),
        (status, reason),
        "service {service}"
    );
}

#[test]
fn http_answers_become_statuses_with_reasons() {
    let http = HttpServer::start();
    let config = services(&[
        ("ok", &format!("url = {:?}", http.url("/ok"))),
        (
            "unavailable",
            &format!("url = {:?}", http.url("/status/503")),
        ),
        (
            "created",
            &format!("url = {:?}\nexpect_status = [200]", http.url("/status/201")),
        ),
        (
            "body-ok",
            &format!(
                "url = {:?}\nbody_contains = \"status=green\"",
                http.url("/body")
            ),
        ),
        (
            "body-bad",
            &format!(
                "url = {:?}\nbody_contains = \"status=red\"",
                http.url("/body")
            ),
        ),
        ("redirected", &format!("url = {:?}", http.url("/redirect"))),
        (
            "redirect-loop",
            &format!("url = {:?}", http.url("/redirect-loop")),
        ),
        (
            "auth-ok",
            &format!(
                "url = {:?}\nheaders = {{ Authorization = \"Bearer s3cret\" }}",
                http.url("/auth")
            ),
        ),
        ("auth-missing", &format!("url = {:?}", http.url("/auth"))),
        (
            "post",
            &format!("url = {:?}\nmethod = \"POST\"", http.url("/ok")),
        ),
        (
            "refused",
            &format!("url = \"http://127.0.0.1:{}/\"", closed_port()),
        ),
    ]);
    let world = run_once(&config);
    expect(&world, "ok", "online", None);
    expect(
        &world,
        "unavailable",
        "degraded",
        Some("HTTP 503, expected 2xx or 3xx"),
    );
    expect(
        &world,
        "created",
        "degraded",
        Some("HTTP 201, expected 200"),
    );
    expect(&world, "body-ok", "online", None);
    expect(
        &world,
        "body-bad",
        "degraded",
        Some("body lacks \"status=red\""),
    );
    expect(&world, "redirected", "online", None);
    expect(
        &world,
        "redirect-loop",
        "degraded",
        Some("more than 10 redirects (a redirect loop?)"),
    );
    expect(&world, "auth-ok", "online", None);
    expect(
        &world,
        "auth-missing",
        "degraded",
        Some("HTTP 401, expected 2xx or 3xx"),
    );
    expect(&world, "post", "online", None);
    expect(&world, "refused", "offline", Some("connection refused"));
    let code: i64 = world
        .db()
        .query_row(
            "SELECT status_code FROM latest WHERE service = 'unavailable'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(code, 503);
}

#[test]
fn slow_hanging_and_huge_answers_are_bounded() {
    let http = HttpServer::start();
    let config = services(&[
        (
            "slow",
            &format!("url = {:?}\nslow_after = \"100ms\"", http.url("/slow/400")),
        ),
        (
            "hanging",
            &format!("url = {:?}\ntimeout = \"500ms\"", http.url("/hang")),
        ),
        (
            "huge",
            &format!(
                "url = {:?}\nbody_contains = \"zzz\"\ntimeout = \"20s\"",
                http.url("/huge")
            ),
        ),
    ]);
    let world = run_once(&config);
    let (status, reason) = world.latest("slow");
    assert_eq!(status, "degraded");
    let reason = reason.unwrap();
    // At least the 400 ms the server waited; how much more depends on the machine.
    let took = reason
        .strip_prefix("slow: ")
        .and_then(|r| r.strip_suffix(" (slow_after 100ms)"))
        .and_then(|t| match t.strip_suffix("ms") {
            Some(ms) => ms.parse::<f64>().ok(),
            None => t.strip_suffix('s')?.parse::<f64>().ok().map(|s| s * 1000.0),
        });
    assert!(took.is_some_and(|ms| ms >= 400.0), "{reason}");
    expect(&world, "hanging", "timeout", Some("no answer within 500ms"));
    // Only the first 256 KiB of the 1 GB body is read.
    expect(
        &world,
        "huge",
        "degraded",
        Some("body lacks \"zzz\" (first 256 KiB)"),
    );
    let hanging_ms = world.response_ms("hanging");
    assert!(
        (500..5000).contains(&hanging_ms),
        "waited {hanging_ms}ms for a 500ms timeout"
    );
}

#[test]
fn certificates_are_judged_and_their_expiry_recorded() {
    let ca = Ca::new();
    let world = World::new("");
    world.write("ca.pem", &ca.pem);
    let (valid, valid_date) = ca.serve(Cert::Signed { days: 200 });
    let (soon, soon_date) = ca.serve(Cert::Signed { days: 5 });
    let (expired, expired_date) = ca.serve(Cert::Signed { days: -3 });
    let (selfsigned, selfsigned_date) = ca.serve(Cert::SelfSigned);
    let url = |port: u16| format!("url = \"https://127.0.0.1:{port}/\"\nca_file = \"ca.pem\"");
    world.write(
        "upcheck.toml",
        &services(&[
            ("valid", &url(valid)),
            ("expiring", &format!("{}\ncert_warn = \"14d\"", url(soon))),
            ("expired", &url(expired)),
            // Trusting only the test CA, the self-signed certificate is unknown.
            ("self-signed", &url(selfsigned)),
            // Not trusting the test CA at all: the built-in roots don't know it.
            (
                "unknown-ca",
                &format!("url = \"https://127.0.0.1:{valid}/\""),
            ),
        ]),
    );
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    expect(&world, "valid", "online", None);
    let soon_reason = format!("certificate expires in 5 days ({soon_date})");
    expect(&world, "expiring", "degraded", Some(&soon_reason));
    let expired_reason = format!("TLS: certificate expired 3 days ago ({expired_date})");
    expect(&world, "expired", "offline", Some(&expired_reason));
    let untrusted = "TLS: certificate not trusted (unknown issuer: self-signed, or the server does not send its intermediate certificates)";
    expect(&world, "self-signed", "offline", Some(untrusted));
    expect(&world, "unknown-ca", "offline", Some(untrusted));
    // notAfter is recorded whether or not the certificate was trusted.
    let db = world.db();
    for (service, date) in [
        ("valid", &valid_date),
        ("expiring", &soon_date),
        ("expired", &expired_date),
        ("self-signed", &selfsigned_date),
        ("unknown-ca", &valid_date),
    ] {
        let stored: String = db
            .query_row(
                "SELECT cert_expires_at FROM checks WHERE service = ?1",
                [service],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            stored.starts_with(date.as_str()),
            "{service}: {stored} vs {date}"
        );
    }
}

#[test]
fn tcp_connects_or_is_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().port();
    let world = run_once(&services(&[
        ("open", &format!("tcp = \"127.0.0.1:{open}\"")),
        ("closed", &format!("tcp = \"127.0.0.1:{}\"", closed_port())),
    ]));
    expect(&world, "open", "online", None);
    expect(&world, "closed", "offline", Some("connection refused"));
}

#[test]
fn commands_run_without_a_shell_and_are_killed_at_the_timeout() {
    let world = World::new("");
    world.script(
        "check.sh",
        "#!/bin/sh\necho \"args: $1\"\n[ \"$1\" = 'a b;c' ]\n",
    );
    world.write(
        "upcheck.toml",
        &services(&[
            ("passes", "command = [\"true\"]"),
            (
                "fails",
                "command = [\"sh\", \"-c\", \"echo starting; echo 'disk 97% full' >&2; exit 3\"]",
            ),
            (
                "hangs",
                "command = [\"sleep\", \"30\"]\ntimeout = \"300ms\"",
            ),
            ("missing", "command = [\"/nonexistent/check\"]"),
            ("signalled", "command = [\"sh\", \"-c\", \"kill -9 $$\"]"),
            // argv reaches the program as one argument, shell characters and all.
            ("relative", "command = [\"./check.sh\", \"a b;c\"]"),
            // A child that keeps the output pipe open must not hold up the run.
            (
                "leaves-child",
                "command = [\"sh\", \"-c\", \"sleep 30 & echo started\"]\ntimeout = \"5s\"",
            ),
        ]),
    );
    let started = std::time::Instant::now();
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    assert_within(started, std::time::Duration::from_secs(20));
    expect(&world, "passes", "online", None);
    expect(&world, "fails", "offline", Some("exit 3: disk 97% full"));
    expect(&world, "hangs", "timeout", Some("no answer within 300ms"));
    expect(
        &world,
        "missing",
        "offline",
        Some("could not start /nonexistent/check: not found"),
    );
    expect(&world, "signalled", "offline", Some("killed by signal 9"));
    expect(&world, "relative", "online", None);
    expect(&world, "leaves-child", "online", None);
}

#[test]
fn probes_run_in_parallel_up_to_the_limit() {
    let http = HttpServer::start();
    let slow: Vec<(String, String)> = (0..12)
        .map(|i| {
            (
                format!("slow-{i}"),
                format!("url = {:?}", http.url("/slow/600")),
            )
        })
        .collect();
    let entries: Vec<(&str, &str)> = slow.iter().map(|(n, b)| (n.as_str(), b.as_str())).collect();
    let starts = |parallel: usize| {
        let world = run_once(&format!("parallel = {parallel}\n{}", services(&entries)));
        let times: Vec<String> = world
            .db()
            .prepare("SELECT checked_at FROM checks ORDER BY checked_at")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
        (t(&times[times.len() - 1]) - t(&times[0])).num_milliseconds()
    };
    // All twelve start together when parallel allows it (well inside one
    // 600 ms wave, however slowly a busy machine starts threads)...
    assert!(starts(32) < 590, "probes did not start together");
    // ...and in waves of four, 600ms apart, when it does not.
    assert!(starts(4) >= 1200, "parallel = 4 was not respected");
}

#[test]
fn the_run_timeout_bounds_the_whole_run() {
    let http = HttpServer::start();
    let config = format!(
        "parallel = 1\nrun_timeout = \"700ms\"\n{}",
        services(&[
            (
                "first",
                &format!("url = {:?}\ntimeout = \"5s\"", http.url("/hang"))
            ),
            ("second", &format!("url = {:?}", http.url("/ok"))),
        ])
    );
    let world = run_once(&config);
    expect(
        &world,
        "first",
        "timeout",
        Some("no answer before the run's run_timeout (700ms) ran out"),
    );
    expect(
        &world,
        "second",
        "timeout",
        Some(
            "not probed: the run's run_timeout (700ms) ran out before its turn; raise parallel or run_timeout",
        ),
    );
}

/// Issue 11, finding 21: a reason kept Rust's escaping of what it quoted
/// (`body lacks "\"status\":\"ok\""`).
#[test]
fn a_missing_needle_is_quoted_as_written() {
    let http = HttpServer::start();
    let world = World::new(&services(&[(
        "json",
        &format!(
            "url = {:?}\nbody_contains = '\"status\":\"ok\"'",
            http.url("/body")
        ),
    )]));
    assert_eq!(world.run(&[]).code, 0);
    expect(
        &world,
        "json",
        "degraded",
        Some("body lacks “\"status\":\"ok\"”"),
    );
}

/// Issue 11, finding 14: the expiry handshake was given the host with its
/// brackets, so `https://[::1]:…` was `online` with no expiry known, and
/// Prometheus exported 0: the README's expiry alert could never fire.
#[test]
fn certificate_expiry_is_read_for_an_ipv6_address() {
    let ca = Ca::new();
    let world = World::new("");
    world.write("ca.pem", &ca.pem);
    let (port, date) = ca.serve_on("::1", Cert::Signed { days: 5 });
    world.write(
        "upcheck.toml",
        &services(&[(
            "v6",
            &format!("url = \"https://[::1]:{port}/\"\nca_file = \"ca.pem\"\ncert_warn = \"14d\""),
        )]),
    );
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    let reason = format!("certificate expires in 5 days ({date})");
    expect(&world, "v6", "degraded", Some(&reason));
    let stored: Option<String> = world
        .db()
        .query_row(
            "SELECT cert_expires_at FROM checks WHERE service = 'v6'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        stored.is_some_and(|s| s.starts_with(&date)),
        "notAfter stored"
    );
}

/// Issue 11, "reasons that mislead": an https URL on a port that speaks plain
/// HTTP was "TLS failure: received corrupt message of type InvalidContentType".
#[test]
fn https_to_a_plain_http_port_says_so() {
    // What nginx and Python's http.server do with a TLS hello on a plain port.
    let port = crate::support::raw_server(|mut s| {
        use std::io::{Read, Write};
        let mut hello = [0u8; 1024];
        let _ = s.read(&mut hello);
        let _ = s.write_all(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    });
    let url = format!("https://127.0.0.1:{port}/");
    let world = World::new(&services(&[("web", &format!("url = {url:?}"))]));
    assert_eq!(world.run(&[]).code, 0);
    expect(
        &world,
        "web",
        "offline",
        Some("TLS: the server answered without TLS (plain HTTP on an https URL?)"),
    );
}
