//! `dns` checks: one query to the configured server over UDP, again over TCP
//! when the answer comes back truncated; the wire format is hickory-proto's.
//! NXDOMAIN, SERVFAIL and REFUSED are offline; an answer lacking an
//! expected value is degraded, saying what it held.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Instant;

use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::check::{Finding, Status};
use crate::config::{DnsRecord, DnsTarget};

use super::remaining;
use super::tcp::{io_reason, is_timeout};

/// How long an unanswered UDP query waits before it is sent again.
const RESEND: std::time::Duration = std::time::Duration::from_secs(1);

/// How many answers a reason lists before "and N more".
const SHOWN: usize = 5;

pub fn probe(t: &DnsTarget, deadline: Instant) -> Finding {
    let name = match Name::from_ascii(format!("{}.", t.name)) {
        Ok(n) => n,
        Err(e) => return offline(format!("invalid name {:?}: {e}", t.name)),
    };
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(name, record_type(t.record)));
    let Ok(bytes) = query.to_vec() else {
        return offline(format!("cannot write a query for {:?}", t.name));
    };
    let id = query.metadata.id;
    let answer = match over_udp(&bytes, id, t.server, deadline) {
        Ok(m) if m.metadata.truncation => {
            over_tcp(&bytes, id, t.server, deadline).map_err(|failed| match failed {
                Failed::Said(why) => {
                    Failed::Said(format!("over TCP (the UDP answer was truncated): {why}"))
                }
                silent => silent,
            })
        }
        other => other,
    };
    match answer {
        Ok(message) => judge(t, &message),
        Err(Failed::Silent) => Finding::new(Status::Timeout),
        Err(Failed::Said(why)) => offline(format!("DNS server {}: {why}", t.server)),
    }
}

enum Failed {
    Silent,
    Said(String),
}

impl From<std::io::Error> for Failed {
    fn from(e: std::io::Error) -> Failed {
        if is_timeout(&e) {
            Failed::Silent
        } else {
            Failed::Said(io_reason(&e))
        }
    }
}

/// The first datagram that answers this query (others, stray or forged,
/// are passed over until the deadline).
fn over_udp(
    query: &[u8],
    id: u16,
    server: SocketAddr,
    deadline: Instant,
) -> Result<Message, Failed> {
    let local: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("an address")
    } else {
        "[::]:0".parse().expect("an address")
    };
    let sock = UdpSocket::bind(local)?;
    sock.connect(server)?;
    sock.send(query)?;
    let mut resend_at = Instant::now() + RESEND;
    let mut buf = vec![0u8; 65_535];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(Failed::Silent);
        }
        // A datagram may be lost: the query goes again every second, as a
        // resolver does, until the deadline.
        if now >= resend_at {
            sock.send(query)?;
            resend_at = now + RESEND;
        }
        let wait = remaining(deadline).min(resend_at.saturating_duration_since(now));
        sock.set_read_timeout(Some(wait.max(std::time::Duration::from_millis(1))))?;
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if is_timeout(&e) => continue,
            Err(e) => return Err(e.into()),
        };
        let datagram = &buf[..n];
        match Message::from_vec(datagram) {
            Ok(m) if m.metadata.id == id && m.metadata.message_type == MessageType::Response => {
                return Ok(m);
            }
            // A reply with our id that does not parse is the server's.
            Err(e) if datagram.get(..2) == Some(&id.to_be_bytes()[..]) => {
                return Err(Failed::Said(format!("a malformed answer ({e})")));
            }
            _ => {}
        }
    }
}

/// The query again over TCP, for an answer too large for a datagram: a
/// two-byte length, then that many bytes (at most 64 KiB, by the format).
fn over_tcp(
    query: &[u8],
    id: u16,
    server: SocketAddr,
    deadline: Instant,
) -> Result<Message, Failed> {
    let mut sock = TcpStream::connect_timeout(&server, remaining(deadline))?;
    sock.set_write_timeout(Some(remaining(deadline)))?;
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    sock.write_all(&framed)?;
    let mut len = [0u8; 2];
    read_exact(&mut sock, &mut len, deadline)?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    read_exact(&mut sock, &mut buf, deadline)?;
    match Message::from_vec(&buf) {
        Ok(m) if m.metadata.id == id => Ok(m),
        Ok(_) => Err(Failed::Said("an answer to another query".into())),
        Err(e) => Err(Failed::Said(format!("a malformed answer ({e})"))),
    }
}

/// `read_exact`, each read bounded by what is left of the deadline, so a
/// server that trickles a byte at a time still ends by it.
fn read_exact(sock: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> Result<(), Failed> {
    let mut filled = 0;
    while filled < buf.len() {
        if Instant::now() >= deadline {
            return Err(Failed::Silent);
        }
        sock.set_read_timeout(Some(remaining(deadline)))?;
        match sock.read(&mut buf[filled..])? {
            0 => return Err(Failed::Said("the connection closed mid-answer".into())),
            n => filled += n,
        }
    }
    Ok(())
}

/// The answer held to the check: its code, then each expected value.
fn judge(t: &DnsTarget, message: &Message) -> Finding {
    let code = message.metadata.response_code;
    if code != ResponseCode::NoError {
        let why = match code {
            ResponseCode::NXDomain => format!("NXDOMAIN: {} does not exist", t.name),
            ResponseCode::ServFail => {
                format!("SERVFAIL: the server could not answer for {}", t.name)
            }
            ResponseCode::Refused => format!("REFUSED: the server will not answer for {}", t.name),
            other => format!(
                "{}: no answer for {}",
                other.to_str().to_uppercase(),
                t.name
            ),
        };
        return offline(why);
    }
    let wanted = record_type(t.record);
    let mut got: Vec<String> = message
        .answers
        .iter()
        .filter(|r| r.record_type() == wanted)
        .filter_map(|r| value(&r.data))
        .collect();
    // Servers rotate their answers; the reason should not change with them.
    got.sort_by_key(|v| sort_key(v));
    if got.is_empty() {
        return Finding::new(Status::Degraded).with_reason(format!(
            "no {} record for {}",
            t.record.as_str(),
            t.name
        ));
    }
    let missing: Vec<&str> = t
        .expect
        .iter()
        .filter(|e| !got.iter().any(|g| holds(t.record, g, e)))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return Finding::new(Status::Online);
    }
    Finding::new(Status::Degraded).with_reason(format!(
        "answer lacks {} (got {})",
        missing.join(", "),
        listed(&got)
    ))
}

/// Whether the answer value `got` is the expected `want`: an MX expected
/// without its preference matches any preference.
fn holds(record: DnsRecord, got: &str, want: &str) -> bool {
    match record {
        DnsRecord::Mx if !want.contains(' ') => got.split_once(' ').is_some_and(|(_, n)| n == want),
        _ => got == want,
    }
}

/// "10.0.0.1, 10.0.0.2, … and 3,998 more".
fn listed(got: &[String]) -> String {
    let shown: Vec<String> = got
        .iter()
        .take(SHOWN)
        .map(|g| crate::check::one_line(g, 80))
        .collect();
    match got.len().saturating_sub(SHOWN) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// Addresses in numeric order, MX by preference, the rest as text.
fn sort_key(value: &str) -> (Option<std::net::IpAddr>, Option<u16>, String) {
    let preference = value
        .split_once(' ')
        .and_then(|(p, _)| p.parse::<u16>().ok());
    (value.parse().ok(), preference, value.to_string())
}

/// One record's value as `expect` spells it.
fn value(data: &RData) -> Option<String> {
    let name = |n: &Name| n.to_ascii().trim_end_matches('.').to_ascii_lowercase();
    Some(match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::CNAME(c) => name(&c.0),
        RData::NS(n) => name(&n.0),
        RData::MX(mx) => format!("{} {}", mx.preference, name(&mx.exchange)),
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|part| String::from_utf8_lossy(part))
            .collect(),
        _ => return None,
    })
}

fn record_type(record: DnsRecord) -> RecordType {
    match record {
        DnsRecord::A => RecordType::A,
        DnsRecord::Aaaa => RecordType::AAAA,
        DnsRecord::Cname => RecordType::CNAME,
        DnsRecord::Mx => RecordType::MX,
        DnsRecord::Txt => RecordType::TXT,
        DnsRecord::Ns => RecordType::NS,
    }
}

fn offline(reason: String) -> Finding {
    Finding::new(Status::Offline).with_reason(reason)
}
