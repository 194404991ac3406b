//! Writing a file so that readers see the old one or the new one, never half
//! of either, and the new one survives a crash: a temporary file beside the
//! target, flushed, renamed into place, and the folder flushed. The one way
//! upcheck writes the status page, the textfile, outbox `.eml`s and backups.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Who may read the new file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// 0644 whatever the umask: a web server or node_exporter must read it.
    Public,
    /// As the umask says (an email, a copy of the database).
    Umask,
}

/// Writes `bytes` to `path` atomically; the folder is created if missing.
pub fn write(path: &Path, bytes: &[u8], mode: Mode) -> Result<()> {
    replace(path, mode, |tmp| {
        fs::create_dir_all(folder(path))?;
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        if mode == Mode::Public {
            options.mode(0o644);
        }
        let mut f = options.open(tmp)?;
        if mode == Mode::Public {
            // mode() is filtered by the umask; the readers need 0644 whatever it is.
            f.set_permissions(fs::Permissions::from_mode(0o644))?;
        }
        f.write_all(bytes)?;
        Ok(())
    })
}

/// Lets `fill` create the file at a temporary path beside `path` (same
/// folder, which must exist, so the rename stays on one file system and is atomic), then
/// flushes it, renames it into place and flushes the folder, so the rename
/// survives a crash. The temporary file is removed if anything fails.
pub fn replace(
    path: &Path,
    mode: Mode,
    fill: impl FnOnce(&Path) -> Result<(), anyhow::Error>,
) -> Result<()> {
    let dir = folder(path);
    // One fixed name per target, not one per process: writers of the same
    // target are serialized (the run lock; backups refuse an existing file),
    // and a run killed mid-write leaves a file the next one overwrites
    // instead of a new one in the web root every time.
    let tmp = temp_path(path);
    let attempt = || -> Result<()> {
        let _ = fs::remove_file(&tmp);
        fill(&tmp)?;
        let f = File::open(&tmp)?;
        if mode == Mode::Public {
            f.set_permissions(fs::Permissions::from_mode(0o644))?;
        }
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()?;
        Ok(())
    };
    attempt()
        .inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
        .with_context(|| format!("writing {}", path.display()))
}

/// `dir/.name.tmp` for `dir/name`: hidden, and never served as the real thing.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    folder(path).join(format!(".{name}.tmp"))
}

fn folder(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole_with_its_mode_and_no_temporary_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/page.html");
        write(&path, b"old", Mode::Public).unwrap();
        write(&path, b"new", Mode::Public).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert!(!temp_path(&path).exists());
        // A writer that fails leaves the old file and no temporary.
        let failed = replace(&path, Mode::Umask, |tmp| {
            fs::write(tmp, b"half")?;
            anyhow::bail!("disk full")
        });
        assert!(format!("{:#}", failed.unwrap_err()).contains("disk full"));
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert!(!temp_path(&path).exists());
    }
}
