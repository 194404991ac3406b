//! Command checks: exit 0 is online; anything else is offline with the exit
//! status and the last line the command wrote. How programs are run (no
//! shell, process group killed at the timeout) lives in `crate::process`.

use std::time::Instant;

use crate::check::{Finding, Status};
use crate::config::CommandTarget;
use crate::process::{self, Exit};

pub fn probe(c: &CommandTarget, deadline: Instant) -> Finding {
    let done = process::run(&c.argv, Some(&c.dir), &[], deadline);
    let last_line = done.last_line();
    match &done.exit {
        Exit::Code(0) => Finding::new(Status::Online),
        Exit::TimedOut => {
            let mut r = Finding::new(Status::Timeout);
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
            Finding::new(Status::Offline).with_reason(reason)
        }
    }
}
