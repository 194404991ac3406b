//! `tls` checks through real runs: TLS servers with certificates from a test
//! CA (valid, expiring, expired, another host's, an incomplete chain), a real
//! SMTP server offering STARTTLS, IMAP and POP3 dialogues, and servers that
//! stall or refuse.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{
    Ca, Cert, SmtpServer, World, assert_within, closed_port, raw_server, services,
};

/// A service's status, reason and the day its certificate expires.
type Judged = (String, Option<String>, Option<String>);

/// One run of `entries` in a world holding the test CA as `ca.pem`; each
/// service's (status, reason, cert_expires_at day).
fn judged(ca: &Ca, entries: &[(&str, String)]) -> (World, Vec<Judged>) {
    let body: Vec<(&str, &str)> = entries.iter().map(|(n, b)| (*n, b.as_str())).collect();
    let world = World::new(&services(&body));
    world.write("ca.pem", &ca.pem);
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    let db = world.db();
    let got = entries
        .iter()
        .map(|(name, _)| {
            db.query_row(
                "SELECT status, error, substr(cert_expires_at, 1, 10) FROM checks WHERE service = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
        })
        .collect();
    (world, got)
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn tls(port: u16, extra: &str) -> String {
    let timeout = if extra.contains("timeout") {
        ""
    } else {
        "timeout = \"3s\"\n"
    };
    format!("tls = \"127.0.0.1:{port}\"\nca_file = \"ca.pem\"\n{timeout}{extra}")
}

#[test]
fn a_tls_check_verifies_the_chain_the_host_and_the_expiry() {
    let ca = Ca::new();
    let (valid, valid_day) = ca.serve(Cert::Signed { days: 200 });
    let (expiring, expiring_day) = ca.serve(Cert::Signed { days: 5 });
    let (expired, expired_day) = ca.serve(Cert::Signed { days: -3 });
    let (other, _) = ca.serve(Cert::OtherHost);
    let (chain, _) = ca.serve(Cert::WithoutIntermediate);
    let closed = closed_port();
    let (world, got) = judged(
        &ca,
        &[
            ("valid", tls(valid, "")),
            ("expiring", tls(expiring, "")),
            ("expired", tls(expired, "")),
            ("other-host", tls(other, "")),
            ("incomplete-chain", tls(chain, "")),
            ("built-in-roots", format!("tls = \"127.0.0.1:{valid}\"")),
            ("closed", tls(closed, "")),
        ],
    );
    let s = |v: &str| Some(v.to_string());
    assert_eq!(got[0], ("online".into(), None, s(&valid_day)));
    assert_eq!(
        got[1],
        (
            "degraded".into(),
            s(&format!(
                "certificate expires in 5 days ({expiring_day}) (cert_warn 14d)"
            )),
            s(&expiring_day)
        )
    );
    assert_eq!(
        got[2],
        (
            "offline".into(),
            s(&format!(
                "TLS: certificate expired 3 days ago ({expired_day})"
            )),
            s(&expired_day)
        )
    );
    assert_eq!(
        (got[3].0.as_str(), got[3].1.as_deref()),
        (
            "offline",
            Some("TLS: certificate is not valid for this host name (it names status.example.org)")
        )
    );
    for i in [4, 5] {
        assert_eq!(got[i].0, "offline", "{:?}", got[i]);
        let reason = got[i].1.clone().unwrap_or_default();
        assert!(reason.contains("unknown issuer"), "{reason}");
        assert!(
            got[i].2.is_some(),
            "the date is read even from an untrusted certificate"
        );
    }
    assert_eq!(got[6], ("offline".into(), s("connection refused"), None));
    // The date reaches `status --json` and Prometheus as for https.
    let status = world.run(&["status", "--json"]);
    assert!(status.stdout.contains(&valid_day), "{}", status.stdout);
    world.write(
        "upcheck.toml",
        &format!(
            "prometheus_textfile = \"metrics.prom\"\n\n{}",
            services(&[("valid", &tls(valid, ""))])
        ),
    );
    let run = world.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    let metrics = std::fs::read_to_string(world.path("metrics.prom")).unwrap();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("upcheck_cert_expiry_timestamp_seconds{service=\"valid\"}"))
        .unwrap_or_else(|| panic!("{metrics}"));
    let at: i64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    let days = (at - chrono_now()) / 86_400;
    assert_eq!(days, 200, "{line}");
}

#[test]
fn starttls_on_a_real_smtp_server_reads_its_certificate() {
    let ca = Ca::new();
    let world = World::new("");
    let (cert, key) = ca.issue_files(world.dir.path());
    let offering = SmtpServer::start(crate::support::SmtpOptions {
        starttls: Some((cert, key)),
        auth: None,
    });
    let plain = SmtpServer::plain();
    let (_, got) = judged(
        &ca,
        &[
            ("mail", tls(offering.port, "starttls = \"smtp\"")),
            ("mail-plain", tls(plain.port, "starttls = \"smtp\"")),
            // TLS straight away on a port that speaks SMTP first.
            ("mail-no-starttls", tls(offering.port, "")),
        ],
    );
    assert_eq!(
        (got[0].0.as_str(), got[0].1.as_deref()),
        ("online", None),
        "{got:?}"
    );
    assert!(got[0].2.is_some(), "{got:?}");
    assert_eq!(
        (got[1].0.as_str(), got[1].1.as_deref()),
        ("offline", Some("SMTP: the server does not offer STARTTLS"))
    );
    assert_eq!(
        (got[2].0.as_str(), got[2].1.as_deref()),
        (
            "offline",
            Some("TLS: the server answered in plain text (does this port need `starttls`?)")
        )
    );
}

/// A server that greets, grants the upgrade with `dialogue`, then speaks TLS
/// with a certificate of `ca`.
fn speaking(ca: &Ca, dialogue: &'static [(&'static str, &'static str)]) -> u16 {
    let (config, _) = ca.server_config("127.0.0.1", Cert::Signed { days: 90 });
    raw_server(move |mut s| {
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        for (expect, say) in dialogue {
            if !expect.is_empty() {
                let line = read_line(&mut s);
                if !line.starts_with(expect) {
                    let _ = s.write_all(b"-ERR unexpected\r\n");
                    return;
                }
            }
            let _ = s.write_all(say.as_bytes());
        }
        tls_accept(config.clone(), s);
    })
}

fn read_line(s: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\n") {
        match s.read(&mut byte) {
            Ok(1) => line.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&line).into_owned()
}

fn tls_accept(config: Arc<rustls::ServerConfig>, mut s: TcpStream) {
    let Ok(mut conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    while conn.is_handshaking() {
        if conn.complete_io(&mut s).is_err() {
            return;
        }
    }
    let _ = conn.complete_io(&mut s);
}

#[test]
fn starttls_speaks_imap_and_pop3_and_says_what_a_refusing_server_said() {
    let ca = Ca::new();
    let imap = speaking(
        &ca,
        &[
            ("", "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"),
            ("u1 STARTTLS", "u1 OK Begin TLS negotiation now\r\n"),
        ],
    );
    let pop3 = speaking(
        &ca,
        &[("", "+OK POP3 ready\r\n"), ("STLS", "+OK Begin TLS\r\n")],
    );
    let refusing = speaking(
        &ca,
        &[
            ("", "* OK ready\r\n"),
            ("u1 STARTTLS", "u1 NO STARTTLS is disabled\r\n"),
        ],
    );
    let (_, got) = judged(
        &ca,
        &[
            ("imap", tls(imap, "starttls = \"imap\"")),
            ("pop3", tls(pop3, "starttls = \"pop3\"")),
            ("imap-refusing", tls(refusing, "starttls = \"imap\"")),
        ],
    );
    assert_eq!(
        (got[0].0.as_str(), got[0].1.as_deref()),
        ("online", None),
        "{got:?}"
    );
    assert_eq!(
        (got[1].0.as_str(), got[1].1.as_deref()),
        ("online", None),
        "{got:?}"
    );
    assert_eq!(
        (got[2].0.as_str(), got[2].1.as_deref()),
        (
            "offline",
            Some("IMAP: the server answered STARTTLS with \"u1 NO STARTTLS is disabled\"")
        )
    );
}

#[test]
fn a_server_that_stalls_after_starttls_or_trickles_its_greeting_costs_its_timeout() {
    let ca = Ca::new();
    let stalling = raw_server(|mut s| {
        let _ = s.write_all(b"220 mx.test ESMTP\r\n");
        read_line(&mut s);
        let _ = s.write_all(b"250-mx.test\r\n250 STARTTLS\r\n");
        read_line(&mut s);
        let _ = s.write_all(b"220 go ahead\r\n");
        thread::sleep(Duration::from_secs(30));
    });
    let trickling = raw_server(|mut s| {
        for _ in 0..300 {
            if s.write_all(b"2").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
    });
    // A TLS record header promising 16 KiB, then its bytes one every 300 ms:
    // no single read waits a whole second.
    let dripping = raw_server(|mut s| {
        let mut hello = [0u8; 512];
        let _ = s.read(&mut hello);
        let _ = s.write_all(b"\x16\x03\x03\x40\x00");
        for _ in 0..200 {
            if s.write_all(b"\x02").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(300));
        }
    });
    let started = Instant::now();
    let (_, got) = judged(
        &ca,
        &[
            (
                "stalling",
                tls(stalling, "starttls = \"smtp\"\ntimeout = \"1s\""),
            ),
            (
                "trickling",
                tls(trickling, "starttls = \"smtp\"\ntimeout = \"1s\""),
            ),
            ("dripping", tls(dripping, "timeout = \"1s\"")),
        ],
    );
    assert_within(started, Duration::from_secs(5));
    assert_eq!(
        (got[0].0.as_str(), got[0].1.as_deref()),
        (
            "timeout",
            Some("the server stopped answering during the TLS handshake after STARTTLS")
        )
    );
    assert_eq!(
        (got[1].0.as_str(), got[1].1.as_deref()),
        (
            "timeout",
            Some("SMTP: the server stopped answering before STARTTLS")
        )
    );
    assert_eq!(
        (got[2].0.as_str(), got[2].1.as_deref()),
        (
            "timeout",
            Some("the server stopped answering during the TLS handshake")
        )
    );
}
