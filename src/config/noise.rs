//! The noise-control parts of the config: `[connectivity]`,
//! `[[maintenance]]` windows and the services' `depends_on`. Each mistake is reported at its key,
//! `maintenance[2].schedule`, `service[3].depends_on`.

use std::collections::{HashMap, HashSet};

use super::file::{Located, RawConnectivity, RawMaintenance, RawService, at};
use super::{Connectivity, Maintenance, Service, Window};
use toml::Spanned;

/// `[connectivity]`, with at least one target.
pub(super) fn connectivity(raw: Option<&RawConnectivity>) -> Result<Option<Connectivity>, Located> {
    let Some(c) = raw else { return Ok(None) };
    if c.targets.get_ref().is_empty() {
        let message = "needs at least one target, e.g. [\"1.1.1.1:53\", \"9.9.9.9:53\"]";
        return Err(at(c.targets.span(), "connectivity.targets", message));
    }
    Ok(Some(Connectivity {
        targets: c.targets.get_ref().iter().map(|t| t.0.clone()).collect(),
        timeout: c.timeout.map_or(std::time::Duration::from_secs(5), |d| d.0),
    }))
}

/// Every `depends_on` names a service, and none leads back to itself (a
/// cycle is reported at the first of its services in the file).
pub(super) fn dependencies(
    raw: &[RawService],
    services: &[Service],
    names: &HashSet<&str>,
) -> Result<(), Located> {
    let span = |i: usize| {
        raw[i]
            .depends_on
            .as_ref()
            .map_or(raw[i].name.span(), |d| d.span())
    };
    let key = |i: usize| format!("service[{}].depends_on", i + 1);
    for (i, s) in services.iter().enumerate() {
        if let Some(unknown) = s.depends_on.iter().find(|d| !names.contains(d.as_str())) {
            return Err(at(span(i), key(i), format!("no service named {unknown:?}")));
        }
    }
    if let Some(cycle) = a_cycle(services) {
        let first = cycle.iter().copied().min().expect("a cycle has services");
        // Told from the first service of the cycle round to it again.
        let from = cycle.iter().position(|&i| i == first).unwrap_or(0);
        let mut names: Vec<&str> = cycle[from..]
            .iter()
            .chain(&cycle[..from])
            .map(|&i| services[i].name.as_str())
            .collect();
        names.push(&services[first].name);
        let message = format!("a dependency cycle: {}", names.join(" → "));
        return Err(at(span(first), key(first), message));
    }
    Ok(())
}

/// A cycle of `depends_on`, as service indices in order, if there is one:
/// one depth-first walk over all services (each visited once).
fn a_cycle(services: &[Service]) -> Option<Vec<usize>> {
    let index: HashMap<&str, usize> = services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let needs = |i: usize| {
        services[i]
            .depends_on
            .iter()
            .filter_map(|d| index.get(d.as_str()).copied())
    };
    // 0: not seen, 1: on the current path, 2: done.
    let mut state = vec![0u8; services.len()];
    for root in 0..services.len() {
        if state[root] != 0 {
            continue;
        }
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some(&mut (at, ref mut next)) = path.last_mut() {
            let Some(dep) = needs(at).nth(*next) else {
                state[at] = 2;
                path.pop();
                continue;
            };
            *next += 1;
            match state[dep] {
                0 => {
                    state[dep] = 1;
                    path.push((dep, 0));
                }
                1 => {
                    let from = path.iter().position(|(i, _)| *i == dep).unwrap_or(0);
                    return Some(path[from..].iter().map(|(i, _)| *i).collect());
                }
                _ => {}
            }
        }
    }
    None
}

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
                    .map_or(jiff::tz::TimeZone::UTC, |z| z.get_ref().0.clone()),
                zone_name: m
                    .timezone
                    .as_ref()
                    .map_or_else(|| "UTC".to_string(), |z| z.get_ref().1.clone()),
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
