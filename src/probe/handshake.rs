//! `tls` checks: a TLS handshake with any port (after an SMTP, IMAP or POP3
//! STARTTLS dialogue if asked), the certificate verified against the
//! built-in roots or `ca_file` and the host name, and its expiry held to
//! `cert_warn`. The certificate is read even when it fails verification, so
//! an expired one says when it expired.

use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use chrono::Utc;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::check::{Finding, Status};
use crate::config::TlsTarget;
use crate::timefmt::format_duration;

use super::remaining;
use super::starttls::{self, Refused};
use super::tcp::{io_reason, is_timeout, resolve};
use super::tls::{Deadlined, TlsProblem, describe_tls, expiry_reason, not_after};

pub fn probe(t: &TlsTarget, deadline: Instant) -> Finding {
    let host = t.addr.rsplit_once(':').map_or(t.addr.as_str(), |(h, _)| h);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let name = match ServerName::try_from(bare.to_string()) {
        Ok(n) => n,
        Err(e) => return offline(format!("invalid server name {bare:?}: {e}")),
    };
    let verifier = match verifier(t) {
        Ok(v) => Arc::new(Recording::new(v)),
        Err(why) => return offline(why),
    };
    let addrs = match resolve(&t.addr) {
        Ok(a) => a,
        Err(why) => return offline(why),
    };
    let mut last = Finding::new(Status::Timeout);
    for addr in addrs {
        if Instant::now() >= deadline {
            break;
        }
        match connect(addr, deadline) {
            // Connected: this server's answer is the verdict.
            Ok(sock) => return verdict(t, sock, name, &verifier, deadline),
            Err(finding) => last = finding,
        }
    }
    last
}

fn connect(addr: SocketAddr, deadline: Instant) -> Result<TcpStream, Finding> {
    TcpStream::connect_timeout(&addr, remaining(deadline)).map_err(|e| {
        if is_timeout(&e) {
            Finding::new(Status::Timeout)
        } else {
            offline(io_reason(&e))
        }
    })
}

/// STARTTLS if asked, the handshake, and what the certificate says.
fn verdict(
    t: &TlsTarget,
    mut sock: TcpStream,
    name: ServerName<'static>,
    verifier: &Arc<Recording>,
    deadline: Instant,
) -> Finding {
    if let Some(proto) = t.starttls {
        match starttls::upgrade(&mut sock, proto, deadline) {
            Ok(()) => {}
            Err(Refused::Silent(why)) => return Finding::new(Status::Timeout).with_reason(why),
            Err(Refused::Said(why)) => return offline(why),
        }
    }
    let handshake = handshake(&mut sock, name, verifier.clone(), deadline);
    let cert_expires_at = verifier.seen().and_then(|der| not_after(&der).ok());
    let after = if t.starttls.is_some() {
        " after STARTTLS"
    } else {
        ""
    };
    let mut finding = match handshake {
        Ok(()) => judge_expiry(t, cert_expires_at),
        Err(Failed::Stalled) => Finding::new(Status::Timeout).with_reason(format!(
            "the server stopped answering during the TLS handshake{after}"
        )),
        // Not TLS at all: most often a port that speaks first, in plain text.
        Err(Failed::Tls(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        ))) if t.starttls.is_none() => {
            offline("TLS: the server answered in plain text (does this port need `starttls`?)")
        }
        Err(Failed::Tls(e)) => {
            let (status, reason, problem) = describe_tls(&e);
            let reason = match (problem, cert_expires_at) {
                (Some(TlsProblem::Expired), Some(date)) => {
                    format!("TLS: {}", expiry_reason(date, Utc::now()))
                }
                _ => reason.unwrap_or_else(|| e.to_string()),
            };
            Finding::new(status).with_reason(reason)
        }
        Err(Failed::Io(why)) => offline(format!("TLS handshake{after} failed: {why}")),
    };
    finding.cert_expires_at = cert_expires_at;
    finding
}

fn judge_expiry(t: &TlsTarget, not_after: Option<chrono::DateTime<Utc>>) -> Finding {
    let Some(date) = not_after else {
        return Finding::new(Status::Online);
    };
    let now = Utc::now();
    let warn = chrono::Duration::from_std(t.cert_warn).unwrap_or(chrono::Duration::MAX);
    if date - now < warn {
        Finding::new(Status::Degraded).with_reason(format!(
            "{} (cert_warn {})",
            expiry_reason(date, now),
            format_duration(t.cert_warn)
        ))
    } else {
        Finding::new(Status::Online)
    }
}

enum Failed {
    Stalled,
    Tls(rustls::Error),
    Io(String),
}

fn handshake(
    sock: &mut TcpStream,
    name: ServerName<'static>,
    verifier: Arc<Recording>,
    deadline: Instant,
) -> Result<(), Failed> {
    let config = client_config(verifier);
    let mut conn = ClientConnection::new(config, name).map_err(Failed::Tls)?;
    let mut io = Deadlined::new(sock, deadline);
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut io) {
            if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return Err(Failed::Tls(tls.clone()));
            }
            return Err(if is_timeout(&e) {
                Failed::Stalled
            } else {
                Failed::Io(io_reason(&e))
            });
        }
    }
    // Say goodbye properly: a mail server logs an abrupt close as an error.
    conn.send_close_notify();
    let _ = conn.write_tls(&mut io);
    Ok(())
}

fn client_config(verifier: Arc<Recording>) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Arc::new(config)
}

/// The verifier of `ca_file`, or of the built-in Mozilla roots (built once).
fn verifier(t: &TlsTarget) -> Result<Arc<WebPkiServerVerifier>, String> {
    static BUILT_IN: OnceLock<Arc<WebPkiServerVerifier>> = OnceLock::new();
    match &t.ca_file {
        None => Ok(BUILT_IN
            .get_or_init(|| {
                let roots = RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                build_verifier(roots).expect("the built-in roots make a verifier")
            })
            .clone()),
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| format!("reading ca_file {}: {e}", path.display()))?;
            let mut roots = RootCertStore::empty();
            for item in ureq::tls::parse_pem(&pem) {
                if let Ok(ureq::tls::PemItem::Certificate(c)) = item {
                    let der = CertificateDer::from(c.der().to_vec());
                    roots
                        .add(der)
                        .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
                }
            }
            build_verifier(roots).map_err(|e| format!("ca_file {}: {e}", path.display()))
        }
    }
}

fn build_verifier(roots: RootCertStore) -> Result<Arc<WebPkiServerVerifier>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| e.to_string())
}

fn offline(reason: impl Into<String>) -> Finding {
    Finding::new(Status::Offline).with_reason(reason)
}

/// Verifies as webpki does, keeping the server's certificate so that its
/// expiry is known whatever the verdict.
#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    seen: Mutex<Option<Vec<u8>>>,
}

impl Recording {
    fn new(inner: Arc<WebPkiServerVerifier>) -> Recording {
        Recording {
            inner,
            seen: Mutex::new(None),
        }
    }

    fn seen(&self) -> Option<Vec<u8>> {
        self.seen.lock().ok()?.clone()
    }
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(end_entity.to_vec());
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
