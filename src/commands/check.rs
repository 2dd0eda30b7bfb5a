//! `check`: judge a live or captured machine, optionally against a profile.

use std::path::Path;

use serde::Serialize;

use crate::{UserError, console, exit, load, out, outln, report, selinux};

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
    /// The profile's warnings (a profile with errors is refused).
    problems: Vec<report::JsonEntry<'a>>,
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
                if json {
                    let source = loaded.source();
                    let problems = report::json_entries(&loaded.report, &source);
                    console::document("check", 1, false, &console::Refusal { problems })?;
                }
                return Ok(exit::BAD_INPUT);
            }
            Some((loaded, compiled))
        }
        None => None,
    };
    let no_modules = selinux::Compiled::default();
    if let Some(r) = root
        && !r.is_dir()
    {
        return Err(UserError(format!("--root {}: not a folder", r.display())).into());
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
        let source = loaded.as_ref().map(|(l, _)| l.source());
        let problems = match (&loaded, &source) {
            (Some((l, _)), Some(source)) => report::json_entries(&l.report, source),
            _ => Vec::new(),
        };
        let doc = CheckJson {
            strict,
            out: &out,
            problems,
        };
        console::document("check", 1, ok, &doc)?;
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
