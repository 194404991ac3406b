//! The noise-control parts of the config: `[[maintenance]]` windows. Each
//! mistake is reported at its key, `maintenance[2].schedule`.

use std::collections::HashSet;

use super::build::at;
use super::file::{Located, RawMaintenance};
use super::{Maintenance, Window};
use toml::Spanned;

/// Every `[[maintenance]]`, checked against the services' names.
pub(super) fn maintenance(
    raw: &[Spanned<RawMaintenance>],
    names: &HashSet<&str>,
) -> Result<Vec<Maintenance>, Located> {
    raw.iter()
        .enumerate()
        .map(|(i, m)| window(i, m, names))
        .collect()
}

fn window(
    index: usize,
    spanned: &Spanned<RawMaintenance>,
    names: &HashSet<&str>,
) -> Result<Maintenance, Located> {
    let key = |k: &str| format!("maintenance[{}].{k}", index + 1);
    let m = spanned.get_ref();
    let services = match &m.services {
        None => None,
        Some(list) => {
            if let Some(unknown) = list.get_ref().iter().find(|n| !names.contains(n.as_str())) {
                let message = format!("no service named {unknown:?}");
                return Err(at(list.span(), key("services"), message));
            }
            Some(list.get_ref().clone())
        }
    };
    let when = match (&m.schedule, &m.from, &m.until) {
        (Some(schedule), None, None) => {
            let Some(duration) = m.duration else {
                let message = "a `schedule` needs a `duration`: how long each window stays open";
                return Err(at(schedule.span(), key("duration"), message));
            };
            Window::Every {
                schedule: Box::new(schedule.get_ref().0.clone()),
                pattern: schedule.get_ref().1.clone(),
                duration: duration.0,
                timezone: m
                    .timezone
                    .as_ref()
                    .map_or(chrono_tz::UTC, |z| z.get_ref().0),
            }
        }
        (None, Some(from), Some(until)) => {
            if let Some(k) = [
                ("duration", m.duration.is_some()),
                ("timezone", m.timezone.is_some()),
            ]
            .into_iter()
            .find_map(|(k, set)| set.then_some(k))
            {
                let message = format!(
                    "`{k}` applies only to a `schedule`; `from` and `until` are exact times"
                );
                return Err(at(from.span(), key(k), message));
            }
            let (from_at, until_at) = (from.get_ref().0, until.get_ref().0);
            if until_at <= from_at {
                return Err(at(until.span(), key("until"), "must be later than `from`"));
            }
            Window::Once {
                from: from_at,
                until: until_at,
            }
        }
        _ => {
            let message = "a window needs either `schedule` and `duration`, or `from` and `until`";
            return Err(at(spanned.span(), key("schedule"), message));
        }
    };
    Ok(Maintenance {
        services,
        when,
        reason: m.reason.clone(),
    })
}
