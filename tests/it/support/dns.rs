//! DNS servers on 127.0.0.1: Debian's dnsmasq, answering from the records it
//! is started with (NXDOMAIN for other names under `test`, REFUSED
//! elsewhere), and a scripted server for what no real one sends: SERVFAIL on
//! demand, truncated datagrams, answers of thousands of records, lies about
//! their own length, silence.

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record};

/// A dnsmasq child, killed when dropped.
pub struct Dnsmasq {
    pub port: u16,
    child: Child,
}

impl Dnsmasq {
    /// dnsmasq on a free port, with `options` such as
    /// `--host-record=www.test,10.0.0.1` and `--mx-host=test,mail.test,10`.
    /// Tried again on another port if the one chosen was taken meanwhile.
    pub fn start(options: &[&str]) -> Dnsmasq {
        for _ in 0..5 {
            if let Some(server) = Dnsmasq::try_start(options) {
                return server;
            }
        }
        panic!("dnsmasq did not start on any of 5 ports");
    }

    fn try_start(options: &[&str]) -> Option<Dnsmasq> {
        let port = free_port();
        // Debian puts it in /usr/sbin, which a user's PATH may lack.
        let program = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("dnsmasq");
        let child = Command::new(program)
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                &format!("--port={port}"),
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--pid-file=",
                "--local=/test/",
                // The answer that tells this dnsmasq from anything else on the port.
                "--host-record=upcheck-ready.test,192.0.2.1",
            ])
            .args(options)
            // dnsmasq drops root for `nobody` unless told to stay who it is.
            .arg(format!("--user={}", whoami()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq (tests/deps.sh installs it)");
        let mut server = Dnsmasq { port, child };
        server.wait_ready().then_some(server)
    }

    /// Until this dnsmasq answers its marker (it binds after it starts);
    /// false if it exited (the port was taken) or never answered.
    fn wait_ready(&mut self) -> bool {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x0dupcheck-ready\x04test\x00\x00\x01\x00\x01";
        let until = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 512];
        while Instant::now() < until {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return false;
            }
            let _ = sock.send_to(query, ("127.0.0.1", self.port));
            if let Ok(n) = sock.recv(&mut buf)
                && buf[..n].ends_with(&[192, 0, 2, 1])
            {
                return true;
            }
        }
        false
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A port free for both UDP and TCP at the time of asking.
fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// What the scripted server does with each query.
#[derive(Clone, Copy)]
pub enum Scripted {
    /// SERVFAIL.
    ServFail,
    /// `count` A records (10.0.x.y): truncated over UDP, whole over TCP.
    Many { count: u16 },
    /// A TCP answer whose header claims 10,000 records and holds the ~3,000
    /// that fit the 64 KiB a DNS message can have.
    Lying,
    /// Nothing, ever.
    Silent,
    /// The first datagram is dropped, as a lossy network might; later ones
    /// get one A record, 10.0.0.1.
    DropFirst,
}

/// A scripted DNS server on UDP and TCP of one port.
pub fn scripted(how: Scripted) -> u16 {
    // Both sockets held from the start: no other test can take the port between.
    let (tcp, udp, port) = loop {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if let Ok(udp) = UdpSocket::bind(("127.0.0.1", port)) {
            break (tcp, udp, port);
        }
    };
    thread::spawn(move || {
        let mut buf = [0u8; 512];
        let mut seen = 0;
        while let Ok((n, from)) = udp.recv_from(&mut buf) {
            seen += 1;
            if matches!(how, Scripted::DropFirst) && seen == 1 {
                continue;
            }
            if let Some(reply) = answer(how, &buf[..n], false) {
                let _ = udp.send_to(&reply, from);
            }
        }
    });
    thread::spawn(move || {
        for mut s in tcp.incoming().flatten() {
            thread::spawn(move || {
                let mut len = [0u8; 2];
                if s.read_exact(&mut len).is_err() {
                    return;
                }
                let mut query = vec![0u8; u16::from_be_bytes(len) as usize];
                if s.read_exact(&mut query).is_err() {
                    return;
                }
                if let Some(reply) = answer(how, &query, true) {
                    let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                    framed.extend_from_slice(&reply);
                    let _ = s.write_all(&framed);
                }
                thread::sleep(Duration::from_secs(1));
            });
        }
    });
    port
}

fn answer(how: Scripted, query: &[u8], over_tcp: bool) -> Option<Vec<u8>> {
    let query = Message::from_vec(query).ok()?;
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.queries = query.queries.clone();
    let name = query.queries.first()?.name().clone();
    let records = |count: u16| {
        (0..count)
            .map(|i| {
                Record::from_rdata(
                    name.clone(),
                    60,
                    RData::A(A(std::net::Ipv4Addr::new(10, 0, (i >> 8) as u8, i as u8))),
                )
            })
            .collect::<Vec<_>>()
    };
    match (how, over_tcp) {
        (Scripted::Silent, _) => return None,
        (Scripted::DropFirst, _) => reply.answers = records(1),
        (Scripted::ServFail, _) => reply.metadata.response_code = ResponseCode::ServFail,
        (Scripted::Many { .. } | Scripted::Lying, false) => reply.metadata.truncation = true,
        (Scripted::Many { count }, true) => reply.answers = records(count),
        (Scripted::Lying, true) => {
            reply.answers = records(4000);
            let mut bytes = reply.to_vec().ok()?;
            // ANCOUNT, bytes 6 and 7 of the header.
            bytes[6..8].copy_from_slice(&10_000u16.to_be_bytes());
            return Some(bytes);
        }
    }
    reply.to_vec().ok()
}
