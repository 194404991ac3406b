//! Credentials written into a URL (`https://user:p%40ss@host/`, a proxy's
//! `http://user:pass@proxy:3128`), taken out and percent-decoded as a
//! browser or curl sends them.

/// The URL without its `user:password@`, and those as a Basic
/// `Authorization` value, percent-decoded first: `p%40ss` is the password
/// `p@ss`, as a browser or curl sends it.
pub fn credentials(url: &str) -> (std::borrow::Cow<'_, str>, Option<String>) {
    use base64::Engine as _;
    let Some(rest) = url.split_once("://").map(|(_, rest)| rest) else {
        return (url.into(), None);
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let Some((userinfo, _host)) = authority.rsplit_once('@') else {
        return (url.into(), None);
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let pair = format!("{}:{}", decode(user), decode(password));
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    );
    (
        url.replacen(&format!("{userinfo}@"), "", 1).into(),
        Some(basic),
    )
}
