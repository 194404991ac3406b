//! The connectivity guard's probe: every `[connectivity]` target at once, a
//! TCP connect each within the guard's `timeout`. A stuck resolver cannot
//! hold the run longer: a target not done by then counts as unreachable.

use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use super::tcp;
use crate::check::Status;
use crate::config::Connectivity;
use crate::timefmt::format_duration;

/// `None` when at least one target answered; else why none did:
/// "cannot reach 1.1.1.1:53 (connection refused), 9.9.9.9:53 (no answer within 5s)".
pub fn unreachable(c: &Connectivity) -> Option<String> {
    let deadline = Instant::now() + c.timeout;
    let (tx, rx) = mpsc::channel();
    for (i, target) in c.targets.iter().enumerate() {
        let (tx, target) = (tx.clone(), target.clone());
        // Left to end with the process if it overruns: the answer is not waited for.
        let _ = thread::Builder::new().name("guard".into()).spawn(move || {
            let _ = tx.send((i, tcp::probe(&target, deadline)));
        });
    }
    drop(tx);
    let mut why: Vec<Option<String>> = vec![None; c.targets.len()];
    while let Ok((i, found)) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if found.status == Status::Online {
            return None;
        }
        why[i] = found.reason;
    }
    let said: Vec<String> = c
        .targets
        .iter()
        .zip(why)
        .map(|(target, why)| {
            let why =
                why.unwrap_or_else(|| format!("no answer within {}", format_duration(c.timeout)));
            format!("{target} ({why})")
        })
        .collect();
    Some(format!("cannot reach {}", said.join(", ")))
}
