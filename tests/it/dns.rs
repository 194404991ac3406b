//! `dns` checks through real runs: Debian's dnsmasq answering A, AAAA,
//! CNAME, MX and TXT records and NXDOMAIN, and a scripted server for
//! SERVFAIL, truncation (the TCP fallback), thousands of records, an answer
//! lying about its length, and silence.

use std::time::{Duration, Instant};

use crate::support::{Dnsmasq, Scripted, World, assert_within, scripted, services};

/// One run of `entries`; each service's (status, reason).
fn judged(entries: &[(&str, String)]) -> Vec<(String, Option<String>)> {
    let body: Vec<(&str, &str)> = entries.iter().map(|(n, b)| (*n, b.as_str())).collect();
    let world = World::new(&services(&body));
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    entries.iter().map(|(name, _)| world.latest(name)).collect()
}

fn at(port: u16, lines: &str) -> String {
    format!("{lines}\nserver = \"127.0.0.1:{port}\"\ntimeout = \"2s\"")
}

fn is(status: &str, reason: Option<&str>) -> (String, Option<String>) {
    (status.to_string(), reason.map(str::to_string))
}

#[test]
fn records_from_a_real_dns_server_are_held_to_what_is_expected() {
    let dns = Dnsmasq::start(&[
        "--host-record=www.test,10.0.0.1",
        "--host-record=www.test,10.0.0.2",
        "--host-record=v6.test,2001:db8::1",
        "--mx-host=test,mail.test,10",
        "--txt-record=test,v=spf1 -all",
        "--cname=alias.test,www.test",
    ]);
    let p = dns.port;
    let got = judged(&[
        (
            "a",
            at(
                p,
                "dns = \"www.test\"\nexpect = [\"10.0.0.2\", \"10.0.0.1\"]",
            ),
        ),
        ("a-any", at(p, "dns = \"WWW.test.\"")),
        (
            "a-lacks",
            at(p, "dns = \"www.test\"\nexpect = [\"10.0.0.9\"]"),
        ),
        (
            "aaaa",
            at(
                p,
                "dns = \"v6.test\"\nrecord = \"AAAA\"\nexpect = [\"2001:db8:0::1\"]",
            ),
        ),
        (
            "cname",
            at(
                p,
                "dns = \"alias.test\"\nrecord = \"CNAME\"\nexpect = [\"www.test\"]",
            ),
        ),
        (
            "mx",
            at(
                p,
                "dns = \"test\"\nrecord = \"MX\"\nexpect = [\"Mail.test.\"]",
            ),
        ),
        (
            "mx-pref",
            at(
                p,
                "dns = \"test\"\nrecord = \"MX\"\nexpect = [\"20 mail.test\"]",
            ),
        ),
        (
            "txt",
            at(
                p,
                "dns = \"test\"\nrecord = \"TXT\"\nexpect = [\"v=spf1 -all\"]",
            ),
        ),
        ("no-mx", at(p, "dns = \"www.test\"\nrecord = \"MX\"")),
        ("nxdomain", at(p, "dns = \"nope.test\"")),
        ("refused", at(p, "dns = \"example.com\"")),
    ]);
    assert_eq!(got[0], is("online", None));
    assert_eq!(got[1], is("online", None));
    assert_eq!(
        got[2],
        is(
            "degraded",
            Some("answer lacks 10.0.0.9 (got 10.0.0.1, 10.0.0.2)")
        )
    );
    for (i, g) in got.iter().enumerate().take(8).skip(3) {
        if i != 6 {
            assert_eq!(*g, is("online", None), "{got:?}");
        }
    }
    assert_eq!(
        got[6],
        is(
            "degraded",
            Some("answer lacks 20 mail.test (got 10 mail.test)")
        )
    );
    assert_eq!(got[8], is("degraded", Some("no MX record for www.test")));
    assert_eq!(
        got[9],
        is("offline", Some("NXDOMAIN: nope.test does not exist"))
    );
    assert_eq!(
        got[10],
        is(
            "offline",
            Some("REFUSED: the server will not answer for example.com")
        )
    );
}

#[test]
fn hostile_and_broken_dns_servers_end_in_bounded_time_with_a_status() {
    let servfail = scripted(Scripted::ServFail);
    let many = scripted(Scripted::Many { count: 2500 });
    let lying = scripted(Scripted::Lying);
    let silent = scripted(Scripted::Silent);
    let closed = crate::support::closed_port();
    let lossy = scripted(Scripted::DropFirst);
    let started = Instant::now();
    let got = judged(&[
        ("servfail", at(servfail, "dns = \"x.test\"")),
        (
            "many",
            at(many, "dns = \"x.test\"\nexpect = [\"10.0.9.195\"]"),
        ),
        (
            "many-lacks",
            at(many, "dns = \"x.test\"\nexpect = [\"10.9.9.9\"]"),
        ),
        ("lying", at(lying, "dns = \"x.test\"")),
        ("silent", at(silent, "dns = \"x.test\"")),
        ("closed", at(closed, "dns = \"x.test\"")),
        (
            "lossy",
            at(lossy, "dns = \"x.test\"\nexpect = [\"10.0.0.0\"]"),
        ),
    ]);
    assert_within(started, Duration::from_secs(6));
    assert_eq!(
        got[0],
        is(
            "offline",
            Some("SERVFAIL: the server could not answer for x.test")
        )
    );
    // 2,500 records do not fit a datagram: the answer came over TCP.
    assert_eq!(got[1], is("online", None));
    assert_eq!(
        got[2],
        is(
            "degraded",
            Some(
                "answer lacks 10.9.9.9 (got 10.0.0.0, 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4 and 2495 more)"
            )
        )
    );
    assert_eq!(got[3].0, "offline", "{got:?}");
    let reason = got[3].1.clone().unwrap_or_default();
    assert!(
        reason.starts_with(&format!(
            "DNS server 127.0.0.1:{lying}: over TCP (the UDP answer was truncated): a malformed answer"
        )),
        "{reason}"
    );
    assert_eq!(got[4], is("timeout", Some("no answer within 2s")));
    // The query is sent again after a second: one lost datagram is no outage.
    assert_eq!(got[6], is("online", None));
    // Nothing listens: the ICMP "port unreachable" ends the wait at once.
    assert_eq!(
        got[5],
        is(
            "offline",
            Some(&format!(
                "DNS server 127.0.0.1:{closed}: connection refused"
            ))
        )
    );
}
