//! Who watches the watcher: after every run, a GET to an outside dead-man's
//! switch (`[heartbeat] url`), or to `fail_url` after a failed run, so the
//! switch notices when upcheck, cron or the whole host stops. A failing ping
//! is a warning and a row, never a failed run.

use chrono::{DateTime, Utc};

use crate::config::Heartbeat;

/// One ping and what came of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Beat {
    /// `url` (the run completed) or `fail_url` (it failed).
    pub success_ping: bool,
    pub requested_at: DateTime<Utc>,
    pub status_code: Option<u16>,
    /// `None` when the switch answered 2xx.
    pub error: Option<String>,
}

/// Pings the switch; `None` when there is nothing to ping (a failed run and no `fail_url`).
pub fn ping(heartbeat: &Heartbeat, run_ok: bool) -> Option<Beat> {
    let url = if run_ok {
        Some(&heartbeat.url)
    } else {
        heartbeat.fail_url.as_ref()
    }?;
    let requested_at = Utc::now();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(heartbeat.timeout))
        .user_agent(concat!("upcheck/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent();
    let (status_code, error) = match agent.get(url).call() {
        Ok(response) => {
            let code = response.status().as_u16();
            let error = (!(200..300).contains(&code))
                .then(|| format!("the heartbeat answered HTTP {code}"));
            (Some(code), error)
        }
        Err(e) => (None, Some(format!("the heartbeat failed: {e}"))),
    };
    Some(Beat {
        success_ping: run_ok,
        requested_at,
        status_code,
        error,
    })
}
