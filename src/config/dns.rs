//! The parts of a `dns` check: the record type, the expected answers checked
//! and normalized for that type, and the server (given, or the system's
//! first nameserver in /etc/resolv.conf).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::file::{DnsName, Located, RawService, RecordKind, at, host_name};
use super::{DnsRecord, DnsTarget};

const RESOLV_CONF: &str = "/etc/resolv.conf";

pub(super) fn target(
    s: &RawService,
    name: &DnsName,
    key: &dyn Fn(&str) -> String,
) -> Result<DnsTarget, Located> {
    let record = match s.record.unwrap_or(RecordKind::A) {
        RecordKind::A => DnsRecord::A,
        RecordKind::Aaaa => DnsRecord::Aaaa,
        RecordKind::Cname => DnsRecord::Cname,
        RecordKind::Mx => DnsRecord::Mx,
        RecordKind::Txt => DnsRecord::Txt,
        RecordKind::Ns => DnsRecord::Ns,
    };
    let expect = match &s.expect {
        None => Vec::new(),
        Some(list) => list
            .get_ref()
            .iter()
            .map(|e| expected(record, e))
            .collect::<Result<_, _>>()
            .map_err(|why| at(list.span(), key("expect"), why))?,
    };
    let server = match &s.server {
        Some(text) => server(text.get_ref()).map_err(|why| at(text.span(), key("server"), why))?,
        None => system_server().map_err(|why| at(s.name.span(), key("server"), why))?,
    };
    Ok(DnsTarget {
        name: name.0.clone(),
        record,
        expect,
        server,
    })
}

/// One `expect` entry in the form the probe compares: addresses as Rust
/// prints them (`::1`, not `0:0:0:0:0:0:0:1`), names lower-case ASCII
/// without the final dot, an MX as `name` or `preference name`.
pub(super) fn expected(record: DnsRecord, text: &str) -> Result<String, String> {
    let t = text.trim();
    let wrong = |what: &str| {
        format!(
            "{text:?} is not {what}, as `record = \"{}\"` answers",
            record.as_str()
        )
    };
    match record {
        DnsRecord::A => t
            .parse::<Ipv4Addr>()
            .map(|a| a.to_string())
            .map_err(|_| wrong("an IPv4 address")),
        DnsRecord::Aaaa => t
            .parse::<Ipv6Addr>()
            .map(|a| a.to_string())
            .map_err(|_| wrong("an IPv6 address")),
        DnsRecord::Cname | DnsRecord::Ns => host_name(t).ok_or_else(|| wrong("a host name")),
        DnsRecord::Mx => {
            let (preference, name) = match t.split_once(char::is_whitespace) {
                Some((p, n)) => (Some(p), n.trim()),
                None => (None, t),
            };
            let name = host_name(name).ok_or_else(|| {
                wrong("a mail host (\"mail.example.com\" or \"10 mail.example.com\")")
            })?;
            match preference.map(str::parse::<u16>) {
                None => Ok(name),
                Some(Ok(p)) => Ok(format!("{p} {name}")),
                Some(Err(_)) => Err(wrong(
                    "a mail host (\"mail.example.com\" or \"10 mail.example.com\")",
                )),
            }
        }
        DnsRecord::Txt => Ok(text.to_string()),
    }
}

/// `IP`, `IP:port`, `[IPv6]:port` or a bare IPv6; port 53 unless given. A
/// name is refused: finding it would need the DNS this check is testing.
fn server(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| {
            format!(
                "invalid server {text:?}: expected an IP address, with its port if not 53, e.g. \"127.0.0.1:53\" or \"[::1]:5353\" (a name would need the DNS this checks)"
            )
        })
}

/// The first `nameserver` of /etc/resolv.conf, as the system's resolver
/// would ask first. Link-local addresses with a zone (`fe80::1%eth0`) are
/// passed over.
fn system_server() -> Result<SocketAddr, String> {
    let text = std::fs::read_to_string(RESOLV_CONF).unwrap_or_default();
    first_nameserver(&text).ok_or_else(|| {
        format!(
            "no `server`, and {RESOLV_CONF} names no usable nameserver: set `server = \"IP:53\"`"
        )
    })
}

fn first_nameserver(resolv_conf: &str) -> Option<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next())
                .flatten()
        })
        .find_map(|ip| ip.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_usable_nameserver_is_the_default() {
        let conf = "# generated\nsearch example.com\nnameserver fe80::1%eth0\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n";
        assert_eq!(first_nameserver(conf), Some("10.0.0.2:53".parse().unwrap()));
        assert_eq!(first_nameserver("search x\n"), None);
    }

    #[test]
    fn expected_answers_are_normalized_for_their_record() {
        assert_eq!(expected(DnsRecord::Aaaa, "0:0:0:0:0:0:0:1").unwrap(), "::1");
        assert_eq!(
            expected(DnsRecord::Mx, "10  Mail.Example.COM.").unwrap(),
            "10 mail.example.com"
        );
        assert_eq!(
            expected(DnsRecord::Cname, "Bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert!(
            expected(DnsRecord::A, "::1")
                .unwrap_err()
                .contains("not an IPv4 address")
        );
        assert!(expected(DnsRecord::Mx, "ten mail.example.com").is_err());
        assert_eq!(server("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert!(server("ns1.example.com:53").is_err());
    }
}
