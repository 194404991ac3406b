//! HTTP(S) checks with ureq: expected status (default any 2xx or 3xx), a
//! body read whole up to a bounded prefix (and searched, if asked), bounded
//! headers, slowness, and for https the certificate's expiry. Redirects are
//! followed up to a limit.

use std::io::{self, Read};
use std::path::Path;
use std::time::Instant;

use chrono::Utc;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use ureq::Agent;
use ureq::http::Uri;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::check::{Finding, Status};
use crate::config::HttpTarget;
use crate::timefmt::{format_duration, human};

use super::tcp::{io_reason, is_timeout};
use super::tls::{self, TlsProblem, describe_tls};
use super::{remaining, userinfo};

pub const MAX_REDIRECTS: u32 = 10;
/// How much of a body `body_contains` searches; the rest is never read, so a
/// 1 GB answer costs no more than this.
const BODY_LIMIT: u64 = 256 * 1024;
/// Headers beyond this are an error, not an allocation.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Per-connection read and write buffers. ureq's default of 128 KiB each,
/// zero-filled, was most of a healthy run's memory and a sixth of its CPU;
/// health answers are small, and bodies are read in a bounded prefix anyway.
const BUFFER_BYTES: usize = 16 * 1024;

/// One agent for the whole run: its TLS setup (the root store) is built once.
pub fn agent() -> Agent {
    let config = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(MAX_REDIRECTS)
        // `Authorization` follows a redirect on the same host (a health URL
        // moved to `/health/` must not turn into a 401), never to another.
        .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
        .max_response_header_size(MAX_HEADER_BYTES)
        // Room past the header limit, so ureq can tell a huge header from a stall.
        .input_buffer_size(MAX_HEADER_BYTES + BUFFER_BYTES)
        .output_buffer_size(BUFFER_BYTES)
        .user_agent(concat!("upcheck/", env!("CARGO_PKG_VERSION")))
        // ureq would read HTTP_PROXY / HTTPS_PROXY / ALL_PROXY: a shell that
        // sets one would probe differently from cron, which does not, and
        // even http://127.0.0.1 would go through a CONNECT.
        .proxy(None)
        .build();
    Agent::with_parts(config, DefaultConnector::new(), InThreadResolver)
}

/// Resolves names in the probe's own thread. ureq's default resolver starts a
/// thread per request to bound DNS by the timeout; here every probe already
/// runs in a thread of its own that the dispatcher abandons at its deadline,
/// so that second thread only cost time and memory. IP literals skip DNS.
#[derive(Debug)]
struct InThreadResolver;

impl Resolver for InThreadResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri
            .host()
            .ok_or_else(|| ureq::Error::BadUri(uri.to_string()))?;
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let found: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => (bare, port)
                .to_socket_addrs()
                .map_err(|_| ureq::Error::HostNotFound)?
                .collect(),
        };
        let mut result = self.empty();
        for addr in config.ip_family().keep_wanted(found.into_iter()).take(16) {
            result.push(addr);
        }
        if result.is_empty() {
            Err(ureq::Error::HostNotFound)
        } else {
            Ok(result)
        }
    }
}

pub fn probe(t: &HttpTarget, agent: &Agent, deadline: Instant) -> Finding {
    let uri: Uri = match t.url.parse() {
        Ok(u) => u,
        Err(e) => return Finding::new(Status::Offline).with_reason(format!("invalid URL: {e}")),
    };
    let started = Instant::now();
    let (mut result, tls_error) = match request(t, agent, deadline) {
        Ok(mut response) => (judge(t, &mut response, started), None),
        Err(e) => {
            // Through a proxy, the name looked up is the proxy's.
            let proxy_host = t.proxy.as_deref().and_then(|p| {
                let (bare, _) = userinfo::credentials(p);
                bare.parse::<Uri>().ok()?.host().map(str::to_string)
            });
            let host = proxy_host.as_deref().or(uri.host()).unwrap_or_default();
            let (status, reason, tls) = describe(&e, host);
            let mut r = Finding::new(status);
            if let Some(reason) = reason {
                r = r.with_reason(through(t, reason, tls.is_some()));
            }
            (r, tls)
        }
    };
    result.response_ms = Some(started.elapsed().as_millis() as u64);
    if uri.scheme_str() == Some("https") && (result.status_code.is_some() || tls_error.is_some()) {
        check_certificate(t, &uri, deadline, &mut result, tls_error);
    }
    result
}

/// A failure on the way says which way it went: "connection refused"
/// from a proxy is not the service's.
fn through(t: &HttpTarget, reason: String, tls: bool) -> String {
    match &t.proxy {
        Some(proxy) if !tls => {
            let (bare, _) = super::userinfo::credentials(proxy);
            format!("{reason} (through proxy {bare})")
        }
        _ => reason,
    }
}

fn request(
    t: &HttpTarget,
    agent: &Agent,
    deadline: Instant,
) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
    let (url, basic) = userinfo::credentials(&t.url);
    let mut builder = ureq::http::Request::builder()
        .method(t.method.as_str())
        .uri(url.as_ref());
    for (name, value) in &t.headers {
        builder = builder.header(name, value);
    }
    // Credentials in the URL, unless `headers` set their own.
    if let Some(basic) = basic
        && !t
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("authorization"))
    {
        builder = builder.header("Authorization", basic);
    }
    // A body with a known length, so an empty POST says `Content-Length: 0`
    // (some servers answer a chunked empty body with 411).
    let body: Option<&[u8]> = match (&t.body, t.method.as_str()) {
        (Some(body), _) => Some(body.as_bytes()),
        (None, "POST" | "PUT" | "PATCH") => Some(&[]),
        (None, _) => None,
    };
    match body {
        Some(bytes) => send(t, agent, builder.body(bytes), deadline),
        None => send(t, agent, builder.body(()), deadline),
    }
}

fn send<B: ureq::AsSendBody>(
    t: &HttpTarget,
    agent: &Agent,
    request: Result<ureq::http::Request<B>, ureq::http::Error>,
    deadline: Instant,
) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
    let request = request.map_err(ureq::Error::Http)?;
    let mut config = agent
        .configure_request(request)
        .timeout_global(Some(remaining(deadline)));
    if !t.follow_redirects {
        // A 3xx is the answer: `expect_status = [301]` checks a redirect.
        config = config.max_redirects(0);
    }
    if let Some(ca) = &t.ca_file {
        config = config.tls_config(tls_with_roots(ca)?);
    }
    if let Some(proxy) = &t.proxy {
        config = config.proxy(Some(ureq::Proxy::new(proxy)?));
    }
    agent.run(config.build())
}

/// Trust the PEM certificates in `path` instead of the built-in roots.
fn tls_with_roots(path: &Path) -> Result<TlsConfig, ureq::Error> {
    let pem = std::fs::read(path).map_err(|e| {
        ureq::Error::Io(io::Error::new(
            e.kind(),
            format!("reading ca_file {}: {e}", path.display()),
        ))
    })?;
    let certs = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<Vec<Certificate<'static>>, _>>()?;
    Ok(TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&certs))
        .build())
}

/// "HTTP 503, expected 2xx or 3xx" when the code is not one asked for.
fn status_problem(t: &HttpTarget, code: u16) -> Option<String> {
    let expected = if t.expect_status.is_empty() {
        (200..400).contains(&code)
    } else {
        t.expect_status.contains(&code)
    };
    if expected {
        return None;
    }
    let want = if t.expect_status.is_empty() {
        "2xx or 3xx".to_string()
    } else {
        t.expect_status
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    };
    Some(format!("HTTP {code}, expected {want}"))
}

/// Status, body and speed of an answer.
fn judge(
    t: &HttpTarget,
    response: &mut ureq::http::Response<ureq::Body>,
    started: Instant,
) -> Finding {
    let code = response.status().as_u16();
    let mut problems: Vec<String> = status_problem(t, code).into_iter().collect();
    problems.extend(header_problems(t, response.headers()));
    // The body is always read (up to the limit): an answer cut short by a
    // reset or an early close is a broken answer even when nothing is searched.
    let mut body = Vec::new();
    let encoding = response
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    let raw = response.body_mut().as_reader();
    // Decoded before it is searched; the bound is on decoded bytes, so a
    // small answer that inflates to a gigabyte costs 256 KiB.
    let mut decoded: Box<dyn Read + '_> = match encoding.as_deref() {
        Some("gzip" | "x-gzip") => Box::new(flate2::read::MultiGzDecoder::new(raw)),
        Some("deflate") => Box::new(flate2::read::ZlibDecoder::new(raw)),
        _ => Box::new(raw),
    };
    let read = (&mut decoded).take(BODY_LIMIT).read_to_end(&mut body);
    match &read {
        // The search needs the body: without it there is no verdict in time.
        Err(e) if searches(t) && is_timeout_io(e) => {
            let mut r = Finding::new(Status::Timeout);
            r.status_code = Some(code);
            return r;
        }
        // A streaming or stalled body after a good head is a fault of the
        // answer, not silence: said as such, with whatever else was wrong.
        Err(e) if is_timeout_io(e) => problems.push(format!(
            "the body did not finish within {}",
            human(started.elapsed())
        )),
        Err(e) => {
            let (_, reason, _) = describe_io(e, "");
            problems.push(format!(
                "reading the body: {}",
                reason.unwrap_or_else(|| e.to_string())
            ));
        }
        Ok(_) => problems.extend(body_problems(t, &body)),
    }
    let elapsed = started.elapsed();
    if let Some(limit) = t.slow_after.filter(|l| elapsed > *l) {
        problems.push(format!(
            "slow: {} (slow_after {})",
            human(elapsed),
            format_duration(limit)
        ));
    }
    let mut result = if problems.is_empty() {
        Finding::new(Status::Online)
    } else {
        Finding::new(Status::Degraded).with_reason(problems.join("; "))
    };
    result.status_code = Some(code);
    result
}

/// Whether anything reads the body.
fn searches(t: &HttpTarget) -> bool {
    t.body_contains.is_some()
        || !t.json.is_empty()
        || t.body_matches.is_some()
        || t.body_not_contains.is_some()
}

/// What the body fails of `body_contains`, `body_not_contains`,
/// `body_matches` and `json`, each said with what was found.
fn body_problems(t: &HttpTarget, body: &[u8]) -> Vec<String> {
    let scope = if body.len() as u64 >= BODY_LIMIT {
        " (first 256 KiB)"
    } else {
        ""
    };
    let mut problems = Vec::new();
    if let Some(needle) = &t.body_contains
        && !contains(body, needle.as_bytes())
    {
        problems.push(format!("body lacks {}{scope}", quoted(needle)));
    }
    if let Some(needle) = &t.body_not_contains
        && contains(body, needle.as_bytes())
    {
        problems.push(format!("body contains {}", quoted(needle)));
    }
    if let Some(pattern) = &t.body_matches
        && !pattern.is_match(&String::from_utf8_lossy(body))
    {
        problems.push(format!(
            "body does not match {}{scope}",
            quoted(pattern.as_str())
        ));
    }
    if !t.json.is_empty() {
        problems.extend(json_problems(&t.json, body));
    }
    problems
}

/// Each JSON Pointer that does not find its value: `JSON /status is
/// "DOWN", expected "UP"`.
fn json_problems(expected: &[(String, serde_json::Value)], body: &[u8]) -> Vec<String> {
    let doc: serde_json::Value = match serde_json::from_slice(body) {
        Ok(doc) => doc,
        Err(e) => return vec![format!("body is not JSON: {e}")],
    };
    expected
        .iter()
        .filter_map(|(pointer, want)| match doc.pointer(pointer) {
            None => Some(format!("JSON {pointer} is missing, expected {want}")),
            Some(got) if same(got, want) => None,
            Some(got) => Some(format!(
                "JSON {pointer} is {}, expected {want}",
                crate::check::one_line(&got.to_string(), 80)
            )),
        })
        .collect()
}

/// JSON equality, numbers by value: 3 is 3.0.
fn same(got: &serde_json::Value, want: &serde_json::Value) -> bool {
    match (got.as_f64(), want.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => got == want,
    }
}

/// Each `expect_headers` entry the answer does not hold: `header
/// Content-Type is "text/html", expected "application/json"`.
fn header_problems(t: &HttpTarget, headers: &ureq::http::HeaderMap) -> Vec<String> {
    t.expect_headers
        .iter()
        .filter_map(|(name, want)| {
            let got: Vec<String> = headers
                .get_all(name.as_str())
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            if got.iter().any(|v| v.contains(want.as_str())) {
                return None;
            }
            Some(match got.first() {
                None => format!("header {name} is missing, expected {}", quoted(want)),
                Some(value) => format!(
                    "header {name} is {}, expected {}",
                    quoted(&crate::check::one_line(value, 120)),
                    quoted(want)
                ),
            })
        })
        .collect()
}

/// Reads the certificate's expiry; degrades a passing check whose certificate
/// expires within `cert_warn`, and dates a TLS failure.
fn check_certificate(
    t: &HttpTarget,
    uri: &Uri,
    deadline: Instant,
    result: &mut Finding,
    tls_error: Option<TlsProblem>,
) {
    let host = uri.host().unwrap_or_default();
    let port = uri.port_u16().unwrap_or(443);
    let Ok(not_after) = tls::peer_cert_expiry(host, port, deadline, t.proxy.as_deref()) else {
        return;
    };
    result.cert_expires_at = Some(not_after);
    let now = Utc::now();
    let expiry = tls::expiry_reason(not_after, now);
    match tls_error {
        Some(TlsProblem::Expired) => result.reason = Some(format!("TLS: {expiry}")),
        Some(TlsProblem::Other) => {}
        None => {
            let warn = chrono::Duration::from_std(t.cert_warn).unwrap_or(chrono::Duration::MAX);
            if not_after - now < warn {
                let reason = match (&result.reason, result.status) {
                    (Some(r), _) => format!("{r}; {expiry}"),
                    (None, _) => expiry,
                };
                if result.status == Status::Online {
                    result.status = Status::Degraded;
                }
                result.reason = Some(reason);
            }
        }
    }
}

/// A ureq error as a status and reason; `None` reason: a plain timeout, worded by the caller.
fn describe(e: &ureq::Error, host: &str) -> (Status, Option<String>, Option<TlsProblem>) {
    match e {
        ureq::Error::Timeout(_) => (Status::Timeout, None, None),
        ureq::Error::HostNotFound => (
            Status::Offline,
            Some(format!("DNS lookup for {host} failed")),
            None,
        ),
        ureq::Error::Io(io) => describe_io(io, host),
        ureq::Error::Rustls(r) => describe_tls(r),
        ureq::Error::Tls(s) => (
            Status::Offline,
            Some(format!("TLS failure: {s}")),
            Some(TlsProblem::Other),
        ),
        ureq::Error::TooManyRedirects => (
            Status::Degraded,
            Some(format!(
                "more than {MAX_REDIRECTS} redirects (a redirect loop?)"
            )),
            None,
        ),
        ureq::Error::LargeResponseHeader(_, limit) => (
            Status::Degraded,
            Some(format!(
                "not a valid HTTP answer: headers larger than {} KiB",
                limit / 1024
            )),
            None,
        ),
        // Our own URL was checked when the config was read: this is where a redirect led.
        ureq::Error::BadUri(why) => (
            Status::Degraded,
            Some(format!("redirected to an address it cannot follow: {why}")),
            None,
        ),
        ureq::Error::Protocol(p) => (
            Status::Degraded,
            Some(format!("not a valid HTTP answer: {p}")),
            None,
        ),
        ureq::Error::ConnectionFailed => (Status::Offline, Some("connection failed".into()), None),
        ureq::Error::ConnectProxyFailed(why) => (Status::Offline, Some(proxy_refusal(why)), None),
        other => (Status::Offline, Some(other.to_string()), None),
    }
}

/// Why the proxy gave no tunnel, by its answer's code (ureq says "proxy
/// server responded 502/502").
fn proxy_refusal(why: &str) -> String {
    let code = why
        .strip_prefix("proxy server responded ")
        .and_then(|rest| rest.get(..3));
    match code {
        Some("407") => {
            "the proxy wants credentials (user:password@ in `proxy`): it answered 407".into()
        }
        Some(c @ ("500" | "502" | "503" | "504")) => {
            format!("the proxy could not reach the service: it answered {c}")
        }
        Some(c) => format!("the proxy refused the tunnel: it answered {c}"),
        None => format!("the proxy refused the tunnel: {why}"),
    }
}

/// A read that ran out of time, however ureq wrapped it.
fn is_timeout_io(e: &io::Error) -> bool {
    matches!(describe_io(e, ""), (Status::Timeout, None, _))
}

fn describe_io(e: &io::Error, host: &str) -> (Status, Option<String>, Option<TlsProblem>) {
    if let Some(inner) = e.get_ref() {
        if let Some(u) = inner.downcast_ref::<ureq::Error>() {
            return describe(u, host);
        }
        if let Some(r) = inner.downcast_ref::<rustls::Error>() {
            return describe_tls(r);
        }
    }
    if is_timeout(e) {
        (Status::Timeout, None, None)
    } else {
        (Status::Offline, Some(io_reason(e)), None)
    }
}

/// Text as written, in quotes a reader can tell from it: `"ok"`, or
/// `“"status":"ok"”` when it holds straight quotes itself (never Rust's
/// escaped `"\"status\":\"ok\""`).
fn quoted(text: &str) -> String {
    if text.contains('"') {
        format!("“{text}”")
    } else {
        format!("\"{text}\"")
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
