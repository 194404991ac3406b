//! The watchdog: restarting a service that runs but no longer serves. After
//! `restart_after` failing runs in a row its `restart` command runs (no shell,
//! bounded by `restart_timeout`), at most `restart_limit` times per
//! `restart_window`. Every attempt is stored and told in the next email.

use std::thread;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::alert::AlertState;
use crate::config::{Restart, Service};
use crate::process;
use crate::timefmt::format_duration;

/// One run of a restart command, as stored in `restarts`.
#[derive(Clone, Debug, PartialEq)]
pub struct RestartAttempt {
    /// The row id, once stored.
    pub id: Option<i64>,
    pub service: String,
    pub started_at: DateTime<Utc>,
    pub exit_code: Option<i32>,
    /// "exit 0", "still running at the timeout, killed", "could not start ...".
    pub outcome: String,
    /// The tail of what it printed.
    pub output: String,
    pub duration_ms: u64,
}

impl RestartAttempt {
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// What the watchdog should do about one service this run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// Passing, or not failing long enough yet.
    Wait,
    Restart,
    /// Failing, but `limit` restarts already ran within the window.
    BudgetSpent,
}

/// Pure: `recent` is how many restarts ran within the window before now.
pub fn verdict(restart: &Restart, state: &AlertState, recent: u32) -> Verdict {
    if state.fail_streak < restart.after {
        Verdict::Wait
    } else if recent >= restart.limit {
        Verdict::BudgetSpent
    } else {
        Verdict::Restart
    }
}

/// What the email says of a spent budget.
pub fn budget_note(restart: &Restart) -> String {
    format!(
        "still failing after {} restart{} within {}; no more restarts until one ages out",
        restart.limit,
        if restart.limit == 1 { "" } else { "s" },
        format_duration(restart.window)
    )
}

/// Runs the restart commands of `services` at once, each bounded by its own timeout.
pub fn restart_all(services: &[&Service]) -> Vec<RestartAttempt> {
    thread::scope(|scope| {
        let handles: Vec<_> = services
            .iter()
            .filter_map(|s| s.restart.as_ref().map(|r| (s, r)))
            .map(|(s, r)| scope.spawn(move || restart_one(&s.name, r)))
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

fn restart_one(service: &str, r: &Restart) -> RestartAttempt {
    let started_at = Utc::now();
    let clock = Instant::now();
    let done = process::run(
        &r.argv,
        Some(&r.dir),
        &[("UPCHECK_SERVICE", service.to_string())],
        clock + r.timeout,
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

/// The window's start, for counting recent restarts.
pub fn window_start(restart: &Restart, now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::from_std(restart.window).unwrap_or(chrono::Duration::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    fn restart(after: u32, limit: u32) -> Restart {
        Restart {
            argv: vec!["true".into()],
            after,
            limit,
            window: Duration::from_secs(3600),
            timeout: Duration::from_secs(5),
            dir: PathBuf::from("/"),
        }
    }

    fn failing(streak: u32) -> AlertState {
        AlertState {
            fail_streak: streak,
            ..AlertState::default()
        }
    }

    #[test]
    fn restarts_after_the_threshold_within_the_budget() {
        let r = restart(2, 3);
        assert_eq!(verdict(&r, &failing(0), 0), Verdict::Wait);
        assert_eq!(verdict(&r, &failing(1), 0), Verdict::Wait);
        assert_eq!(verdict(&r, &failing(2), 0), Verdict::Restart);
        assert_eq!(verdict(&r, &failing(5), 2), Verdict::Restart);
        assert_eq!(verdict(&r, &failing(6), 3), Verdict::BudgetSpent);
    }

    #[test]
    fn the_budget_note_says_how_many_and_within_what() {
        assert_eq!(
            budget_note(&restart(2, 3)),
            "still failing after 3 restarts within 1h; no more restarts until one ages out"
        );
    }
}
