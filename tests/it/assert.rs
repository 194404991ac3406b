//! What a check can assert, through real runs against the test HTTP server:
//! request bodies, JSON Pointers, patterns, absent text, headers, redirects
//! as answers; and the keywords that can never apply, refused at load.

use crate::support::{Ca, Cert, HttpServer, Tinyproxy, World, assert_contains, services};

/// One run of `entries` against `http`; each service's (status, reason).
fn judged(http: &HttpServer, entries: &[(&str, String)]) -> Vec<(String, Option<String>)> {
    let body: Vec<(&str, &str)> = entries.iter().map(|(n, b)| (*n, b.as_str())).collect();
    let world = World::new(&services(&body));
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    let _ = http;
    entries.iter().map(|(name, _)| world.latest(name)).collect()
}

fn online() -> (String, Option<String>) {
    ("online".to_string(), None)
}

fn degraded(reason: &str) -> (String, Option<String>) {
    ("degraded".to_string(), Some(reason.to_string()))
}

#[test]
fn json_pointers_patterns_and_absent_text_say_what_they_found() {
    let http = HttpServer::start();
    let url = |path: &str| format!("url = {:?}", http.url(path));
    let all =
        r#"json = { "/status" = "UP", "/checks/db/ok" = true, "/count" = 3, "/a~1b" = "slash" }"#;
    let got = judged(
        &http,
        &[
            ("json-up", format!("{}\n{all}", url("/json"))),
            ("json-down", format!("{}\n{all}", url("/json-down"))),
            (
                "json-missing",
                format!("{}\njson = {{ \"/nope\" = \"x\" }}", url("/json")),
            ),
            (
                "not-json",
                format!("{}\njson = {{ \"/status\" = \"UP\" }}", url("/body")),
            ),
            (
                "matches",
                format!("{}\nbody_matches = 'queue=\\d+'", url("/body")),
            ),
            (
                "no-match",
                format!("{}\nbody_matches = 'uptime: \\d+'", url("/body")),
            ),
            (
                "clean",
                format!("{}\nbody_not_contains = \"error\"", url("/body")),
            ),
            (
                "dirty",
                format!("{}\nbody_not_contains = \"error\"", url("/error-page")),
            ),
        ],
    );
    assert_eq!(
        got,
        [
            online(),
            // 3.0 is 3: numbers compare by value. Pointers in key order.
            degraded(
                r#"JSON /a~1b is missing, expected "slash"; JSON /checks/db/ok is false, expected true; JSON /status is "DOWN", expected "UP""#
            ),
            degraded(r#"JSON /nope is missing, expected "x""#),
            degraded("body is not JSON: expected value at line 1 column 1"),
            online(),
            degraded("body does not match \"uptime: \\d+\""),
            online(),
            degraded("body contains \"error\""),
        ]
    );
}

#[test]
fn headers_redirects_and_request_bodies_are_checked_as_asked() {
    let http = HttpServer::start();
    let url = |path: &str| format!("url = {:?}", http.url(path));
    let got = judged(
        &http,
        &[
            (
                "json-type",
                format!(
                    "{}\nexpect_headers = {{ content-type = \"application/json\" }}",
                    url("/json")
                ),
            ),
            (
                "text-type",
                format!(
                    "{}\nexpect_headers = {{ Content-Type = \"application/json\" }}",
                    url("/ok")
                ),
            ),
            (
                "no-header",
                format!("{}\nexpect_headers = {{ X-Version = \"2\" }}", url("/ok")),
            ),
            // http must redirect to https: the 301 is the answer.
            (
                "redirects",
                format!(
                    "{}\nfollow_redirects = false\nexpect_status = [301]",
                    url("/moved")
                ),
            ),
            (
                "not-redirecting",
                format!(
                    "{}\nfollow_redirects = false\nexpect_status = [301]",
                    url("/ok")
                ),
            ),
            (
                "posted",
                format!(
                    "{}\nmethod = \"POST\"\nbody = '{{\"deep\": true}}'\nbody_contains = 'method=POST length=14 chunked=false body={{\"deep\": true}}'",
                    url("/echo")
                ),
            ),
            (
                "empty-post",
                format!(
                    "{}\nmethod = \"POST\"\nbody_contains = \"method=POST length=0 chunked=false body=\"",
                    url("/echo")
                ),
            ),
            (
                "get",
                format!(
                    "{}\nbody_contains = \"method=GET length=none\"",
                    url("/echo")
                ),
            ),
        ],
    );
    assert_eq!(
        got,
        [
            online(),
            degraded(
                "header Content-Type is \"text/plain; charset=UTF-8\", expected \"application/json\""
            ),
            degraded("header X-Version is missing, expected \"2\""),
            online(),
            degraded("HTTP 200, expected 301"),
            online(),
            online(),
            online(),
        ]
    );
    // Followed, the same redirect leads to a closed port.
    let world = World::new(&services(&[("followed", &url("/moved"))]));
    assert_eq!(world.run(&[]).code, 0);
    assert_eq!(world.latest("followed").0, "offline");
}

#[test]
fn assertions_that_can_never_apply_are_refused_at_load() {
    let refused = |service: &str, says: &str| {
        let world = World::new(&services(&[("api", service)]));
        let run = world.run(&["check-config"]);
        assert_eq!(run.code, 2, "{service}: {run:?}");
        assert_contains(&run.stderr, says);
    };
    let url = "url = \"http://127.0.0.1:1/\"";
    refused(
        &format!("{url}\nbody_matches = 'uptime: (\\d+'"),
        "upcheck.toml:4: key `service[1].body_matches`: invalid regular expression \"uptime: (\\\\d+\": unclosed group",
    );
    refused(
        &format!("{url}\nmethod = \"HEAD\"\nbody_contains = \"ok\""),
        "key `service[1].body_contains`: `body_contains` needs a body, and a HEAD answer has none",
    );
    refused(
        &format!("{url}\nmethod = \"HEAD\"\njson = {{ \"/status\" = \"UP\" }}"),
        "key `service[1].json`: `json` needs a body",
    );
    refused(
        &format!("{url}\nexpect_status = [301]"),
        "key `service[1].expect_status`: 301 is a redirect, which is followed: set `follow_redirects = false` to check it",
    );
    refused(
        &format!("{url}\njson = {{ \"status\" = \"UP\" }}"),
        "key `service[1].json`: \"status\" is not a JSON Pointer",
    );
    refused(
        &format!("{url}\njson = {{ \"/checks\" = [1, 2] }}"),
        "expected a string, number or boolean to compare with, got array",
    );
    refused(
        "tcp = \"127.0.0.1:1\"\nbody_matches = 'x'",
        "key `service[1].body_matches`: `body_matches` applies only to `url` checks",
    );
}

#[test]
fn check_config_says_each_assertion_in_words() {
    let world = World::new(&services(&[
        (
            "api",
            "url = \"http://127.0.0.1:1/health\"\nmethod = \"POST\"\nbody = '{\"deep\": true}'\n\
         json = { \"/status\" = \"UP\", \"/count\" = 3 }\nbody_matches = 'uptime: \\d+'\n\
         body_not_contains = \"error\"\nexpect_headers = { Content-Type = \"application/json\" }\n\
         follow_redirects = false\nexpect_status = [200, 301]\nproxy = \"http://mon:secret@127.0.0.1:3128\"",
        ),
        (
            "mail",
            "tls = \"127.0.0.1:587\"\nstarttls = \"smtp\"\ncert_warn = \"30d\"",
        ),
        (
            "mx",
            "dns = \"example.com\"\nrecord = \"MX\"\nexpect = [\"10 Mail.example.com.\"]\nserver = \"127.0.0.1:5353\"",
        ),
    ]));
    let run = world.run(&["check-config"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_contains(
        &run.stdout,
        "POST http://127.0.0.1:1/health (14-byte body), expect 200/301, redirects not followed, \
         JSON /count = 3, JSON /status = \"UP\", body lacks \"error\", body matches \"uptime: \\\\d+\", \
         header Content-Type holds \"application/json\", through proxy http://mon:***@127.0.0.1:3128",
    );
    assert_contains(
        &run.stdout,
        "tls 127.0.0.1:587 after SMTP STARTTLS, certificate valid for the host, not expiring within 30d",
    );
    assert_contains(
        &run.stdout,
        "dns MX example.com at 127.0.0.1:5353, answer holds \"10 mail.example.com\"",
    );
    assert!(!run.stdout.contains("secret"), "{}", run.stdout);
}

/// A password with `@`, a space and `/` in it, percent-encoded in the URL as
/// it must be: the server gets it decoded, as from a browser or curl.
#[test]
fn a_password_in_the_url_is_sent_decoded() {
    let http = HttpServer::start();
    let url = http
        .url("/basic")
        .replace("http://", "http://mon:p%40ss%20w%2Frd@");
    let wrong = http.url("/basic").replace("http://", "http://mon:nope@");
    let world = World::new(&services(&[
        ("right", &format!("url = {url:?}")),
        ("wrong", &format!("url = {wrong:?}")),
    ]));
    let run = world.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(world.latest("right"), ("online".to_string(), None));
    assert_eq!(
        world.latest("wrong"),
        (
            "degraded".to_string(),
            Some("HTTP 401, expected 2xx or 3xx".to_string())
        )
    );
}

/// gzip and deflate answers are decoded before they are searched; a gzip
/// bomb (1 GB of zeros) stops at 256 KiB of decoded body, in bounded time.
#[test]
fn compressed_answers_are_decoded_and_a_bomb_stays_bounded() {
    let http = HttpServer::start();
    let url = |path: &str| format!("url = {:?}", http.url(path));
    let started = std::time::Instant::now();
    let got = judged(
        &http,
        &[
            (
                "gzip",
                format!("{}\njson = {{ \"/status\" = \"UP\" }}", url("/gzip")),
            ),
            (
                "deflate",
                format!("{}\nbody_contains = \"status=green\"", url("/deflate")),
            ),
            (
                "bomb",
                format!("{}\nbody_contains = \"x\"", url("/gzip-bomb")),
            ),
        ],
    );
    crate::support::assert_within(started, std::time::Duration::from_secs(10));
    assert_eq!(
        got,
        [
            online(),
            online(),
            degraded("body lacks \"x\" (first 256 KiB)"),
        ]
    );
}

/// Proxy variables in the environment are ignored: a check probes the same
/// from an interactive shell that sets them as from cron, which does not.
#[test]
fn proxy_variables_in_the_environment_are_ignored() {
    let http = HttpServer::start();
    let world = World::new(&services(&[(
        "api",
        &format!("url = {:?}", http.url("/ok")),
    )]));
    let nowhere = format!("http://127.0.0.1:{}", crate::support::closed_port());
    let run = world.run_env(
        &[],
        &[
            ("HTTP_PROXY", &nowhere),
            ("http_proxy", &nowhere),
            ("HTTPS_PROXY", &nowhere),
            ("ALL_PROXY", &nowhere),
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(world.latest("api"), ("online".to_string(), None));
}

#[test]
fn proxy_carries_http_and_https_checks_and_their_certificate_handshake() {
    let http = HttpServer::start();
    let ca = Ca::new();
    let (tls_port, day) = ca.serve(Cert::Signed { days: 200 });
    let proxy = Tinyproxy::start("");
    let closed = crate::support::closed_port();
    let world = World::new(&format!(
        "proxy = \"{}\"\n\n{}",
        proxy.url(),
        services(&[
            ("plain", &format!("url = {:?}", http.url("/ok"))),
            (
                "secure",
                &format!("url = \"https://127.0.0.1:{tls_port}/\"\nca_file = \"ca.pem\""),
            ),
            (
                "own-proxy",
                &format!(
                    "url = {:?}\nproxy = \"http://127.0.0.1:{closed}\"",
                    http.url("/ok")
                ),
            ),
        ])
    ));
    world.write("ca.pem", &ca.pem);
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    assert_eq!(world.latest("plain"), online());
    assert_eq!(world.latest("secure"), online());
    assert_eq!(
        world.latest("own-proxy"),
        (
            "offline".to_string(),
            Some(format!(
                "connection refused (through proxy http://127.0.0.1:{closed})"
            ))
        )
    );
    let expires: String = world
        .db()
        .query_row(
            "SELECT substr(cert_expires_at, 1, 10) FROM checks WHERE service = 'secure'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(expires, day);
    let requests = proxy.requests();
    // ureq tunnels plain http too (no absolute-form requests): one CONNECT.
    let http_port = http
        .url("/")
        .split(':')
        .nth(2)
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let plain = format!("CONNECT 127.0.0.1:{http_port} HTTP/1.1");
    let tunnel = format!("CONNECT 127.0.0.1:{tls_port} HTTP/1.1");
    assert_eq!(
        requests.iter().filter(|r| **r == plain).count(),
        1,
        "{requests:?}"
    );
    // The request and the certificate's handshake: both through the proxy.
    assert_eq!(
        requests.iter().filter(|r| **r == tunnel).count(),
        2,
        "{requests:?}"
    );
}

#[test]
fn a_proxy_that_refuses_the_tunnel_is_named_in_the_reason() {
    let ca = Ca::new();
    let (tls_port, _) = ca.serve(Cert::Signed { days: 200 });
    // CONNECT only to port 443: this port is refused with a 403.
    let proxy = Tinyproxy::start("ConnectPort 443");
    let open = Tinyproxy::start("");
    let closed = crate::support::closed_port();
    let world = World::new(&services(&[
        (
            "secure",
            &format!(
                "url = \"https://127.0.0.1:{tls_port}/\"\nca_file = \"ca.pem\"\nproxy = \"{}\"",
                proxy.url()
            ),
        ),
        (
            "gone",
            &format!(
                "url = \"https://127.0.0.1:{closed}/\"\nproxy = \"{}\"",
                open.url()
            ),
        ),
    ]));
    world.write("ca.pem", &ca.pem);
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    let offline = |reason: &str| ("offline".to_string(), Some(reason.to_string()));
    assert_eq!(
        world.latest("secure"),
        offline(&format!(
            "the proxy refused the tunnel: it answered 403 (through proxy {})",
            proxy.url()
        ))
    );
    // tinyproxy's "500 Unable to connect": the service is what is down.
    assert_eq!(
        world.latest("gone"),
        offline(&format!(
            "the proxy could not reach the service: it answered 500 (through proxy {})",
            open.url()
        ))
    );
}
