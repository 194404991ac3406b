//! How upcheck writes time: UTC ISO-8601 timestamps for the database and
//! reports, and short human durations ("500ms", "10s", "5m", "6h", "14d")
//! both for the config file and for what people read.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Timelike, Utc};

/// `2026-11-21T10:22:01.443Z`: sorts as text, and SQLite's date functions read it.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads back what [`iso`] wrote (any RFC 3339 time, in fact).
pub fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `2026-11-21 10:22 UTC`: for people.
pub fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `minute`, without the date when it is `now`'s (UTC) day: "10:08 UTC".
pub fn minute_near(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if t.date_naive() == now.date_naive() {
        t.format("%H:%M UTC").to_string()
    } else {
        minute(t)
    }
}

/// Where the system's time zone database usually is (jiff's own list).
const ZONEINFO: [&str; 3] = [
    "/usr/share/zoneinfo",
    "/usr/share/lib/zoneinfo",
    "/etc/zoneinfo",
];

/// An IANA time zone from the system's time zone database (what cron and
/// systemd timers read, kept current by the distribution's `tzdata`).
/// `UTC` needs no database. The zone's own file is read where it usually
/// is; only a system that keeps it elsewhere pays for jiff's search, which
/// lists the whole database (1.2 ms a run, measured).
pub fn zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    if name == "UTC" {
        return Ok(jiff::tz::TimeZone::UTC);
    }
    let plain = !name.is_empty()
        && name.split('/').all(|part| {
            !part.is_empty()
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c))
        });
    let read = ZONEINFO
        .iter()
        .filter(|_| plain)
        .find_map(|dir| std::fs::read(std::path::Path::new(dir).join(name)).ok())
        .and_then(|data| jiff::tz::TimeZone::tzif(name, &data).ok());
    if let Some(tz) = read {
        return Ok(tz);
    }
    jiff::tz::TimeZone::get(name).map_err(|_| {
        format!(
            "unknown time zone {name:?}: expected an IANA name like \"Europe/Berlin\" \
             from the system's time zone database (/usr/share/zoneinfo; package tzdata)"
        )
    })
}

/// A UTC time as jiff's `Timestamp`, for time-zone arithmetic.
pub fn to_jiff(t: DateTime<Utc>) -> jiff::Timestamp {
    jiff::Timestamp::new(t.timestamp(), t.timestamp_subsec_nanos() as i32)
        .unwrap_or(jiff::Timestamp::MAX)
}

/// Back from jiff's `Timestamp`.
pub fn from_jiff(t: jiff::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.as_second(), t.subsec_nanosecond().max(0) as u32)
}

/// `--until`: an RFC 3339 time, or `HH:MM` today (tomorrow if that has
/// passed), in UTC or in the IANA zone written after it (`18:00
/// Europe/Berlin`). A wall time the zone skips that day (a spring-forward
/// hour) is refused unless it is already behind us; of one it repeats, the
/// first moment still to come.
pub fn parse_until(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    use jiff::tz::AmbiguousOffset;
    let text = text.trim();
    if let Some(t) = parse_iso(text) {
        return Ok(t);
    }
    let bad = || {
        format!(
            "invalid time {text:?}: expected an RFC 3339 time (\"2026-12-01T18:00:00Z\"), or \"HH:MM\" in UTC, or \"HH:MM Zone/Name\""
        )
    };
    let (clock, name) = match text.split_once(char::is_whitespace) {
        Some((clock, name)) => (clock, name.trim()),
        None => (text, "UTC"),
    };
    let clock = chrono::NaiveTime::parse_from_str(clock, "%H:%M").map_err(|_| bad())?;
    let tz = zone(name)?;
    let local_now = to_jiff(now).to_zoned(tz.clone()).datetime();
    let (hour, minute) = (clock.hour() as i8, clock.minute() as i8);
    for day in [
        local_now.date(),
        local_now.date().tomorrow().map_err(|_| bad())?,
    ] {
        let wall = day.at(hour, minute, 0, 0);
        let moment = tz.to_ambiguous_zoned(wall);
        let instants = match moment.offset() {
            AmbiguousOffset::Unambiguous { .. } => vec![moment.compatible()],
            AmbiguousOffset::Fold { .. } => vec![moment.clone().earlier(), moment.later()],
            // Skipped today, but already behind us: tomorrow's, then.
            AmbiguousOffset::Gap { .. } if wall < local_now => continue,
            AmbiguousOffset::Gap { .. } => {
                return Err(format!(
                    "{} {} does not exist in {name} (the clocks skip it that day)",
                    wall.date(),
                    clock.format("%H:%M:%S")
                ));
            }
        };
        let next = instants
            .into_iter()
            .filter_map(|z| z.ok().and_then(|z| from_jiff(z.timestamp())))
            .find(|t| *t > now);
        if let Some(t) = next {
            return Ok(t);
        }
    }
    Err(bad())
}

const UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses "500ms", "10s", "5m", "6h", "14d", and sums like "1h30m".
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "invalid duration {text:?}: expected a whole number and a unit (ms, s, m, h, d), e.g. \"10s\""
        )
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total_ms: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let (_, ms) = UNITS.iter().find(|(u, _)| *u == unit).ok_or_else(bad)?;
        total_ms = number
            .checked_mul(*ms)
            .and_then(|v| total_ms.checked_add(v))
            .ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_millis(total_ms))
}

/// The shortest exact spelling in the config's own units: 90s → "1m30s",
/// 1500ms → "1500ms". Round-trips through [`parse_duration`].
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1_000 || !ms.is_multiple_of(1_000) {
        return format!("{ms}ms");
    }
    let mut out = String::new();
    for (unit, size) in UNITS.iter().take(4) {
        if ms >= *size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// Two units at most, for "down for 3h 12m" and "responded in 2.4s".
pub fn human(d: Duration) -> String {
    let ms = d.as_millis() as u64;
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    if ms < 60_000 {
        return format!("{:.1}s", ms as f64 / 1000.0);
    }
    let s = ms / 1000;
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_unit_and_sums() {
        let cases = [
            ("500ms", 500),
            ("10s", 10_000),
            ("5m", 300_000),
            ("6h", 21_600_000),
            ("14d", 1_209_600_000),
            ("1h30m", 5_400_000),
        ];
        for (text, ms) in cases {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for text in [
            "",
            "10",
            "s",
            "ten seconds",
            "10 s",
            "-5s",
            "1.5s",
            "10x",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn formats_round_trip() {
        for text in ["500ms", "10s", "1m30s", "6h", "14d", "1500ms"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d), text);
        }
    }

    #[test]
    fn human_durations_read_well() {
        assert_eq!(human(Duration::from_millis(42)), "42ms");
        assert_eq!(human(Duration::from_millis(2_400)), "2.4s");
        assert_eq!(human(Duration::from_secs(192)), "3m 12s");
        assert_eq!(human(Duration::from_secs(3 * 3600 + 12 * 60)), "3h 12m");
        assert_eq!(human(Duration::from_secs(2 * 86_400 + 5 * 3600)), "2d 5h");
    }

    #[test]
    fn iso_has_millis_and_z() {
        let t = parse_iso("2026-11-21T10:22:01.443Z").unwrap();
        assert_eq!(iso(t), "2026-11-21T10:22:01.443Z");
    }

    #[test]
    fn until_reads_rfc3339_and_a_wall_time_today_or_tomorrow_in_a_zone() {
        let now = parse_iso("2027-03-27T20:00:00Z").unwrap();
        let until = |t: &str| parse_until(t, now).map(iso);
        assert_eq!(
            until("2027-03-28T06:00:00+02:00"),
            Ok("2027-03-28T04:00:00.000Z".into())
        );
        assert_eq!(until("21:30"), Ok("2027-03-27T21:30:00.000Z".into()));
        // Passed today: tomorrow.
        assert_eq!(until("19:00"), Ok("2027-03-28T19:00:00.000Z".into()));
        // Berlin is UTC+1 on the 27th and UTC+2 from 03:00 on the 28th.
        assert_eq!(
            until("22:00 Europe/Berlin"),
            Ok("2027-03-27T21:00:00.000Z".into())
        );
        assert_eq!(
            until("08:00 Europe/Berlin"),
            Ok("2027-03-28T06:00:00.000Z".into())
        );
        assert_eq!(
            until("02:30 Europe/Berlin"),
            Err(
                "2027-03-28 02:30:00 does not exist in Europe/Berlin (the clocks skip it that day)"
                    .into()
            )
        );
        // After the jump on the 28th, 02:30 (skipped today) means tomorrow's.
        let later = parse_iso("2027-03-28T05:00:00Z").unwrap();
        assert_eq!(
            parse_until("02:30 Europe/Berlin", later).map(iso),
            Ok("2027-03-29T00:30:00.000Z".into())
        );
        // On 2027-10-31, 02:30 in Berlin comes twice (00:30 and 01:30 UTC):
        // between them, the second.
        let between = parse_iso("2027-10-31T01:00:00Z").unwrap();
        assert_eq!(
            parse_until("02:30 Europe/Berlin", between).map(iso),
            Ok("2027-10-31T01:30:00.000Z".into())
        );
        assert!(
            until("25:00")
                .unwrap_err()
                .starts_with("invalid time \"25:00\"")
        );
        assert!(
            until("18:00 Nowhere")
                .unwrap_err()
                .starts_with("unknown time zone")
        );
    }

    #[test]
    fn zones_come_from_the_system_database_and_paths_are_not_names() {
        assert!(zone("UTC").is_ok());
        let berlin = zone("Europe/Berlin").unwrap();
        assert_eq!(berlin.iana_name(), Some("Europe/Berlin"));
        for bad in [
            "../../etc/passwd",
            "/etc/passwd",
            "Europe",
            "zone.tab",
            "Mars/Olympus",
            "",
        ] {
            let e = zone(bad).unwrap_err();
            assert!(e.starts_with("unknown time zone"), "{bad}: {e}");
        }
    }
}
