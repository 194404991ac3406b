//! The probe workers and their dispatcher. Workers take services from a
//! shared queue (slowest last time first); a few start, plus one for each
//! service that was slow last time, and more are hired,
//! doubling up to the cap, while slow probes hold them all. A worker stuck
//! past its probe's timeout (plus a grace) is abandoned, its service
//! recorded as a timeout, and a fresh worker takes its place.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::{budget, probe_retrying, timed_out};
use crate::check::{CheckResult, Status};
use crate::config::Service;
use crate::signals;
use crate::timefmt::format_duration;

/// A probe that overruns its own timeout by this much is abandoned and
/// recorded as a timeout: a backstop for a resolver or a syscall that ignores
/// our deadlines. The thread is left to die with the process.
const BACKSTOP_GRACE: Duration = Duration::from_millis(500);
/// Workers to start with for fast probes. Most answer in a millisecond or
/// two, and a thread costs more than that to start and stop: starting a
/// worker per service made 50 healthy targets 1.24x slower (bench B).
const FIRST_WORKERS: usize = 8;
/// How long every worker must have been busy before more are hired; also
/// what "slow last time" means: such a service gets a worker of its own
/// from the start, instead of waiting for the pool to double its way there
/// (~10 ms a step: 100 targets of 200 ms took 1.21x curl's time, 1.03x with).
const BUSY: Duration = Duration::from_millis(10);
/// How often the dispatcher looks whether a signal asked upcheck to stop.
const SIGNAL_POLL: Duration = Duration::from_millis(100);
/// Probes mostly wait on sockets; a small stack keeps 200 threads cheap.
const PROBE_STACK: usize = 256 * 1024;

/// What the workers share: the services in start order and a cursor into them.
pub struct Pool {
    pub services: Vec<Service>,
    order: Vec<usize>,
    /// Services slow last time.
    slow: usize,
    next: AtomicUsize,
    pub deadline: Instant,
    pub run_timeout: Duration,
    agent: Option<ureq::Agent>,
    panic_injected: bool,
}

impl Pool {
    pub fn new(
        services: &[Service],
        last_ms: &HashMap<String, u64>,
        deadline: Instant,
        run_timeout: Duration,
        agent: Option<ureq::Agent>,
        panic_injected: bool,
    ) -> Pool {
        let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        Pool {
            services: services.to_vec(),
            order: start_order(&names, last_ms),
            slow: slow_last_time(&names, last_ms),
            next: AtomicUsize::new(0),
            deadline,
            run_timeout,
            agent,
            panic_injected,
        }
    }

    /// Services not yet taken.
    fn remaining(&self) -> usize {
        self.order
            .len()
            .saturating_sub(self.next.load(Ordering::SeqCst))
    }

    /// The next service to probe, unless none is left, the run is out of
    /// time, or upcheck was told to stop.
    fn take(&self) -> Option<usize> {
        if Instant::now() >= self.deadline || signals::stopped().is_some() {
            return None;
        }
        self.order
            .get(self.next.fetch_add(1, Ordering::SeqCst))
            .copied()
    }

    /// Probes service `i`; `None` when a signal stopped upcheck meanwhile: a
    /// check cut short (its command killed) says nothing of the service.
    fn probe(&self, i: usize) -> Option<CheckResult> {
        let result = probe_retrying(
            &self.services[i],
            self.agent.as_ref(),
            self.panic_injected,
            self.deadline,
        );
        signals::stopped().is_none().then_some(result)
    }
}

/// What workers tell the dispatcher; `usize`s are worker ids, then service indices.
enum Event {
    Started(usize, usize, Instant),
    Done(usize, Option<CheckResult>),
    Exited(usize),
}

/// A service being probed: by which worker, since when, when to give up.
struct InFlight {
    worker: usize,
    started: Instant,
    give_up: Instant,
}

/// Hands services to workers and collects what they found, in config order.
pub struct Dispatcher {
    pool: Arc<Pool>,
    max_workers: usize,
    tx: mpsc::Sender<Event>,
    rx: mpsc::Receiver<Event>,
    /// Workers we count on: started, not finished, not given up on.
    alive: HashSet<usize>,
    last_worker: usize,
    in_flight: HashMap<usize, InFlight>,
    results: Vec<Option<CheckResult>>,
    /// Services not yet settled (probed, given up on, or cut short): a
    /// count, so that each event costs the same with 20,000 services.
    pending: usize,
}

impl Dispatcher {
    pub fn new(pool: Pool, max_workers: usize) -> Dispatcher {
        let (tx, rx) = mpsc::channel();
        let results = vec![None; pool.services.len()];
        Dispatcher {
            pool: Arc::new(pool),
            max_workers,
            tx,
            rx,
            alive: HashSet::new(),
            last_worker: 0,
            in_flight: HashMap::new(),
            pending: results.len(),
            results,
        }
    }

    /// Probes until every service has a result, the run's deadline passes or
    /// a signal stops upcheck; `None` for a service the deadline kept from
    /// starting, or a signal from finishing.
    pub fn run(mut self) -> Vec<Option<CheckResult>> {
        for _ in 0..self.max_workers.min(FIRST_WORKERS + self.pool.slow) {
            self.hire();
        }
        while self.pending > 0 {
            if self.alive.is_empty() {
                // No worker could be started, or all have finished: probe what is left here.
                match self.pool.take() {
                    Some(i) => {
                        let result = self.pool.probe(i);
                        self.settle(i, result);
                    }
                    None => break,
                }
                continue;
            }
            let may_grow = self.grow_while_busy();
            let wake = self.next_wake(may_grow);
            match self
                .rx
                .recv_timeout(wake.saturating_duration_since(Instant::now()))
            {
                Ok(event) => self.on(event),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    // Stopped by a signal: what is in flight is not waited for,
                    // nor recorded (a check cut short says nothing of the service).
                    if signals::stopped().is_some() {
                        break;
                    }
                    if self.give_up_on_overdue() {
                        break;
                    }
                }
            }
        }
        self.results
    }

    fn settle(&mut self, i: usize, result: Option<CheckResult>) {
        self.results[i] = result;
        self.pending -= 1;
    }

    fn hire(&mut self) {
        self.last_worker += 1;
        if spawn_worker(self.last_worker, &self.pool, &self.tx) {
            self.alive.insert(self.last_worker);
        }
    }

    /// Slow probes hold every worker: hire more, doubling, up to the cap.
    /// Returns whether the pool may still grow.
    fn grow_while_busy(&mut self) -> bool {
        let now = Instant::now();
        let may_grow = self.pool.remaining() > 0 && self.alive.len() < self.max_workers;
        if may_grow
            && self.in_flight.len() >= self.alive.len()
            && self.in_flight.values().all(|f| now - f.started >= BUSY)
        {
            for _ in 0..self.alive.len().min(self.max_workers - self.alive.len()) {
                self.hire();
            }
        }
        may_grow
    }

    /// The next moment something may need doing: a probe to give up on, the
    /// run's deadline, or (while the pool may grow) a look at how busy it is.
    fn next_wake(&self, may_grow: bool) -> Instant {
        let deadline = self.pool.deadline;
        let mut wake = self
            .in_flight
            .values()
            .map(|f| f.give_up)
            .min()
            .unwrap_or(deadline)
            .min(deadline);
        if may_grow {
            wake = wake.min(Instant::now() + BUSY);
        }
        // Look for a signal at least this often.
        wake.min(Instant::now() + SIGNAL_POLL)
    }

    fn on(&mut self, event: Event) {
        match event {
            Event::Started(worker, i, started) => {
                let give_up = started + budget(&self.pool.services[i]) + BACKSTOP_GRACE;
                let give_up = give_up.min(self.pool.deadline);
                self.in_flight.insert(
                    i,
                    InFlight {
                        worker,
                        started,
                        give_up,
                    },
                );
            }
            Event::Done(i, result) => {
                if self.in_flight.remove(&i).is_some() {
                    self.settle(i, result);
                }
            }
            Event::Exited(worker) => {
                self.alive.remove(&worker);
            }
        }
    }

    /// Records every probe past its give-up time as a timeout and hires a
    /// fresh worker for each stuck one. True when the run is out of time
    /// and nothing is left in flight.
    fn give_up_on_overdue(&mut self) -> bool {
        let now = Instant::now();
        let overdue: Vec<usize> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.give_up <= now)
            .map(|(i, _)| *i)
            .collect();
        for i in overdue {
            let Some(f) = self.in_flight.remove(&i) else {
                continue;
            };
            let s = &self.pool.services[i];
            let r = CheckResult::new(&s.name, Utc::now(), Status::Timeout);
            let result = Some(if now >= self.pool.deadline {
                r.with_reason(format!(
                    "no answer before the run's run_timeout ({}) ran out",
                    format_duration(self.pool.run_timeout)
                ))
            } else {
                timed_out(r, s.timeout)
            });
            self.settle(i, result);
            // Its worker is stuck: count on a fresh one instead.
            if self.alive.remove(&f.worker) {
                self.hire();
            }
        }
        now >= self.pool.deadline && self.in_flight.is_empty()
    }
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

/// How many of the services named took at least `BUSY` last time: each
/// gets a worker from the start. One never probed counts as fast: a first
/// run ramps up as before, not with a burst of connections at once.
fn slow_last_time(names: &[&str], last_ms: &HashMap<String, u64>) -> usize {
    names
        .iter()
        .filter(|&&n| {
            last_ms
                .get(n)
                .is_some_and(|&ms| ms >= BUSY.as_millis() as u64)
        })
        .count()
}

/// Indices of `services`, those never measured first, then the slowest last time.
fn start_order(names: &[&str], last_ms: &HashMap<String, u64>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..names.len()).collect();
    // Stable: services alike keep their config order.
    order.sort_by_key(|&i| std::cmp::Reverse(last_ms.get(names[i]).copied().unwrap_or(u64::MAX)));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_slow_last_time_get_a_worker_from_the_start() {
        let names = ["new", "fast", "slow", "hung", "edge"];
        let last_ms = HashMap::from([
            ("fast".to_string(), 2),
            ("slow".to_string(), 200),
            ("hung".to_string(), 2000),
            ("edge".to_string(), 9),
        ]);
        // "new" was never probed: started first, but no worker of its own.
        assert_eq!(slow_last_time(&names, &last_ms), 2);
        let order: Vec<&str> = start_order(&names, &last_ms)
            .into_iter()
            .map(|i| names[i])
            .collect();
        assert_eq!(order, ["new", "hung", "slow", "edge", "fast"]);
    }
}
