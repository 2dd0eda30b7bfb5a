//! `check`: judge a live or captured machine, optionally against a profile.

use std::path::Path;

use serde::Serialize;

use crate::{UserError, console, exit, load, out, outln, selinux};

/// `check --list --json`, schema 1.
#[derive(Serialize)]
struct CheckList {
    checks: Vec<CheckInfo>,
}

#[derive(Serialize)]
struct CheckInfo {
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

pub(super) fn check_cmd(
    checks: &[&'static crate::check::Entry],
    profile: Option<&Path>,
    user: Option<&str>,
    root: Option<&Path>,
    json: bool,
) -> anyhow::Result<i32> {
    let loaded = match profile {
        Some(p) => {
            let (loaded, compiled, fatal) = load::load_and_compile(Some(p), false, json, false)?;
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
    if json {
        console::document("check", 1, out.failed == 0, &out)?;
    } else {
        out!("{}", crate::check::format(&out))?;
    }
    Ok(if out.failed > 0 {
        exit::FAILED
    } else {
        exit::OK
    })
}
