//! The one loader: a profile read and checked, its report printed, and its
//! SELinux modules compiled. `render`, `validate`, `rpm`, `check` and
//! `vm-test` start here, so they refuse and accept the same profiles; `fleet`
//! compiles its base profile's modules with the same stage
//! ([`crate::selinux::compile`]).

use std::path::{Path, PathBuf};

use crate::profile::{self, Loaded, ProfileSource};
use crate::selinux::{self, CompileError, Compiled};
use crate::{ToolMissing, UserError, err, errln, report};

/// The profile `init` writes, and what the commands use when given none.
pub const LOCAL_PROFILE: &str = "studio.toml";

/// The profile a command works on: the one given; else `./studio.toml` when
/// the current folder has one (what `init` wrote, likely edited since); else
/// none, the embedded default. Which one is said on standard error when the
/// user did not name it (a render of the default while the user's own
/// profile sits beside it would otherwise pass unnoticed).
pub fn choose(given: Option<&Path>) -> anyhow::Result<Option<PathBuf>> {
    if let Some(p) = given {
        return Ok(Some(p.to_path_buf()));
    }
    let local = Path::new(LOCAL_PROFILE);
    // Anything of that name counts (a link, a folder): loading it then says
    // what is wrong, rather than the default quietly standing in for it.
    if std::fs::symlink_metadata(local).is_ok() {
        crate::noteln!(
            "{}: using ./{LOCAL_PROFILE} (no profile given; name another as PROFILE or --profile)",
            crate::console::paint(crate::console::style::NOTE, "note")
        )?;
        Ok(Some(local.to_path_buf()))
    } else {
        crate::noteln!(
            "{}: using the embedded default profile (no profile given and no ./{LOCAL_PROFILE} here; `rtaudio-tuning init` writes one to edit)",
            crate::console::paint(crate::console::style::NOTE, "note")
        )?;
        Ok(None)
    }
}

/// Load the profile at `path` (the embedded default without one), print its
/// report (unless `json`: the caller prints it in its document), and compile
/// its SELinux modules, whose compiler errors are reported like the
/// profile's own, against their entry. When `modules_required` is false and
/// checkmodule is missing (`check` judging a machine), the modules are left
/// out with a note instead of exit 3. The flag is true when the profile is
/// refused (its errors, or its warnings under `strict`); the compiled modules
/// are then empty.
pub fn load_and_compile(
    path: Option<&Path>,
    strict: bool,
    json: bool,
    modules_required: bool,
) -> anyhow::Result<(Loaded, Compiled, bool)> {
    let src = path.map_or(ProfileSource::Embedded, ProfileSource::File);
    // A profile that cannot be read is the user's to fix, like a wrong key.
    let mut loaded = profile::load(src).map_err(|e| UserError(format!("{e:#}")))?;
    let mut compiled = Compiled::default();
    if let Some(p) = loaded.profile.as_mut() {
        match selinux::compile(p, &mut loaded.report) {
            Ok(c) => compiled = c,
            Err(CompileError::Unavailable(what)) if modules_required => {
                return Err(ToolMissing(format!("install {what}")).into());
            }
            Err(CompileError::Unavailable(what)) => {
                errln!(
                    "note: the profile's SELinux modules are not checked here (install {what})"
                )?;
                p.selinux.module.clear();
            }
            Err(CompileError::Report) => loaded.profile = None,
        }
    }
    let fatal = loaded.report.is_fatal(strict) || loaded.profile.is_none();
    if !json && !loaded.report.entries.is_empty() {
        err!(
            "{}",
            report::format_styled(&loaded.report, &loaded.source())
        )?;
        if fatal {
            crate::commands::refused(&loaded.source_name, &[&loaded.report], strict)?;
        }
    }
    Ok((loaded, compiled, fatal))
}
