//! A real SMTP server (mailin-embedded) on 127.0.0.1 that keeps what it
//! accepts, with STARTTLS, AUTH PLAIN and refusal on demand; the mails as
//! `Received`; and `run_and_collect`, a run and the subjects it mailed.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

use super::World;
use super::tls::Ca;

/// A mail that reached the SMTP server, with what the session looked like.
#[derive(Clone, Debug)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
    /// `(user, password)` if the client authenticated.
    pub auth: Option<(String, String)>,
}

impl Received {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.data)
            .expect("a parsable message")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_string()
    }

    pub fn text(&self) -> String {
        self.parsed().body_text(0).unwrap_or_default().into_owned()
    }

    /// The text/html part, if the message has one.
    pub fn html(&self) -> Option<String> {
        use mail_parser::MimeHeaders;
        let parsed = self.parsed();
        parsed
            .parts
            .iter()
            .find(|p| {
                p.content_type()
                    .is_some_and(|c| c.ctype() == "text" && c.subtype() == Some("html"))
            })
            .and_then(|p| p.text_contents().map(str::to_string))
    }
}

/// A real SMTP server (mailin-embedded, not ours) on 127.0.0.1; what it
/// accepts lands in `inbox`.
pub struct SmtpServer {
    pub port: u16,
    inbox: Arc<std::sync::Mutex<Vec<Received>>>,
    /// While set, every recipient is refused with a 550.
    pub refusing: Arc<std::sync::atomic::AtomicBool>,
}

/// `Some((cert, key))` PEM paths to offer STARTTLS; `auth`: require AUTH PLAIN
/// with these credentials.
pub struct SmtpOptions {
    pub starttls: Option<(PathBuf, PathBuf)>,
    pub auth: Option<(String, String)>,
}

#[derive(Clone)]
struct SmtpHandler {
    inbox: Arc<std::sync::Mutex<Vec<Received>>>,
    credentials: Option<(String, String)>,
    current: Option<Received>,
    auth: Option<(String, String)>,
    refusing: Arc<std::sync::atomic::AtomicBool>,
}

impl mailin_embedded::Handler for SmtpHandler {
    fn mail(
        &mut self,
        _ip: std::net::IpAddr,
        _domain: &str,
        _from: &str,
    ) -> mailin_embedded::Response {
        if self.credentials.is_some() && self.auth.is_none() {
            return mailin_embedded::response::AUTHENTICATION_REQUIRED;
        }
        mailin_embedded::response::OK
    }

    fn rcpt(&mut self, _to: &str) -> mailin_embedded::Response {
        if self.refusing.load(std::sync::atomic::Ordering::SeqCst) {
            mailin_embedded::response::NO_MAILBOX
        } else {
            mailin_embedded::response::OK
        }
    }

    fn data_start(
        &mut self,
        _domain: &str,
        from: &str,
        _is8bit: bool,
        to: &[String],
    ) -> mailin_embedded::Response {
        self.current = Some(Received {
            from: from.to_string(),
            to: to.to_vec(),
            data: Vec::new(),
            auth: self.auth.clone(),
        });
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(m) = self.current.as_mut() {
            m.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        if let Some(m) = self.current.take() {
            self.inbox.lock().unwrap().push(m);
        }
        mailin_embedded::response::OK
    }

    fn auth_plain(
        &mut self,
        _authz: &str,
        user: &str,
        password: &str,
    ) -> mailin_embedded::Response {
        let given = (user.to_string(), password.to_string());
        if self.credentials.as_ref() == Some(&given) {
            self.auth = Some(given);
            mailin_embedded::response::AUTH_OK
        } else {
            mailin_embedded::response::INVALID_CREDENTIALS
        }
    }
}

impl SmtpServer {
    pub fn start(options: SmtpOptions) -> SmtpServer {
        // mailin builds its TLS config with the process-wide provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let inbox = Arc::new(std::sync::Mutex::new(Vec::new()));
        let refusing = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let handler = SmtpHandler {
            inbox: inbox.clone(),
            credentials: options.auth.clone(),
            current: None,
            auth: None,
            refusing: refusing.clone(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut server = mailin_embedded::Server::new(handler);
        server.with_name("smtp.test").with_tcp_listener(listener);
        if let Some((cert, key)) = options.starttls {
            server
                .with_ssl(mailin_embedded::SslConfig::SelfSigned {
                    cert_path: cert.display().to_string(),
                    key_path: key.display().to_string(),
                })
                .expect("smtp tls");
        }
        if options.auth.is_some() {
            server.with_auth(mailin_embedded::AuthMechanism::Plain);
        }
        thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpServer {
            port,
            inbox,
            refusing,
        }
    }

    pub fn plain() -> SmtpServer {
        SmtpServer::start(SmtpOptions {
            starttls: None,
            auth: None,
        })
    }

    /// A server offering STARTTLS with a certificate from a fresh test CA and
    /// requiring AUTH PLAIN as `upcheck` with `password`. Writes the CA to
    /// `ca.pem` and the password to `smtp-password` in `world`, where
    /// `starttls_email_config` points.
    pub fn starttls_with_auth(world: &World, password: &str) -> SmtpServer {
        let ca = Ca::new();
        let (cert, key) = ca.issue_files(world.dir.path());
        world.write("ca.pem", &ca.pem);
        world.write("smtp-password", &format!("{password}\n"));
        SmtpServer::start(SmtpOptions {
            starttls: Some((cert, key)),
            auth: Some(("upcheck".into(), password.into())),
        })
    }

    pub fn received(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }

    /// The `[email]` section that sends here, unencrypted.
    pub fn email_config(&self) -> String {
        format!(
            "[email]\nto = [\"ops@example.com\", \"oncall@example.com\"]\nfrom = \"upcheck <upcheck@example.com>\"\n\
             smtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_tls = \"none\"\nsmtp_timeout = \"5s\"\n\n",
            self.port
        )
    }

    /// The `[email]` section for `starttls_with_auth`: STARTTLS trusting
    /// `ca.pem`, as `upcheck` with the password in `smtp-password`.
    pub fn starttls_email_config(&self) -> String {
        format!(
            "[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\n\
             smtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_tls = \"starttls\"\nsmtp_ca_file = \"ca.pem\"\n\
             smtp_user = \"upcheck\"\nsmtp_password_file = \"smtp-password\"\n\n",
            self.port
        )
    }
}

/// Runs once, asserting a completed, silent run; returns the subjects mailed during it.
pub fn run_and_collect(world: &World, smtp: &SmtpServer, args: &[&str]) -> Vec<String> {
    let before = smtp.received().len();
    let run = world.run(args);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", ""),
        "{run:?}"
    );
    smtp.received()[before..]
        .iter()
        .map(|m| m.subject())
        .collect()
}
