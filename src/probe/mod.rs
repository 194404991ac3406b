//! Probing: reaching the probed services and starting check commands, one
//! file per kind of check, each returning a `Finding` (a failed probe is data,
//! never an `Err`). All at once, up to `parallel` (see `pool`), each bounded
//! by its own timeout and all by the run's deadline.

mod command;
mod dns;
pub mod guard;
mod handshake;
mod http;
mod limits;
mod pool;
mod starttls;
mod tcp;
mod tls;
mod tunnel;
mod userinfo;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::check::{CheckResult, Finding, REASON_CHARS, Status, one_line};
use crate::config::{Config, Fault, Service, Target};
use crate::log;
use crate::timefmt::{format_duration, human};

use pool::{Dispatcher, Pool};

/// Probes every service and returns their results in config order (when a
/// signal stopped upcheck, only those that were probed). `last_ms`
/// is each service's previous response time: the slowest start first, so a
/// service that will hit its timeout starts its clock at once instead of
/// waiting for a free slot, and the run ends about one timeout after it began.
pub fn run_all(config: &Config, last_ms: &HashMap<String, u64>) -> Vec<CheckResult> {
    let services = &config.services;
    let deadline = Instant::now() + config.run_timeout;
    let agent = services
        .iter()
        .any(|s| matches!(s.target, Target::Http(_)))
        .then(http::agent);
    let panic_injected = config.fault == Some(Fault::PanicInProbes);
    let pool = Pool::new(
        services,
        last_ms,
        deadline,
        config.run_timeout,
        agent,
        panic_injected,
    );
    let results = Dispatcher::new(pool, max_workers(config)).run();
    // Stopped by a signal: only what was probed, so that a check cut short
    // or never begun counts for nothing.
    if crate::signals::stopped().is_some() {
        return results.into_iter().flatten().collect();
    }
    // Only services the deadline kept us from starting are left.
    results
        .into_iter()
        .zip(services)
        .map(|(r, s)| {
            r.unwrap_or_else(|| {
                CheckResult::new(&s.name, Utc::now(), Status::Timeout).with_reason(format!(
                    "not probed: the run's run_timeout ({}) ran out before its turn; raise parallel or run_timeout",
                    format_duration(config.run_timeout)
                ))
            })
        })
        .collect()
}

/// After a restart, the pause between probes of the restarted service.
const RECHECK_PAUSE: Duration = Duration::from_secs(1);

/// When a restarted service is probed again.
pub struct Window {
    /// Probed again while it fails, until this.
    pub try_until: Instant,
    /// Every probe ends by this.
    pub by: Instant,
    /// For the reason of a probe cut off at `by`.
    pub run_timeout: Duration,
}

/// After a restart: probes `service` at once, then every second while it
/// fails and `window.try_until` has not passed, each probe through the
/// dispatcher (so a stuck resolver or a signal cannot hold the run). The last
/// result (the first that passed, or the last that failed) and when its probe
/// began; `None` when no probe could be made (no time left, or a signal).
pub fn recheck(service: &Service, window: &Window) -> Option<(CheckResult, Instant)> {
    let agent = matches!(service.target, Target::Http(_)).then(http::agent);
    let mut last = None;
    loop {
        let began = Instant::now();
        let left = window.by.saturating_duration_since(began);
        let mut bounded = service.clone();
        bounded.timeout = service.timeout.min(left);
        let pool = Pool::new(
            std::slice::from_ref(&bounded),
            &HashMap::new(),
            window.by,
            window.run_timeout,
            agent.clone(),
            false,
        );
        let Some(result) = Dispatcher::new(pool, 1).run().pop().flatten() else {
            return last;
        };
        let passed = !result.status.is_failure();
        last = Some((result, began));
        let wait = window.try_until.saturating_duration_since(Instant::now());
        if passed || wait.is_zero() || !crate::signals::sleep(wait.min(RECHECK_PAUSE)) {
            return last;
        }
    }
}

/// Workers: up to `parallel`, never more than services, never more than the
/// open-files limit allows (said at -v when that is what holds it back).
fn max_workers(config: &Config) -> usize {
    let wanted = config.parallel.min(config.services.len());
    let max = config
        .parallel
        .clamp(1, config.services.len().max(1))
        .min(limits::workers_within_open_files(wanted));
    if max < wanted {
        log::info(&format!(
            "probing {max} at a time, not {}: the open-files limit (ulimit -n) allows no more",
            config.parallel
        ));
    }
    max
}

/// A retry needs at least this long before the deadline to be worth starting.
const SHORTEST_RETRY: Duration = Duration::from_millis(100);

/// Probes `service`, and while it fails tries again, up to `retries` more
/// times `retry_delay` apart, never past `deadline` (the last attempt's
/// timeout is cut to fit). Only the last attempt is kept; its reason ends
/// with how many were made.
pub(super) fn probe_retrying(
    service: &Service,
    agent: Option<&ureq::Agent>,
    panic_injected: bool,
    deadline: Instant,
) -> CheckResult {
    let mut made = 1;
    let mut result = probe_guarded(service, agent, panic_injected);
    while result.status.is_failure() && made <= service.retries {
        let starts = Instant::now() + service.retry_delay;
        if starts + SHORTEST_RETRY > deadline {
            let wanted = service.retries + 1;
            return with_attempts(
                result,
                &format!("{made} of {wanted} attempts: run_timeout left no time for more"),
            );
        }
        if !crate::signals::sleep(service.retry_delay) {
            break;
        }
        let mut bounded = service.clone();
        bounded.timeout = service
            .timeout
            .min(deadline.saturating_duration_since(starts));
        result = probe_guarded(&bounded, agent, panic_injected);
        made += 1;
    }
    match made {
        1 => result,
        _ => with_attempts(result, &format!("{made} attempts")),
    }
}

/// `result` with "(what)" after its reason, when it has one; the reason is
/// shortened rather than the count lost.
fn with_attempts(mut result: CheckResult, what: &str) -> CheckResult {
    if let Some(reason) = &result.reason {
        let what = format!(" ({what})");
        // One more for the ellipsis `one_line` adds when it cuts.
        let room = REASON_CHARS.saturating_sub(what.chars().count() + 1);
        result.reason = Some(one_line(reason, room) + &what);
    }
    result
}

/// The longest `probe_retrying` may take for `service`, all attempts and
/// pauses included: past this (plus a grace) the dispatcher gives up on it.
pub(super) fn budget(service: &Service) -> Duration {
    let tries = service.retries + 1;
    service.timeout * tries + service.retry_delay * service.retries
}

/// A panic in a probe is upcheck's bug, not the service's: the panic hook
/// reports it (once per run) and the run will exit 1, while the service is
/// recorded as offline with a reason that says so, rather than being lost.
pub(super) fn probe_guarded(
    service: &Service,
    agent: Option<&ureq::Agent>,
    panic_injected: bool,
) -> CheckResult {
    let checked_at = Utc::now();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if panic_injected {
            panic!("injected panic in the probe of {}", service.name);
        }
        probe(service, agent)
    }))
    .unwrap_or_else(|_| {
        CheckResult::new(&service.name, checked_at, Status::Offline)
            .with_reason("upcheck itself failed while probing this service (a bug; see stderr)")
    })
}

/// Probes one service, within its timeout.
fn probe(service: &Service, agent: Option<&ureq::Agent>) -> CheckResult {
    let checked_at = Utc::now();
    let started = Instant::now();
    let deadline = started + service.timeout;
    let finding: Finding = match &service.target {
        Target::Http(t) => http::probe(t, agent.expect("agent built for http targets"), deadline),
        Target::Tcp(addr) => tcp::probe(addr, deadline),
        Target::Command(c) => command::probe(c, deadline),
        Target::Tls(t) => handshake::probe(t, deadline),
        Target::Dns(t) => dns::probe(t, deadline),
    };
    let elapsed = started.elapsed();
    let mut result = CheckResult::found(
        &service.name,
        checked_at,
        elapsed.as_millis() as u64,
        finding,
    );
    if result.status == Status::Timeout && result.reason.is_none() {
        result = timed_out(result, service.timeout);
    }
    log::debug_service(
        &service.name,
        &format!(
            "{} in {}{}",
            result.status,
            human(elapsed),
            result
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
    );
    result
}

pub(super) fn timed_out(result: CheckResult, timeout: Duration) -> CheckResult {
    result.with_reason(format!("no answer within {}", format_duration(timeout)))
}

/// Time left before `deadline`, never zero (zero means "no timeout" to std).
fn remaining(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attempts_made_survive_a_long_reason() {
        let long = "x".repeat(REASON_CHARS);
        let result = CheckResult::new("a", Utc::now(), Status::Offline).with_reason(long);
        let reason = with_attempts(result, "3 attempts").reason.unwrap();
        assert_eq!(reason.chars().count(), REASON_CHARS);
        assert!(reason.ends_with("… (3 attempts)"), "{reason}");
        let online = CheckResult::new("a", Utc::now(), Status::Online);
        assert_eq!(with_attempts(online, "2 attempts").reason, None);
    }
}
