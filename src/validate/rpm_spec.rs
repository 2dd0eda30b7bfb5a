//! The spec through rpmbuild (the package is really built), its scriptlets read
//! back for unexpanded macros, and rpmlint with Fedora's configuration on the
//! spec and the package.

use std::path::PathBuf;
use std::process::Command;

use super::{Outcome, Tree, tidy, write_temp};
use crate::{cmd, rpmbuild};

/// Where rpmlint's Fedora configuration is: `$RTAUDIO_TUNING_RPMLINT_CONFIG` (a
/// folder of *.toml, e.g. configs/Fedora of rpmlint's source), or none needed on
/// a Fedora host, whose rpmlint loads /etc/xdg/rpmlint/fedora.toml itself.
fn fedora_config() -> Option<Option<PathBuf>> {
    if let Some(dir) = std::env::var_os("RTAUDIO_TUNING_RPMLINT_CONFIG") {
        let dir = PathBuf::from(dir);
        return dir.join("fedora.toml").is_file().then_some(Some(dir));
    }
    std::path::Path::new("/etc/xdg/rpmlint/fedora.toml")
        .is_file()
        .then_some(None)
}

pub fn validate(tree: &Tree) -> Outcome {
    let [rpmbuild_bin, rpm, rpmlint] =
        match super::tools([("rpmbuild", "rpm"), ("rpm", "rpm"), ("rpmlint", "rpmlint")]) {
            Ok(found) => found,
            Err(unavailable) => return unavailable,
        };
    let Some(config) = fedora_config() else {
        return Outcome::unavailable(
            "rpmlint's Fedora configuration: set RTAUDIO_TUNING_RPMLINT_CONFIG to configs/Fedora of rpmlint's source (pip download --no-deps --no-binary :all: rpmlint; scripts/test does this)",
        );
    };
    // Fedora's configuration enables BashismsCheck, which runs checkbashisms.
    if cmd::find("checkbashisms").is_none() {
        return Outcome::unavailable("devscripts (checkbashisms, for rpmlint's Fedora checks)");
    }
    if tree.text("rpm/rtaudio-tuning.spec").is_none() {
        return Outcome::fail("no rpm/rtaudio-tuning.spec", Vec::new());
    }
    let tmp = match write_temp(tree, "rpm/") {
        Ok(t) => t,
        Err(e) => return Outcome::fail(format!("cannot stage rpm/: {e:#}"), Vec::new()),
    };
    let rpm_dir = tmp.path().join("rpm");
    let pkg = match rpmbuild::build(&rpmbuild_bin, &rpm_dir, &tmp.path().join("top")) {
        Ok(p) => p,
        Err(e) => return Outcome::fail("rpmbuild failed", vec![tidy(&e.to_string(), tmp.path())]),
    };
    let mut problems = Vec::new();
    match cmd::run_checked(Command::new(&rpm).arg("-qp").arg("--scripts").arg(&pkg)) {
        Ok(o) => {
            for line in rpmbuild::unexpanded_macros(&o.stdout) {
                problems.push(format!(
                    "unexpanded macro in the package's scriptlets: {line}"
                ));
            }
        }
        Err(e) => problems.push(e.to_string()),
    }
    let mut lint = Command::new(&rpmlint);
    if let Some(dir) = &config {
        lint.arg("-c").arg(dir);
    }
    lint.arg(rpm_dir.join("rtaudio-tuning.spec")).arg(&pkg);
    let mut warnings = Vec::new();
    match cmd::run(&mut lint) {
        Ok(o) => {
            for line in o.stdout.lines() {
                if line.contains(": E: ") {
                    problems.push(format!("rpmlint: {}", line.trim()));
                } else if line.contains(": W: ") {
                    warnings.push(format!("rpmlint: {}", line.trim()));
                }
            }
            // rpmlint 2.x: 64 errors found, 66 badness over the threshold.
            if !o.success() && problems.is_empty() {
                problems.push(format!(
                    "rpmlint exited with {}: {}",
                    o.status,
                    tidy(&o.text(), tmp.path())
                ));
            }
        }
        Err(e) => problems.push(e.to_string()),
    }
    let name = pkg
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !problems.is_empty() {
        return Outcome::fail(
            format!("{name}: {}", crate::text::count(problems.len(), "problem")),
            problems,
        );
    }
    Outcome::pass(format!(
        "rpmbuild built {name}; scriptlets fully expanded; rpmlint (Fedora configuration): no errors"
    ))
    .with_warnings(warnings)
}
