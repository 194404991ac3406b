//! Probing: the only code that touches the network or starts check commands.
//! Every service is probed at once (up to `parallel` in flight), each bounded
//! by its own timeout and all by the run's deadline, so a run lasts about as
//! long as its slowest probe. A failed probe is a `CheckResult`, never an `Err`.

mod command;
mod http;
mod tcp;
mod tls;

use std::collections::HashMap;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::check::{CheckResult, Status};
use crate::config::{Config, Fault, Service, Target};
use crate::log;
use crate::timefmt::{format_duration, human};

/// A probe that overruns its own timeout by this much is abandoned and
/// recorded as a timeout: a backstop for a resolver or a syscall that ignores
/// our deadlines. The thread is left to die with the process.
const BACKSTOP_GRACE: Duration = Duration::from_millis(500);
/// Probes mostly wait on sockets; a small stack keeps 200 threads cheap.
const PROBE_STACK: usize = 256 * 1024;

/// Probes every service and returns their results in config order. `last_ms`
/// is each service's previous response time: the slowest start first, so a
/// service that will hit its timeout starts its clock at once instead of
/// waiting for a free slot, and the run ends about one timeout after it began.
pub fn run_all(config: &Config, last_ms: &HashMap<String, u64>) -> Vec<CheckResult> {
    let (services, parallel, run_timeout) = (&config.services, config.parallel, config.run_timeout);
    let panic_injected = config.fault == Some(Fault::PanicInProbes);
    let deadline = Instant::now() + run_timeout;
    let http = services
        .iter()
        .any(|s| matches!(s.target, Target::Http(_)))
        .then(http::agent);
    let (tx, rx) = mpsc::channel::<(usize, CheckResult)>();
    let mut results: Vec<Option<CheckResult>> = vec![None; services.len()];
    // (index, give up at) of each probe in flight.
    let mut in_flight: Vec<(usize, Instant)> = Vec::with_capacity(parallel);
    let mut queue = start_order(services, last_ms).into_iter().peekable();
    loop {
        while in_flight.len() < parallel.max(1)
            && queue.peek().is_some()
            && Instant::now() < deadline
        {
            let Some(index) = queue.next() else { break };
            let service = services[index].clone();
            let give_up = Instant::now() + service.timeout + BACKSTOP_GRACE;
            let (tx, agent) = (tx.clone(), http.clone());
            let spawned = thread::Builder::new()
                .name(format!("probe-{index}"))
                .stack_size(PROBE_STACK)
                .spawn(move || {
                    let _ = tx.send((
                        index,
                        probe_guarded(&service, agent.as_ref(), panic_injected),
                    ));
                });
            match spawned {
                Ok(_) => in_flight.push((index, give_up.min(deadline))),
                // Out of threads: probe here, in turn, rather than lose the service.
                Err(_) => {
                    results[index] = Some(probe_guarded(
                        &services[index],
                        http.as_ref(),
                        panic_injected,
                    ))
                }
            }
        }
        if in_flight.is_empty() {
            break;
        }
        let wake = in_flight.iter().map(|f| f.1).min().unwrap_or(deadline);
        match rx.recv_timeout(wake.saturating_duration_since(Instant::now())) {
            Ok((index, result)) => {
                in_flight.retain(|f| f.0 != index);
                results[index] = Some(result);
            }
            Err(_) => {
                let now = Instant::now();
                in_flight.retain(|&(index, give_up)| {
                    if give_up > now {
                        return true;
                    }
                    let s = &services[index];
                    let mut r = CheckResult::new(&s.name, Utc::now(), Status::Timeout);
                    r = if now >= deadline {
                        r.with_reason(format!(
                            "no answer before the run's run_timeout ({}) ran out",
                            format_duration(run_timeout)
                        ))
                    } else {
                        timed_out(r, s.timeout)
                    };
                    results[index] = Some(r);
                    false
                });
            }
        }
    }
    // Only services the deadline kept us from starting are left.
    results
        .into_iter()
        .zip(services)
        .map(|(r, s)| {
            r.unwrap_or_else(|| {
                CheckResult::new(&s.name, Utc::now(), Status::Timeout).with_reason(format!(
                    "not probed: the run's run_timeout ({}) ran out before its turn; raise parallel or run_timeout",
                    format_duration(run_timeout)
                ))
            })
        })
        .collect()
}

/// Indices of `services`, those never measured first, then the slowest last time.
fn start_order(services: &[Service], last_ms: &HashMap<String, u64>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..services.len()).collect();
    // Stable: services alike keep their config order.
    order.sort_by_key(|&i| {
        std::cmp::Reverse(last_ms.get(&services[i].name).copied().unwrap_or(u64::MAX))
    });
    order
}

/// A panic in a probe is upcheck's bug, not the service's: the panic hook
/// reports it (once per run) and the run will exit 1, while the service is
/// recorded as offline with a reason that says so, rather than being lost.
fn probe_guarded(
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
    let mut result = match &service.target {
        Target::Http(t) => http::probe(t, agent.expect("agent built for http targets"), deadline),
        Target::Tcp(addr) => tcp::probe(addr, deadline),
        Target::Command(c) => command::probe(c, deadline),
    };
    let elapsed = started.elapsed();
    result.service = service.name.clone();
    result.checked_at = checked_at;
    result.response_ms.get_or_insert(elapsed.as_millis() as u64);
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

fn timed_out(result: CheckResult, timeout: Duration) -> CheckResult {
    result.with_reason(format!("no answer within {}", format_duration(timeout)))
}

/// What a probe module returns: the facts; `probe` fills in name and timing.
fn outcome(status: Status) -> CheckResult {
    CheckResult::new("", Utc::now(), status)
}

/// Time left before `deadline`, never zero (zero means "no timeout" to std).
fn remaining(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1))
}
