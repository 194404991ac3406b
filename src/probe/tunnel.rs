//! A CONNECT tunnel through an HTTP proxy, for the certificate handshake of
//! an https check that goes through `proxy`: the date is read from the
//! certificate the proxy's path leads to, as the request's was.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use super::remaining;
use super::tcp::{io_reason, resolve};
use super::userinfo::credentials;

/// A proxy's answer head longer than this is not one.
const MAX_HEAD: usize = 16 * 1024;

/// A stream to `target` (`host:port`) through the proxy at `proxy`
/// (`http://[user:pass@]host:port`), once the proxy said 200.
pub fn through(proxy: &str, target: &str, deadline: Instant) -> Result<TcpStream, String> {
    let (bare, auth) = credentials(proxy);
    let uri: ureq::http::Uri = bare.parse().map_err(|e| format!("proxy {bare}: {e}"))?;
    let host = uri.host().unwrap_or_default();
    let addr = format!("{host}:{}", uri.port_u16().unwrap_or(80));
    let mut last = String::from("no address");
    for a in resolve(&addr)? {
        match TcpStream::connect_timeout(&a, remaining(deadline)) {
            Ok(mut sock) => {
                connect(&mut sock, target, auth.as_deref(), deadline)?;
                return Ok(sock);
            }
            Err(e) => last = io_reason(&e),
        }
    }
    Err(format!("proxy {addr}: {last}"))
}

fn connect(
    sock: &mut TcpStream,
    target: &str,
    auth: Option<&str>,
    deadline: Instant,
) -> Result<(), String> {
    let auth = auth.map_or_else(String::new, |a| format!("Proxy-Authorization: {a}\r\n"));
    let request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{auth}\r\n");
    sock.set_write_timeout(Some(remaining(deadline)))
        .and_then(|()| sock.write_all(request.as_bytes()))
        .map_err(|e| format!("proxy: {}", io_reason(&e)))?;
    let head = read_head(sock, deadline)?;
    let status = head.lines().next().unwrap_or_default();
    match status.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        _ => Err(format!(
            "the proxy refused CONNECT {target}: {}",
            crate::check::one_line(status, 120)
        )),
    }
}

/// The proxy's answer up to its blank line, a byte at a time so that none of
/// the TLS that follows is taken.
fn read_head(sock: &mut TcpStream, deadline: Instant) -> Result<String, String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > MAX_HEAD || Instant::now() >= deadline {
            return Err("the proxy did not answer CONNECT in time".into());
        }
        let _ = sock.set_read_timeout(Some(remaining(deadline)));
        match sock.read(&mut byte) {
            Ok(0) => return Err("the proxy closed the connection after CONNECT".into()),
            Ok(_) => head.push(byte[0]),
            Err(e) => return Err(format!("proxy: {}", io_reason(&e))),
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}
