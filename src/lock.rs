//! One run at a time: an exclusive lock on a file beside the database, held
//! from before probing until the run has stored and sent everything. A second
//! run waits a bounded time, then gives up with a clear message.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::timefmt::format_duration;

/// Held until dropped; the OS releases it if the process dies, so a crashed
/// run never leaves a stale lock behind.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

pub fn acquire(path: &Path, wait: Duration) -> Result<RunLock> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the database folder {}", dir.display()))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(5);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(RunLock { _file: file }),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
        if let Some(stopped) = crate::signals::stopped() {
            return Err(stopped.into());
        }
        let now = Instant::now();
        if now >= deadline {
            bail!(
                "another upcheck run still holds {} after waiting {}; is a previous run hanging?",
                path.display(),
                format_duration(wait)
            );
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}
