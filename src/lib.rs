//! rtaudio-tuning: one declarative profile renders a realtime audio workstation.

pub mod cli;
pub mod output;
pub mod profile;
pub mod render;
pub mod report;

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

use cli::{Cli, Command};
use profile::{Loaded, ProfileSource};

/// Exit codes (DESIGN.md).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const BAD_INPUT: i32 = 2;
}

/// A mistake of the user's (bad arguments, a refused overwrite): exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

/// Run a parsed command line; returns the exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Init { path, force } => init(&path, force),
        Command::Render {
            profile,
            output,
            force,
            strict,
            json,
        } => render(profile.as_deref(), &output, force, strict, json),
    }
}

/// The exit code for an error that reached the top.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.downcast_ref::<UserError>().is_some() || err.downcast_ref::<output::Refusal>().is_some()
    {
        exit::BAD_INPUT
    } else {
        exit::FAILED
    }
}

fn init(path: &Path, force: bool) -> anyhow::Result<i32> {
    if path.as_os_str() == "-" {
        std::io::stdout().write_all(profile::DEFAULT_PROFILE.as_bytes())?;
        return Ok(exit::OK);
    }
    if !force && path.symlink_metadata().is_ok() {
        return Err(UserError(format!(
            "{} exists: not overwriting it (use --force to replace it, or give another path)",
            path.display()
        ))
        .into());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(profile::DEFAULT_PROFILE.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "wrote {}: edit it, then run `rtaudio-tuning render {} -o out`",
        path.display(),
        path.display()
    );
    Ok(exit::OK)
}

/// Load a profile and print its report; `None` when it is fatal.
fn load_checked(path: Option<&Path>, strict: bool, json: bool) -> anyhow::Result<(Loaded, bool)> {
    let src = path.map_or(ProfileSource::Embedded, ProfileSource::File);
    // A profile that cannot be read is the user's to fix, like a wrong key.
    let loaded = profile::load(src).map_err(|e| UserError(format!("{e:#}")))?;
    let fatal = loaded.report.is_fatal(strict);
    if !json && !loaded.report.entries.is_empty() {
        eprint!("{}", report::format(&loaded.report, &loaded.source()));
        if fatal {
            let errors = loaded
                .report
                .entries
                .iter()
                .filter(|e| e.severity == report::Severity::Error || strict)
                .count();
            eprintln!(
                "{}: {errors} problem(s){}; nothing was written",
                loaded.source_name,
                if strict {
                    " (--strict: warnings count)"
                } else {
                    ""
                }
            );
        }
    }
    Ok((loaded, fatal))
}

#[derive(Serialize)]
struct RenderJson<'a> {
    ok: bool,
    profile: &'a str,
    output: Option<String>,
    files: usize,
    problems: Vec<report::JsonEntry<'a>>,
}

fn render(
    path: Option<&Path>,
    out: &Path,
    force: bool,
    strict: bool,
    json: bool,
) -> anyhow::Result<i32> {
    let (loaded, fatal) = load_checked(path, strict, json)?;
    let source = loaded.source();
    let print_json = |ok: bool, files: usize| -> anyhow::Result<()> {
        let doc = RenderJson {
            ok,
            profile: &loaded.source_name,
            output: ok.then(|| out.display().to_string()),
            files,
            problems: report::json_entries(&loaded.report, &source),
        };
        println!("{}", serde_json::to_string_pretty(&doc)?);
        Ok(())
    };
    let profile = match (&loaded.profile, fatal) {
        (Some(p), false) => p,
        _ => {
            if json {
                print_json(false, 0)?;
            }
            return Ok(exit::BAD_INPUT);
        }
    };
    let artifacts = render::render_all(profile)?;
    output::write_tree(out, &artifacts, force)?;
    if json {
        print_json(true, artifacts.len())?;
    } else {
        eprintln!(
            "rendered profile \"{}\" ({} files) to {}",
            profile.name,
            artifacts.len(),
            out.display()
        );
    }
    Ok(exit::OK)
}
