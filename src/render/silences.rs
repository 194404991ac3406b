//! What `upcheck silence` prints: the confirmation of an added or ended
//! silence, and the list as a table or JSON. Pure.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::table;
use crate::hold::Silence;
use crate::timefmt::{iso, minute};

pub use super::names as list;

/// "silenced api, web until 2026-12-01 18:00 UTC: deploy (silences 3, 4)".
pub fn added(
    services: &[Option<String>],
    ids: &[i64],
    until: DateTime<Utc>,
    reason: Option<&str>,
) -> String {
    let who = match services {
        [None] => "every service".to_string(),
        _ => {
            let names: Vec<&str> = services.iter().flatten().map(String::as_str).collect();
            list(&names, 10)
        }
    };
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!(
        "silenced {who} until {}{} (silence{} {})\n",
        minute(until),
        reason.map(|r| format!(": {r}")).unwrap_or_default(),
        if ids.len() == 1 { "" } else { "s" },
        ids.join(", ")
    )
}

/// "ended silence 3 (api, until 2026-12-01 18:00 UTC: deploy)", or, for
/// one already over at `now`, that it had ended.
pub fn removed(s: &Silence, now: DateTime<Utc>) -> String {
    let what = if s.ends_at <= now {
        "silence {} had already ended"
    } else {
        "ended silence {}"
    };
    format!(
        "{} ({}, until {}{})\n",
        what.replace("{}", &s.id.to_string()),
        s.service.as_deref().unwrap_or("every service"),
        minute(s.ends_at),
        s.reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    )
}

/// The silences in force or to come, one per line.
pub fn text(silences: &[Silence]) -> String {
    if silences.is_empty() {
        return "no silences in force or to come\n".into();
    }
    let rows = silences
        .iter()
        .map(|s| {
            vec![
                s.id.to_string(),
                s.service
                    .clone()
                    .unwrap_or_else(|| "(every service)".into()),
                minute(s.starts_at),
                minute(s.ends_at),
                s.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(&["ID", "SERVICE", "FROM", "UNTIL", "REASON"], rows)
}

/// One silence in `silence list --json`; `service` null: every service.
#[derive(Serialize)]
pub struct SilenceJson {
    pub id: i64,
    pub service: Option<String>,
    pub starts_at: String,
    pub ends_at: String,
    pub reason: Option<String>,
    pub created_at: String,
}

pub fn json(silences: &[Silence]) -> Vec<SilenceJson> {
    silences
        .iter()
        .map(|s| SilenceJson {
            id: s.id,
            service: s.service.clone(),
            starts_at: iso(s.starts_at),
            ends_at: iso(s.ends_at),
            reason: s.reason.clone(),
            created_at: iso(s.created_at),
        })
        .collect()
}
