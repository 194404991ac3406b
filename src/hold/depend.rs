//! Dependencies: a failing service whose dependency (directly or through
//! others) fails too waits for it. The one named is the deepest failing
//! dependency on the first path that has one: the cause, not a messenger.

use std::collections::{HashMap, HashSet};

use crate::config::Service;

/// For each failing service held by a failing dependency, that dependency.
pub fn held_by(services: &[Service], failing: &HashSet<&str>) -> HashMap<String, String> {
    let needs: HashMap<&str, &[String]> = services
        .iter()
        .map(|s| (s.name.as_str(), s.depends_on.as_slice()))
        .collect();
    let mut memo: HashMap<&str, Option<&str>> = HashMap::new();
    services
        .iter()
        .filter(|s| failing.contains(s.name.as_str()))
        .filter_map(|s| {
            let cause = cause(&s.name, &needs, failing, &mut memo)?;
            Some((s.name.clone(), cause.to_string()))
        })
        .collect()
}

/// The deepest failing dependency of `name`, if any. The config refuses
/// cycles, so the walk ends; each service is walked once (`memo`).
fn cause<'a>(
    name: &'a str,
    needs: &HashMap<&'a str, &'a [String]>,
    failing: &HashSet<&str>,
    memo: &mut HashMap<&'a str, Option<&'a str>>,
) -> Option<&'a str> {
    if let Some(known) = memo.get(name) {
        return *known;
    }
    let mut found = None;
    for dep in needs.get(name).copied().unwrap_or_default() {
        let deeper = cause(dep, needs, failing, memo);
        found = deeper.or(failing.contains(dep.as_str()).then_some(dep.as_str()));
        if found.is_some() {
            break;
        }
    }
    memo.insert(name, found);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_deepest_failing_dependency_holds_the_chain_above_it() {
        // router ← gateway ← api ← web; cache alone; db ← api too.
        let config = Config::from_text(
            &[
                ("router", ""),
                ("gateway", "\"router\""),
                ("db", ""),
                ("api", "\"gateway\", \"db\""),
                ("web", "\"api\""),
                ("cache", ""),
            ]
            .iter()
            .map(|(n, d)| {
                format!("[[service]]\nname = \"{n}\"\ntcp = \"h:1\"\ndepends_on = [{d}]\n")
            })
            .collect::<String>(),
        )
        .unwrap();
        let held = |failing: &[&str]| {
            let mut held: Vec<(String, String)> =
                held_by(&config.services, &failing.iter().copied().collect())
                    .into_iter()
                    .collect();
            held.sort();
            held
        };
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        // Everything from the router up fails: the router is the cause.
        assert_eq!(
            held(&["router", "gateway", "api", "web", "cache"]),
            [
                pair("api", "router"),
                pair("gateway", "router"),
                pair("web", "router")
            ]
        );
        // The gateway passes, yet api needs the router through it.
        assert_eq!(held(&["router", "api"]), [pair("api", "router")]);
        // Only the database: api waits for it, web for it through api.
        assert_eq!(
            held(&["db", "api", "web"]),
            [pair("api", "db"), pair("web", "db")]
        );
        // A passing dependency holds nothing.
        assert_eq!(held(&["api", "web"]), [pair("web", "api")]);
        assert!(held(&["cache"]).is_empty());
    }
}
