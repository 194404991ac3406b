//! Values checked the same wherever the config holds them: labels (service
//! names, the title, a fleet's probe) are one line of visible text, and a
//! CA file is readable and holds PEM certificates.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::file::{Located, at};

/// Longest service name or title: they head table rows and email subjects.
const MAX_LABEL_CHARS: usize = 1000;

/// Service names and the title are one-line labels in subjects, tables,
/// metrics and the database: no control characters (a newline would break
/// the text email's table), no invisible ones that reorder or hide text.
pub(super) fn label_problem(label: &str) -> Option<String> {
    if label.chars().count() > MAX_LABEL_CHARS {
        return Some(format!("longer than {MAX_LABEL_CHARS} characters"));
    }
    let bad = label.chars().find(|c| {
        c.is_control() || (c.is_whitespace() && *c != ' ') || crate::check::is_invisible(*c)
    })?;
    Some(format!(
        "contains the character {:?} (U+{:04X}): names and titles are one line of visible text",
        bad, bad as u32
    ))
}

/// Far more than any CA bundle (Mozilla's is about 200 KiB): a bigger file,
/// or `/dev/zero`, is not one.
const MAX_CA_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A CA file as the TLS code will read it at every run: it must be readable
/// and hold PEM certificates, or every https check (or all mail) fails for a
/// config mistake.
pub(super) fn ca_file(
    value: &Spanned<String>,
    key: impl Into<String>,
    dir: &Path,
) -> Result<PathBuf, Located> {
    use std::io::Read;
    let path = dir.join(value.get_ref());
    let mut bytes = Vec::new();
    let read = std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_CA_FILE_BYTES + 1).read_to_end(&mut bytes));
    let problem = match read {
        Err(e) => Some(format!("cannot read {}: {e}", path.display())),
        Ok(_) if bytes.len() as u64 > MAX_CA_FILE_BYTES => Some(format!(
            "{} is larger than {} MiB: not a CA file",
            path.display(),
            MAX_CA_FILE_BYTES >> 20
        )),
        Ok(_) => {
            let items: Vec<_> = ureq::tls::parse_pem(&bytes).collect();
            let certificates = items
                .iter()
                .filter(|i| matches!(i, Ok(ureq::tls::PemItem::Certificate(_))))
                .count();
            (certificates == 0 || items.iter().any(Result::is_err)).then(|| {
                format!(
                    "holds no PEM certificate: {} (DER? convert it: openssl x509 -inform der -in FILE -out FILE.pem)",
                    path.display()
                )
            })
        }
    };
    match problem {
        Some(problem) => Err(at(value.span(), key, problem)),
        None => Ok(path),
    }
}
