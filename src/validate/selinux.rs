//! Each SELinux module compiles for an MCS policy (`checkmodule -M -m`, as
//! Fedora's targeted policy needs) and packages with `semodule_package`.

use std::process::Command;

use super::{Outcome, Tree, tidy, write_temp};
use crate::cmd;
use crate::selinux::{self, Output};

pub fn validate(tree: &Tree) -> Outcome {
    let modules: Vec<&str> = tree
        .under("selinux/")
        .map(|(p, _)| p)
        .filter(|p| p.ends_with(".te"))
        .collect();
    if modules.is_empty() {
        return Outcome::not_applicable("no SELinux modules in this profile");
    }
    let [checkmodule, package] = match super::tools([
        ("checkmodule", "checkpolicy"),
        ("semodule_package", "semodule-utils"),
    ]) {
        Ok(found) => found,
        Err(unavailable) => return unavailable,
    };
    let tmp = match write_temp(tree, "selinux/") {
        Ok(t) => t,
        Err(e) => return Outcome::fail(format!("cannot stage selinux/: {e:#}"), Vec::new()),
    };
    let mut problems = Vec::new();
    for te in &modules {
        let stem = te.trim_end_matches(".te");
        let name = stem.trim_start_matches("selinux/");
        let base = tmp.path().join(stem);
        let pp = base.with_extension("pp");
        let staged = tmp.path().join("binary");
        let _ = std::fs::create_dir_all(&staged);
        let text = tree.text(te).unwrap_or("");
        let module =
            match selinux::checkmodule(&checkmodule, &staged, name, te, text, Output::Binary) {
                Ok(m) => m,
                Err(errs) => {
                    problems.extend(errs);
                    continue;
                }
            };
        let mut c = Command::new(&package);
        c.arg("-o").arg(&pp).arg("-m").arg(&module);
        let fc = format!("{stem}.fc");
        if tree.files.contains_key(&fc) {
            c.arg("-f").arg(tmp.path().join(&fc));
        }
        if let Err(e) = cmd::run_checked(&mut c) {
            problems.push(format!("{te}: {}", tidy(&e.to_string(), tmp.path())));
            continue;
        }
        // The CIL the delivery paths install must be what the sources compile to.
        let cil_rel = format!("{stem}.cil");
        let fc_text = tree.text(&fc);
        let fresh = tmp.path().join("fresh");
        let _ = std::fs::create_dir_all(&fresh);
        match crate::selinux::compile_text(
            &checkmodule,
            &fresh,
            name,
            te,
            tree.text(te).unwrap_or(""),
            fc_text,
        ) {
            Ok(cil) if tree.text(&cil_rel) == Some(cil.as_str()) => {}
            Ok(_) => problems.push(format!(
                "{cil_rel} is not what {te} and its .fc compile to (edited by hand, or stale)"
            )),
            Err(errs) => problems.extend(errs),
        }
    }
    Outcome::from_problems(
        format!(
            "{} compiled (checkmodule -M -m) and packaged (semodule_package)",
            crate::text::count(modules.len(), "module")
        ),
        format!(
            "{} of {} failed",
            problems.len(),
            crate::text::count(modules.len(), "module")
        ),
        problems,
    )
}
