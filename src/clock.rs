//! Whether this run's clock can be trusted to delete history. A clock set
//! wrong (a year ahead, or back) would make retention delete what is young,
//! so a run whose clock disagrees with the previous run's start prunes
//! nothing, and says why. Pure: both times come in as values.

use chrono::{DateTime, Duration, Utc};

use crate::timefmt::iso;

/// How far past the previous run's start a run may begin and still be
/// believed, at least: cron or a timer starts runs minutes apart; a day covers
/// a machine that was off overnight.
const BELIEVABLE_GAP: Duration = Duration::days(1);

/// Why `now` cannot be trusted to prune, given when the runs before it
/// started (newest first); `None` when it agrees (or there was no run
/// before). A run may start up to a day, or twice the spacing of the two
/// runs before it (a daily or weekly schedule), after the previous one.
pub fn distrust(now: DateTime<Utc>, previous: &[DateTime<Utc>]) -> Option<String> {
    let (&previous, earlier) = previous.split_first()?;
    let usual = earlier.first().map_or(Duration::zero(), |e| previous - *e);
    let believable = BELIEVABLE_GAP.max(usual * 2);
    if now < previous {
        Some(format!(
            "the clock reads {}, earlier than the previous run's start ({}): nothing is pruned this run",
            iso(now),
            iso(previous)
        ))
    } else if now - previous > believable {
        Some(format!(
            "the clock reads {}, further after the previous run's start ({}) than runs come: nothing is pruned this run, in case the clock is wrong",
            iso(now),
            iso(previous)
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::parse_iso;

    #[test]
    fn a_clock_is_trusted_within_a_day_after_the_previous_run() {
        let at = |s: &str| parse_iso(s).unwrap();
        let previous = [at("2026-11-21T10:00:00Z")];
        assert_eq!(distrust(at("2026-11-21T10:05:00Z"), &previous), None);
        assert_eq!(distrust(at("2026-11-22T10:00:00Z"), &previous), None);
        assert_eq!(distrust(at("2026-11-21T10:05:00Z"), &[]), None);
        let ahead = distrust(at("2027-11-21T10:00:00Z"), &previous).unwrap();
        assert!(ahead.contains("further after the previous run"), "{ahead}");
        let back = distrust(at("2026-11-21T09:00:00Z"), &previous).unwrap();
        assert!(back.contains("earlier than the previous run"), "{back}");
    }

    #[test]
    fn a_daily_or_weekly_schedule_is_believed() {
        let at = |s: &str| parse_iso(s).unwrap();
        // Daily at 03:00, this run a little late: still believed.
        let daily = [at("2026-11-21T03:00:00Z"), at("2026-11-20T03:00:00Z")];
        assert_eq!(distrust(at("2026-11-22T03:00:05Z"), &daily), None);
        let weekly = [at("2026-11-21T03:00:00Z"), at("2026-11-14T03:00:00Z")];
        assert_eq!(distrust(at("2026-11-28T03:00:00Z"), &weekly), None);
        assert!(distrust(at("2027-11-28T03:00:00Z"), &weekly).is_some());
    }
}
