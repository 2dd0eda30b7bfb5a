//! `validate`: the named validators on a rendered tree or a profile.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{UserError, console, exit, load, outln, output, render, report, text, validate};

/// A rendered tree to work on: the folder given, or a profile rendered into a
/// temporary folder (kept alive by `_tmp`).
pub(super) struct TreeDir {
    pub(super) dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

/// The tree `target` names, and the problems of its profile (as their JSON
/// entries: with `json` they are not printed, the caller's document holds
/// them); no tree when the profile was refused.
pub(super) fn tree_dir(
    target: Option<&Path>,
    strict: bool,
    json: bool,
) -> anyhow::Result<(Option<TreeDir>, Vec<serde_json::Value>)> {
    if let Some(target) = target.filter(|t| t.is_dir()) {
        let has = |name: &str| target.join(name).exists();
        if !has(crate::output::MANIFEST) && !has("rootfs") && !has("rpm") {
            return Err(UserError(format!(
                "{} is not a rendered tree (no {}, no rootfs/, no rpm/): give a folder written by `render` or `fleet`, or a profile",
                text::one_line(&target.display().to_string()),
                crate::output::MANIFEST
            ))
            .into());
        }
        let tree = TreeDir {
            dir: target.to_path_buf(),
            _tmp: None,
        };
        return Ok((Some(tree), Vec::new()));
    }
    let (loaded, compiled, fatal) = load::load_and_compile(target, strict, json, true)?;
    let source = loaded.source();
    let problems = report::json_entries(&loaded.report, &source)
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?;
    let profile = match (&loaded.profile, fatal) {
        (Some(p), false) => p,
        _ => return Ok((None, problems)),
    };
    let tmp = tempfile::Builder::new()
        .prefix("rtaudio-tuning-")
        .tempdir()?;
    let dir = tmp.path().join(&profile.name);
    output::write_tree(&dir, &render::render_all(profile, &compiled)?, false)?;
    let tree = TreeDir {
        dir,
        _tmp: Some(tmp),
    };
    Ok((Some(tree), problems))
}

fn status_word(s: validate::Status) -> &'static str {
    match s {
        validate::Status::Pass => "pass",
        validate::Status::Fail => "FAIL",
        validate::Status::Unavailable => "unavailable",
        validate::Status::NotApplicable => "n/a",
    }
}

fn status_style(s: validate::Status) -> anstyle::Style {
    use crate::console::style;
    match s {
        validate::Status::Pass => style::GOOD,
        validate::Status::Fail => style::ERROR,
        validate::Status::Unavailable => style::WARNING,
        validate::Status::NotApplicable => style::DIM,
    }
}

/// A target as the reports name it: its path, or the embedded default.
pub(super) fn shown(target: Option<&Path>) -> String {
    target.map_or_else(
        || crate::profile::DEFAULT_PROFILE_NAME.to_string(),
        |t| t.display().to_string(),
    )
}

/// `validate --list --json`, schema 1.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct ValidatorList {
    validators: Vec<ValidatorInfo>,
}

/// `validate --json`, schema 1: the validators' results, and the profile's
/// problems when a profile was given (all of them when it was refused).
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct ValidateJson<'a> {
    target: String,
    passed: usize,
    failed: usize,
    unavailable: usize,
    /// Validators with nothing of their kind in the tree.
    not_applicable: usize,
    results: &'a [validate::Checked],
    /// The profile's problems (entries of the same shape as render's).
    #[schemars(with = "Vec<crate::report::JsonEntry<'static>>")]
    problems: Vec<serde_json::Value>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct ValidatorInfo {
    name: &'static str,
    description: &'static str,
}

pub(super) fn list_validators(json: bool) -> anyhow::Result<i32> {
    if json {
        let list: Vec<ValidatorInfo> = validate::VALIDATORS
            .iter()
            .map(|v| ValidatorInfo {
                name: v.name,
                description: v.description,
            })
            .collect();
        console::document("validate", 1, true, &ValidatorList { validators: list })?;
    } else {
        for v in validate::VALIDATORS {
            outln!("{:<12} {}", v.name, v.description)?;
        }
    }
    Ok(exit::OK)
}

pub(super) fn validate_cmd(
    target: Option<&Path>,
    only: &[String],
    skip: &[String],
    json: bool,
    strict: bool,
    require_all: bool,
) -> anyhow::Result<i32> {
    let chosen = validate::select(only, skip).map_err(UserError)?;
    let (tree_dir, problems) = tree_dir(target, strict, json)?;
    let target_shown = shown(target);
    let Some(tree_dir) = tree_dir else {
        if json {
            let doc = ValidateJson {
                target: target_shown,
                passed: 0,
                failed: 0,
                unavailable: 0,
                not_applicable: 0,
                results: &[],
                problems,
            };
            console::document("validate", 1, false, &doc)?;
        }
        return Ok(exit::BAD_INPUT);
    };
    let progress = crate::progress::Progress::new("validating", chosen.len() as u64);
    progress.message(format!("reading {}", text::one_line(&target_shown)));
    let tree = validate::Tree::read(&tree_dir.dir)?;
    let start = std::time::Instant::now();
    let running = std::sync::Mutex::new(chosen.iter().map(|v| v.name).collect::<Vec<_>>());
    progress.message(format!(
        "running {}",
        running.lock().expect("names").join(", ")
    ));
    let mut results = validate::run_all(&tree, &chosen, &|c| {
        let mut names = running.lock().expect("names");
        names.retain(|n| *n != c.name);
        progress.message(format!("running {}", names.join(", ")));
        progress.done(format_args!(
            "{} {}: {} ({:.1} s)",
            status_word(c.outcome.status),
            c.name,
            c.outcome.summary,
            c.seconds
        ));
    });
    progress.finish();
    if strict {
        for r in &mut results {
            if r.outcome.status == validate::Status::Pass && !r.outcome.warnings.is_empty() {
                r.outcome.status = validate::Status::Fail;
                r.outcome.details = std::mem::take(&mut r.outcome.warnings);
                r.outcome.summary = format!(
                    "{} (warnings are failures under --strict)",
                    r.outcome.summary
                );
            }
        }
    }
    let count = |s: validate::Status| results.iter().filter(|r| r.outcome.status == s).count();
    let (failed, unavailable, passed, not_applicable) = (
        count(validate::Status::Fail),
        count(validate::Status::Unavailable),
        count(validate::Status::Pass),
        count(validate::Status::NotApplicable),
    );
    let code = if failed > 0 {
        exit::FAILED
    } else if unavailable > 0 && require_all {
        exit::TOOL_MISSING
    } else {
        exit::OK
    };
    if json {
        let doc = ValidateJson {
            target: target_shown,
            passed,
            failed,
            unavailable,
            not_applicable,
            results: &results,
            problems,
        };
        console::document("validate", 1, code == exit::OK, &doc)?;
    } else {
        for r in &results {
            let status = status_word(r.outcome.status);
            outln!(
                "{} {:<12} {}",
                console::paint(status_style(r.outcome.status), format_args!("{status:<12}")),
                r.name,
                r.outcome.summary
            )?;
            for d in &r.outcome.details {
                for line in d.lines() {
                    outln!("{:<25}{line}", "")?;
                }
            }
            for w in &r.outcome.warnings {
                outln!("{:<25}warning: {w}", "")?;
            }
        }
        let na = if not_applicable > 0 {
            format!(", {not_applicable} n/a")
        } else {
            String::new()
        };
        outln!(
            "{passed} passed, {failed} failed, {unavailable} unavailable{na} ({:.1} s)",
            start.elapsed().as_secs_f64()
        )?;
    }
    Ok(code)
}
