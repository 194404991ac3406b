//! Targets that misbehave on purpose, below and inside HTTP and TLS, and
//! commands that flood or linger. Each must end within its timeout, in bounded
//! memory, as a status with a reason a person can act on.

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{
    Ca, Cert, HttpServer, World, assert_contains, raw_answering, raw_server, raw_server_on,
    read_head, services,
};

/// Peak memory a run against one hostile target may reach. A healthy run
/// peaks near 8 MiB; holding a flood in memory would blow well past this.
const MEMORY_BOUND_KIB: u64 = 48 * 1024;

/// What probing one service alone came to.
#[derive(Debug)]
struct Probed {
    status: String,
    reason: Option<String>,
    /// The probe, as upcheck recorded it.
    probe_ms: u64,
    /// The whole run, start to exit.
    took: Duration,
    peak_kib: u64,
}

impl Probed {
    #[track_caller]
    fn is(&self, status: &str, reason: &str) {
        assert_eq!(
            (self.status.as_str(), self.reason.as_deref()),
            (status, Some(reason)),
            "{self:?}"
        );
    }

    /// The probe ended within `by`, and the run soon after (a generous
    /// margin: a busy machine slows process start and the first fsyncs), in
    /// bounded memory.
    #[track_caller]
    fn bounded(&self, by: Duration) {
        assert!(
            self.probe_ms <= by.as_millis() as u64
                && self.took < by + Duration::from_secs(10)
                && self.peak_kib < MEMORY_BOUND_KIB,
            "not bounded by {by:?} and {MEMORY_BOUND_KIB} KiB: {self:?}"
        );
    }
}

/// Runs a config holding only the service `target` (its `body`) and reads back its check.
fn probe_alone(body: &str) -> Probed {
    let world = World::new(&services(&[("target", body)]));
    let started = Instant::now();
    let (run, peak_kib) = world.run_measured(&[]);
    let took = started.elapsed();
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", ""),
        "a run against a hostile target completes silently"
    );
    let (status, reason) = world.latest("target");
    let probe_ms = world.response_ms("target");
    Probed {
        status,
        reason,
        probe_ms: probe_ms as u64,
        took,
        peak_kib,
    }
}

fn url(port: u16, path: &str) -> String {
    format!("url = \"http://127.0.0.1:{port}{path}\"")
}

/// Writes until the peer goes away.
fn flood(stream: &mut TcpStream, head: &[u8], chunk: &[u8]) {
    if stream.write_all(head).is_err() {
        return;
    }
    while stream.write_all(chunk).is_ok() {}
}

#[test]
fn an_endless_body_is_read_only_up_to_the_search_limit() {
    let port = raw_server(|mut s| {
        read_head(&mut s);
        flood(
            &mut s,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
            &[b'a'; 64 * 1024],
        );
    });
    let searched = probe_alone(&format!(
        "{}\nbody_contains = \"zzz\"\ntimeout = \"20s\"",
        url(port, "/")
    ));
    searched.is("degraded", "body lacks \"zzz\" (first 256 KiB)");
    searched.bounded(Duration::from_secs(10));
    let plain = probe_alone(&format!("{}\ntimeout = \"20s\"", url(port, "/")));
    assert_eq!(
        (plain.status.as_str(), plain.reason.as_deref()),
        ("online", None)
    );
    plain.bounded(Duration::from_secs(10));
}

#[test]
fn an_endless_chunked_body_is_read_only_up_to_the_search_limit() {
    let port = raw_server(|mut s| {
        read_head(&mut s);
        flood(
            &mut s,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"1000\r\n"
                .iter()
                .chain(&[b'a'; 0x1000])
                .chain(b"\r\n")
                .copied()
                .collect::<Vec<u8>>()
                .as_slice(),
        );
    });
    let p = probe_alone(&format!(
        "{}\nbody_contains = \"zzz\"\ntimeout = \"20s\"",
        url(port, "/")
    ));
    p.is("degraded", "body lacks \"zzz\" (first 256 KiB)");
    p.bounded(Duration::from_secs(10));
}

#[test]
fn endless_headers_are_refused_at_the_header_count_limit() {
    let port = raw_server(|mut s| {
        read_head(&mut s);
        flood(
            &mut s,
            b"HTTP/1.1 200 OK\r\n",
            b"X-Filler: aaaaaaaaaaaaaaaa\r\n",
        );
    });
    let p = probe_alone(&format!("{}\ntimeout = \"20s\"", url(port, "/")));
    p.is(
        "degraded",
        "not a valid HTTP answer: http parse resulted in too many headers",
    );
    p.bounded(Duration::from_secs(10));
}

#[test]
fn a_ten_megabyte_header_line_is_refused_at_the_header_limit() {
    let port = raw_server(|mut s| {
        read_head(&mut s);
        let mut answer = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
        answer.resize(answer.len() + 10 * 1024 * 1024, b'a');
        answer.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\nok");
        let _ = s.write_all(&answer);
    });
    let p = probe_alone(&format!("{}\ntimeout = \"20s\"", url(port, "/")));
    p.is(
        "degraded",
        "not a valid HTTP answer: headers larger than 64 KiB",
    );
    p.bounded(Duration::from_secs(10));
}

/// One byte at a time, a few hundred milliseconds apart, never finishing.
fn trickle(stream: &mut TcpStream, text: &[u8]) {
    for b in text.iter().cycle() {
        if stream.write_all(&[*b]).is_err() {
            return;
        }
        thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_slowloris_status_line_times_out_at_the_service_timeout() {
    let port = raw_server(|mut s| {
        read_head(&mut s);
        trickle(&mut s, b"HTTP/1.1 200 OK\r\nX-Slow: ");
    });
    let p = probe_alone(&format!("{}\ntimeout = \"2s\"", url(port, "/")));
    p.is("timeout", "no answer within 2s");
    p.bounded(Duration::from_secs(4));
}

#[test]
fn a_slowloris_body_times_out_at_the_service_timeout() {
    let port = raw_server(|mut s| {
        read_head(&mut s);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
        trickle(&mut s, b"a");
    });
    let p = probe_alone(&format!(
        "{}\ntimeout = \"2s\"\nbody_contains = \"ok\"",
        url(port, "/")
    ));
    p.is("timeout", "no answer within 2s");
    p.bounded(Duration::from_secs(4));
    // Nothing to search: the head was fine, the body never ended (a stream).
    let p = probe_alone(&format!("{}\ntimeout = \"2s\"", url(port, "/")));
    assert_eq!(p.status, "degraded", "{p:?}");
    assert_contains(
        p.reason.as_deref().unwrap_or(""),
        "the body did not finish within 2",
    );
    p.bounded(Duration::from_secs(4));
}

#[test]
fn a_redirect_to_another_scheme_is_a_clear_failure() {
    let port = raw_answering(
        b"HTTP/1.1 302 Found\r\nLocation: ftp://127.0.0.1/health\r\nContent-Length: 0\r\n\r\n",
    );
    let p = probe_alone(&url(port, "/"));
    p.is(
        "degraded",
        "redirected to an address it cannot follow: unknown scheme: ftp",
    );
    p.bounded(Duration::from_secs(5));
}

#[test]
fn a_redirect_to_another_port_is_followed() {
    let plain = raw_answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let redirecting = raw_answering(format!(
        "HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:{plain}/\r\nContent-Length: 0\r\n\r\n"
    ));
    let p = probe_alone(&url(redirecting, "/"));
    assert_eq!((p.status.as_str(), p.reason.as_deref()), ("online", None));
}

#[test]
fn a_redirect_to_another_host_does_not_carry_the_credentials() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let heads = seen.clone();
    // 127.0.0.2: another host by address, still this machine.
    let other = raw_server_on("127.0.0.2", move |mut s| {
        heads.lock().unwrap().push(read_head(&mut s));
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    });
    let redirecting = raw_answering(format!(
        "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:{other}/landing\r\nContent-Length: 0\r\n\r\n"
    ));
    let p = probe_alone(&format!(
        "{}\nheaders = {{ Authorization = \"Bearer s3cret\" }}",
        url(redirecting, "/")
    ));
    assert_eq!((p.status.as_str(), p.reason.as_deref()), ("online", None));
    let heads = seen.lock().unwrap();
    assert_eq!(heads.len(), 1, "the redirect was followed once");
    assert_contains(&heads[0], "GET /landing");
    assert!(
        !heads[0].to_ascii_lowercase().contains("authorization"),
        "credentials followed the redirect to another host:\n{}",
        heads[0]
    );
}

#[test]
fn a_redirect_on_the_same_host_keeps_the_credentials() {
    let http = HttpServer::start();
    let p = probe_alone(&format!(
        "url = {:?}\nheaders = {{ Authorization = \"Bearer s3cret\" }}",
        http.url("/redirect-to-auth")
    ));
    assert_eq!((p.status.as_str(), p.reason.as_deref()), ("online", None));
}

#[test]
fn invalid_utf8_in_the_status_line_headers_and_body_is_handled() {
    let port = raw_answering(
        b"HTTP/1.1 503 \xff\xfe Unavailable\r\nX-Bad: \xc3\x28\r\nContent-Length: 12\r\n\r\n\xff\xfeok\xc3\x28 down\xff",
    );
    let p = probe_alone(&format!("{}\nbody_contains = \"ok\"", url(port, "/")));
    p.is("degraded", "HTTP 503, expected 2xx or 3xx");
}

/// Linger on with a zero timeout: closing sends a reset instead of a clean end.
fn reset(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized option value.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER");
}

#[test]
fn a_connection_reset_mid_body_is_a_failure() {
    let port = raw_server(|mut s| {
        read_head(&mut s);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nstatus=gr");
        thread::sleep(Duration::from_millis(100));
        reset(&s);
    });
    let searched = probe_alone(&format!(
        "{}\nbody_contains = \"status=green\"",
        url(port, "/")
    ));
    searched.is(
        "degraded",
        "reading the body: connection closed before a complete answer",
    );
    // Without a body search, a truncated answer is still a broken one.
    let plain = probe_alone(&url(port, "/"));
    plain.is(
        "degraded",
        "reading the body: connection closed before a complete answer",
    );
}

#[test]
fn a_body_cut_short_is_a_failure() {
    let port = raw_answering(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial");
    let p = probe_alone(&url(port, "/"));
    p.is(
        "degraded",
        "reading the body: connection closed before a complete answer",
    );
}

#[test]
fn something_that_is_not_http_is_a_clear_failure() {
    let ssh = raw_server(|mut s| {
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
        thread::sleep(Duration::from_secs(1));
    });
    let p = probe_alone(&url(ssh, "/"));
    assert_eq!(p.status, "degraded", "{p:?}");
    assert_contains(p.reason.as_deref().unwrap_or(""), "not a valid HTTP answer");
    let silent = raw_server(|mut s| {
        read_head(&mut s);
    });
    let p = probe_alone(&url(silent, "/"));
    p.is("offline", "connection closed before a complete answer");
}

#[test]
fn a_tls_handshake_that_stalls_times_out() {
    let port = raw_server(|mut s| {
        // Take the ClientHello and say nothing.
        read_head(&mut s);
        thread::sleep(Duration::from_secs(30));
    });
    let p = probe_alone(&format!(
        "url = \"https://127.0.0.1:{port}/\"\ntimeout = \"1s\""
    ));
    p.is("timeout", "no answer within 1s");
    p.bounded(Duration::from_secs(3));
}

#[test]
fn a_certificate_for_another_host_is_offline_with_the_reason() {
    let ca = Ca::new();
    let (port, _) = ca.serve(Cert::OtherHost);
    let world = World::new("");
    world.write("ca.pem", &ca.pem);
    world.write(
        "upcheck.toml",
        &services(&[(
            "target",
            &format!("url = \"https://127.0.0.1:{port}/\"\nca_file = \"ca.pem\""),
        )]),
    );
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    let (status, reason) = world.latest("target");
    assert_eq!(
        (status.as_str(), reason.as_deref()),
        (
            "offline",
            Some("TLS: certificate is not valid for this host name (it names status.example.org)")
        )
    );
}

#[test]
fn a_command_printing_megabytes_keeps_only_its_tail() {
    let p = probe_alone(
        "command = [\"sh\", \"-c\", \"head -c 30000000 /dev/zero | tr '\\\\0' x; echo; echo 'out of disk' >&2; exit 1\"]\ntimeout = \"20s\"",
    );
    p.is("offline", "exit 1: out of disk");
    p.bounded(Duration::from_secs(15));
    // One endless line, no newline: the reason is its capped tail.
    let p = probe_alone(
        "command = [\"sh\", \"-c\", \"head -c 30000000 /dev/zero | tr '\\\\0' y; exit 1\"]\ntimeout = \"20s\"",
    );
    assert_eq!(p.status, "offline");
    let reason = p.reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("exit 1: yyyy") && reason.chars().count() <= 301,
        "{p:?}"
    );
    p.bounded(Duration::from_secs(15));
}

#[test]
fn a_command_whose_child_keeps_the_pipe_open_ends_when_the_command_does() {
    let world = World::new(&services(&[(
        "target",
        "command = [\"sh\", \"-c\", \"sleep 60 & echo started; exit 0\"]\ntimeout = \"30s\"",
    )]));
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    let ms = world.response_ms("target");
    assert!(ms < 5_000, "waited {ms} ms for the child's pipe");
    assert_eq!(world.latest("target"), ("online".to_string(), None));
}

#[test]
fn hostile_names_and_reasons_stay_one_line_and_escaped_everywhere() {
    use crate::support::{SmtpServer, assert_checker_passed};
    let smtp = SmtpServer::plain();
    let names = [
        "quote\" back\\slash {brace} ${HOME} $(id) `id`".to_string(),
        "</td><script>alert(1)</script>".to_string(),
        "خدمة الدفع".to_string(),
        "x".repeat(100),
    ];
    // A last line with an escape sequence, a right-to-left override, markup,
    // a tab and 2,000 more characters.
    let noisy = "command = [\"sh\", \"-c\", \"printf 'first\\\\n\\\\033[31m\\\\342\\\\200\\\\256evil</td><script>alert(2)</script>\\\\t%s' $(head -c 2000 /dev/zero | tr '\\\\0' z); exit 1\"]";
    let entries: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), noisy)).collect();
    let world = World::new(&format!(
        "title = \"vps-1\"\nalert_after = 1\nstatus_page = \"status.html\"\nprometheus_textfile = \"upcheck.prom\"\n{}{}",
        smtp.email_config(),
        services(&entries)
    ));
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");

    let (_, reason) = world.latest(&names[0]);
    let reason = reason.unwrap();
    assert!(
        reason.starts_with("exit 1: [31mevil</td><script>alert(2)</script> zzz")
            && reason.chars().count() <= 301
            && !reason.contains(['\u{202E}', '\u{1b}', '\t', '\n']),
        "{reason:?}"
    );

    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    let parsed = mail.parsed();
    let subject = mail.subject();
    assert!(
        subject.starts_with("[vps-1] DOWN ") && !subject.contains('\n'),
        "{subject}"
    );
    assert_contains(&subject, "</td><script>alert(1)</script>");
    assert_eq!(mail.to, ["ops@example.com", "oncall@example.com"]);
    assert!(parsed.bcc().is_none() && parsed.cc().is_none());
    let text = mail.text();
    assert!(!text.contains(['\u{202E}', '\u{1b}']), "{text}");
    // Each service is one row of the alerts table and one of the status table.
    for name in &names {
        let rows = text.lines().filter(|l| l.contains(name.as_str())).count();
        assert!(rows >= 2, "{name} has {rows} lines in:\n{text}");
    }
    let html = mail.html().unwrap();
    let page = std::fs::read_to_string(world.path("status.html")).unwrap();
    for (what, markup) in [("email", &html), ("status page", &page)] {
        assert!(
            !markup.contains("<script>") && !markup.contains("</script>"),
            "raw markup from a name or reason in the {what}:\n{markup}"
        );
        assert_contains(markup, "&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_contains(
            markup,
            "evil&lt;/td&gt;&lt;script&gt;alert(2)&lt;/script&gt;",
        );
        assert_contains(markup, "خدمة الدفع");
    }

    let metrics = std::fs::read_to_string(world.path("upcheck.prom")).unwrap();
    let out = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(world.path("upcheck.prom")).unwrap())
        .output()
        .expect("promtool (tests/deps.sh installs it)");
    assert_checker_passed("promtool check metrics", &out, &metrics);
    assert_contains(
        &metrics,
        "upcheck_up{service=\"quote\\\" back\\\\slash {brace} ${HOME} $(id) `id`\"} 0\n",
    );

    let status = world.run(&["status", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&status.stdout).expect("valid JSON");
    let listed: Vec<&str> = json["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut got = listed.clone();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
}

/// A listening socket whose accept queue is full and never drained: the
/// kernel drops further handshakes, as a firewall that drops packets would.
fn blackhole() -> (u16, Vec<TcpStream>) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a socket we own; the fd goes to a TcpListener.
    let listener = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
            },
            sin_zero: [0; 8],
        };
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(libc::bind(fd, (&raw const addr).cast(), len), 0);
        assert_eq!(libc::listen(fd, 0), 0);
        std::net::TcpListener::from_raw_fd(fd)
    };
    let port = listener.local_addr().unwrap().port();
    // Fill the queue; these are held so it stays full.
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(s) = TcpStream::connect_timeout(
            &format!("127.0.0.1:{port}").parse().unwrap(),
            Duration::from_millis(200),
        ) {
            fillers.push(s);
        }
    }
    std::mem::forget(listener);
    (port, fillers)
}

#[test]
fn a_port_that_drops_the_handshake_times_out_for_tcp_and_http() {
    let (port, _fillers) = blackhole();
    let tcp = probe_alone(&format!("tcp = \"127.0.0.1:{port}\"\ntimeout = \"1s\""));
    tcp.is("timeout", "no answer within 1s");
    tcp.bounded(Duration::from_secs(3));
    let http = probe_alone(&format!("{}\ntimeout = \"1s\"", url(port, "/")));
    http.is("timeout", "no answer within 1s");
    http.bounded(Duration::from_secs(3));
}
