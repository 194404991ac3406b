//! Delivering a rendered [`Message`]: the only module that knows lettre. SMTP
//! (STARTTLS, implicit TLS or plain, optional AUTH, bounded by timeouts),
//! sendmail, or `.eml` files in an outbox folder. `Ok` means the transport
//! accepted the message, and nothing less.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use chrono::Utc;
use lettre::Address;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{SendmailTransport, SmtpTransport, Transport as _};

use crate::atomic_file::{self, Mode};
use crate::config::{Email, Smtp, SmtpTls, Transport};
use crate::render::email::Message;

/// Sends `msg` to the configured recipients; `host` names this machine in EHLO.
pub fn send(email: &Email, host: &str, msg: &Message) -> Result<()> {
    send_with_id(email, host, msg, &message_id(host))
}

/// `send`, with a Message-ID made (and recorded) beforehand.
pub fn send_with_id(email: &Email, host: &str, msg: &Message, id: &str) -> Result<()> {
    let message = build(email, msg, id)?;
    match &email.transport {
        Transport::Smtp(s) => send_bounded(smtp(s, host)?, message, s.timeout)
            .with_context(|| format!("sending mail through {}:{}", s.host, s.port))?,
        Transport::Sendmail => {
            SendmailTransport::new()
                .send(&message)
                .context("sending mail through sendmail")?;
        }
        Transport::File(dir) => write_eml(dir, &message.formatted())?,
    }
    Ok(())
}

/// A delivery that ran out of `smtp_timeout` as a whole: the server may
/// have taken the message already, so its retry must say it may be a repeat.
#[derive(Debug)]
pub struct MaybeSent;

impl std::fmt::Display for MaybeSent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the server may have taken it already")
    }
}

impl std::error::Error for MaybeSent {}

/// lettre bounds the connect and each command by `smtp_timeout`; a server
/// slow at every line could still stretch one email over minutes. The whole
/// delivery gets the same bound: the send runs in a thread of its own, left
/// behind (and ended with the process) if it overruns.
fn send_bounded(transport: SmtpTransport, message: lettre::Message, bound: Duration) -> Result<()> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("smtp".into())
        .spawn(move || {
            let _ = tx.send(transport.send(&message));
        })
        .context("starting the mail thread")?;
    match rx.recv_timeout(bound) {
        Ok(sent) => sent.map(|_| ()).map_err(|e| anyhow!("{}", smtp_error(&e))),
        Err(_) => Err(anyhow::Error::new(MaybeSent).context(format!(
            "the server did not finish the delivery within {} (smtp_timeout)",
            crate::timefmt::format_duration(bound)
        ))),
    }
}

/// Whether `text` is an address mail can be sent to, said as the config
/// loader reports it.
pub fn check_address(text: &str) -> Result<(), String> {
    mailbox(text).map(|_| ()).map_err(|e| format!("{e:#}"))
}

fn build(email: &Email, msg: &Message, id: &str) -> Result<lettre::Message> {
    let from = mailbox(&email.from).context("email.from")?;
    let mut builder = lettre::Message::builder()
        .from(from)
        .subject(&msg.subject)
        .date_now()
        // Relays refuse or later bounce mail without one (RFC 5322 3.6.4).
        .message_id(Some(id.to_string()))
        // RFC 3834: no vacation auto-replies to a monitor.
        .header(AutoSubmitted);
    // RFC 5322 3.6.4: a follow-up names what it follows, so clients thread it.
    if let Some(first) = msg.replies_to.first() {
        builder = builder
            .in_reply_to(first.clone())
            .references(msg.replies_to.join(" "));
    }
    for to in &email.to {
        builder = builder.to(mailbox(to).context("email.to")?);
    }
    let body = match &msg.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            msg.text.clone(),
            html.clone(),
        )),
        None => builder.singlepart(SinglePart::plain(msg.text.clone())),
    };
    body.context("building the email")
}

/// `Name <user@bücher.example>` as lettre's mailbox, the domain spelled in
/// punycode (`xn--bcher-kva.example`): a server without SMTPUTF8 refuses a
/// non-ASCII envelope, and then the fallback could not get through either.
fn mailbox(text: &str) -> Result<Mailbox> {
    let parsed: Mailbox = text.parse().map_err(|_| {
        anyhow!("{text:?} is not an email address (user@example.com, or Name <user@example.com>)")
    })?;
    let domain = idna::domain_to_ascii(parsed.email.domain())
        .map_err(|e| anyhow!("{text:?} has a domain that cannot be spelled in ASCII: {e}"))?;
    let address = Address::new(parsed.email.user(), domain)
        .map_err(|e| anyhow!("{text:?} is not an email address: {e}"))?;
    Ok(Mailbox::new(parsed.name, address))
}

fn smtp(s: &Smtp, host: &str) -> Result<SmtpTransport> {
    let tls = || -> Result<TlsParameters> {
        let mut params = TlsParameters::builder(s.host.clone());
        if let Some(ca) = &s.ca_file {
            let pem = std::fs::read(ca)
                .with_context(|| format!("reading email.ca_file {}", ca.display()))?;
            let cert = Certificate::from_pem(&pem)
                .with_context(|| format!("parsing email.ca_file {}", ca.display()))?;
            params = params.add_root_certificate(cert);
        }
        params.build_rustls().context("setting up TLS for SMTP")
    };
    let mut builder = SmtpTransport::builder_dangerous(&s.host)
        .port(s.port)
        .hello_name(ClientId::Domain(host.to_string()))
        // One bound for the connect and for each command: a server that
        // accepts TCP but never answers cannot hold the run.
        .timeout(Some(s.timeout));
    builder = match s.tls {
        SmtpTls::Starttls => builder.tls(Tls::Required(tls()?)),
        SmtpTls::Tls => builder.tls(Tls::Wrapper(tls()?)),
        SmtpTls::None => builder.tls(Tls::None),
    };
    if let Some(user) = &s.user {
        let password = match &s.password {
            Some(source) => source.read()?,
            None => String::new(),
        };
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

/// `<20261201T101500.123456789Z.4242.0@vps-1>`: the time, the process and a
/// counter make it unique; the host names who sent it (a name that is not a
/// plain domain is spelled with `-` for what a Message-ID cannot hold).
pub fn message_id(host: &str) -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let domain: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let domain = if domain.trim_matches(['.', '-']).is_empty() {
        "localhost".to_string()
    } else {
        domain
    };
    format!(
        "<{}.{}.{}@{domain}>",
        Utc::now().format("%Y%m%dT%H%M%S%.9fZ"),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// lettre's errors, with the server's own words when it gave any: each cause
/// once (lettre's message often repeats its source's), on one line, without
/// the control characters a hostile or broken server may send (an escape
/// sequence would reach a terminal through stderr, and the database).
fn smtp_error(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let said = s.to_string();
        if !text.contains(&said) {
            text.push_str(&format!(": {said}"));
        }
        source = s.source();
    }
    crate::check::one_line(&text, 1000)
}

/// One `.eml` per message, written whole then renamed into place so a reader
/// never sees half a message.
fn write_eml(dir: &Path, bytes: &[u8]) -> Result<()> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "{}-{}-{}.eml",
        Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    atomic_file::write(&dir.join(&name), bytes, Mode::Umask)
        .with_context(|| format!("writing {} in the outbox {}", name, dir.display()))
}

/// `Auto-Submitted: auto-generated`.
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_string())
    }
}
