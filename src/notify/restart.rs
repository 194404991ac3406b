//! The watchdog's restarts in a run: each service's verdict taken once
//! (`watchdog::verdict`, pure), the due commands run all at once (no shell,
//! own process group, bounded by `restart_timeout`), every attempt stored.

use std::thread;
use std::time::Instant;

use anyhow::Result;
use chrono::Utc;

use crate::alert::Decision;
use crate::config::{Config, Restart, Service};
use crate::store::{RunId, Store};
use crate::watchdog::{self, RestartAttempt, Verdict};
use crate::{log, process};

/// Runs the restarts due this run and stores every attempt; none runs past
/// `deadline`. Each service's
/// verdict is taken once; returns `(service, note)` for those failing with
/// their restart budget spent (this run's restart included), for the email.
pub fn run_due(
    config: &Config,
    db: &mut Store,
    run: RunId,
    decisions: &[Decision],
    deadline: Instant,
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
    for attempt in restart_all(&due, deadline) {
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

/// Runs the restart commands of `services` at once, each bounded by its own timeout.
fn restart_all(services: &[&Service], deadline: Instant) -> Vec<RestartAttempt> {
    thread::scope(|scope| {
        let handles: Vec<_> = services
            .iter()
            .filter_map(|s| s.restart.as_ref().map(|r| (s, r)))
            .map(|(s, r)| scope.spawn(move || restart_one(&s.name, r, deadline)))
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

fn restart_one(service: &str, r: &Restart, deadline: Instant) -> RestartAttempt {
    let started_at = Utc::now();
    let clock = Instant::now();
    let done = process::run(
        &r.argv,
        Some(&r.dir),
        &[("UPCHECK_SERVICE", service.to_string())],
        (clock + r.timeout).min(deadline),
    );
    RestartAttempt {
        id: None,
        service: service.to_string(),
        started_at,
        exit_code: match done.exit {
            process::Exit::Code(c) => Some(c),
            _ => None,
        },
        outcome: done.describe(),
        output: done.output(2000),
        duration_ms: clock.elapsed().as_millis() as u64,
    }
}
