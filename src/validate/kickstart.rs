//! Both kickstarts through pykickstart: `ksvalidator -v HANDLER` with the handler
//! the kickstart names in its `#version=` line, and `ksflatten`.

use std::process::Command;

use super::{Outcome, Tree, tidy, write_temp};
use crate::cmd;

pub fn validate(tree: &Tree) -> Outcome {
    let pykickstart = "pykickstart (pip install pykickstart)";
    let [ksvalidator, ksflatten] =
        match super::tools([("ksvalidator", pykickstart), ("ksflatten", pykickstart)]) {
            Ok(found) => found,
            Err(unavailable) => return unavailable,
        };
    // A fleet tree has one kickstart per host under hosts/.
    let kickstarts: Vec<(&str, &[u8])> = tree
        .under("kickstart/")
        .chain(tree.under("hosts/"))
        .filter(|(p, _)| p.ends_with(".ks"))
        .collect();
    if kickstarts.is_empty() {
        return Outcome::fail("no kickstart under kickstart/ or hosts/", Vec::new());
    }
    let tmp = match write_temp(tree, "kickstart/").and_then(|t| {
        super::write_temp_into(tree, "hosts/", t.path())?;
        Ok(t)
    }) {
        Ok(t) => t,
        Err(e) => return Outcome::fail(format!("cannot stage the kickstarts: {e:#}"), Vec::new()),
    };
    let mut problems = Vec::new();
    let mut cmds = Vec::new();
    let mut labels = Vec::new();
    // One ksvalidator per handler for all its kickstarts: Python's start-up is
    // most of its time.
    let mut by_version: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (rel, bytes) in &kickstarts {
        let Some(version) = std::str::from_utf8(bytes)
            .ok()
            .and_then(|t| t.lines().find_map(|l| l.strip_prefix("#version=")))
            .map(str::trim)
        else {
            problems.push(format!(
                "{rel}: no #version= line naming the pykickstart handler (e.g. #version=F44)"
            ));
            continue;
        };
        by_version.entry(version).or_default().push(rel);
        // ksflatten resolves %include, which only hand-written kickstarts
        // have: once per rendered kickstart, not once per fleet host.
        if rel.starts_with("hosts/") {
            continue;
        }
        let mut f = Command::new(&ksflatten);
        f.arg("-v")
            .arg(version)
            .arg("-c")
            .arg(tmp.path().join(rel))
            .arg("-o")
            .arg(tmp.path().join(format!("{rel}.flat")));
        cmds.push(f);
        labels.push(format!("ksflatten -v {version} {rel}"));
    }
    // A fleet's thousands of kickstarts: one ksvalidator per core, each over
    // its share of the files.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (version, files) in &by_version {
        let share = if files.len() > 64 {
            files.len().div_ceil(cores)
        } else {
            files.len()
        };
        for part in files.chunks(share.max(1)) {
            let mut v = Command::new(&ksvalidator);
            v.arg("-v").arg(version);
            for rel in part {
                v.arg(tmp.path().join(rel));
            }
            cmds.push(v);
            labels.push(format!("ksvalidator -v {version} {}", listed(part)));
        }
    }
    let mut warnings = Vec::new();
    for (label, result) in labels.iter().zip(cmd::run_parallel(cmds)) {
        match result {
            Err(e) => problems.push(e.to_string()),
            Ok(o) if !o.success() => {
                problems.push(format!("{label}: {}", tidy(&o.text(), tmp.path())))
            }
            Ok(o) => {
                let text = tidy(&o.text(), tmp.path());
                // ksvalidator reports deprecated or ignored commands and still exits 0.
                if text
                    .lines()
                    .any(|l| l.contains("Warning") || l.contains("deprecated"))
                {
                    warnings.push(format!("{label}: {text}"));
                }
            }
        }
    }
    let names: Vec<&str> = kickstarts.iter().map(|(p, _)| *p).collect();
    if !problems.is_empty() {
        return Outcome::fail(
            format!(
                "{} failed",
                crate::text::count(problems.len(), "kickstart check")
            ),
            problems,
        );
    }
    // A fleet's host kickstarts get ksvalidator only (they have no %include).
    let (hosts, rendered): (Vec<&str>, Vec<&str>) =
        names.iter().partition(|n| n.starts_with("hosts/"));
    let summary = match (rendered.is_empty(), hosts.is_empty()) {
        (_, true) => format!("ksvalidator and ksflatten accept {}", listed(&rendered)),
        (true, false) => format!("ksvalidator accepts {}", listed(&hosts)),
        (false, false) => format!(
            "ksvalidator and ksflatten accept {}; ksvalidator accepts {}",
            listed(&rendered),
            listed(&hosts)
        ),
    };
    Outcome::pass(summary).with_warnings(warnings)
}

/// File names for a message: all of a few, the count and the ends of many.
fn listed(names: &[&str]) -> String {
    match names {
        [first, .., last] if names.len() > 8 => {
            format!("{} kickstarts ({first} to {last})", names.len())
        }
        _ => names.join(", "),
    }
}
