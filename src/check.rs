//! What one probe of one service found: a status and, for any failure, a
//! one-line reason a person can act on. A failed probe is data, never an `Err`.

use std::fmt;

use chrono::{DateTime, Utc};

/// The statuses of PRODUCT.md. `Unknown` (never checked) is shown, never stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Could not reach it: refused, DNS, TLS, reset; a command that failed.
    Offline,
    /// No complete answer within the timeout.
    Timeout,
    /// It answered, but wrongly (status, body, slow, certificate).
    Degraded,
    /// Never checked yet.
    #[default]
    Unknown,
    /// The check passed.
    Online,
}

impl Status {
    pub const STORED: [Status; 4] = [
        Status::Online,
        Status::Degraded,
        Status::Timeout,
        Status::Offline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Degraded => "degraded",
            Status::Timeout => "timeout",
            Status::Offline => "offline",
            Status::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::STORED
            .into_iter()
            .chain([Status::Unknown])
            .find(|st| st.as_str() == s)
    }

    /// Anything but `online` is a failure (`unknown` is neither).
    pub fn is_failure(self) -> bool {
        !matches!(self, Status::Online | Status::Unknown)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored reason is one line of at most this many characters.
pub const REASON_CHARS: usize = 300;

/// What one probe found, before the dispatcher names and dates it: the
/// facts a probe module returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub status: Status,
    /// Why it is not online; `None` when it is (or a plain timeout, worded later).
    pub reason: Option<String>,
    /// The final HTTP status code, for HTTP checks that got an answer.
    pub status_code: Option<u16>,
    /// notAfter of the certificate the target presented, when we saw one.
    pub cert_expires_at: Option<DateTime<Utc>>,
    /// How long the answer took, when the probe timed it itself (HTTP: not
    /// counting the certificate's separate handshake).
    pub response_ms: Option<u64>,
}

impl Finding {
    pub fn new(status: Status) -> Finding {
        Finding {
            status,
            reason: None,
            status_code: None,
            cert_expires_at: None,
            response_ms: None,
        }
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(one_line(&reason.into(), REASON_CHARS));
        self
    }
}

/// The result of probing one service once.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckResult {
    pub service: String,
    /// When the probe started.
    pub checked_at: DateTime<Utc>,
    pub status: Status,
    /// How long the probe took (for a timeout: how long we waited).
    pub response_ms: Option<u64>,
    /// The final HTTP status code, for HTTP checks that got an answer.
    pub status_code: Option<u16>,
    /// Why it is not online; `None` when it is.
    pub reason: Option<String>,
    /// notAfter of the certificate an https target presented, when we saw one.
    pub cert_expires_at: Option<DateTime<Utc>>,
}

impl CheckResult {
    pub fn new(service: &str, checked_at: DateTime<Utc>, status: Status) -> Self {
        CheckResult {
            service: service.to_string(),
            checked_at,
            status,
            response_ms: None,
            status_code: None,
            reason: None,
            cert_expires_at: None,
        }
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(one_line(&reason.into(), REASON_CHARS));
        self
    }

    /// `finding` about `service`, probed at `checked_at` for `elapsed_ms`
    /// (the answer's own time instead, when the probe timed it).
    pub fn found(
        service: &str,
        checked_at: DateTime<Utc>,
        elapsed_ms: u64,
        finding: Finding,
    ) -> Self {
        CheckResult {
            service: service.to_string(),
            checked_at,
            status: finding.status,
            response_ms: Some(finding.response_ms.unwrap_or(elapsed_ms)),
            status_code: finding.status_code,
            reason: finding.reason,
            cert_expires_at: finding.cert_expires_at,
        }
    }
}

/// What `status` and the reports show per service, read from the database.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceSummary {
    pub status: Status,
    /// When the current status began.
    pub since: DateTime<Utc>,
    pub last: CheckResult,
    pub uptime: Uptime,
}

/// Percent online per window; `None` when the window holds no checks.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Uptime {
    pub h24: Option<f64>,
    pub d7: Option<f64>,
    pub d30: Option<f64>,
    pub all: Option<f64>,
}

/// Characters that change how the text around them shows without showing
/// themselves: bidirectional marks, overrides and isolates (a reason could
/// read backwards), the zero-width space, word joiners and invisible
/// operators, the byte-order mark, tag characters. Zero-width (non-)joiners
/// are kept: Persian, Indic scripts and emoji need them.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// Reasons land in one table cell and one email subject line: fold newlines
/// and control characters into spaces, drop invisible ones, cap the length.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars));
    let mut last_space = true;
    for c in text.chars().filter(|c| !is_invisible(*c)) {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        if out.chars().count() >= max_chars {
            out.push('…');
            break;
        }
        out.push(c);
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_text() {
        for st in Status::STORED.into_iter().chain([Status::Unknown]) {
            assert_eq!(Status::parse(st.as_str()), Some(st));
        }
        assert_eq!(Status::parse("up"), None);
    }

    #[test]
    fn problems_sort_first() {
        let mut v = vec![
            Status::Online,
            Status::Degraded,
            Status::Offline,
            Status::Timeout,
        ];
        v.sort();
        assert_eq!(
            v,
            [
                Status::Offline,
                Status::Timeout,
                Status::Degraded,
                Status::Online
            ]
        );
    }

    #[test]
    fn one_line_folds_control_characters_and_caps_length() {
        assert_eq!(one_line("a\nb\r\n\tc\u{7}d", 100), "a b c d");
        assert_eq!(one_line("  x  ", 100), "x");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("ok \u{202E}nwod\u{200B}", 100), "ok nwod");
    }
}
