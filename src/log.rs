//! Messages on stderr, as text or JSON lines. Quiet by default: cron mails
//! whatever a job prints, so a healthy run prints nothing at the default level.

use std::io::Write;
use std::sync::OnceLock;

use chrono::Utc;

use crate::cli::LogFormat;
use crate::timefmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

struct Logger {
    max: Level,
    format: LogFormat,
    run_id: String,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// `quiet`: errors only; default: warnings; `-v`: info; `-vv`: debug.
pub fn init(quiet: bool, verbose: u8, format: LogFormat) {
    let max = match (quiet, verbose) {
        (true, _) => Level::Error,
        (false, 0) => Level::Warn,
        (false, 1) => Level::Info,
        _ => Level::Debug,
    };
    // One id per process, to tie a run's lines together in a journal, and
    // the dead-man's switch's pings of it (healthchecks' `rid`).
    let run_id = uuid_v4();
    let _ = LOGGER.set(Logger {
        max,
        format,
        run_id,
    });
}

/// This run's id: a random (version 4) UUID, `6f1c…-4…`.
pub fn run_id() -> String {
    LOGGER.get().map_or_else(uuid_v4, |l| l.run_id.clone())
}

/// A version 4 UUID from the kernel's random bytes (the time and process id
/// if they cannot be read: unique enough to pair two pings of one run).
fn uuid_v4() -> String {
    use std::io::Read;
    let mut b = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    if read.is_err() {
        let seed = (Utc::now().timestamp_nanos_opt().unwrap_or(0) as u128) << 32
            | u128::from(std::process::id());
        b = seed.to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// With `--log-format json`, a panic is one JSON error line like any other
/// (the default hook prints several plain lines a log shipper cannot parse).
/// Called once, before anything can panic; other hooks chain onto this one.
pub fn panics_as_lines() {
    if LOGGER.get().is_some_and(|l| l.format == LogFormat::Json) {
        std::panic::set_hook(Box::new(|info| error(&describe_panic(info))));
    }
}

/// "panic: what it said at src/file.rs:12".
pub fn describe_panic(info: &std::panic::PanicHookInfo<'_>) -> String {
    let what = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    let place = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    format!("panic: {what}{place}")
}

/// A usage error as the log format wants it: one JSON line, or clap's own
/// text; then exit 2 (help and version go to stdout as usual, exit 0).
pub fn usage_error(e: clap::Error, json: bool) -> ! {
    if json && e.use_stderr() {
        init(false, 0, LogFormat::Json);
        let text = e.to_string();
        error(&crate::check::one_line(
            text.trim_start_matches("error: "),
            2000,
        ));
        std::process::exit(2);
    }
    e.exit()
}

pub fn error(msg: &str) {
    emit(Level::Error, None, msg);
}

pub fn warn(msg: &str) {
    emit(Level::Warn, None, msg);
}

pub fn info(msg: &str) {
    emit(Level::Info, None, msg);
}

pub fn debug_service(service: &str, msg: &str) {
    emit(Level::Debug, Some(service), msg);
}

fn emit(level: Level, service: Option<&str>, msg: &str) {
    let Some(logger) = LOGGER.get() else {
        // Before init (argument parsing): errors still reach cron's mail.
        if level <= Level::Warn {
            eprintln!("upcheck: {msg}");
        }
        return;
    };
    if level > logger.max {
        return;
    }
    let line = match logger.format {
        LogFormat::Text => match service {
            Some(s) => format!("upcheck: {}: {s}: {msg}", level.as_str()),
            None if level == Level::Error => format!("upcheck: {msg}"),
            None => format!("upcheck: {}: {msg}", level.as_str()),
        },
        LogFormat::Json => {
            let mut obj = serde_json::json!({
                "timestamp": timefmt::iso(Utc::now()),
                "level": level.as_str(),
                "message": msg,
                "run_id": logger.run_id,
            });
            if let Some(s) = service {
                obj["service"] = s.into();
            }
            obj.to_string()
        }
    };
    // One write per line so concurrent threads never interleave mid-line.
    let _ = std::io::stderr()
        .lock()
        .write_all(format!("{line}\n").as_bytes());
}
