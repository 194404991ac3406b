//! Running a program we were told to run (a check, a restart, an alert
//! command): argv without a shell, stdin closed, in its own process group that
//! is killed at the deadline, output drained with only its tail kept, so no
//! program can hang a run or fill its memory.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// The tail of each output stream that is kept; the rest is read and dropped
/// so a chatty program never blocks on a full pipe nor fills memory.
const OUTPUT_TAIL: usize = 8 * 1024;
/// After the program exits, how long to wait for a child it left behind to
/// close the output pipes before killing its process group.
const PIPE_GRACE: Duration = Duration::from_millis(200);

/// Process groups started and not yet reaped. Whatever is left when upcheck
/// ends (a check abandoned at the run's deadline, a run stopped by a signal)
/// is killed by `kill_all`: nothing upcheck started outlives it.
static RUNNING: Mutex<Registry> = Mutex::new(Registry {
    groups: Vec::new(),
    closed: false,
});

struct Registry {
    groups: Vec<u32>,
    /// Set by `kill_all`: upcheck is ending, nothing more is started.
    closed: bool,
}

fn running() -> std::sync::MutexGuard<'static, Registry> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Kills every process group upcheck started that is still running, and
/// starts no more.
pub fn kill_all() {
    let mut registry = running();
    registry.closed = true;
    for pid in registry.groups.drain(..) {
        // SAFETY: a plain syscall; the group id is the child's pid.
        unsafe {
            libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
        }
    }
}

/// How a program ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// Still running at the deadline; its process group was killed.
    TimedOut,
    /// It never started: not found, not executable, ...
    NotStarted(String),
}

#[derive(Clone, Debug)]
pub struct Finished {
    pub exit: Exit,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.exit == Exit::Code(0)
    }

    /// The last non-empty line of stderr, else of stdout: where programs say why.
    pub fn last_line(&self) -> Option<String> {
        [&self.stderr, &self.stdout]
            .into_iter()
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

    /// stdout then stderr, lossily decoded, at most `max` characters (the end kept).
    pub fn output(&self, max: usize) -> String {
        let mut text = String::from_utf8_lossy(&self.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&self.stderr));
        let count = text.chars().count();
        if count > max {
            text = format!("…{}", text.chars().skip(count - max).collect::<String>());
        }
        text
    }

    /// "exit 3", "killed by signal 9", "still running at the timeout, killed",
    /// "could not start /x: not found".
    pub fn describe(&self) -> String {
        match &self.exit {
            Exit::Code(code) => format!("exit {code}"),
            Exit::Signal(sig) => format!("killed by signal {sig}"),
            Exit::TimedOut => "still running at the timeout, killed".to_string(),
            Exit::NotStarted(why) => why.clone(),
        }
    }
}

/// Runs `argv` until it exits or `deadline` passes. `env` is added to the
/// inherited environment.
pub fn run(
    argv: &[String],
    dir: Option<&Path>,
    env: &[(&str, String)],
    deadline: Instant,
) -> Finished {
    let program = &argv[0];
    let mut command = Command::new(program);
    command
        .args(&argv[1..])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills everything it started.
        .process_group(0);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    // Spawned and registered under one lock, so `kill_all` cannot miss a
    // child between the two; once upcheck is ending, nothing new starts.
    let mut registry = running();
    if registry.closed {
        return not_started(program, &std::io::Error::other("upcheck is ending"));
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return not_started(program, &e),
    };
    registry.groups.push(child.id());
    drop(registry);
    let outputs = drain(&mut child);
    let status = wait_until(&mut child, deadline);
    if status.is_none() {
        kill_group(&child);
        let _ = child.wait();
    }
    let [stdout, stderr] = collect(&child, &outputs);
    running().groups.retain(|pid| *pid != child.id());
    let exit = match status {
        None => Exit::TimedOut,
        Some(s) => match (s.code(), s.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(sig)) => Exit::Signal(sig),
            _ => Exit::Code(-1),
        },
    };
    Finished {
        exit,
        stdout,
        stderr,
    }
}

fn not_started(program: &str, e: &std::io::Error) -> Finished {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => "not found".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    Finished {
        exit: Exit::NotStarted(format!("could not start {program}: {why}")),
        stdout: Vec::new(),
        stderr: Vec::new(),
    }
}

/// Reads stdout and stderr in threads of their own, keeping each one's
/// tail, so a chatty program never blocks on a full pipe. Each tail arrives
/// on the channel as `(0 stdout | 1 stderr, bytes)` when its pipe closes.
fn drain(child: &mut Child) -> mpsc::Receiver<(usize, Vec<u8>)> {
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
    rx
}

/// The tails of stdout and stderr, waiting at most `PIPE_GRACE` after the
/// child ended: something it started that still holds the pipes open is
/// killed with its process group.
fn collect(child: &Child, outputs: &mpsc::Receiver<(usize, Vec<u8>)>) -> [Vec<u8>; 2] {
    let mut output = [Vec::new(), Vec::new()];
    let grace_end = Instant::now() + PIPE_GRACE;
    for _ in 0..2 {
        match outputs.recv_timeout(grace_end.saturating_duration_since(Instant::now())) {
            Ok((index, tail)) => output[index] = tail,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Something it started still holds the pipes open.
                kill_group(child);
                break;
            }
        }
    }
    output
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
        // A signal stops upcheck: what it runs stops with it, at once.
        if now >= deadline || crate::signals::stopped().is_some() {
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
