//! Whether a `[[maintenance]]` window is open at a moment, and until when.
//! A schedule matches wall time in its zone (croner walks the zone's
//! changes); a window then stays open its `duration` of real time, so a
//! two-hour window is two hours even across a clock change.

use chrono::{DateTime, Utc};

use crate::config::Window;
use crate::timefmt::{from_jiff, to_jiff};

/// The end of the window open at `now`, if one is. Of overlapping
/// occurrences, the one that began last ends last.
pub fn open_until(window: &Window, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match window {
        Window::Once { from, until } => (*from <= now && now < *until).then_some(*until),
        Window::Every {
            schedule,
            duration,
            timezone,
            ..
        } => {
            let local = to_jiff(now).to_zoned(timezone.clone());
            let began = from_jiff(
                schedule
                    .find_previous_occurrence(&local, true)
                    .ok()?
                    .timestamp(),
            )?;
            let end = began.checked_add_signed(chrono::TimeDelta::from_std(*duration).ok()?)?;
            (now < end).then_some(end)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::timefmt::parse_iso;

    fn window(schedule: &str, duration: &str, timezone: &str) -> Window {
        let config = Config::from_text(&format!(
            "[[maintenance]]\nschedule = {schedule:?}\nduration = {duration:?}\ntimezone = {timezone:?}\n\n[[service]]\nname = \"a\"\ntcp = \"h:1\"\n"
        ))
        .unwrap();
        config.maintenance[0].when.clone()
    }

    fn open(w: &Window, at: &str) -> Option<String> {
        open_until(w, parse_iso(at).unwrap()).map(crate::timefmt::iso)
    }

    #[test]
    fn a_weekly_window_opens_at_its_wall_time_and_lasts_its_duration() {
        // Sundays 02:00 in Berlin, two hours: 01:00-03:00 UTC in winter.
        let w = window("0 2 * * sun", "2h", "Europe/Berlin");
        assert_eq!(open(&w, "2026-12-06T00:59:59Z"), None);
        assert_eq!(
            open(&w, "2026-12-06T01:00:00Z"),
            Some("2026-12-06T03:00:00.000Z".into())
        );
        assert_eq!(
            open(&w, "2026-12-06T02:59:00Z"),
            Some("2026-12-06T03:00:00.000Z".into())
        );
        assert_eq!(open(&w, "2026-12-06T03:00:00Z"), None);
        // In summer Berlin is UTC+2: 00:00-02:00 UTC.
        assert_eq!(
            open(&w, "2026-07-05T00:30:00Z"),
            Some("2026-07-05T02:00:00.000Z".into())
        );
        assert_eq!(open(&w, "2026-07-05T02:30:00Z"), None);
    }

    #[test]
    fn a_window_across_the_spring_forward_hour_keeps_its_real_length() {
        // 2027-03-28, Berlin: 02:00 CET becomes 03:00 CEST (01:00 UTC).
        // Daily at 01:30 local for 2h: 00:30-02:30 UTC, though the wall
        // clock reads 01:30 to 04:30.
        let w = window("30 1 * * *", "2h", "Europe/Berlin");
        assert_eq!(open(&w, "2027-03-28T00:29:00Z"), None);
        assert_eq!(
            open(&w, "2027-03-28T00:30:00Z"),
            Some("2027-03-28T02:30:00.000Z".into())
        );
        assert_eq!(
            open(&w, "2027-03-28T02:29:00Z"),
            Some("2027-03-28T02:30:00.000Z".into())
        );
        assert_eq!(open(&w, "2027-03-28T02:30:00Z"), None);
        // The next day, summer time: 01:30 CEST is 23:30 UTC the day before.
        assert_eq!(
            open(&w, "2027-03-28T23:45:00Z"),
            Some("2027-03-29T01:30:00.000Z".into())
        );
    }

    #[test]
    fn a_schedule_inside_the_skipped_hour_opens_when_the_clocks_jump() {
        // 02:30 does not exist in Berlin on 2027-03-28: the window opens at
        // the jump, 03:00 CEST (01:00 UTC), as cron runs a skipped job.
        let w = window("30 2 * * *", "1h", "Europe/Berlin");
        assert_eq!(open(&w, "2027-03-28T00:59:00Z"), None);
        assert_eq!(
            open(&w, "2027-03-28T01:00:00Z"),
            Some("2027-03-28T02:00:00.000Z".into())
        );
        assert_eq!(open(&w, "2027-03-28T02:00:00Z"), None);
    }
}
