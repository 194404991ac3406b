//! The watchdog's policy: restarting a service that runs but no longer
//! serves. After `restart_after` failing runs in a row its `restart` command
//! is due, at most `restart_limit` times per `restart_window`. Pure: the
//! commands are run by `notify::restart`; every attempt is stored and told
//! in the next email.

use chrono::{DateTime, Utc};

use crate::alert::AlertState;
use crate::check::Status;
use crate::config::Restart;
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
    /// The service probed again after the command; `None` when no time was
    /// left in the run to do so.
    pub recheck: Option<Recheck>,
}

/// What came of a restart: the probe after it that decided.
#[derive(Clone, Debug, PartialEq)]
pub struct Recheck {
    pub status: Status,
    pub reason: Option<String>,
    /// From the restart's start to that probe.
    pub after_ms: u64,
}

impl RestartAttempt {
    /// Whether the restart worked: the service passed when probed again
    /// (not known when there was no time to: then the command's exit status).
    pub fn worked(&self) -> bool {
        match &self.recheck {
            Some(c) => !c.status.is_failure(),
            None => self.exit_code == Some(0),
        }
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

/// Whether the budget is spent once this run's verdict was carried out:
/// `used` counts the restarts within the window, this run's included, so
/// the email that tells of the last restart left also says none will follow.
pub fn spent_after(restart: &Restart, verdict: Verdict, used: u32) -> bool {
    match verdict {
        Verdict::Wait => false,
        Verdict::Restart => used >= restart.limit,
        Verdict::BudgetSpent => true,
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
    fn the_budget_counts_as_spent_once_the_last_restart_is_used() {
        let r = restart(2, 3);
        assert!(!spent_after(&r, Verdict::Wait, 3));
        assert!(!spent_after(&r, Verdict::Restart, 2));
        assert!(spent_after(&r, Verdict::Restart, 3));
        assert!(spent_after(&r, Verdict::BudgetSpent, 3));
    }

    #[test]
    fn the_budget_note_says_how_many_and_within_what() {
        assert_eq!(
            budget_note(&restart(2, 3)),
            "still failing after 3 restarts within 1h; no more restarts until one ages out"
        );
    }
}
