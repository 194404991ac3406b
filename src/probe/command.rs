//! Command checks: argv without a shell, in the config's folder, stdin closed,
//! output captured (the tail kept) and the whole process group killed at the
//! timeout. Exit 0 is online; anything else is offline with the last line said.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::check::{CheckResult, Status};
use crate::config::CommandTarget;

use super::outcome;

/// The tail of the output kept for the reason; the rest is read and dropped
/// so a chatty command never blocks on a full pipe nor fills memory.
const OUTPUT_TAIL: usize = 8 * 1024;
/// After the command exits, how long to wait for a child it left behind to
/// close the output pipes before killing its process group.
const PIPE_GRACE: Duration = Duration::from_millis(200);

pub fn probe(c: &CommandTarget, deadline: Instant) -> CheckResult {
    let program = &c.argv[0];
    let mut child = match Command::new(program)
        .args(&c.argv[1..])
        .current_dir(&c.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills everything it started.
        .process_group(0)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "not found".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => e.to_string(),
            };
            return outcome(Status::Offline)
                .with_reason(format!("could not start {program}: {why}"));
        }
    };
    let (tx, rx) = mpsc::channel();
    let pipes = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ];
    for (index, pipe) in pipes.into_iter().enumerate() {
        let (Some(pipe), tx) = (pipe, tx.clone()) else {
            continue;
        };
        let _ = thread::Builder::new().stack_size(64 * 1024).spawn(move || {
            let _ = tx.send((index, read_tail(pipe)));
        });
    }
    drop(tx);

    let status = wait_until(&mut child, deadline);
    if status.is_none() {
        kill_group(&child);
        let _ = child.wait();
    }
    // [stdout, stderr]
    let mut output = [Vec::new(), Vec::new()];
    let grace_end = Instant::now() + PIPE_GRACE;
    for _ in 0..2 {
        match rx.recv_timeout(grace_end.saturating_duration_since(Instant::now())) {
            Ok((index, tail)) => output[index] = tail,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Something it started still holds the pipes open.
                kill_group(&child);
                break;
            }
        }
    }
    let last_line = last_line(&output);
    match status {
        None => {
            let mut r = outcome(Status::Timeout);
            if let Some(line) = last_line {
                r = r.with_reason(format!(
                    "still running at the timeout, killed; last output: {line}"
                ));
            }
            r
        }
        Some(s) if s.success() => outcome(Status::Online),
        Some(s) => {
            let how = match (s.code(), s.signal()) {
                (Some(code), _) => format!("exit {code}"),
                (None, Some(sig)) => format!("killed by signal {sig}"),
                _ => "failed".to_string(),
            };
            let reason = match last_line {
                Some(line) => format!("{how}: {line}"),
                None => how,
            };
            outcome(Status::Offline).with_reason(reason)
        }
    }
}

/// Waits for the child to exit, or returns `None` at the deadline.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    // Short first sleeps: most checks exit within a few milliseconds.
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}

fn kill_group(child: &Child) {
    // The group id is the child's pid (process_group(0)). Safe: a plain syscall.
    unsafe {
        libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
    }
}

fn read_tail(mut pipe: Box<dyn Read + Send>) -> Vec<u8> {
    let mut tail = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > 2 * OUTPUT_TAIL {
                    tail.drain(..tail.len() - OUTPUT_TAIL);
                }
            }
        }
    }
    tail
}

/// The last non-empty line of stderr, else of stdout: where programs say why.
fn last_line(outputs: &[Vec<u8>; 2]) -> Option<String> {
    outputs
        .iter()
        .rev()
        .filter_map(|o| {
            String::from_utf8_lossy(o)
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string)
        })
        .next()
}
