//! A test certificate authority: TLS servers with certificates signed by it
//! (valid, expiring, expired, for another host) or self-signed, and PEM files
//! it issues for other servers (the SMTP server's STARTTLS).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// A test certificate authority and the TLS servers it signs for.
pub struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pub pem: String,
}

/// How a TLS server's certificate should look.
pub enum Cert {
    /// Signed by the test CA, valid for 127.0.0.1, expiring `days` from now
    /// (negative: already expired).
    Signed { days: i64 },
    /// Self-signed, valid for a year.
    SelfSigned,
    /// Signed by the test CA, valid for a year, but for another host name.
    OtherHost,
    /// Valid for a year, signed by an intermediate the CA signed; the server
    /// sends its own certificate only, not the intermediate.
    WithoutIntermediate,
}

impl Ca {
    pub fn new() -> Ca {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "upcheck test CA");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// Starts a TLS server answering every request with `200 ok`; returns its port
    /// and the certificate's notAfter as `YYYY-MM-DD`.
    pub fn serve(&self, cert: Cert) -> (u16, String) {
        self.serve_on("127.0.0.1", cert)
    }

    /// `serve` on another loopback address (`::1`), named in the certificate.
    pub fn serve_on(&self, ip: &str, cert: Cert) -> (u16, String) {
        let (config, date) = self.server_config(ip, cert);
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let config = config.clone();
                thread::spawn(move || serve_tls(config, stream));
            }
        });
        (port, date)
    }

    /// A TLS server's setup for `ip` with `cert`, and the certificate's
    /// notAfter as `YYYY-MM-DD`: for servers that speak before TLS (STARTTLS).
    pub fn server_config(&self, ip: &str, cert: Cert) -> (Arc<rustls::ServerConfig>, String) {
        let now = time::OffsetDateTime::now_utc();
        let name = match cert {
            Cert::OtherHost => "status.example.org",
            _ => ip,
        };
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        // An hour past the whole day, so "in 5 days" is 5 whatever the clock says.
        let not_after = match cert {
            Cert::Signed { days } => {
                now + time::Duration::days(days)
                    + time::Duration::hours(if days < 0 { -1 } else { 1 })
            }
            _ => now + time::Duration::days(365),
        };
        params.not_before = now - time::Duration::days(60);
        params.not_after = not_after;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert_der = match cert {
            Cert::Signed { .. } | Cert::OtherHost => params.signed_by(&key, &self.issuer).unwrap(),
            Cert::SelfSigned => params.self_signed(&key).unwrap(),
            Cert::WithoutIntermediate => params.signed_by(&key, &self.intermediate()).unwrap(),
        }
        .der()
        .clone();
        let key_der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert_der], key_der)
            .unwrap();
        let date = format!(
            "{:04}-{:02}-{:02}",
            not_after.year(),
            u8::from(not_after.month()),
            not_after.day()
        );
        (Arc::new(config), date)
    }

    /// An intermediate authority this CA signs for.
    fn intermediate(&self) -> rcgen::Issuer<'static, rcgen::KeyPair> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "upcheck test intermediate");
        let key = rcgen::KeyPair::generate().unwrap();
        params.signed_by(&key, &self.issuer).unwrap();
        rcgen::Issuer::new(params, key)
    }
}

fn serve_tls(config: Arc<rustls::ServerConfig>, mut sock: TcpStream) {
    let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.conn.complete_io(tls.sock);
}

impl Ca {
    /// A certificate for 127.0.0.1 signed by this CA, written as PEM files
    /// `(cert, key)` into `dir`.
    pub fn issue_files(&self, dir: &std::path::Path) -> (PathBuf, PathBuf) {
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let (cert_path, key_path) = (dir.join("smtp-cert.pem"), dir.join("smtp-key.pem"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    }
}
