//! `render`: a profile into a tree of artifacts.

use std::path::Path;

use serde::Serialize;

use crate::{cli, console, exit, load, noteln, output, render, report, text};

/// `render --json`, schema 1 (README, "JSON documents").
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct RenderJson<'a> {
    profile: &'a str,
    output: Option<String>,
    files: usize,
    problems: Vec<report::JsonEntry<'a>>,
}

pub(super) fn render(
    path: Option<&Path>,
    out: &Path,
    cli::WriteOptions {
        force,
        strict,
        json,
    }: cli::WriteOptions,
) -> anyhow::Result<i32> {
    let (loaded, compiled, fatal) = load::load_and_compile(path, strict, json, true)?;
    let source = loaded.source();
    let print_json = |ok: bool, files: usize| -> anyhow::Result<()> {
        let doc = RenderJson {
            profile: &loaded.source_name,
            output: ok.then(|| out.display().to_string()),
            files,
            problems: report::json_entries(&loaded.report, &source),
        };
        console::document("render", 1, ok, &doc)
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
    let artifacts = render::render_all(profile, &compiled)?;
    output::write_tree(out, &artifacts, force)?;
    if json {
        print_json(true, artifacts.len())?;
    } else {
        noteln!(
            "rendered profile \"{}\" ({} files) to {}",
            profile.name,
            artifacts.len(),
            text::one_line(&out.display().to_string())
        )?;
        if let Some(why) = render::no_live_spin(profile.target.distro) {
            noteln!("{}", why.replace("NAME", &profile.name))?;
        }
    }
    Ok(exit::OK)
}
