//! Probing: the only code that touches the network or starts check commands.
//! Every service is probed at once (up to `parallel` in flight), each bounded
//! by its own timeout and all by the run's deadline, so a run lasts about as
//! long as its slowest probe. A failed probe is a `CheckResult`, never an `Err`.

mod command;
mod http;
mod tcp;
mod tls;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
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
/// Workers to start with. Most probes answer in a millisecond or two, and a
/// thread costs more than that to start and stop; more are hired, doubling up
/// to `parallel`, while every worker is busy with a slow probe.
const FIRST_WORKERS: usize = 8;
/// How long every worker must have been busy before more are hired.
const BUSY: Duration = Duration::from_millis(10);
/// Probes mostly wait on sockets; a small stack keeps 200 threads cheap.
const PROBE_STACK: usize = 256 * 1024;

/// Open files one probe may hold at a time: a command's two output pipes,
/// the pair still being set up while it starts and its exec-status pipe; an
/// HTTP probe's socket and the second one that reads the certificate.
const FILES_PER_PROBE: u64 = 6;
/// Open files kept for the rest of the run: stdio, the database, its WAL and
/// shared memory, the lock, mail and heartbeat sockets, outputs.
const FILES_RESERVED: u64 = 64;

/// How many of `wanted` probes may be in flight without running out of file
/// descriptors, which would fail healthy services with "Too many open
/// files". A soft limit too low for `wanted` is first raised, towards the
/// hard limit but no further than needed: the programs we start inherit it,
/// and some still assume 1024.
fn workers_within_open_files(wanted: usize) -> usize {
    let needed = (wanted as u64)
        .saturating_mul(FILES_PER_PROBE)
        .saturating_add(FILES_RESERVED);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write this struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return usize::MAX;
        }
        if limit.rlim_cur < needed.min(limit.rlim_max) {
            let raised = libc::rlimit {
                rlim_cur: needed.min(limit.rlim_max),
                ..limit
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    if limit.rlim_cur == libc::RLIM_INFINITY {
        return usize::MAX;
    }
    let workers = limit.rlim_cur.saturating_sub(FILES_RESERVED) / FILES_PER_PROBE;
    usize::try_from(workers.max(1)).unwrap_or(usize::MAX)
}

/// Probes every service and returns their results in config order. `last_ms`
/// is each service's previous response time: the slowest start first, so a
/// service that will hit its timeout starts its clock at once instead of
/// waiting for a free slot, and the run ends about one timeout after it began.
///
/// Workers (up to `parallel`, never more than services) take services from a
/// shared queue; a few start, and more are hired while slow probes hold them
/// all. A worker stuck past its probe's timeout (plus a grace) is abandoned,
/// its service recorded as a timeout, and a fresh worker takes its place.
pub fn run_all(config: &Config, last_ms: &HashMap<String, u64>) -> Vec<CheckResult> {
    let services = &config.services;
    let run_timeout = config.run_timeout;
    let deadline = Instant::now() + run_timeout;
    let pool = Arc::new(Pool {
        services: services.clone(),
        order: start_order(services, last_ms),
        next: AtomicUsize::new(0),
        deadline,
        agent: services
            .iter()
            .any(|s| matches!(s.target, Target::Http(_)))
            .then(http::agent),
        panic_injected: config.fault == Some(Fault::PanicInProbes),
    });
    let (tx, rx) = mpsc::channel::<Event>();
    // Workers we count on: started, not finished, not given up on.
    let mut alive: HashSet<usize> = HashSet::new();
    let mut next_worker = 0;
    let mut hire = |alive: &mut HashSet<usize>| {
        next_worker += 1;
        if spawn_worker(next_worker, &pool, &tx) {
            alive.insert(next_worker);
        }
    };
    let max_workers =
        config
            .parallel
            .clamp(1, services.len().max(1))
            .min(workers_within_open_files(
                config.parallel.min(services.len()),
            ));
    if max_workers < config.parallel.min(services.len()) {
        log::info(&format!(
            "probing {max_workers} at a time, not {}: the open-files limit (ulimit -n) allows no more",
            config.parallel
        ));
    }
    for _ in 0..max_workers.min(FIRST_WORKERS) {
        hire(&mut alive);
    }
    let mut results: Vec<Option<CheckResult>> = vec![None; services.len()];
    // Service index → (its worker, when it started, when to give up on it).
    let mut in_flight: HashMap<usize, (usize, Instant, Instant)> = HashMap::new();
    while results.iter().any(Option::is_none) {
        if alive.is_empty() {
            // No worker could be started, or all have finished: probe what is left here.
            match pool.take() {
                Some(i) => results[i] = Some(pool.probe(i)),
                None => break,
            }
            continue;
        }
        // Slow probes hold every worker: hire more, doubling, up to `parallel`.
        let now = Instant::now();
        let may_grow = pool.remaining() > 0 && alive.len() < max_workers;
        if may_grow
            && in_flight.len() >= alive.len()
            && in_flight.values().all(|f| now - f.1 >= BUSY)
        {
            for _ in 0..alive.len().min(max_workers - alive.len()) {
                hire(&mut alive);
            }
        }
        let mut wake = in_flight
            .values()
            .map(|f| f.2)
            .min()
            .unwrap_or(deadline)
            .min(deadline);
        if may_grow {
            wake = wake.min(now + BUSY);
        }
        match rx.recv_timeout(wake.saturating_duration_since(Instant::now())) {
            Ok(Event::Started(worker, i, at)) => {
                let give_up = at + services[i].timeout + BACKSTOP_GRACE;
                in_flight.insert(i, (worker, at, give_up.min(deadline)));
            }
            Ok(Event::Done(i, result)) => {
                if in_flight.remove(&i).is_some() {
                    results[i] = Some(result);
                }
            }
            Ok(Event::Exited(worker)) => {
                alive.remove(&worker);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let now = Instant::now();
                let expired: Vec<usize> = in_flight
                    .iter()
                    .filter(|(_, f)| f.2 <= now)
                    .map(|(i, _)| *i)
                    .collect();
                for i in expired {
                    let Some((worker, ..)) = in_flight.remove(&i) else {
                        continue;
                    };
                    let s = &services[i];
                    let r = CheckResult::new(&s.name, Utc::now(), Status::Timeout);
                    results[i] = Some(if now >= deadline {
                        r.with_reason(format!(
                            "no answer before the run's run_timeout ({}) ran out",
                            format_duration(run_timeout)
                        ))
                    } else {
                        timed_out(r, s.timeout)
                    });
                    // Its worker is stuck: count on a fresh one instead.
                    if alive.remove(&worker) {
                        hire(&mut alive);
                    }
                }
                if now >= deadline && in_flight.is_empty() {
                    break;
                }
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

/// What the workers share: the services in start order and a cursor into them.
struct Pool {
    services: Vec<Service>,
    order: Vec<usize>,
    next: AtomicUsize,
    deadline: Instant,
    agent: Option<ureq::Agent>,
    panic_injected: bool,
}

impl Pool {
    /// Services not yet taken.
    fn remaining(&self) -> usize {
        self.order
            .len()
            .saturating_sub(self.next.load(Ordering::SeqCst))
    }

    /// The next service to probe, unless none is left or the run is out of time.
    fn take(&self) -> Option<usize> {
        if Instant::now() >= self.deadline {
            return None;
        }
        self.order
            .get(self.next.fetch_add(1, Ordering::SeqCst))
            .copied()
    }

    fn probe(&self, i: usize) -> CheckResult {
        probe_guarded(&self.services[i], self.agent.as_ref(), self.panic_injected)
    }
}

/// What workers tell the dispatcher; `usize`s are worker ids, then service indices.
enum Event {
    Started(usize, usize, Instant),
    Done(usize, CheckResult),
    Exited(usize),
}

/// Starts a worker that probes services until none is left; false if the
/// system would not give us a thread.
fn spawn_worker(id: usize, pool: &Arc<Pool>, tx: &mpsc::Sender<Event>) -> bool {
    let (pool, tx) = (pool.clone(), tx.clone());
    thread::Builder::new()
        .name("probe".into())
        .stack_size(PROBE_STACK)
        .spawn(move || {
            while let Some(i) = pool.take() {
                let _ = tx.send(Event::Started(id, i, Instant::now()));
                let _ = tx.send(Event::Done(i, pool.probe(i)));
            }
            let _ = tx.send(Event::Exited(id));
        })
        .is_ok()
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
