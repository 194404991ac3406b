//! TCP checks: a plain connect, nothing sent. Online once the handshake completes.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Instant;

use crate::check::{Finding, Status};

use super::remaining;

pub fn probe(addr: &str, deadline: Instant) -> Finding {
    let addrs = match resolve(addr) {
        Ok(a) => a,
        Err(reason) => return Finding::new(Status::Offline).with_reason(reason),
    };
    let mut last = None;
    for a in addrs {
        if Instant::now() >= deadline {
            break;
        }
        match TcpStream::connect_timeout(&a, remaining(deadline)) {
            Ok(_) => return Finding::new(Status::Online),
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) if !is_timeout(&e) => Finding::new(Status::Offline).with_reason(io_reason(&e)),
        _ => Finding::new(Status::Timeout),
    }
}

/// Resolves `host:port`; the reason names the host when DNS fails.
pub fn resolve(addr: &str) -> Result<Vec<SocketAddr>, String> {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    match addr.to_socket_addrs() {
        Ok(a) => {
            let a: Vec<_> = a.collect();
            if a.is_empty() {
                Err(format!("DNS lookup for {host} found no address"))
            } else {
                Ok(a)
            }
        }
        Err(e) => Err(format!("DNS lookup for {host} failed: {e}")),
    }
}

pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// Socket errors in the words an operator uses.
pub fn io_reason(e: &io::Error) -> String {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset by peer".into(),
        ConnectionAborted => "connection aborted".into(),
        UnexpectedEof => "connection closed before a complete answer".into(),
        HostUnreachable => "host unreachable".into(),
        NetworkUnreachable => "network unreachable".into(),
        _ => e.to_string(),
    }
}
