//! Certificate expiry for https targets: a separate TLS handshake that accepts
//! any certificate, so the notAfter date is known even when verification
//! fails (expired, self-signed, wrong host). Trust is judged by the HTTP
//! request itself; this handshake only reads the date.

use std::net::TcpStream;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::check::Status;
use crate::tls_trust::AnyCertificate;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};
use x509_cert::der::Decode;

use super::remaining;
use super::tcp::{io_reason, resolve};

/// The notAfter of the certificate `host:port` presents. `host` as a URL
/// spells it (`[::1]` for IPv6). Every address the name resolves to is tried
/// in turn, as the HTTP request itself does: `localhost` may list ::1 first
/// while the server listens on 127.0.0.1 only. With a `proxy`, through a
/// CONNECT tunnel, as the request went.
pub fn peer_cert_expiry(
    host: &str,
    port: u16,
    deadline: Instant,
    proxy: Option<&str>,
) -> Result<DateTime<Utc>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let target = if bare.contains(':') {
        format!("[{bare}]:{port}")
    } else {
        format!("{bare}:{port}")
    };
    let name = ServerName::try_from(bare.to_string())
        .map_err(|e| format!("invalid server name {bare:?}: {e}"))?;
    if let Some(proxy) = proxy {
        let sock = super::tunnel::through(proxy, &target, deadline)?;
        return expiry_over(sock, name, deadline);
    }
    let mut last = String::from("no address");
    for addr in resolve(&target)? {
        if Instant::now() >= deadline {
            break;
        }
        let sock = TcpStream::connect_timeout(&addr, remaining(deadline));
        match sock
            .map_err(|e| io_reason(&e))
            .and_then(|s| expiry_over(s, name.clone(), deadline))
        {
            Ok(not_after) => return Ok(not_after),
            Err(why) => last = why,
        }
    }
    Err(last)
}

/// The handshake over a connected stream, up to the server's certificate.
fn expiry_over(
    mut sock: TcpStream,
    name: ServerName<'static>,
    deadline: Instant,
) -> Result<DateTime<Utc>, String> {
    let mut conn = ClientConnection::new(config(), name).map_err(|e| e.to_string())?;
    let mut io = Deadlined::new(&mut sock, deadline);
    while conn.is_handshaking() && conn.peer_certificates().is_none() {
        conn.complete_io(&mut io)
            .map_err(|e| format!("TLS handshake failed: {}", io_reason(&e)))?;
    }
    let der = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or("the server sent no certificate")?;
    not_after(der)
}

pub fn not_after(der: &[u8]) -> Result<DateTime<Utc>, String> {
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| format!("unreadable certificate: {e}"))?;
    let secs = cert
        .tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration()
        .as_secs();
    DateTime::from_timestamp(secs as i64, 0).ok_or_else(|| "certificate date out of range".into())
}

/// A socket whose every read and write ends by `deadline`. rustls's
/// `complete_io` loops until the handshake is done, so a timeout set once
/// before it would let a server that sends a byte a second hold a probe for
/// hours; this sets what is left before each call, and past the deadline
/// fails at once.
pub struct Deadlined<'a> {
    sock: &'a mut TcpStream,
    deadline: Instant,
}

impl<'a> Deadlined<'a> {
    pub fn new(sock: &'a mut TcpStream, deadline: Instant) -> Deadlined<'a> {
        Deadlined { sock, deadline }
    }

    fn left(&self) -> std::io::Result<std::time::Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(std::io::ErrorKind::TimedOut.into())
        } else {
            Ok(left)
        }
    }
}

impl std::io::Read for Deadlined<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.sock.set_read_timeout(Some(self.left()?))?;
        self.sock.read(buf)
    }
}

impl std::io::Write for Deadlined<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sock.set_write_timeout(Some(self.left()?))?;
        self.sock.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.sock.flush()
    }
}

fn config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let verifier = Arc::new(AnyCertificate(provider.signature_verification_algorithms));
            let config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum TlsProblem {
    Expired,
    Other,
}

/// A rustls error as a status and a reason an operator can act on.
pub fn describe_tls(e: &rustls::Error) -> (Status, Option<String>, Option<TlsProblem>) {
    use rustls::CertificateError as C;
    let (reason, problem) = match e {
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            ("TLS: certificate expired".to_string(), TlsProblem::Expired)
        }
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => (
            "TLS: certificate not trusted (unknown issuer: self-signed, or the server does not send its intermediate certificates)".to_string(),
            TlsProblem::Other,
        ),
        rustls::Error::InvalidCertificate(C::NotValidForNameContext { presented, .. })
            if !presented.is_empty() =>
        {
            let names: Vec<&str> = presented.iter().map(|p| bare_name(p)).collect();
            let names = crate::check::one_line(&names.join(", "), 120);
            (
                format!("TLS: certificate is not valid for this host name (it names {names})"),
                TlsProblem::Other,
            )
        }
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => (
            "TLS: certificate is not valid for this host name".to_string(),
            TlsProblem::Other,
        ),
        // A plain-HTTP answer read as a TLS record.
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => (
            "TLS: the server answered without TLS (plain HTTP on an https URL?)".to_string(),
            TlsProblem::Other,
        ),
        other => (format!("TLS failure: {other}"), TlsProblem::Other),
    };
    (Status::Offline, Some(reason), Some(problem))
}

/// `status.example.org` from rustls's `DnsName("status.example.org")` (and
/// `IpAddress(…)` alike): the name as a person writes it.
fn bare_name(presented: &str) -> &str {
    presented
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .map_or(presented, |inner| inner.trim_matches('"'))
}

/// "certificate expires in 5 days (2026-11-26)" or "certificate expired 3 days ago (2026-11-18)".
pub fn expiry_reason(not_after: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let date = not_after.format("%Y-%m-%d");
    let left = not_after - now;
    if left.num_seconds() < 0 {
        match (-left).num_days() {
            0 => format!("certificate expired today ({date})"),
            1 => format!("certificate expired 1 day ago ({date})"),
            n => format!("certificate expired {n} days ago ({date})"),
        }
    } else {
        match left.num_days() {
            0 => format!("certificate expires within a day ({date})"),
            1 => format!("certificate expires in 1 day ({date})"),
            n => format!("certificate expires in {n} days ({date})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::parse_iso;

    #[test]
    fn expiry_reasons_give_days_and_date() {
        let now = parse_iso("2026-11-21T10:00:00Z").unwrap();
        let at = |s| parse_iso(s).unwrap();
        assert_eq!(
            expiry_reason(at("2026-11-26T12:00:00Z"), now),
            "certificate expires in 5 days (2026-11-26)"
        );
        assert_eq!(
            expiry_reason(at("2026-11-18T09:00:00Z"), now),
            "certificate expired 3 days ago (2026-11-18)"
        );
        assert_eq!(
            expiry_reason(at("2026-11-21T20:00:00Z"), now),
            "certificate expires within a day (2026-11-21)"
        );
    }
}
