//! `fleet`: an inventory into the tree of a room.

use std::path::Path;

use serde::Serialize;

use super::refused;
use crate::{
    ToolMissing, cli, console, err, errln, exit, fleet, outln, output, report, selinux, text,
};

/// `fleet --json`, schema 1 (README, "JSON documents").
#[derive(Serialize)]
struct FleetJson<'a> {
    inventory: &'a str,
    output: Option<String>,
    hosts: usize,
    variants: usize,
    files: usize,
    changed_hosts: Vec<&'a str>,
    problems: Vec<report::JsonEntry<'a>>,
}

pub(super) fn fleet_cmd(
    path: &Path,
    out: &Path,
    changed_only: bool,
    cli::WriteOptions {
        force,
        strict,
        json,
    }: cli::WriteOptions,
) -> anyhow::Result<i32> {
    let mut loaded = fleet::load(path)?;
    // The base profile's SELinux modules are compiled once; hosts cannot
    // change them, so every variant renders the same compiled modules.
    let mut compiled = selinux::Compiled::default();
    if let Some(f) = loaded.fleet.as_mut() {
        let mut rep = report::Report::default();
        match selinux::compile(f.base(), &mut rep) {
            Ok(c) => compiled = c,
            Err(selinux::CompileError::Unavailable(what)) => {
                return Err(ToolMissing(format!("install {what}")).into());
            }
            Err(selinux::CompileError::Report) => loaded.fleet = None,
        }
        match loaded.profile.as_mut() {
            Some(p) => p.report.append(rep),
            None => loaded.report.append(rep),
        }
    }
    let fatal = loaded.is_fatal(strict) || loaded.fleet.is_none();
    let mut problems = Vec::new();
    let profile_source = loaded.profile.as_ref().map(|p| p.source());
    let inventory_source = loaded.source();
    if let (Some(p), Some(source)) = (&loaded.profile, &profile_source) {
        problems.extend(report::json_entries(&p.report, source));
        if !json && !p.report.entries.is_empty() {
            err!("{}", report::format(&p.report, &p.source()))?;
        }
    }
    problems.extend(report::json_entries(&loaded.report, &inventory_source));
    if !json && !loaded.report.entries.is_empty() {
        err!("{}", report::format(&loaded.report, &loaded.source()))?;
    }
    let print_json = |ok: bool, hosts, variants, files, changed: Vec<&str>| {
        let doc = FleetJson {
            inventory: &loaded.source_name,
            output: ok.then(|| out.display().to_string()),
            hosts,
            variants,
            files,
            changed_hosts: changed,
            problems,
        };
        console::document("fleet", 1, ok, &doc)
    };
    let Some(f) = loaded.fleet.as_ref().filter(|_| !fatal) else {
        if json {
            print_json(false, 0, 0, 0, Vec::new())?;
        } else {
            let mut reports = vec![&loaded.report];
            reports.extend(loaded.profile.as_ref().map(|p| &p.report));
            refused(&loaded.source_name, &reports, strict)?;
        }
        return Ok(exit::BAD_INPUT);
    };
    let rendered = crate::render::fleet::render(f, &compiled)?;
    let changes = output::write_tree_hashed(out, &rendered.artifacts, &rendered.hashes, force)?;
    let written: std::collections::HashSet<&str> = changes
        .written
        .iter()
        .chain(&changes.removed)
        .map(String::as_str)
        .collect();
    // Hosts whose kickstart was written anew, then hosts no longer in the
    // inventory (their kickstart was removed).
    let mut changed: Vec<&str> = f
        .hosts
        .iter()
        .filter(|h| written.contains(crate::render::fleet::kickstart_path(h).as_str()))
        .map(|h| h.name.as_str())
        .collect();
    changed.extend(
        changes
            .removed
            .iter()
            .filter_map(|p| p.strip_prefix("hosts/").and_then(|n| n.strip_suffix(".ks"))),
    );
    if json {
        print_json(
            true,
            f.hosts.len(),
            f.variants.len(),
            rendered.artifacts.len(),
            changed,
        )?;
    } else if changed_only {
        for h in &changed {
            outln!("{h}")?;
        }
    } else {
        errln!(
            "rendered {} hosts ({} variants of profile \"{}\", {} changed) as {} files to {}",
            f.hosts.len(),
            f.variants.len(),
            f.base().name,
            changed.len(),
            rendered.artifacts.len(),
            text::one_line(&out.display().to_string())
        )?;
    }
    Ok(exit::OK)
}
