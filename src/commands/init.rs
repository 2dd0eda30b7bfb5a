//! `init`: write the default profile to start from.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use anyhow::Context as _;

use crate::{UserError, exit, noteln, out, profile, text};

pub(super) fn init(path: &Path, force: bool) -> anyhow::Result<i32> {
    if path.as_os_str() == "-" {
        out!("{}", profile::DEFAULT_PROFILE)?;
        return Ok(exit::OK);
    }
    // As for `render`: never through a link, and --force replaces only what
    // is ours to replace, a profile (edited or not), never another file.
    match path.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Ok(m) if m.is_file() && force => {
            if let Err(why) = is_profile(path) {
                return Err(UserError(format!(
                    "{} is not a profile ({why}): not replacing it, --force replaces only a profile; give another path, or remove it yourself if you mean to",
                    path.display()
                ))
                .into());
            }
        }
        Ok(m) if m.is_file() => {
            return Err(UserError(format!(
                "{} exists: not overwriting it (use --force to replace it, or give another path)",
                path.display()
            ))
            .into());
        }
        _ => {
            return Err(UserError(format!(
                "{} exists and is not a file (a folder, a symbolic link, a device): not replacing it, with or without --force; give another path",
                path.display()
            ))
            .into());
        }
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(profile::DEFAULT_PROFILE.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    // A new file gets what the umask leaves of rw for everyone, as an editor
    // would make it, not the temporary file's 0600; a replaced profile keeps
    // its mode.
    let mode = match path.symlink_metadata() {
        Ok(m) => m.permissions().mode() & 0o7777,
        Err(_) => 0o666 & !crate::output::current_umask(),
    };
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    let shown = text::one_line(&path.display().to_string());
    noteln!("wrote {shown}: edit it, then run `rtaudio-tuning render {shown} -o out`")?;
    Ok(exit::OK)
}

/// Whether the file at `path` is a profile `init --force` may replace: UTF-8
/// TOML of at most a profile's size with a top-level `version`, the one key a
/// profile must have. `Err` says why not.
fn is_profile(path: &Path) -> Result<(), String> {
    let text = std::fs::File::open(path)
        .map_err(|e| e.to_string())
        .and_then(|f| {
            profile::read_text(f, "profile", "", profile::MAX_PROFILE_BYTES, "")
                .map_err(|_| "larger than a profile, or not UTF-8".to_string())
        })?;
    let table: toml::Table = text.parse().map_err(|_| "not TOML".to_string())?;
    if table.contains_key("version") {
        Ok(())
    } else {
        Err("no top-level `version` key".into())
    }
}
