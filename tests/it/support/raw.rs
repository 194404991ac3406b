//! Raw TCP below HTTP's level, for hostile targets: a server handing each
//! connection to a closure or giving one fixed answer, `read_head`, a port
//! nothing listens on, and a proxy that cuts an SMTP session mid-message.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// A port nothing listens on: bound, then released.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().unwrap().port()
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

/// A `raw_server` that reads each request's head and writes `answer`, whatever it is.
pub fn raw_answering(answer: impl Into<Vec<u8>>) -> u16 {
    let answer = answer.into();
    raw_server(move |mut s| {
        read_head(&mut s);
        let _ = s.write_all(&answer);
    })
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
