//! Command checks: exit 0 is online; anything else is offline with the exit
//! status and the last line the command wrote. How programs are run (no
//! shell, process group killed at the timeout) lives in `crate::process`.

use std::time::Instant;

use crate::check::{CheckResult, Status};
use crate::config::CommandTarget;
use crate::process::{self, Exit};

use super::outcome;

pub fn probe(c: &CommandTarget, deadline: Instant) -> CheckResult {
    let done = process::run(&c.argv, Some(&c.dir), &[], deadline);
    let last_line = done.last_line();
    match &done.exit {
        Exit::Code(0) => outcome(Status::Online),
        Exit::TimedOut => {
            let mut r = outcome(Status::Timeout);
            if let Some(line) = last_line {
                r = r.with_reason(format!(
                    "still running at the timeout, killed; last output: {line}"
                ));
            }
            r
        }
        _ => {
            let how = done.describe();
            let reason = match last_line {
                Some(line) => format!("{how}: {line}"),
                None => how,
            };
            outcome(Status::Offline).with_reason(reason)
        }
    }
}
