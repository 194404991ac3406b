//! The real HTTP server (tiny_http) the probes are tested against, and the
//! answers it gives by path: statuses, slow and hanging answers, a 1 GB body,
//! redirects, a bearer-token check, and `/ping/...` for heartbeats.

use std::io::Read;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

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

fn answer(mut request: tiny_http::Request) {
    use tiny_http::{Header, Response, StatusCode};
    let url = request.url().to_string();
    let json = |body: &str| {
        Response::from_string(body)
            .with_header(Header::from_bytes("Content-Type", "application/json").unwrap())
    };
    let text =
        |code: u16, body: &str| Response::from_string(body).with_status_code(StatusCode(code));
    let parts: Vec<&str> = url.trim_start_matches('/').split('/').collect();
    let result = match parts.as_slice() {
        ["ok"] => request.respond(text(200, "ok")),
        ["ping", ..] => request.respond(text(200, "pong")),
        ["body"] => request.respond(text(200, "service status=green, queue=3")),
        ["json"] => request.respond(json(
            r#"{"status":"UP","checks":{"db":{"ok":true}},"count":3,"a/b":"slash"}"#,
        )),
        ["json-down"] => request.respond(json(
            r#"{"status":"DOWN","checks":{"db":{"ok":false}},"count":3.0}"#,
        )),
        // Compressed answers, as a server sends them: gzip, zlib ("deflate"),
        // and a gzip bomb that inflates to 1 GB, compressed as it is sent.
        ["gzip"] => {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(br#"{"status":"UP","note":"compressed"}"#)
                .unwrap();
            let encoding = Header::from_bytes("Content-Encoding", "gzip").unwrap();
            request.respond(Response::from_data(gz.finish().unwrap()).with_header(encoding))
        }
        ["deflate"] => {
            use std::io::Write;
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            z.write_all(b"deflated: status=green").unwrap();
            let encoding = Header::from_bytes("Content-Encoding", "deflate").unwrap();
            request.respond(Response::from_data(z.finish().unwrap()).with_header(encoding))
        }
        ["gzip-bomb"] => {
            let zeros = std::io::repeat(0).take(1 << 30);
            let bomb = flate2::read::GzEncoder::new(zeros, flate2::Compression::best());
            let encoding = Header::from_bytes("Content-Encoding", "gzip").unwrap();
            request.respond(Response::new(
                StatusCode(200),
                vec![encoding],
                bomb,
                None,
                None,
            ))
        }
        ["error-page"] => request.respond(text(200, "internal error: the database is gone")),
        // What the request was: method, length, chunked or not, body.
        ["echo"] => {
            let header = |name: &'static str| {
                request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv(name))
                    .map(|h| h.value.as_str().to_string())
            };
            let said = format!(
                "method={} length={} chunked={}",
                request.method(),
                header("Content-Length").unwrap_or_else(|| "none".into()),
                header("Transfer-Encoding").is_some_and(|v| v.contains("chunked")),
            );
            let mut body = String::new();
            let _ = request.as_reader().read_to_string(&mut body);
            request.respond(text(200, &format!("{said} body={body}")))
        }
        ["moved"] => {
            let location = Header::from_bytes("Location", "https://127.0.0.1:1/").unwrap();
            request.respond(text(301, "").with_header(location))
        }
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
        // Basic auth for mon / p@ss w/rd, as the password decodes.
        ["basic"] => {
            let authorized = request.headers().iter().any(|h| {
                h.field.equiv("Authorization") && h.value.as_str() == "Basic bW9uOnBAc3Mgdy9yZA=="
            });
            request.respond(text(if authorized { 200 } else { 401 }, "basic"))
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
