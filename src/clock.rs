//! Whether this run's clock can be trusted to delete history. A clock set
//! wrong (a year ahead, or back) would make retention delete what is young,
//! so a run whose clock disagrees with the previous run's start prunes
//! nothing, and says why. Pure: both times come in as values.

use chrono::{DateTime, Duration, Utc};

use crate::timefmt::iso;

/// How far past the previous run's start a run may begin and still be
/// believed: cron or a timer starts runs minutes apart; a day covers a
/// machine that was off overnight.
const BELIEVABLE_GAP: Duration = Duration::days(1);

/// Why `now` cannot be trusted to prune, given when the previous run started;
/// `None` when it agrees (or there was no previous run).
pub fn distrust(now: DateTime<Utc>, previous: Option<DateTime<Utc>>) -> Option<String> {
    let previous = previous?;
    if now < previous {
        Some(format!(
            "the clock reads {}, earlier than the previous run's start ({}): nothing is pruned this run",
            iso(now),
            iso(previous)
        ))
    } else if now - previous > BELIEVABLE_GAP {
        Some(format!(
            "the clock reads {}, more than a day after the previous run's start ({}): nothing is pruned this run, in case the clock is wrong",
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
        let previous = Some(at("2026-11-21T10:00:00Z"));
        assert_eq!(distrust(at("2026-11-21T10:05:00Z"), previous), None);
        assert_eq!(distrust(at("2026-11-22T10:00:00Z"), previous), None);
        assert_eq!(distrust(at("2026-11-21T10:05:00Z"), None), None);
        let ahead = distrust(at("2027-11-21T10:00:00Z"), previous).unwrap();
        assert!(ahead.contains("more than a day after"), "{ahead}");
        let back = distrust(at("2026-11-21T09:00:00Z"), previous).unwrap();
        assert!(back.contains("earlier than the previous run"), "{back}");
    }
}
