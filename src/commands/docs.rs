//! `completions` and `man`: the shell completion scripts and the manual
//! pages, generated from the clap types of this very build.

use std::path::Path;

use clap::CommandFactory as _;

use crate::{UserError, cli, console, exit, noteln, text};

pub(super) fn completions(shell: clap_complete::Shell) -> anyhow::Result<i32> {
    let mut cmd = cli::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "rtaudio-tuning", &mut buf);
    console::write(
        console::Stream::Out,
        format_args!("{}", String::from_utf8(buf)?),
    )?;
    Ok(exit::OK)
}

/// The page of the whole command on standard output, or every page (one per
/// subcommand that is not hidden) written into a new folder: the pages are
/// written beside it first and the folder appears whole, and a folder that
/// holds anything is refused (it may be the user's).
pub(super) fn man(output: Option<&Path>) -> anyhow::Result<i32> {
    let cmd = cli::Cli::command();
    let Some(dir) = output else {
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut buf)?;
        console::write(
            console::Stream::Out,
            format_args!("{}", String::from_utf8(buf)?),
        )?;
        return Ok(exit::OK);
    };
    let pages = write_new_folder(dir, "the manual pages", |tmp| {
        Ok(clap_mangen::generate_to(cmd, tmp)?)
    })?;
    noteln!(
        "wrote {} to {}",
        text::count(pages, "manual page"),
        text::one_line(&dir.display().to_string())
    )?;
    Ok(exit::OK)
}

/// Fill a new folder: `fill` writes into a temporary folder beside `dir`,
/// which then becomes `dir` whole. A `dir` that holds anything is refused (it
/// may be the user's); an empty one is replaced. Returns how many files.
pub(super) fn write_new_folder(
    dir: &Path,
    what: &str,
    fill: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<usize> {
    let shown = text::one_line(&dir.display().to_string());
    let existing_empty = match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {
            if std::fs::read_dir(dir)?.next().is_some() {
                return Err(UserError(format!(
                    "{shown} is not empty: give a new folder for {what}"
                ))
                .into());
            }
            true
        }
        Ok(_) => {
            return Err(UserError(format!(
                "{shown} exists and is not a folder: give a new folder for {what}"
            ))
            .into());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {shown}"))),
    };
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".rtaudio-tuning-new-")
        .tempdir_in(parent)
        .map_err(|e| anyhow::Error::new(e).context(format!("writing beside {shown}")))?;
    fill(tmp.path())?;
    let files = std::fs::read_dir(tmp.path())?.count();
    // A temporary folder is private (0700); these files are for everyone.
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    if existing_empty {
        std::fs::remove_dir(dir)?;
    }
    std::fs::rename(tmp.keep(), dir)?;
    Ok(files)
}
