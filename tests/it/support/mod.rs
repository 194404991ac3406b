//! The world each test builds: a temp folder with a config, the real binary
//! run with a hermetic environment, its database, the config builder and the
//! assertions. The servers it runs against, on 127.0.0.1 ephemeral ports (nothing
//! leaves the machine), live in the modules beside this one.

mod dns;
mod http;
mod postgres;
mod proxy;
mod raw;
pub mod rng;
mod smtp;
mod switch;
mod tls;

pub use dns::{Dnsmasq, Scripted, scripted};
pub use http::HttpServer;
pub use postgres::Postgres;
pub use proxy::Tinyproxy;
pub use raw::{closed_port, cutting_proxy, raw_answering, raw_server, raw_server_on, read_head};
pub use smtp::{SmtpOptions, SmtpServer, run_and_collect};
pub use switch::Switch;
pub use tls::{Ca, Cert};

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

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

    /// `run` with these variables set too (`PATH` among them replaces the inherited one).
    /// Runs upcheck with the clock moved by `offset` (libfaketime, e.g. "-3h").
    pub fn run_at(&self, offset: &str, args: &[&str]) -> Run {
        let real = self.command(args);
        let mut cmd = Command::new("faketime");
        cmd.arg("-f")
            .arg(offset)
            .arg(real.get_program())
            .args(real.get_args())
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        cmd.output()
            .expect("faketime (tests/deps.sh installs it)")
            .into()
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.command(args)
            .envs(env.iter().copied())
            .output()
            .expect("run upcheck")
            .into()
    }

    pub fn db(&self) -> Connection {
        Connection::open(self.path("upcheck.db")).expect("open db")
    }

    /// The one integer `sql` (a `SELECT count(*) ...`) yields on the world's database.
    pub fn count(&self, sql: &str) -> i64 {
        count(&self.db(), sql)
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

/// Asserts `text` contains `part`, showing both when it does not.
#[track_caller]
pub fn assert_contains(text: &str, part: &str) {
    assert!(text.contains(part), "expected {part:?} in:\n{text}");
}

/// Asserts that less than `bound` has passed since `started`.
#[track_caller]
pub fn assert_within(started: Instant, bound: Duration) {
    let took = started.elapsed();
    assert!(took < bound, "took {took:?}, not within {bound:?}");
}

/// This machine's host name, as upcheck names it in the mail and to alert commands.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
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

/// The one integer `sql` yields on `db`: `World::count` for a copy or a backup.
pub fn count(db: &Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// What SQLite's `PRAGMA integrity_check` says of a database: "ok" when whole.
pub fn integrity(db: &Connection) -> String {
    db.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check")
}
