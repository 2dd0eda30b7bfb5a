//! `check`: judge a live or captured machine, optionally against a profile.

use std::path::Path;

use serde::Serialize;

use crate::{UserError, console, exit, load, out, outln, selinux};

/// `check --list --json`, schema 1.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct CheckList {
    checks: Vec<CheckInfo>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct CheckInfo {
    id: &'static str,
    group: &'static str,
    description: &'static str,
}

pub(super) fn list_checks(json: bool) -> anyhow::Result<i32> {
    if json {
        let list: Vec<CheckInfo> = crate::check::CHECKS
            .iter()
            .map(|c| CheckInfo {
                id: c.id,
                group: c.group,
                description: c.description,
            })
            .collect();
        console::document("check", 1, true, &CheckList { checks: list })?;
    } else {
        for c in crate::check::CHECKS {
            outln!("{:<22} {:<8} {}", c.id, c.group, c.description)?;
        }
    }
    Ok(exit::OK)
}

/// `check --json`, schema 1: the outcome, and whether warnings failed it.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct CheckJson<'a> {
    /// `--strict`: a warning fails the check (`ok` is false).
    strict: bool,
    #[serde(flatten)]
    out: &'a crate::check::Outcome,
}

pub(super) fn check_cmd(
    checks: &[&'static crate::check::Entry],
    profile: Option<&Path>,
    user: Option<&str>,
    root: Option<&Path>,
    json: bool,
    strict: bool,
) -> anyhow::Result<i32> {
    let loaded = match profile {
        Some(p) => {
            // An empty path is `--profile` without a value and no
            // ./studio.toml: the embedded default.
            let path = Some(p).filter(|p| !p.as_os_str().is_empty());
            let (loaded, compiled, fatal) = load::load_and_compile(path, false, json, false)?;
            if fatal {
                return Ok(exit::BAD_INPUT);
            }
            Some((loaded, compiled))
        }
        None => None,
    };
    let no_modules = selinux::Compiled::default();
    if let Some(r) = root {
        if !r.is_dir() {
            return Err(UserError(format!("--root {}: not a folder", r.display())).into());
        }
    }
    let out = crate::check::run(&crate::check::Options {
        checks,
        root,
        user,
        profile: loaded.as_ref().and_then(|(l, _)| l.profile.as_ref()),
        compiled: loaded.as_ref().map_or(&no_modules, |(_, c)| c),
    })?;
    // Under --strict a warning is a failure of the whole check (each
    // check's own verdict stays as it is: the report says what it saw).
    let ok = out.failed == 0 && !(strict && out.warned > 0);
    if json {
        console::document("check", 1, ok, &CheckJson { strict, out: &out })?;
    } else {
        out!("{}", crate::check::format(&out, console::stdout_width()))?;
        if strict && out.warned > 0 && out.failed == 0 {
            outln!(
                "--strict: {} {} the check",
                crate::text::count(out.warned, "warning"),
                if out.warned == 1 { "fails" } else { "fail" }
            )?;
        }
    }
    Ok(if ok { exit::OK } else { exit::FAILED })
}
