//! Credentials in the config: warnings when other users can read them (the
//! SMTP password file, a config holding HTTP secrets), and URLs with their
//! password hidden wherever they are shown.

use std::ops::Range;
use std::path::Path;

use super::{Config, PasswordSource, Target, Transport};

/// Secrets that every user on the machine can read: the password file, or
/// a config holding credentials (HTTP headers, a password in a URL). Group
/// access is left alone: `root:upcheck 0640` is the intended install.
pub(super) fn exposure_warnings(config: &Config) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    // Readable by others, and reachable: every folder above it lets others in.
    let readable_by_all = |path: &Path| {
        let path = std::fs::canonicalize(path).ok()?;
        let reachable = path
            .ancestors()
            .skip(1)
            .all(|dir| std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0));
        std::fs::metadata(&path)
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
            .filter(|mode| reachable && mode & 0o004 != 0)
    };
    let mut warnings = Vec::new();
    let password_file = config
        .email
        .as_ref()
        .and_then(|e| match &e.transport {
            Transport::Smtp(s) => s.password.as_ref(),
            _ => None,
        })
        .and_then(|p| match p {
            PasswordSource::File(path) => Some(path),
            PasswordSource::Env(_) => None,
        });
    if let Some(path) = password_file
        && let Some(mode) = readable_by_all(path)
    {
        warnings.push(format!(
            "smtp_password_file {} is readable by every user (mode {mode:04o}); run: chmod o-rwx {}",
            path.display(),
            path.display()
        ));
    }
    if holds_credentials(config)
        && let Some(mode) = readable_by_all(&config.path)
    {
        warnings.push(format!(
            "{} holds credentials (HTTP headers or a password in a URL) and is readable by every user (mode {mode:04o}); run: chmod o-rwx {}",
            config.path.display(),
            config.path.display()
        ));
    }
    warnings
}

fn holds_credentials(config: &Config) -> bool {
    // Header names that carry credentials by convention.
    let secret_header = |name: &str| {
        let name = name.to_ascii_lowercase();
        [
            "authorization",
            "cookie",
            "token",
            "key",
            "secret",
            "auth",
            "password",
        ]
        .iter()
        .any(|word| name.contains(word))
    };
    let http = config.services.iter().any(|s| match &s.target {
        Target::Http(h) => {
            h.headers.iter().any(|(name, _)| secret_header(name))
                || url_has_password(&h.url)
                || h.proxy.as_deref().is_some_and(url_has_password)
        }
        _ => false,
    });
    let heartbeat = config.heartbeat.as_ref().is_some_and(|h| {
        url_has_password(&h.url) || h.fail_url.as_deref().is_some_and(url_has_password)
    });
    http || heartbeat
}

/// `scheme://user:password@host/...`
pub(super) fn url_has_password(url: &str) -> bool {
    url_password_span(url).is_some()
}

/// Where the password of `scheme://user:password@host/...` sits in `url`.
fn url_password_span(url: &str) -> Option<Range<usize>> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (userinfo, _) = authority.rsplit_once('@')?;
    let colon = userinfo.find(':')?;
    Some(start + colon + 1..start + userinfo.len())
}

/// `url` as it may be shown: a password in it replaced by `***`.
pub fn redacted_url(url: &str) -> String {
    match url_password_span(url) {
        Some(span) => format!("{}***{}", &url[..span.start], &url[span.end..]),
        None => url.to_string(),
    }
}
