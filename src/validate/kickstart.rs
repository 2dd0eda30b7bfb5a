//! Both kickstarts through pykickstart: `ksvalidator -v HANDLER` with the handler
//! the kickstart names in its `#version=` line, and `ksflatten`.

use std::process::Command;

use super::{Outcome, Tree, tidy, write_temp};
use crate::cmd;

pub fn validate(tree: &Tree) -> Outcome {
    let (Some(ksvalidator), Some(ksflatten)) = (cmd::find("ksvalidator"), cmd::find("ksflatten"))
    else {
        return Outcome::unavailable(
            "pykickstart (pip install pykickstart) for ksvalidator and ksflatten",
        );
    };
    let kickstarts: Vec<(&str, &[u8])> = tree
        .under("kickstart/")
        .filter(|(p, _)| p.ends_with(".ks"))
        .collect();
    if kickstarts.is_empty() {
        return Outcome::fail("no kickstart under kickstart/", Vec::new());
    }
    let tmp = match write_temp(tree, "kickstart/") {
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
    for (version, files) in &by_version {
        let mut v = Command::new(&ksvalidator);
        v.arg("-v").arg(version);
        for rel in files {
            v.arg(tmp.path().join(rel));
        }
        cmds.push(v);
        labels.push(format!("ksvalidator -v {version} {}", files.join(" ")));
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
            format!("{} kickstart check(s) failed", problems.len()),
            problems,
        );
    }
    Outcome::pass(format!(
        "ksvalidator and ksflatten accept {}",
        names.join(", ")
    ))
    .with_warnings(warnings)
}
