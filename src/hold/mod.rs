//! Holds: why a failing service's own alerts and restarts wait in a run. A
//! silence (`upcheck silence add`, stored) or an open maintenance window
//! (the config) quiets a service until a time; a service it depends on
//! failing holds it for as long as that lasts. The service is still probed,
//! stored and counted. Pure: the facts and the time come in as values.

mod depend;
mod maintenance;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::config::{Maintenance, Service};

/// One silence, as stored in `silences`.
#[derive(Clone, Debug, PartialEq)]
pub struct Silence {
    pub id: i64,
    /// `None`: every service.
    pub service: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Silence {
    pub fn covers(&self, service: &str, now: DateTime<Utc>) -> bool {
        self.service.as_deref().is_none_or(|s| s == service)
            && self.starts_at <= now
            && now < self.ends_at
    }
}

/// Why one service's own alerts wait this run.
#[derive(Clone, Debug, PartialEq)]
pub enum Hold {
    /// A silence or an open maintenance window, until when and why.
    Quiet {
        until: DateTime<Utc>,
        reason: Option<String>,
        by: Quiet,
    },
    /// A service it depends on (directly or through others) fails too.
    Dependency { on: String },
}

/// What quiets a service.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Quiet {
    Silence,
    Maintenance,
}

impl Hold {
    /// Until when, for a silence or a window.
    pub fn until(&self) -> Option<DateTime<Utc>> {
        match self {
            Hold::Quiet { until, .. } => Some(*until),
            Hold::Dependency { .. } => None,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Hold::Quiet { reason, .. } => reason.as_deref(),
            Hold::Dependency { .. } => None,
        }
    }
}

/// Each held service of `services` and why, at `now`, with `failing` the
/// services failing now. Of several silences and open windows that cover a
/// service, the one that ends last speaks; a silence or window is said
/// rather than a failing dependency.
pub fn holds(
    services: &[Service],
    silences: &[Silence],
    windows: &[Maintenance],
    now: DateTime<Utc>,
    failing: &HashSet<&str>,
) -> HashMap<String, Hold> {
    let mut holds: HashMap<String, Hold> = depend::held_by(services, failing)
        .into_iter()
        .map(|(service, on)| (service, Hold::Dependency { on }))
        .collect();
    holds.extend(quiet(services, silences, windows, now));
    holds
}

/// The services a silence or an open window quiets at `now`.
fn quiet(
    services: &[Service],
    silences: &[Silence],
    windows: &[Maintenance],
    now: DateTime<Utc>,
) -> HashMap<String, Hold> {
    // The open windows, once: (until, the window).
    let open: Vec<(DateTime<Utc>, &Maintenance)> = windows
        .iter()
        .filter_map(|w| Some((maintenance::open_until(&w.when, now)?, w)))
        .collect();
    services
        .iter()
        .filter_map(|s| {
            let silenced = silences
                .iter()
                .filter(|q| q.covers(&s.name, now))
                .map(|q| (q.ends_at, q.reason.clone(), Quiet::Silence));
            let maintained = open
                .iter()
                .filter(|(_, w)| {
                    w.services
                        .as_ref()
                        .is_none_or(|names| names.contains(&s.name))
                })
                .map(|(until, w)| (*until, w.reason.clone(), Quiet::Maintenance));
            let (until, reason, by) = silenced.chain(maintained).max_by_key(|q| q.0)?;
            Some((s.name.clone(), Hold::Quiet { until, reason, by }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::timefmt::parse_iso;

    fn at(t: &str) -> DateTime<Utc> {
        parse_iso(t).unwrap()
    }

    fn silence(id: i64, service: Option<&str>, from: &str, until: &str, why: &str) -> Silence {
        Silence {
            id,
            service: service.map(String::from),
            starts_at: at(from),
            ends_at: at(until),
            reason: Some(why.into()),
            created_at: at(from),
        }
    }

    #[test]
    fn the_silence_that_ends_last_speaks_and_only_silences_in_force_count() {
        let config = Config::from_text(
            "[[service]]\nname = \"api\"\ntcp = \"h:1\"\n[[service]]\nname = \"web\"\ntcp = \"h:1\"\n[[service]]\nname = \"db\"\ntcp = \"h:1\"",
        )
        .unwrap();
        let silences = [
            silence(
                1,
                Some("api"),
                "2026-12-01T10:00:00Z",
                "2026-12-01T11:00:00Z",
                "deploy",
            ),
            silence(
                2,
                None,
                "2026-12-01T10:30:00Z",
                "2026-12-01T12:00:00Z",
                "move",
            ),
            silence(
                3,
                Some("db"),
                "2026-12-01T13:00:00Z",
                "2026-12-01T14:00:00Z",
                "later",
            ),
        ];
        let now = at("2026-12-01T10:45:00Z");
        let holds = holds(&config.services, &silences, &[], now, &HashSet::new());
        let quiet = |until: &str, why: &str| Hold::Quiet {
            until: at(until),
            reason: Some(why.into()),
            by: Quiet::Silence,
        };
        assert_eq!(holds["api"], quiet("2026-12-01T12:00:00Z", "move"));
        assert_eq!(holds["web"], quiet("2026-12-01T12:00:00Z", "move"));
        assert_eq!(holds["db"], quiet("2026-12-01T12:00:00Z", "move"));
        // Before the silence for all: api alone; db's own silence is to come.
        let early = super::holds(
            &config.services,
            &silences,
            &[],
            at("2026-12-01T10:10:00Z"),
            &HashSet::new(),
        );
        assert_eq!(early.len(), 1);
        assert_eq!(early["api"], quiet("2026-12-01T11:00:00Z", "deploy"));
        // At its end a silence is over.
        assert!(
            super::holds(
                &config.services,
                &silences,
                &[],
                at("2026-12-01T12:00:00Z"),
                &HashSet::new()
            )
            .is_empty()
        );
    }
}
