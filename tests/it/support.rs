//! The world each test builds: a temp folder with a config, the real binary
//! run with a hermetic environment, and real servers on 127.0.0.1 ephemeral
//! ports (tiny_http for HTTP, rustls for TLS). Nothing leaves the machine.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

pub const BIN: &str = env!("CARGO_BIN_EXE_upcheck");

/// A temp folder holding `upcheck.toml` and, after a run, `upcheck.db`.
pub struct World {
    pub dir: tempfile::TempDir,
}

/// What a run of the binary left: exit code and output.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl World {
    /// A world whose `upcheck.toml` is `config`.
    pub fn new(config: &str) -> World {
        let world = World {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        world.write("upcheck.toml", config);
        world
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file only its owner and group may read, as configs and
    /// password files should be (upcheck warns about secrets others can read).
    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).expect("write file");
        std::fs::set_permissions(
            self.path(name),
            std::os::unix::fs::PermissionsExt::from_mode(0o640),
        )
        .expect("chmod");
    }

    /// Writes an executable script.
    pub fn script(&self, name: &str, body: &str) {
        self.write(name, body);
        std::fs::set_permissions(
            self.path(name),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
    }

    pub fn config_path(&self) -> PathBuf {
        self.path("upcheck.toml")
    }

    /// The binary with no inherited environment but PATH, run from the world.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .current_dir(self.dir.path())
            .arg("--config")
            .arg(self.config_path())
            .args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("run upcheck").into()
    }

    pub fn db(&self) -> Connection {
        Connection::open(self.path("upcheck.db")).expect("open db")
    }

    /// How long the latest probe of `service` took, as upcheck recorded it.
    pub fn response_ms(&self, service: &str) -> i64 {
        self.db()
            .query_row(
                "SELECT response_ms FROM latest WHERE service = ?1",
                [service],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| panic!("no response time for {service}: {e}"))
    }

    /// `(status, reason)` of each service's latest check, read from the `latest` view.
    pub fn latest(&self, service: &str) -> (String, Option<String>) {
        self.db()
            .query_row(
                "SELECT status, error FROM latest WHERE service = ?1",
                [service],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap_or_else(|e| panic!("no latest row for {service}: {e}"))
    }
}

/// `[[service]]` tables, one string each, for a config.
pub fn services(entries: &[(&str, &str)]) -> String {
    entries
        .iter()
        .map(|(name, body)| format!("[[service]]\nname = {name:?}\n{body}\n\n"))
        .collect()
}

/// A real HTTP server (tiny_http) with the answers the probes are tested against.
pub struct HttpServer {
    pub port: u16,
    /// Paths of the `/ping/...` requests received, in order.
    pings: Arc<std::sync::Mutex<Vec<String>>>,
}

impl HttpServer {
    pub fn start() -> HttpServer {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind http"));
        let port = server.server_addr().to_ip().expect("ip").port();
        let pings = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = pings.clone();
        thread::spawn(move || {
            for request in server.incoming_requests() {
                if request.url().starts_with("/ping/") {
                    seen.lock().unwrap().push(request.url().to_string());
                }
                // One thread per request, so a hanging answer holds up nothing else.
                thread::spawn(move || answer(request));
            }
        });
        HttpServer { port, pings }
    }

    pub fn pings(&self) -> Vec<String> {
        self.pings.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

fn answer(request: tiny_http::Request) {
    use tiny_http::{Header, Response, StatusCode};
    let url = request.url().to_string();
    let text =
        |code: u16, body: &str| Response::from_string(body).with_status_code(StatusCode(code));
    let parts: Vec<&str> = url.trim_start_matches('/').split('/').collect();
    let result = match parts.as_slice() {
        ["ok"] => request.respond(text(200, "ok")),
        ["ping", ..] => request.respond(text(200, "pong")),
        ["body"] => request.respond(text(200, "service status=green, queue=3")),
        ["status", code] => request.respond(text(code.parse().unwrap_or(500), "status")),
        ["slow", ms] => {
            thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
            request.respond(text(200, "ok"))
        }
        ["hang"] => {
            thread::sleep(Duration::from_secs(120));
            request.respond(text(200, "too late"))
        }
        ["huge"] => {
            // 1 GB, generated as it is sent: the probe must stop reading early.
            let body = std::io::repeat(b'a').take(1 << 30);
            request.respond(Response::new(
                StatusCode(200),
                vec![],
                body,
                Some(1 << 30),
                None,
            ))
        }
        ["redirect"] => {
            let location = Header::from_bytes("Location", "/ok").unwrap();
            request.respond(text(302, "").with_header(location))
        }
        ["redirect-to-auth"] => {
            let location = Header::from_bytes("Location", "/auth").unwrap();
            request.respond(text(302, "").with_header(location))
        }
        ["redirect-loop"] => {
            let location = Header::from_bytes("Location", "/redirect-loop").unwrap();
            request.respond(text(302, "").with_header(location))
        }
        ["auth"] => {
            let authorized = request
                .headers()
                .iter()
                .any(|h| h.field.equiv("Authorization") && h.value.as_str() == "Bearer s3cret");
            request.respond(text(if authorized { 200 } else { 401 }, "auth"))
        }
        _ => request.respond(text(404, "not found")),
    };
    let _ = result;
}

/// A port nothing listens on: bound, then released.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().unwrap().port()
}

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
        let now = time::OffsetDateTime::now_utc();
        let name = match cert {
            Cert::OtherHost => "status.example.org",
            _ => "127.0.0.1",
        };
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        // An hour past the whole day, so "in 5 days" is 5 whatever the clock says.
        let not_after = match cert {
            Cert::Signed { days } => {
                now + time::Duration::days(days)
                    + time::Duration::hours(if days < 0 { -1 } else { 1 })
            }
            Cert::SelfSigned | Cert::OtherHost => now + time::Duration::days(365),
        };
        params.not_before = now - time::Duration::days(60);
        params.not_after = not_after;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert_der = match cert {
            Cert::Signed { .. } | Cert::OtherHost => params.signed_by(&key, &self.issuer).unwrap(),
            Cert::SelfSigned => params.self_signed(&key).unwrap(),
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
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let config = config.clone();
                thread::spawn(move || serve_tls(config, stream));
            }
        });
        let date = format!(
            "{:04}-{:02}-{:02}",
            not_after.year(),
            u8::from(not_after.month()),
            not_after.day()
        );
        (port, date)
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

/// Asserts `text` contains `part`, showing both when it does not.
#[track_caller]
pub fn assert_contains(text: &str, part: &str) {
    assert!(text.contains(part), "expected {part:?} in:\n{text}");
}

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

/// The config body of a service that fails while `<name>.down` exists beside the config.
pub fn switchable(name: &str) -> String {
    format!("command = [\"test\", \"!\", \"-e\", \"{name}.down\"]")
}

/// Makes a `switchable` service fail (`down`) or pass.
pub fn set_down(world: &World, name: &str, down: bool) {
    let flag = world.path(&format!("{name}.down"));
    if down {
        std::fs::write(flag, "").unwrap();
    } else {
        let _ = std::fs::remove_file(flag);
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

/// Asserts an external checker (systemd-analyze, promtool) passed and said nothing.
#[track_caller]
pub fn assert_checker_passed(what: &str, out: &std::process::Output, input: &str) {
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "{what}:\n{said}\n{input}"
    );
}

/// A TCP server on 127.0.0.1 that hands every connection to `behaviour`, in a
/// thread of its own: for targets that misbehave below HTTP's level.
pub fn raw_server(behaviour: impl Fn(TcpStream) + Send + Sync + 'static) -> u16 {
    raw_server_on("127.0.0.1", behaviour)
}

/// `raw_server` on another loopback address (127.0.0.2 is another host by
/// address, and still this machine).
pub fn raw_server_on(ip: &str, behaviour: impl Fn(TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind((ip, 0)).expect("bind raw");
    let port = listener.local_addr().unwrap().port();
    let behaviour = Arc::new(behaviour);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let behaviour = behaviour.clone();
            thread::spawn(move || behaviour(stream));
        }
    });
    port
}

/// Reads a request's head (up to the blank line), so the answer comes after it.
pub fn read_head(stream: &mut TcpStream) -> String {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

impl World {
    /// Runs the binary and returns its outcome and peak resident memory in
    /// KiB. The peak is the kernel's high-water mark for the process's own
    /// memory (VmHWM), polled until it exits: rusage's maxrss would count the
    /// test process it was forked from.
    pub fn run_measured(&self, args: &[&str]) -> (Run, u64) {
        use std::process::Stdio;
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start upcheck");
        let drain = |mut pipe: Box<dyn Read + Send>| {
            thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        };
        let stdout = drain(Box::new(child.stdout.take().unwrap()));
        let stderr = drain(Box::new(child.stderr.take().unwrap()));
        let status_file = format!("/proc/{}/status", child.id());
        let mut peak_kib = 0;
        let status = loop {
            if let Ok(text) = std::fs::read_to_string(&status_file) {
                let hwm = text
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
                peak_kib = peak_kib.max(hwm.unwrap_or(0));
            }
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            thread::sleep(Duration::from_millis(5));
        };
        let run = Run {
            code: status.code().unwrap_or(-1),
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        };
        (run, peak_kib)
    }
}

/// A TCP proxy to `upstream` on 127.0.0.1 that, while `cut` is set, drops
/// both connections a little way into an SMTP message: after the client's
/// `DATA` and 100 bytes of the message. A real server behind a broken network.
pub fn cutting_proxy(upstream: u16, cut: Arc<std::sync::atomic::AtomicBool>) -> u16 {
    raw_server(move |client| {
        let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
            return;
        };
        let (mut from_server, mut to_client) =
            (server.try_clone().unwrap(), client.try_clone().unwrap());
        thread::spawn(move || {
            let _ = std::io::copy(&mut from_server, &mut to_client);
            let _ = to_client.shutdown(std::net::Shutdown::Both);
        });
        let (mut from_client, mut to_server) = (client, server);
        let mut seen = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            let n = match from_client.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            seen.extend_from_slice(&buf[..n]);
            let in_message = seen
                .windows(6)
                .position(|w| w.eq_ignore_ascii_case(b"DATA\r\n"))
                .is_some_and(|at| seen.len() > at + 6 + 100);
            if in_message && cut.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = from_client.shutdown(std::net::Shutdown::Both);
                let _ = to_server.shutdown(std::net::Shutdown::Both);
                return;
            }
            if to_server.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to_server.shutdown(std::net::Shutdown::Both);
    })
}

/// What SQLite's `PRAGMA integrity_check` says of a database: "ok" when whole.
pub fn integrity(db: &Connection) -> String {
    db.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check")
}
