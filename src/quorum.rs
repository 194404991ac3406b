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
/// `own` (this probe's results with their row ids): this probe's own check
/// when it agrees with the verdict, else the newest check that does. This
/// probe's own check always counts, whatever `seen` holds of it (a run
/// whose probing and lock wait outlast `fresh_within` still votes).
pub fn verdicts<'a>(
    own: &'a [(CheckResult, i64)],
    probe: &str,
    seen: &'a [ProbeCheck],
    confirm: u32,
) -> Vec<(&'a CheckResult, i64)> {
    own.iter()
        .map(|(mine, my_id)| {
            let others: Vec<(&CheckResult, i64)> = seen
                .iter()
                .filter(|c| c.result.service == mine.service && c.probe != probe)
                .map(|c| (&c.result, c.check_id))
                .collect();
            let failed = others.iter().filter(|(r, _)| r.status.is_failure()).count()
                + usize::from(mine.status.is_failure());
            let fresh = others.len() + 1;
            let confirm = confirm as usize;
            let failing = failed >= confirm || (fresh < confirm && failed == fresh);
            if mine.status.is_failure() == failing {
                return (mine, *my_id);
            }
            others
                .into_iter()
                .filter(|(r, _)| r.status.is_failure() == failing)
                .max_by_key(|(r, _)| r.checked_at)
                .expect("a check agrees with the verdict it makes")
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

    /// The status the fleet decides on, and the check it rests on, given
    /// this probe's ("a") check first.
    fn decided(confirm: u32, checks: &[ProbeCheck]) -> (Status, i64) {
        let own = [(checks[0].result.clone(), checks[0].check_id)];
        let v = verdicts(&own, "a", checks, confirm);
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
            (Offline, 1)
        );
        assert_eq!(
            decided(2, &[a_fails.clone(), b_passes.clone()]),
            (Online, 2)
        );
        assert_eq!(
            decided(2, &[a_fails.clone(), b_fails.clone()]),
            (Offline, 1)
        );
        // Fewer fresh probes than confirm: failing only if all of them fail.
        assert_eq!(decided(2, std::slice::from_ref(&a_fails)), (Offline, 1));
        assert_eq!(decided(3, &[a_fails.clone(), b_passes]), (Online, 2));
        assert_eq!(
            decided(3, &[a_fails.clone(), b_fails.clone()]),
            (Offline, 1)
        );
        // This probe passes while two others fail: failing, on the newest failure.
        let a_passes = check("a", 5, Online, 4);
        assert_eq!(
            decided(2, &[a_passes, b_fails.clone(), c_fails]),
            (Offline, 4)
        );
        // This probe's own check counts even when `seen` lacks it (it took
        // longer than fresh_within to get here): two failures of two.
        let own = [(a_fails.result.clone(), 1)];
        assert_eq!(
            verdicts(&own, "a", std::slice::from_ref(&b_fails), 2)[0].1,
            1
        );
        assert_eq!(verdicts(&own, "a", &[], 2)[0], (&a_fails.result, 1));
    }
}
