//! The plain-text dialogue before a STARTTLS handshake (SMTP, IMAP, POP3):
//! greeting, the upgrade command, its go-ahead. Read a byte at a time so
//! nothing the server sends after the go-ahead is swallowed before TLS
//! begins; every line and the whole dialogue are bounded, and every read ends
//! by the deadline, so a server that trickles or stalls costs its timeout.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use crate::config::StartTls;

use super::remaining;
use super::tcp::{io_reason, is_timeout};

/// A reply line longer than this is not SMTP, IMAP or POP3.
const MAX_LINE: usize = 4096;
/// Lines of greeting and capabilities a server may send before the go-ahead.
const MAX_LINES: usize = 100;

/// Why the dialogue did not reach the handshake.
pub enum Refused {
    /// No answer in time (the check's timeout).
    Silent(String),
    /// The server answered, but not with a way to TLS.
    Said(String),
}

/// Talks `sock` up to the point where the TLS handshake begins.
pub fn upgrade(sock: &mut TcpStream, proto: StartTls, deadline: Instant) -> Result<(), Refused> {
    let mut talk = Talk {
        sock,
        deadline,
        proto,
        lines: 0,
    };
    match proto {
        StartTls::Smtp => smtp(&mut talk),
        StartTls::Imap => imap(&mut talk),
        StartTls::Pop3 => pop3(&mut talk),
    }
}

fn smtp(t: &mut Talk) -> Result<(), Refused> {
    let greeting = t.reply()?;
    t.expect_code(&greeting, "220", "greeted with")?;
    t.send(b"EHLO upcheck\r\n")?;
    let ehlo = t.reply()?;
    t.expect_code(&ehlo, "250", "answered EHLO with")?;
    let offers = ehlo.iter().any(|l| {
        l.get(4..)
            .is_some_and(|k| k.trim().eq_ignore_ascii_case("STARTTLS"))
    });
    if !offers {
        return Err(Refused::Said(
            "SMTP: the server does not offer STARTTLS".into(),
        ));
    }
    t.send(b"STARTTLS\r\n")?;
    let go = t.reply()?;
    t.expect_code(&go, "220", "answered STARTTLS with")
}

fn imap(t: &mut Talk) -> Result<(), Refused> {
    let greeting = t.line()?;
    if !greeting.starts_with("* OK") {
        return Err(t.said("greeted with", &greeting));
    }
    t.send(b"u1 STARTTLS\r\n")?;
    loop {
        let line = t.line()?;
        if let Some(rest) = line.strip_prefix("u1 ") {
            return if rest.starts_with("OK") {
                Ok(())
            } else {
                Err(t.said("answered STARTTLS with", &line))
            };
        }
    }
}

fn pop3(t: &mut Talk) -> Result<(), Refused> {
    let greeting = t.line()?;
    if !greeting.starts_with("+OK") {
        return Err(t.said("greeted with", &greeting));
    }
    t.send(b"STLS\r\n")?;
    let go = t.line()?;
    if go.starts_with("+OK") {
        Ok(())
    } else {
        Err(t.said("answered STLS with", &go))
    }
}

struct Talk<'a> {
    sock: &'a mut TcpStream,
    deadline: Instant,
    proto: StartTls,
    lines: usize,
}

impl Talk<'_> {
    /// One reply of SMTP's `250-…` / `250 …` form: lines up to the one whose
    /// fourth character is a space.
    fn reply(&mut self) -> Result<Vec<String>, Refused> {
        let mut lines = Vec::new();
        loop {
            let line = self.line()?;
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return Ok(lines);
            }
        }
    }

    fn expect_code(&self, reply: &[String], code: &str, did: &str) -> Result<(), Refused> {
        match reply.last() {
            Some(last) if last.starts_with(code) => Ok(()),
            Some(last) => Err(self.said(did, last)),
            None => Err(self.said(did, "")),
        }
    }

    fn said(&self, did: &str, line: &str) -> Refused {
        let shown = crate::check::one_line(line, 120);
        Refused::Said(format!(
            "{}: the server {did} {shown:?}",
            self.proto.as_str()
        ))
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), Refused> {
        let _ = self.sock.set_write_timeout(Some(remaining(self.deadline)));
        self.sock.write_all(bytes).map_err(|e| self.failed(&e))
    }

    /// One line without its CRLF, read a byte at a time.
    fn line(&mut self) -> Result<String, Refused> {
        self.lines += 1;
        if self.lines > MAX_LINES {
            return Err(Refused::Said(format!(
                "{}: more than {MAX_LINES} lines before STARTTLS could begin",
                self.proto.as_str()
            )));
        }
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            if Instant::now() >= self.deadline {
                return Err(self.silent());
            }
            let _ = self.sock.set_read_timeout(Some(remaining(self.deadline)));
            match self.sock.read(&mut byte) {
                Ok(0) => {
                    return Err(Refused::Said(format!(
                        "{}: the server closed the connection before STARTTLS",
                        self.proto.as_str()
                    )));
                }
                Ok(_) if byte[0] == b'\n' => break,
                Ok(_) => line.push(byte[0]),
                Err(e) => return Err(self.failed(&e)),
            }
            if line.len() > MAX_LINE {
                return Err(Refused::Said(format!(
                    "{}: a line longer than {MAX_LINE} bytes before STARTTLS",
                    self.proto.as_str()
                )));
            }
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    fn failed(&self, e: &std::io::Error) -> Refused {
        if is_timeout(e) {
            self.silent()
        } else {
            Refused::Said(format!("{}: {}", self.proto.as_str(), io_reason(e)))
        }
    }

    fn silent(&self) -> Refused {
        Refused::Silent(format!(
            "{}: the server stopped answering before STARTTLS",
            self.proto.as_str()
        ))
    }
}
