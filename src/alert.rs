//! The alert policy: from a service's stored alert state and this run's
//! status, its next state and the notification now due, if any. Pure: no I/O,
//! no clock (time comes in as a value), so long histories are unit-tested here.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::check::{CheckResult, Status};
use crate::timefmt::format_duration;

/// What a run's decision makes due for one service; also the `kind` of its
/// row in `notifications` (which holds forced `report`s besides, written by
/// the store alone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Notice {
    Down,
    Reminder,
    Recovery,
    /// Not a service's: the connectivity guard found this host's network
    /// down (once per outage; never decided here).
    Network,
}

impl Notice {
    pub const ALL: [Notice; 4] = [
        Notice::Down,
        Notice::Reminder,
        Notice::Recovery,
        Notice::Network,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Down => "down",
            Notice::Reminder => "reminder",
            Notice::Recovery => "recovery",
            Notice::Network => "network",
        }
    }

    pub fn parse(s: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How one service is alerted on: thresholds, reminders, recovery notices.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertPolicy {
    pub alert_after: u32,
    pub recover_after: u32,
    pub remind: Remind,
    pub notify_recovery: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Remind {
    Exponential,
    Never,
    Every(Duration),
}

impl fmt::Display for Remind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Remind::Exponential => f.write_str("exponential"),
            Remind::Never => f.write_str("never"),
            Remind::Every(d) => write!(f, "every {}", format_duration(*d)),
        }
    }
}

/// Everything the policy remembers about one service between runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertState {
    /// The latest stored status (`Unknown` before the first check).
    pub status: Status,
    /// When the service last changed between passing and failing.
    pub since: Option<DateTime<Utc>>,
    /// Failing runs in a row (0 while passing).
    pub fail_streak: u32,
    /// Passing runs in a row (0 while failing).
    pub pass_streak: u32,
    /// Whether the service is DOWN: alerted, not yet recovered.
    pub down: bool,
    /// Failing runs since the alert, for exponential reminders.
    pub runs_since_alert: u32,
    /// When the last alert or reminder was decided, for duration reminders.
    pub last_notice_at: Option<DateTime<Utc>>,
}

/// The outage a reminder or recovery tells of, for threading and for the
/// recovery notice's "down for 22m from 09:58 UTC".
#[derive(Clone, Debug, PartialEq)]
pub struct Outage {
    /// The Message-ID of the email that carried its DOWN alert, if known
    /// (sent by this version, and delivered).
    pub first_alert: Option<String>,
    /// Whether that DOWN alert was delivered; if not, this email is the
    /// first to tell of the outage.
    pub delivered: bool,
    /// Its first failing check still stored.
    pub began: Option<DateTime<Utc>>,
}

/// One service's outcome of a run: its next state and what became due.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub service: String,
    pub state: AlertState,
    pub due: Option<Notice>,
    /// Its own news waits this run (a silence, a maintenance window, a
    /// failing dependency): no down alert, reminder or restart.
    pub held: bool,
}

/// Applies the policy to every service probed this run: `services` (name and
/// policy) in the same order as `results`; those in `held` have their own
/// news held back. Services without a stored state (new, or renamed) start
/// fresh; removed ones are not touched.
pub fn decide<'a>(
    services: impl IntoIterator<Item = (&'a str, &'a AlertPolicy)>,
    states: &HashMap<String, AlertState>,
    results: &[CheckResult],
    held: &HashSet<&str>,
) -> Vec<Decision> {
    services
        .into_iter()
        .zip(results)
        .map(|((name, policy), result)| {
            let prev = states.get(name).cloned().unwrap_or_default();
            let next = step(&prev, result.status, result.checked_at, policy);
            let held = held.contains(name);
            let (state, due) = if held { hold_back(&prev, next) } else { next };
            Decision {
                service: name.to_string(),
                state,
                due,
                held,
            }
        })
        .collect()
}

/// A held service's own news waits: no down alert (it stays not DOWN, so the
/// first run after the hold alerts if it still fails) and no reminder (the
/// next one is due as if this one had not been). Recoveries go out: the
/// down alert they answer did.
fn hold_back(
    prev: &AlertState,
    next: (AlertState, Option<Notice>),
) -> (AlertState, Option<Notice>) {
    let (mut s, due) = next;
    match due {
        Some(Notice::Down) => {
            s.down = false;
            s.runs_since_alert = prev.runs_since_alert;
            s.last_notice_at = prev.last_notice_at;
            (s, None)
        }
        Some(Notice::Reminder) => {
            s.last_notice_at = prev.last_notice_at;
            (s, None)
        }
        other => (s, other),
    }
}

/// Moves one service's state on by one run and says what is due.
pub fn step(
    prev: &AlertState,
    status: Status,
    at: DateTime<Utc>,
    policy: &AlertPolicy,
) -> (AlertState, Option<Notice>) {
    let failing = status.is_failure();
    let mut s = prev.clone();
    let was_failing = prev.status.is_failure();
    if prev.status == Status::Unknown || failing != was_failing {
        s.since = Some(at);
    }
    s.status = status;
    if failing {
        s.fail_streak += 1;
        s.pass_streak = 0;
    } else {
        s.pass_streak += 1;
        s.fail_streak = 0;
    }
    let due = if s.down {
        if failing {
            s.runs_since_alert += 1;
            let reminder_due = match policy.remind {
                // The 1st, 2nd, 4th, 8th ... failing run after the alert.
                Remind::Exponential => s.runs_since_alert.is_power_of_two(),
                Remind::Never => false,
                // A last notice in the future was stamped by a clock that
                // was ahead: the gap is unknown, so remind rather than wait
                // (perhaps a year) for the clock to catch up.
                Remind::Every(every) => s.last_notice_at.is_none_or(|last| {
                    last > at || (at - last).to_std().unwrap_or_default() >= every
                }),
            };
            reminder_due.then(|| {
                s.last_notice_at = Some(at);
                Notice::Reminder
            })
        } else if s.pass_streak >= policy.recover_after {
            s.down = false;
            s.runs_since_alert = 0;
            s.last_notice_at = None;
            policy.notify_recovery.then_some(Notice::Recovery)
        } else {
            None
        }
    } else if failing && s.fail_streak >= policy.alert_after {
        // `>=`, not `==`: lowering alert_after mid-outage alerts at once.
        s.down = true;
        s.runs_since_alert = 0;
        s.last_notice_at = Some(at);
        Some(Notice::Down)
    } else {
        None
    };
    (s, due)
}

#[cfg(test)]
mod tests {
    use super::*;

    use Status::{Degraded, Offline, Online, Timeout};

    fn policy(alert_after: u32, recover_after: u32, remind: Remind) -> AlertPolicy {
        AlertPolicy {
            alert_after,
            recover_after,
            remind,
            notify_recovery: true,
        }
    }

    fn minute(n: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + n * 60, 0).unwrap()
    }

    /// Runs `statuses` one per 5 minutes from a fresh state; returns what each run made due.
    fn check(statuses: &[Status], p: &AlertPolicy) -> Vec<Option<Notice>> {
        let mut state = AlertState::default();
        statuses
            .iter()
            .enumerate()
            .map(|(i, st)| {
                let (next, due) = step(&state, *st, minute(5 * i as i64), p);
                state = next;
                due
            })
            .collect()
    }

    /// Compact expectations: `.` nothing, `D` down, `R` reminder, `U` recovery.
    fn expect(statuses: &[Status], p: &AlertPolicy, expected: &str) {
        let got: String = check(statuses, p)
            .into_iter()
            .map(|k| match k {
                None => '.',
                Some(Notice::Down) => 'D',
                Some(Notice::Reminder) => 'R',
                Some(Notice::Recovery) => 'U',
                Some(Notice::Network) => 'N',
            })
            .collect();
        assert_eq!(got, expected, "for {statuses:?}");
    }

    #[test]
    fn first_run_ever_alerts_only_when_the_threshold_is_one() {
        expect(&[Offline], &policy(1, 1, Remind::Never), "D");
        expect(&[Offline], &policy(2, 1, Remind::Never), ".");
        expect(&[Online], &policy(1, 1, Remind::Never), ".");
    }

    #[test]
    fn down_after_alert_after_failing_runs_in_a_row() {
        expect(
            &[Offline, Timeout, Degraded, Offline],
            &policy(3, 1, Remind::Never),
            "..D.",
        );
    }

    #[test]
    fn flapping_below_the_threshold_never_alerts() {
        let flaps = [
            Offline, Online, Offline, Online, Offline, Online, Offline, Online,
        ];
        expect(&flaps, &policy(2, 1, Remind::Exponential), "........");
    }

    #[test]
    fn exponential_reminders_at_the_1st_2nd_4th_8th_16th_failing_run_after_the_alert() {
        let statuses = [Offline; 18];
        // Alert at run 2; reminders at 1, 2, 4, 8, 16 runs after it.
        expect(
            &statuses,
            &policy(2, 1, Remind::Exponential),
            ".DRR.R...R.......R",
        );
    }

    #[test]
    fn never_reminds_when_told_never() {
        expect(&[Offline; 10], &policy(1, 1, Remind::Never), "D.........");
    }

    #[test]
    fn duration_reminders_come_at_most_that_often() {
        // Runs every 5 minutes, remind every 12 minutes: at 15, 30, 45 minutes after the alert.
        let p = policy(1, 1, Remind::Every(Duration::from_secs(12 * 60)));
        expect(&[Offline; 10], &p, "D..R..R..R");
    }

    #[test]
    fn recovery_after_recover_after_passing_runs_and_only_when_notified() {
        let seq = [Offline, Offline, Online, Online, Online];
        expect(&seq, &policy(2, 2, Remind::Never), ".D.U.");
        let mut quiet = policy(2, 2, Remind::Never);
        quiet.notify_recovery = false;
        expect(&seq, &quiet, ".D...");
    }

    #[test]
    fn a_blip_while_down_does_not_recover_and_reminders_keep_counting() {
        // recover_after = 2: one passing run is not enough, the outage goes on.
        let seq = [Offline, Online, Offline, Offline, Offline];
        expect(&seq, &policy(1, 2, Remind::Exponential), "D.RR.");
    }

    #[test]
    fn recovery_while_reminders_pending_then_a_new_outage_alerts_afresh() {
        let seq = [Offline, Offline, Offline, Online, Offline, Offline];
        expect(&seq, &policy(1, 1, Remind::Exponential), "DRRUDR");
    }

    #[test]
    fn lowering_alert_after_mid_outage_alerts_at_once() {
        let mut state = AlertState::default();
        for i in 0..3 {
            state = step(&state, Offline, minute(i), &policy(5, 1, Remind::Never)).0;
        }
        assert!(!state.down);
        let (state, due) = step(&state, Offline, minute(3), &policy(2, 1, Remind::Never));
        assert_eq!(due, Some(Notice::Down));
        assert!(state.down);
    }

    #[test]
    fn a_new_or_renamed_service_starts_fresh() {
        // A renamed service has no stored state: it is judged like a new one.
        let (state, due) = step(
            &AlertState::default(),
            Offline,
            minute(0),
            &policy(2, 1, Remind::Never),
        );
        assert_eq!(
            (due, state.fail_streak, state.since),
            (None, 1, Some(minute(0)))
        );
    }

    #[test]
    fn a_run_skipped_for_hours_counts_runs_not_time_for_exponential_reminders() {
        let p = policy(1, 1, Remind::Exponential);
        let (s, _) = step(&AlertState::default(), Offline, minute(0), &p);
        let (s, due) = step(&s, Offline, minute(600), &p);
        assert_eq!(due, Some(Notice::Reminder));
        let (_, due) = step(&s, Offline, minute(1200), &p);
        assert_eq!(
            due,
            Some(Notice::Reminder),
            "the 2nd failing run after the alert"
        );
        // With a duration, the hours matter: a reminder at the first run after the gap.
        let hourly = policy(1, 1, Remind::Every(Duration::from_secs(3600)));
        let (s, _) = step(&AlertState::default(), Offline, minute(0), &hourly);
        let (s, a) = step(&s, Offline, minute(5), &hourly);
        let (_, b) = step(&s, Offline, minute(300), &hourly);
        assert_eq!((a, b), (None, Some(Notice::Reminder)));
    }

    #[test]
    fn a_notice_stamped_in_the_future_does_not_freeze_duration_reminders() {
        let hourly = policy(1, 1, Remind::Every(Duration::from_secs(3600)));
        let (s, _) = step(&AlertState::default(), Offline, minute(0), &hourly);
        // A run with the clock a year ahead reminds, and stamps its notice then.
        let (s, ahead) = step(&s, Offline, minute(525_600), &hourly);
        assert_eq!(ahead, Some(Notice::Reminder));
        // Back at the right time: the next reminder is not a year away.
        let (_, back) = step(&s, Offline, minute(120), &hourly);
        assert_eq!(back, Some(Notice::Reminder));
    }

    #[test]
    fn since_marks_the_change_between_passing_and_failing_not_between_failures() {
        let p = policy(1, 1, Remind::Never);
        let (s, _) = step(&AlertState::default(), Online, minute(0), &p);
        let (s, _) = step(&s, Offline, minute(5), &p);
        let (s, _) = step(&s, Timeout, minute(10), &p);
        assert_eq!(s.since, Some(minute(5)));
        let (s, _) = step(&s, Online, minute(15), &p);
        assert_eq!(s.since, Some(minute(15)));
    }

    #[test]
    fn decide_covers_configured_services_only() {
        let p = policy(1, 1, Remind::Never);
        // "old" was removed from the config, "new" was added (or "old" renamed to it).
        let mut states = HashMap::new();
        let down_old = step(
            &AlertState::default(),
            Offline,
            minute(0),
            &policy(1, 1, Remind::Never),
        )
        .0;
        states.insert("old".to_string(), down_old.clone());
        states.insert("kept".to_string(), down_old);
        let results = [
            CheckResult::new("kept", minute(5), Online),
            CheckResult::new("new", minute(5), Offline),
        ];
        let decisions = decide(
            [("kept", &p), ("new", &p)],
            &states,
            &results,
            &HashSet::new(),
        );
        let due: Vec<(&str, Option<Notice>)> = decisions
            .iter()
            .map(|d| (d.service.as_str(), d.due))
            .collect();
        assert_eq!(
            due,
            [
                ("kept", Some(Notice::Recovery)),
                ("new", Some(Notice::Down))
            ]
        );
    }

    /// Runs `statuses` through `decide` from a fresh state, `held` in the
    /// runs it names; what each run made due.
    fn check_held(statuses: &[Status], held_in: &[usize], p: &AlertPolicy) -> Vec<Option<Notice>> {
        let mut states = HashMap::new();
        statuses
            .iter()
            .enumerate()
            .map(|(i, st)| {
                let result = CheckResult::new("api", minute(5 * i as i64), *st);
                let held: HashSet<&str> =
                    held_in.contains(&i).then_some("api").into_iter().collect();
                let d = decide([("api", p)], &states, &[result], &held).remove(0);
                assert_eq!(d.held, held_in.contains(&i));
                states.insert("api".to_string(), d.state);
                d.due
            })
            .collect()
    }

    #[test]
    fn a_hold_defers_the_down_alert_to_the_first_run_after_it() {
        let p = policy(2, 1, Remind::Exponential);
        // Failing from the start, held for runs 0..=3: the alert comes in run 4.
        assert_eq!(
            check_held(&[Offline; 6], &[0, 1, 2, 3], &p),
            [
                None,
                None,
                None,
                None,
                Some(Notice::Down),
                Some(Notice::Reminder)
            ]
        );
        // Failing then passing within the hold: nothing, not even a recovery.
        assert_eq!(
            check_held(&[Offline, Offline, Online, Online], &[0, 1, 2], &p),
            [None, None, None, None]
        );
    }

    #[test]
    fn a_hold_skips_reminders_but_not_the_recovery_of_an_alert_that_went_out() {
        let p = policy(1, 1, Remind::Exponential);
        assert_eq!(
            check_held(&[Offline, Offline, Offline, Online], &[1, 2, 3], &p),
            [Some(Notice::Down), None, None, Some(Notice::Recovery)]
        );
        // A duration reminder held past its time is due in the first run after.
        let hourly = policy(1, 1, Remind::Every(Duration::from_secs(600)));
        assert_eq!(
            check_held(&[Offline; 6], &[1, 2, 3], &hourly),
            [
                Some(Notice::Down),
                None,
                None,
                None,
                Some(Notice::Reminder),
                None
            ]
        );
    }
}
