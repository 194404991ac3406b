//! Who watches the watcher: pings to an outside dead-man's switch, so it
//! notices when upcheck, cron or the whole host stops. Plain style: `url`
//! after a completed run (`fail_url` after a failed one), GET, or POST with
//! a summary. Healthchecks style: `url/start?rid=R` as the run begins and
//! `url/N?rid=R` as it ends (N its exit status, R the run's UUID), POST with
//! the summary, so the switch measures each run and shows why one failed.
//! A connection error or a 5xx is tried again, twice at most, within
//! `timeout`. A failing ping is a warning and a row, never a failed run.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::check::CheckResult;
use crate::config::Heartbeat;

/// healthchecks' default limit on a ping's body.
pub const BODY_LIMIT: usize = 10_000;

/// Which ping: healthchecks' `start`, or the one as the run ends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Start,
    /// The run completed (`url`, or healthchecks' `url/0`).
    Success,
    /// It failed (`fail_url`, or healthchecks' `url/N`).
    Fail,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Start => "start",
            Kind::Success => "success",
            Kind::Fail => "fail",
        }
    }
}

/// One ping and what came of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Beat {
    pub kind: Kind,
    pub requested_at: DateTime<Utc>,
    pub status_code: Option<u16>,
    /// `None` when the switch answered 2xx.
    pub error: Option<String>,
}

static PROBED: OnceLock<String> = OnceLock::new();

/// What this run probed, for the summary the switch shows.
pub fn probed(results: &[CheckResult]) {
    let _ = PROBED.set(probed_text(results));
}

/// "probed 14 services, 2 failing:" and a line per failing service.
fn probed_text(results: &[CheckResult]) -> String {
    let failing: Vec<&CheckResult> = results.iter().filter(|r| r.status.is_failure()).collect();
    let mut text = format!(
        "probed {} service{}, {} failing",
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        failing.len()
    );
    for r in failing {
        text.push_str(&format!("\n{}: {}", r.service, r.status));
        if let Some(reason) = &r.reason {
            text.push_str(&format!(": {reason}"));
        }
    }
    text
}

/// The body: why the run failed, if it did, then what it probed; at most
/// `BODY_LIMIT` bytes, cut at a character.
pub fn summary(error: Option<&str>) -> String {
    let mut text = match error {
        Some(e) => format!("upcheck run failed: {e}\n"),
        None => String::new(),
    };
    text.push_str(PROBED.get().map_or("nothing probed", String::as_str));
    cut(text, BODY_LIMIT)
}

fn cut(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut end = limit - "…".len();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// Healthchecks style: `url/start?rid=R` as the run begins.
pub fn start(heartbeat: &Heartbeat, rid: &str) -> Option<Beat> {
    heartbeat.healthchecks.then(|| {
        let url = format!("{}/start?rid={rid}", heartbeat.url);
        send(heartbeat, &url, "", Kind::Start)
    })
}

/// The ping as the run ends (`exit`: its exit status); `None` when there is
/// nothing to ping (a failed run, plain style, no `fail_url`).
pub fn end(heartbeat: &Heartbeat, rid: &str, exit: i32, summary: &str) -> Option<Beat> {
    let url = match (heartbeat.healthchecks, exit == 0) {
        (true, _) => format!("{}/{exit}?rid={rid}", heartbeat.url),
        (false, true) => heartbeat.url.clone(),
        (false, false) => heartbeat.fail_url.clone()?,
    };
    let kind = if exit == 0 { Kind::Success } else { Kind::Fail };
    Some(send(heartbeat, &url, summary, kind))
}

/// Up to three tries within `timeout`: a connection error or a 5xx answer
/// is tried again (a dropped packet must not page anyone), a 4xx is not.
fn send(heartbeat: &Heartbeat, url: &str, body: &str, kind: Kind) -> Beat {
    let requested_at = Utc::now();
    let deadline = Instant::now() + heartbeat.timeout;
    let mut last = (None, None);
    for attempt in 0..3 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(200).min(left / 4));
        }
        last = try_once(
            heartbeat,
            url,
            body,
            deadline.saturating_duration_since(Instant::now()),
        );
        let retry = match last {
            (Some(code), _) => code >= 500,
            (None, _) => true,
        };
        if !retry {
            break;
        }
    }
    let (status_code, error) = last;
    Beat {
        kind,
        requested_at,
        status_code,
        error,
    }
}

/// One request: the status code, and an error unless it was 2xx.
fn try_once(
    heartbeat: &Heartbeat,
    url: &str,
    body: &str,
    timeout: Duration,
) -> (Option<u16>, Option<String>) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent(concat!("upcheck/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent();
    let answer = match heartbeat.post {
        true => agent
            .post(url)
            .header("Content-Type", "text/plain; charset=utf-8")
            .send(body),
        false => agent.get(url).call(),
    };
    match answer {
        Ok(response) => {
            let code = response.status().as_u16();
            let error = (!(200..300).contains(&code))
                .then(|| format!("the heartbeat answered HTTP {code}"));
            (Some(code), error)
        }
        Err(e) => (None, Some(format!("the heartbeat failed: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    #[test]
    fn the_summary_names_what_failed_and_stays_within_the_body_limit() {
        let mut api = CheckResult::new("api", Utc::now(), Status::Offline);
        api.reason = Some("connection refused".into());
        let web = CheckResult::new("web", Utc::now(), Status::Online);
        assert_eq!(
            probed_text(&[api, web]),
            "probed 2 services, 1 failing\napi: offline: connection refused"
        );
        let long = cut("é".repeat(6_000), BODY_LIMIT);
        assert!(
            long.len() <= BODY_LIMIT && long.ends_with('…'),
            "{}",
            long.len()
        );
        assert_eq!(cut("short".into(), BODY_LIMIT), "short");
    }
}
