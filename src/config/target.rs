//! What a `[[service]]` probes (its `Target`) and which keys fit it: the
//! keys of one kind of check refused on another, and assertions that can
//! never hold refused at load rather than failing every run.

use std::path::Path;
use std::time::Duration;

use super::file::{HttpUrl, Located, RawConfig, RawService, StartTlsKind};
use super::{CommandTarget, HttpTarget, StartTls, Target, TlsTarget};

/// The kinds of check; a service is exactly one.
const KINDS: &str = "`url`, `tcp`, `command`, `tls` or `dns`";

/// Which kind of check `s` is: the one key of `url`, `tcp`, `command`,
/// `tls` and `dns` it sets, or an error naming the service.
pub(super) fn kind(s: &RawService) -> Result<&'static str, String> {
    let set: Vec<&'static str> = [
        ("url", s.url.is_some()),
        ("tcp", s.tcp.is_some()),
        ("command", s.command.is_some()),
        ("tls", s.tls.is_some()),
        ("dns", s.dns.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, on)| on.then_some(k))
    .collect();
    match set.as_slice() {
        [one] => Ok(one),
        _ => Err(format!(
            "service {:?} needs exactly one of {KINDS}",
            s.name.get_ref()
        )),
    }
}

/// The first key set that a check of this `kind` does not use, and the
/// kinds it belongs to, worded for the error.
pub(super) fn stray_key(s: &RawService, kind: &str) -> Option<(&'static str, &'static str)> {
    let http_only = [
        ("method", s.method.is_some()),
        ("headers", !s.headers.is_empty()),
        ("expect_status", s.expect_status.is_some()),
        ("body_contains", s.body_contains.is_some()),
        ("body", s.body.is_some()),
        ("json", !s.json.is_empty()),
        ("body_matches", s.body_matches.is_some()),
        ("body_not_contains", s.body_not_contains.is_some()),
        ("expect_headers", !s.expect_headers.is_empty()),
        ("follow_redirects", s.follow_redirects.is_some()),
        ("slow_after", s.slow_after.is_some()),
        ("proxy", s.proxy.is_some()),
    ];
    let certificate = [
        ("cert_warn", s.cert_warn.is_some()),
        ("ca_file", s.ca_file.is_some()),
    ];
    let tls_only = [("starttls", s.starttls.is_some())];
    let dns_only = [
        ("record", s.record.is_some()),
        ("expect", s.expect.is_some()),
        ("server", s.server.is_some()),
    ];
    let stray = |keys: &[(&'static str, bool)], owners: &'static str, fits: bool| {
        (!fits)
            .then(|| keys.iter().find(|(_, on)| *on).map(|(k, _)| (*k, owners)))
            .flatten()
    };
    stray(&http_only, "`url` checks", kind == "url")
        .or_else(|| {
            stray(
                &certificate,
                "`url` and `tls` checks",
                matches!(kind, "url" | "tls"),
            )
        })
        .or_else(|| stray(&tls_only, "`tls` checks", kind == "tls"))
        .or_else(|| stray(&dns_only, "`dns` checks", kind == "dns"))
}

/// An HTTP assertion that can never hold or never be checked: a body to
/// search in a HEAD answer, a 3xx expected while redirects are followed, a
/// JSON Pointer that is not one.
pub(super) fn never_applies(s: &RawService) -> Option<(&'static str, String)> {
    let head = s.method.as_ref().is_some_and(|m| m.0 == "HEAD");
    let searched = first_set([
        ("body_contains", s.body_contains.is_some()),
        ("json", !s.json.is_empty()),
        ("body_matches", s.body_matches.is_some()),
        ("body_not_contains", s.body_not_contains.is_some()),
    ]);
    if let (true, Some(k)) = (head, searched) {
        return Some((k, format!("`{k}` needs a body, and a HEAD answer has none")));
    }
    let followed = s.follow_redirects.unwrap_or(true);
    let redirect = s
        .expect_status
        .iter()
        .flatten()
        .find(|c| (300..400).contains(&c.0));
    if let (true, Some(code)) = (followed, redirect) {
        let message = format!(
            "{} is a redirect, which is followed: set `follow_redirects = false` to check it",
            code.0
        );
        return Some(("expect_status", message));
    }
    if let Some(pointer) = s.json.keys().find(|p| !p.is_empty() && !p.starts_with('/')) {
        let message = format!(
            "{pointer:?} is not a JSON Pointer: it starts with \"/\", e.g. \"/status\" or \"/checks/0/ok\""
        );
        return Some(("json", message));
    }
    None
}

/// What the service probes, once `kind` has found exactly one of its keys.
pub(super) fn target(
    s: &RawService,
    defaults: &RawConfig,
    dir: &Path,
    key: &dyn Fn(&str) -> String,
) -> Result<Target, Located> {
    Ok(match (&s.url, &s.tcp, &s.command, &s.tls, &s.dns) {
        (Some(url), ..) => Target::Http(Box::new(http_target(url, s, defaults, dir))),
        (_, Some(addr), ..) => Target::Tcp(addr.0.clone()),
        (_, _, Some(argv), ..) => Target::Command(CommandTarget {
            argv: resolve_program(argv.0.clone(), dir),
            dir: dir.to_path_buf(),
        }),
        (_, _, _, Some(addr), _) => Target::Tls(TlsTarget {
            addr: addr.0.clone(),
            starttls: s.starttls.map(|k| match k {
                StartTlsKind::Smtp => StartTls::Smtp,
                StartTlsKind::Imap => StartTls::Imap,
                StartTlsKind::Pop3 => StartTls::Pop3,
            }),
            cert_warn: cert_warn(s, defaults),
            ca_file: ca_file(s, defaults, dir),
        }),
        (_, _, _, _, Some(name)) => Target::Dns(super::dns::target(s, name, key)?),
        _ => unreachable!("`kind` found exactly one"),
    })
}

fn http_target(url: &HttpUrl, s: &RawService, defaults: &RawConfig, dir: &Path) -> HttpTarget {
    HttpTarget {
        url: url.0.clone(),
        method: s
            .method
            .as_ref()
            .map_or_else(|| "GET".to_string(), |m| m.0.clone()),
        headers: s
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect(),
        expect_status: s.expect_status.iter().flatten().map(|c| c.0).collect(),
        body_contains: s.body_contains.clone(),
        body: s.body.clone(),
        json: s
            .json
            .iter()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect(),
        body_matches: s.body_matches.as_ref().map(|p| p.0.clone()),
        body_not_contains: s.body_not_contains.clone(),
        expect_headers: s
            .expect_headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        follow_redirects: s.follow_redirects.unwrap_or(true),
        slow_after: s.slow_after.or(defaults.slow_after).map(|d| d.0),
        cert_warn: cert_warn(s, defaults),
        ca_file: ca_file(s, defaults, dir),
        proxy: s
            .proxy
            .as_ref()
            .or(defaults.proxy.as_ref())
            .map(|p| p.0.clone()),
    }
}

fn cert_warn(s: &RawService, defaults: &RawConfig) -> Duration {
    s.cert_warn
        .or(defaults.cert_warn)
        .map_or(Duration::from_secs(14 * 86_400), |d| d.0)
}

fn ca_file(s: &RawService, defaults: &RawConfig, dir: &Path) -> Option<std::path::PathBuf> {
    s.ca_file
        .as_ref()
        .or(defaults.ca_file.as_ref())
        .map(|f| dir.join(f.get_ref()))
}

/// The first key in `keys` that is set.
pub(super) fn first_set<const N: usize>(keys: [(&'static str, bool); N]) -> Option<&'static str> {
    keys.into_iter().find_map(|(key, set)| set.then_some(key))
}

/// `./check.sh` means the one beside the config, not in cron's working directory;
/// a bare name is looked up in PATH as usual.
pub(super) fn resolve_program(mut argv: Vec<String>, dir: &Path) -> Vec<String> {
    let program = Path::new(&argv[0]);
    if program.is_relative() && argv[0].contains('/') {
        argv[0] = dir.join(program).to_string_lossy().into_owned();
    }
    argv
}
