//! The watchdog's restarts in a run: each service's verdict taken once
//! (`watchdog::verdict`, pure), the due commands run all at once (no shell,
//! own process group, bounded by `restart_timeout`), each restarted service
//! probed again to see what came of it, every attempt stored.

use std::collections::HashMap;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::Utc;

use crate::alert::Decision;
use crate::config::{Config, Service};
use crate::store::{RunId, Store};
use crate::watchdog::{self, Recheck, RestartAttempt, Verdict};
use crate::{log, probe, process};

/// Runs the restarts due this run, probes each restarted service again,
/// and stores every attempt as it ends (the probe after it when that ends);
/// none runs past `deadline`. Each service's verdict is taken once; returns
/// `(service, note)` for those failing with their restart budget spent (this
/// run's restart included), for the email.
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
        // Held (a silence, a window, a failing dependency): no restart.
        if decision.held {
            continue;
        }
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
    let ran = restart_all(db, run, &due, deadline, config.run_timeout)?;
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

/// What a restart's thread tells the run's, which alone holds the database;
/// `usize` is the service's place among those restarted.
enum Event {
    Ran(usize, RestartAttempt),
    Rechecked(usize, Recheck),
}

/// Runs the restart commands of `services` at once, each bounded by its own
/// timeout and `deadline`, then probes each service again, within half of
/// what is left before `deadline` so the email and the alert commands keep
/// their turn. Each attempt is stored as soon as its command ends: a run
/// killed while probing again still counts it against the budget. Returns
/// the names of the services restarted.
fn restart_all(
    db: &mut Store,
    run: RunId,
    services: &[&Service],
    deadline: Instant,
    run_timeout: Duration,
) -> Result<Vec<String>> {
    let now = Instant::now();
    let by = now + deadline.saturating_duration_since(now) / 2;
    let (tx, rx) = mpsc::channel();
    thread::scope(|scope| {
        for (i, service) in services.iter().enumerate() {
            let tx = tx.clone();
            scope.spawn(move || restart_one(i, service, deadline, (by, run_timeout), tx));
        }
        drop(tx);
        let (mut ids, mut ran, mut failed) = (HashMap::new(), Vec::new(), None);
        // Until every restart's thread is done.
        for event in rx {
            let stored = match event {
                Event::Ran(i, attempt) => {
                    log::info(&format!(
                        "restarted {}: {}",
                        attempt.service, attempt.outcome
                    ));
                    ran.push(attempt.service.clone());
                    db.record_restart(run, &attempt).map(|id| {
                        ids.insert(i, id);
                    })
                }
                Event::Rechecked(i, recheck) => match ids.get(&i) {
                    Some(&id) => db.record_recheck(id, &recheck),
                    None => Ok(()),
                },
            };
            if let Err(e) = stored {
                failed.get_or_insert(e);
            }
        }
        failed.map_or(Ok(ran), Err)
    })
}

/// Runs `service`'s restart, then probes it: after a command that exited 0,
/// every second until it passes or `restart_timeout` after the restart began
/// (a service may take a while to listen again); after one that failed, once.
fn restart_one(
    i: usize,
    service: &Service,
    deadline: Instant,
    (by, run_timeout): (Instant, Duration),
    tx: mpsc::Sender<Event>,
) {
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
        (clock + r.timeout).min(deadline),
    );
    let attempt = RestartAttempt {
        id: None,
        service: service.name.clone(),
        started_at,
        exit_code: match done.exit {
            process::Exit::Code(c) => Some(c),
            _ => None,
        },
        outcome: done.describe(),
        output: done.output(2000),
        duration_ms: clock.elapsed().as_millis() as u64,
        recheck: None,
    };
    let _ = tx.send(Event::Ran(i, attempt));
    let window = probe::Window {
        try_until: match done.success() {
            true => (clock + r.timeout).min(by),
            false => Instant::now(),
        },
        by,
        run_timeout,
    };
    if let Some((c, began)) = probe::recheck(service, &window) {
        let recheck = Recheck {
            after_ms: began.saturating_duration_since(clock).as_millis() as u64,
            status: c.status,
            reason: c.reason,
        };
        let _ = tx.send(Event::Rechecked(i, recheck));
    }
}
