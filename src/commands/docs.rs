//! `completions` and `man`: the shell completion scripts and the manual
//! pages, generated from the clap types of this very build.

use std::path::Path;

use clap::CommandFactory as _;

use crate::{UserError, cli, console, exit, noteln, text};

pub(super) fn completions(shell: clap_complete::Shell) -> anyhow::Result<i32> {
    let mut cmd = cli::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "rtaudio-tuning", &mut buf);
    let mut script = String::from_utf8(buf)?;
    if shell == clap_complete::Shell::Bash {
        // clap_complete 4.6's bash script names a subcommand's case
        // `rtaudio__subcmd__tuning__subcmd__check` while its loop builds
        // `rtaudio__tuning__subcmd__check` (a hyphen in the command's name:
        // clap-rs/clap#6421), so nothing after the subcommand completed.
        script = script.replace("rtaudio__subcmd__tuning", "rtaudio__tuning");
    }
    console::write(console::Stream::Out, format_args!("{script}"))?;
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
    let has_files = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
    let pages = if has_files {
        // A man1/ folder of the user's (~/.local/share/man/man1) holds other
        // pages: ours go beside them, replacing only pages of ours.
        pages_into(cmd, dir)?
    } else {
        write_new_folder(dir, "the manual pages", |tmp| {
            Ok(clap_mangen::generate_to(cmd, tmp)?)
        })?
    };
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

/// Write the pages into a folder that holds other files: each page is
/// written beside its place and renamed onto it. A file of the same name that
/// is not a page of ours (a regular file whose title is `rtaudio-tuning`) is
/// refused, and then nothing is written.
fn pages_into(cmd: clap::Command, dir: &Path) -> anyhow::Result<usize> {
    let tmp = tempfile::Builder::new()
        .prefix(".rtaudio-tuning-new-")
        .tempdir_in(dir)
        .map_err(|e| {
            anyhow::Error::new(e).context(format!(
                "writing into {}",
                text::one_line(&dir.display().to_string())
            ))
        })?;
    clap_mangen::generate_to(cmd, tmp.path())?;
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(tmp.path())?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    let theirs: Vec<String> = names
        .iter()
        .filter(|n| !replaceable(&dir.join(n)))
        .map(|n| text::one_line(&n.to_string_lossy()))
        .collect();
    if !theirs.is_empty() {
        return Err(UserError(format!(
            "{} holds {}, which {} of rtaudio-tuning: move {} away, or give another folder",
            text::one_line(&dir.display().to_string()),
            theirs.join(", "),
            if theirs.len() == 1 {
                "is not a manual page"
            } else {
                "are not manual pages"
            },
            if theirs.len() == 1 { "it" } else { "them" }
        ))
        .into());
    }
    for n in &names {
        let page = tmp.path().join(n);
        std::fs::set_permissions(&page, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        std::fs::rename(&page, dir.join(n))?;
    }
    Ok(names.len())
}

/// Nothing there, or a page `man` wrote before (a regular file, not a link,
/// whose `.TH` title is rtaudio-tuning's).
fn replaceable(path: &Path) -> bool {
    use std::io::Read as _;
    match std::fs::symlink_metadata(path) {
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        Ok(m) if !m.is_file() => false,
        Ok(_) => {
            let mut head = [0u8; 512];
            let n = std::fs::File::open(path)
                .and_then(|mut f| f.read(&mut head))
                .unwrap_or(0);
            String::from_utf8_lossy(&head[..n])
                .lines()
                .any(|l| l.starts_with(".TH rtaudio-tuning"))
        }
    }
}
