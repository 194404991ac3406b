//! The Prometheus textfile: what node_exporter's textfile collector reads.
//! Pure: rows in, exposition text out. Every service exports every metric it
//! has (a failed target exports 0, never a gap), with label values escaped.

use std::fmt::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::check::{CheckResult, Status};
use crate::render::Row;

/// A metric family: its name, type and help, then one sample line per series.
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

/// How the run that writes the textfile went, for the run-level series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunHealth {
    pub finished_at: DateTime<Utc>,
    pub duration: Duration,
    /// Whether everything due was delivered (and nothing else failed).
    pub succeeded: bool,
    /// Alerts, reminders and recoveries the email has not delivered yet.
    pub undelivered: u64,
    /// When the oldest of them was decided.
    pub oldest_undelivered: Option<DateTime<Utc>>,
    /// With a connectivity guard: whether it reached a target this run.
    pub connectivity: Option<bool>,
}

pub fn render(rows: &[Row], run: RunHealth) -> String {
    let (finished_at, run_duration) = (run.finished_at, run.duration);
    let mut families = service_families(rows);
    families.extend(measure_families(rows));
    families.extend(probe_families(rows));
    families.push(Family {
        name: "upcheck_last_run_timestamp_seconds",
        help: "When upcheck's last run finished, Unix time.",
        samples: vec![(
            String::new(),
            finished_at.timestamp_millis() as f64 / 1000.0,
        )],
    });
    families.push(Family {
        name: "upcheck_run_duration_seconds",
        help: "How long upcheck's last run took, in seconds.",
        samples: vec![(String::new(), run_duration.as_secs_f64())],
    });
    families.push(Family {
        name: "upcheck_last_run_success",
        help: "Whether upcheck's last run delivered everything due (1) or failed (0).",
        samples: vec![(String::new(), f64::from(run.succeeded))],
    });
    families.push(Family {
        name: "upcheck_notifications_undelivered",
        help: "Alerts, reminders, recoveries and network notices decided but not yet delivered by email.",
        samples: vec![(String::new(), run.undelivered as f64)],
    });
    families.push(Family {
        name: "upcheck_oldest_undelivered_notification_timestamp_seconds",
        help: "When the oldest undelivered notification was decided, Unix time (0: none).",
        samples: vec![(
            String::new(),
            run.oldest_undelivered.map_or(0, |t| t.timestamp()) as f64,
        )],
    });
    if let Some(up) = run.connectivity {
        families.push(Family {
            name: "upcheck_connectivity_up",
            help: "Whether upcheck's connectivity guard reached a target in its last run (0: nothing was probed; the service series are from before).",
            samples: vec![(String::new(), f64::from(up))],
        });
    }
    let mut out = String::new();
    for f in families {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} gauge", f.name);
        for (labels, value) in f.samples {
            if labels.is_empty() {
                let _ = writeln!(out, "{} {value}", f.name);
            } else {
                let _ = writeln!(out, "{}{{{labels}}} {value}", f.name);
            }
        }
    }
    out
}

/// One series per service for each per-service family: its status.
fn service_families(rows: &[Row]) -> Vec<Family> {
    let service = |r: &Row| format!("service=\"{}\"", escape(&r.name));
    vec![
        Family {
            name: "upcheck_up",
            help: "Whether the service's latest check was online (1) or not (0).",
            samples: rows
                .iter()
                .map(|r| (service(r), f64::from(r.status == Status::Online)))
                .collect(),
        },
        Family {
            name: "upcheck_silenced",
            help: "Whether the service's alerts are held by a silence or a maintenance window (1) or not (0).",
            samples: rows
                .iter()
                .map(|r| {
                    (
                        service(r),
                        f64::from(r.hold.as_ref().is_some_and(|h| h.until().is_some())),
                    )
                })
                .collect(),
        },
        Family {
            name: "upcheck_status",
            help: "The service's latest status: 1 for the one it has, 0 for the others.",
            samples: rows
                .iter()
                .flat_map(|r| {
                    Status::STORED
                        .into_iter()
                        .chain([Status::Unknown])
                        .map(move |st| {
                            (
                                format!("{},status=\"{}\"", service(r), st.as_str()),
                                f64::from(r.status == st),
                            )
                        })
                })
                .collect(),
        },
    ]
}

/// What each service's latest check measured.
fn measure_families(rows: &[Row]) -> Vec<Family> {
    let service = |r: &Row| format!("service=\"{}\"", escape(&r.name));
    vec![
        Family {
            name: "upcheck_response_seconds",
            help: "How long the service's latest check took, in seconds (0 if never checked).",
            samples: rows
                .iter()
                .map(|r| {
                    let ms = r.last.as_ref().and_then(|l| l.response_ms).unwrap_or(0);
                    (service(r), ms as f64 / 1000.0)
                })
                .collect(),
        },
        Family {
            name: "upcheck_http_status_code",
            help: "The HTTP status code of the service's latest check (0: no answer). HTTP services only.",
            samples: rows
                .iter()
                .filter(|r| r.kind == "http")
                .map(|r| {
                    (
                        service(r),
                        f64::from(r.last.as_ref().and_then(|l| l.status_code).unwrap_or(0)),
                    )
                })
                .collect(),
        },
        Family {
            name: "upcheck_cert_expiry_timestamp_seconds",
            help: "When the certificate of an https or tls service expires, Unix time (0: unknown).",
            samples: rows
                .iter()
                .filter(|r| r.has_certificate)
                .map(|r| {
                    let at = r
                        .last
                        .as_ref()
                        .and_then(|l| l.cert_expires_at)
                        .map_or(0, |t| t.timestamp());
                    (service(r), at as f64)
                })
                .collect(),
        },
    ]
}

/// A fleet only: each probe's latest check of each service, labelled
/// `probe`, beside the fleet's decision above. None with SQLite.
fn probe_families(rows: &[Row]) -> Vec<Family> {
    let samples = |value: fn(&CheckResult) -> f64| -> Vec<(String, f64)> {
        rows.iter()
            .flat_map(|r| {
                r.probes.iter().map(move |(probe, c)| {
                    let labels = format!(
                        "service=\"{}\",probe=\"{}\"",
                        escape(&r.name),
                        escape(probe)
                    );
                    (labels, value(c))
                })
            })
            .collect()
    };
    if rows.iter().all(|r| r.probes.is_empty()) {
        return Vec::new();
    }
    vec![
        Family {
            name: "upcheck_probe_up",
            help: "Whether this probe's latest check of the service was online (1) or not (0).",
            samples: samples(|c| f64::from(c.status == Status::Online)),
        },
        Family {
            name: "upcheck_probe_response_seconds",
            help: "How long this probe's latest check of the service took, in seconds.",
            samples: samples(|c| c.response_ms.unwrap_or(0) as f64 / 1000.0),
        },
        Family {
            name: "upcheck_probe_last_check_timestamp_seconds",
            help: "When this probe last checked the service, Unix time.",
            samples: samples(|c| c.checked_at.timestamp_millis() as f64 / 1000.0),
        },
    ]
}

/// Label values: backslash, double quote and line feed are escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Uptime;
    use crate::hold::{Hold, Quiet};
    use crate::timefmt::parse_iso;

    fn row(name: &str, kind: &'static str, status: Status, code: Option<u16>) -> Row {
        let at = parse_iso("2026-11-21T10:00:00Z").unwrap();
        let mut last = CheckResult::new(name, at, status);
        last.response_ms = Some(1234);
        last.status_code = code;
        Row {
            name: name.into(),
            kind,
            has_certificate: false,
            status,
            since: Some(at),
            last: Some(last),
            uptime: Uptime::default(),
            hold: None,
            probes: Vec::new(),
        }
    }

    #[test]
    fn every_series_is_there_and_a_failed_target_exports_zero() {
        let mut rows = vec![
            row("api", "http", Status::Offline, None),
            row("db \"main\"\\\n", "tcp", Status::Online, None),
        ];
        rows[0].hold = Some(Hold::Quiet {
            until: parse_iso("2026-11-21T12:00:00Z").unwrap(),
            reason: None,
            by: Quiet::Silence,
        });
        let text = render(
            &rows,
            RunHealth {
                finished_at: parse_iso("2026-11-21T10:00:05Z").unwrap(),
                duration: Duration::from_millis(1500),
                succeeded: false,
                undelivered: 2,
                oldest_undelivered: parse_iso("2026-11-21T09:00:00Z"),
                connectivity: Some(false),
            },
        );
        assert!(text.contains("upcheck_up{service=\"api\"} 0\n"), "{text}");
        assert!(text.contains("upcheck_http_status_code{service=\"api\"} 0\n"));
        assert!(text.contains("upcheck_status{service=\"api\",status=\"offline\"} 1\n"));
        assert!(text.contains("upcheck_status{service=\"api\",status=\"online\"} 0\n"));
        assert!(text.contains("upcheck_response_seconds{service=\"api\"} 1.234\n"));
        assert!(
            text.contains("upcheck_up{service=\"db \\\"main\\\"\\\\\\n\"} 1\n"),
            "{text}"
        );
        assert!(
            !text.contains("upcheck_http_status_code{service=\"db"),
            "tcp services have no HTTP code"
        );
        assert!(text.contains("upcheck_last_run_timestamp_seconds 1795255205\n"));
        assert!(text.contains("upcheck_run_duration_seconds 1.5\n"));
        assert!(text.contains("upcheck_last_run_success 0\n"));
        assert!(text.contains("upcheck_notifications_undelivered 2\n"));
        assert!(
            text.contains("upcheck_oldest_undelivered_notification_timestamp_seconds 1795251600\n")
        );
        assert!(text.contains("upcheck_silenced{service=\"api\"} 1\n"));
        assert!(text.contains("upcheck_silenced{service=\"db"));
        assert!(text.contains("upcheck_connectivity_up 0\n"));
        assert_eq!(text.matches("# TYPE").count(), 12);
    }
}
