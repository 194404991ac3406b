//! A fleet's verdict per service: from each probe's latest fresh check,
//! failing when at least `confirm` of them failed (when fewer probes are
//! fresh than `confirm`, failing when all the fresh ones did). Pure.

use crate::check::CheckResult;

/// One probe's latest check of a service, as the shared database holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeCheck {
    pub probe: String,
    pub check_id: i64,
    pub result: CheckResult,
}

/// The check each of this run's services is decided on, in the order of
/// `own` (this probe's results, already among `seen`): this probe's own
/// check when it agrees with the verdict, else the newest check that does.
/// A service no fresh check is seen for keeps this probe's result.
pub fn verdicts<'a>(
    own: &'a [CheckResult],
    seen: &'a [ProbeCheck],
    confirm: u32,
) -> Vec<(&'a CheckResult, Option<i64>)> {
    own.iter()
        .map(|mine| {
            let checks: Vec<&ProbeCheck> = seen
                .iter()
                .filter(|c| c.result.service == mine.service)
                .collect();
            if checks.is_empty() {
                return (mine, None);
            }
            let failed = checks
                .iter()
                .filter(|c| c.result.status.is_failure())
                .count();
            let fresh = checks.len();
            let confirm = confirm as usize;
            let failing = failed >= confirm || (fresh < confirm && failed == fresh);
            if mine.status.is_failure() == failing {
                let id = checks
                    .iter()
                    .find(|c| c.result == *mine)
                    .map(|c| c.check_id);
                return (mine, id);
            }
            let basis = checks
                .iter()
                .filter(|c| c.result.status.is_failure() == failing)
                .max_by_key(|c| c.result.checked_at)
                .expect("a check agrees with the verdict it makes");
            (&basis.result, Some(basis.check_id))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;
    use chrono::{TimeZone, Utc};

    fn check(probe: &str, id: i64, status: Status, second: u32) -> ProbeCheck {
        ProbeCheck {
            probe: probe.into(),
            check_id: id,
            result: CheckResult {
                service: "api".into(),
                checked_at: Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, second).unwrap(),
                status,
                response_ms: Some(5),
                status_code: None,
                reason: status.is_failure().then(|| format!("{probe} says no")),
                cert_expires_at: None,
            },
        }
    }

    /// The status the fleet decides on, given this probe's check first.
    fn decided(confirm: u32, checks: &[ProbeCheck]) -> (Status, Option<i64>) {
        let own = [checks[0].result.clone()];
        let v = verdicts(&own, checks, confirm);
        (v[0].0.status, v[0].1)
    }

    #[test]
    fn confirm_counts_failing_probes_among_the_fresh_ones() {
        use Status::{Offline, Online};
        let a_fails = check("a", 1, Offline, 0);
        let b_passes = check("b", 2, Online, 1);
        let b_fails = check("b", 3, Offline, 2);
        let c_fails = check("c", 4, Offline, 3);
        // One of two fails: with confirm 1 that is failing, with 2 it is not,
        // and the verdict rests on the newest passing check.
        assert_eq!(
            decided(1, &[a_fails.clone(), b_passes.clone()]),
            (Offline, Some(1))
        );
        assert_eq!(
            decided(2, &[a_fails.clone(), b_passes.clone()]),
            (Online, Some(2))
        );
        assert_eq!(
            decided(2, &[a_fails.clone(), b_fails.clone()]),
            (Offline, Some(1))
        );
        // Fewer fresh probes than confirm: failing only if all of them fail.
        assert_eq!(
            decided(2, std::slice::from_ref(&a_fails)),
            (Offline, Some(1))
        );
        assert_eq!(decided(3, &[a_fails.clone(), b_passes]), (Online, Some(2)));
        assert_eq!(
            decided(3, &[a_fails.clone(), b_fails.clone()]),
            (Offline, Some(1))
        );
        // This probe passes while two others fail: failing, on the newest failure.
        let a_passes = check("a", 5, Online, 4);
        assert_eq!(
            decided(2, &[a_passes, b_fails, c_fails]),
            (Offline, Some(4))
        );
        // Nothing fresh at all (not even our own): our own result, no check id.
        let own = [a_fails.result.clone()];
        assert_eq!(verdicts(&own, &[], 2)[0].1, None);
    }
}
