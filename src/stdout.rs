//! Writing what a command prints to standard output. A reader that closes
//! the pipe early (`upcheck status --json | head`) ends the command normally:
//! said with `StdoutClosed`, which `main` turns into a quiet exit 0.

use std::fmt;
use std::io::{ErrorKind, Write};

use anyhow::{Context, Result};

/// Standard output was closed by its reader: a normal end, not a failure.
#[derive(Debug)]
pub struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// Writes `text` whole to standard output.
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        other => other.context("writing to standard output"),
    }
}
