//! The watchdog's restarts in a run: each service's verdict taken once
//! (`watchdog::verdict`, pure), the due commands run all at once (no shell,
//! own process group, bounded by `restart_timeout`), each restarted service
//! probed again to see what came of it, every attempt stored.

use std::thread;
use std::time::Instant;

use anyhow::Result;
use chrono::Utc;

use crate::alert::Decision;
use crate::check::CheckResult;
use crate::config::{Config, Service};
use crate::store::{RunId, Store};
use crate::watchdog::{self, Recheck, RestartAttempt, Verdict};
use crate::{log, process};

/// Probes a restarted service again: `probe::recheck`, handed in by the run
/// (only the probe module reaches services).
pub type Probe = fn(&Service, Instant, Instant) -> Option<CheckResult>;

/// Runs the restarts due this run, probes each restarted service again
/// (`probe`), and stores every attempt; none runs past `deadline`. Each
/// service's verdict is taken once; returns `(service, note)` for those
/// failing with their restart budget spent (this run's restart included),
/// for the email.
pub fn run_due(
    config: &Config,
    db: &mut Store,
    run: RunId,
    decisions: &[Decision],
    deadline: Instant,
    probe: Probe,
) -> Result<Vec<(String, String)>> {
    let now = Utc::now();
    // (service, its restart, verdict, restarts within the window before now)
    let mut judged = Vec::new();
    for (service, decision) in config.services.iter().zip(decisions) {
        let Some(r) = &service.restart else { continue };
        let recent = db.restarts_within(&service.name, watchdog::window_start(r, now), now)?;
        judged.push((
            service,
            r,
            watchdog::verdict(r, &decision.state, recent),
            recent,
        ));
    }
    let due: Vec<&Service> = judged
        .iter()
        .filter(|j| j.2 == Verdict::Restart)
        .map(|j| j.0)
        .collect();
    let mut ran = Vec::new();
    for attempt in restart_all(&due, deadline, probe) {
        log::info(&format!(
            "restarted {}: {}",
            attempt.service, attempt.outcome
        ));
        db.record_restart(run, &attempt)?;
        ran.push(attempt.service);
    }
    let exhausted = judged
        .into_iter()
        .filter(|(s, r, verdict, recent)| {
            let ran_now = ran.iter().filter(|name| **name == s.name).count() as u32;
            watchdog::spent_after(r, *verdict, recent + ran_now)
        })
        .map(|(s, r, ..)| (s.name.clone(), watchdog::budget_note(r)))
        .collect();
    Ok(exhausted)
}

/// Runs the restart commands of `services` at once, each bounded by its own
/// timeout, and probes each service again. Restarts and their probes end
/// within half of what is left before `deadline`, so the email and the
/// alert commands keep their turn.
fn restart_all(services: &[&Service], deadline: Instant, probe: Probe) -> Vec<RestartAttempt> {
    let now = Instant::now();
    let by = now + deadline.saturating_duration_since(now) / 2;
    thread::scope(|scope| {
        let handles: Vec<_> = services
            .iter()
            .map(|s| scope.spawn(move || restart_one(s, by, probe)))
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

/// Runs `service`'s restart, then probes it: after a command that exited 0,
/// every second until it passes or `restart_timeout` after the restart began
/// (a service may take a while to listen again); after one that failed, once.
fn restart_one(service: &Service, by: Instant, probe: Probe) -> RestartAttempt {
    let r = service
        .restart
        .as_ref()
        .expect("only services with a restart");
    let started_at = Utc::now();
    let clock = Instant::now();
    let done = process::run(
        &r.argv,
        Some(&r.dir),
        &[("UPCHECK_SERVICE", service.name.clone())],
        (clock + r.timeout).min(by),
    );
    let duration_ms = clock.elapsed().as_millis() as u64;
    let try_until = if done.success() {
        (clock + r.timeout).min(by)
    } else {
        Instant::now()
    };
    let recheck = probe(service, try_until, by).map(|c| Recheck {
        after_ms: (c.checked_at - started_at).num_milliseconds().max(0) as u64,
        status: c.status,
        reason: c.reason,
    });
    RestartAttempt {
        id: None,
        service: service.name.clone(),
        started_at,
        exit_code: match done.exit {
            process::Exit::Code(c) => Some(c),
            _ => None,
        },
        outcome: done.describe(),
        output: done.output(2000),
        duration_ms,
        recheck,
    }
}
