//! Building the rtaudio-tuning RPM from a rendered tree's rpm/ folder with
//! rpmbuild, on Fedora's rpm as on Debian's 4.18.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd::{self, CmdError};

/// Fedora's path macros, defined explicitly: Debian's rpm lacks them (the spec
/// also defines them itself when missing; passing them here makes a build on any
/// host use exactly Fedora's values).
pub const FEDORA_MACROS: &[(&str, &str)] = &[
    ("_unitdir", "/usr/lib/systemd/system"),
    ("_sysusersdir", "/usr/lib/sysusers.d"),
    ("_sysctldir", "/usr/lib/sysctl.d"),
    ("_udevrulesdir", "/usr/lib/udev/rules.d"),
    ("_presetdir", "/usr/lib/systemd/system-preset"),
    ("_sharedstatedir", "/var/lib"),
];

/// Reproducible builds: timestamps come from the %changelog entry (fixed per
/// tool version), and the build host name is fixed.
const REPRODUCIBLE: &[(&str, &str)] = &[
    ("source_date_epoch_from_changelog", "1"),
    ("use_source_date_epoch_as_buildtime", "1"),
    ("clamp_mtime_to_source_date_epoch", "1"),
    ("_buildhost", "rtaudio-tuning.build"),
];

/// The rpmbuild command for `spec`, with its sources in `sourcedir`, building
/// into `topdir`.
pub fn command(rpmbuild: &Path, spec: &Path, sourcedir: &Path, topdir: &Path) -> Command {
    let mut c = Command::new(rpmbuild);
    c.arg("-bb").arg("--quiet");
    let mut define = |k: &str, v: &str| {
        c.arg("--define").arg(format!("{k} {v}"));
    };
    define("_sourcedir", &sourcedir.to_string_lossy());
    define("_topdir", &topdir.to_string_lossy());
    for (k, v) in FEDORA_MACROS.iter().chain(REPRODUCIBLE) {
        define(k, v);
    }
    c.arg(spec);
    c
}

/// Build the package; returns the path of the one noarch RPM under `topdir`.
pub fn build(rpmbuild: &Path, rpm_dir: &Path, topdir: &Path) -> Result<PathBuf, BuildError> {
    // rpmbuild runs %install in its own folder: a relative source folder
    // would be read from there.
    let rpm_dir = &std::path::absolute(rpm_dir)
        .map_err(|e| BuildError::NoPackage(format!("{}: {e}", rpm_dir.display())))?;
    let topdir = &std::path::absolute(topdir)
        .map_err(|e| BuildError::NoPackage(format!("{}: {e}", topdir.display())))?;
    let spec = rpm_dir.join("rtaudio-tuning.spec");
    cmd::run_checked(&mut command(rpmbuild, &spec, rpm_dir, topdir))?;
    let dir = topdir.join("RPMS/noarch");
    let mut rpms: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| BuildError::NoPackage(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rpm"))
        .collect();
    match rpms.len() {
        1 => Ok(rpms.remove(0)),
        n => Err(BuildError::NoPackage(format!(
            "expected one noarch RPM in {}, found {n}",
            dir.display()
        ))),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Cmd(#[from] CmdError),
    #[error("rpmbuild produced no package: {0}")]
    NoPackage(String),
}

/// Lines of a scriptlet listing that still hold an RPM macro: `%{...}`, `%(...)`
/// or `%name` at the start of a word (rpm copies undefined macros as text).
pub fn unexpanded_macros(scripts: &str) -> Vec<String> {
    scripts
        .lines()
        .filter(|l| {
            let b = l.as_bytes();
            (0..b.len()).any(|i| {
                b[i] == b'%'
                    && (i == 0 || b[i - 1].is_ascii_whitespace() || b[i - 1] == b'"')
                    && b.get(i + 1).is_some_and(|c| {
                        *c == b'{' || *c == b'(' || c.is_ascii_alphabetic() || *c == b'_'
                    })
            })
        })
        .map(|l| l.trim().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_unexpanded_macros_but_not_shell() {
        let s = "postinstall scriptlet (using /bin/sh):\n%systemd_post foo.service\nx=${y%.conf}\necho \"%{_unitdir}\"\nprintf '%s' x\n";
        assert_eq!(
            super::unexpanded_macros(s),
            vec!["%systemd_post foo.service", "echo \"%{_unitdir}\""]
        );
    }
}
