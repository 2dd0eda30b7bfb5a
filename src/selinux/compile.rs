//! The one checkmodule stage: a profile's SELinux modules compiled to CIL.
//!
//! What it makes is an explicit input to rendering ([`Compiled`]), not a
//! field of the profile filled in later: a caller cannot render a profile
//! whose modules were never compiled, because it has no [`Compiled`] to hand
//! over (`selinux::compile` or [`Compiled::without_modules`] make one).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd;
use crate::profile::{Profile, SelinuxModule};
use crate::report::Report;

/// Why a profile's modules could not be compiled.
pub enum CompileError {
    /// checkmodule is missing: exit 3.
    Unavailable(String),
    /// The modules' own mistakes, in the profile's report: exit 2.
    Report,
}

/// Every module of one profile as CIL (checkmodule's translation of its
/// `.te`, then its `.fc` as filecon statements), in the profile's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compiled {
    modules: Vec<(String, String)>,
}

impl Compiled {
    /// What a profile without SELinux modules compiles to; `None` when it has
    /// modules, which only [`compile`] may turn into CIL.
    pub fn without_modules(profile: &Profile) -> Option<Compiled> {
        profile.selinux.module.is_empty().then(Compiled::default)
    }

    /// The CIL of the module named `name`.
    pub fn cil(&self, name: &str) -> Option<&str> {
        self.modules
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.as_str())
    }

    /// Whether these are the modules of `profile` (the same names, in its
    /// order): a fleet's variants share their base profile's modules.
    pub fn matches(&self, profile: &Profile) -> bool {
        self.modules
            .iter()
            .map(|(n, _)| n)
            .eq(profile.selinux.module.iter().map(|m| &m.name))
    }
}

/// Compile every module of the profile to CIL (checkmodule -M -m -C), appending
/// its file contexts; errors go into `report`, against the module's `file` key.
pub fn compile(profile: &Profile, report: &mut Report) -> Result<Compiled, CompileError> {
    if let Some(none) = Compiled::without_modules(profile) {
        return Ok(none);
    }
    let Some(checkmodule) = cmd::find("checkmodule") else {
        return Err(CompileError::Unavailable(
            "checkpolicy (checkmodule), to compile the profile's SELinux modules".into(),
        ));
    };
    let tmp = tempfile::Builder::new()
        .prefix("rtaudio-tuning-selinux-")
        .tempdir()
        .map_err(|e| CompileError::Unavailable(format!("a writable temporary folder ({e})")))?;
    let mut compiled = Compiled::default();
    let mut failed = false;
    for (i, m) in profile.selinux.module.iter().enumerate() {
        match compile_one(&checkmodule, tmp.path(), m) {
            Ok(cil) => compiled.modules.push((m.name.clone(), cil)),
            Err(problems) => {
                failed = true;
                for p in problems {
                    report.error(
                        format!("selinux.module[{i}].file"),
                        Some(m.file_span.clone()),
                        p,
                        "fix the module source; `checkmodule -M -m FILE` shows the same error",
                    );
                }
            }
        }
    }
    if failed {
        Err(CompileError::Report)
    } else {
        Ok(compiled)
    }
}

fn compile_one(checkmodule: &Path, tmp: &Path, m: &SelinuxModule) -> Result<String, Vec<String>> {
    super::compile_text(
        checkmodule,
        tmp,
        &m.name,
        &m.file,
        &m.te_text,
        m.fc_text.as_deref(),
    )
}

/// What checkmodule makes of a module's source.
pub enum Output {
    /// CIL text (`-C`), what the delivery paths install.
    Cil,
    /// A binary policy module, what `semodule_package` packages.
    Binary,
}

/// The one checkmodule stage: `te_text` staged as `DIR/NAME.te` (checkmodule
/// names a CIL module after its output file) and compiled for an MCS policy
/// (`-M -m`, as Fedora's targeted policy needs) into `DIR/NAME.cil` or
/// `DIR/NAME.mod`, whose path is returned. Its errors read "FILE line N: what",
/// `file` naming the source as the user knows it.
pub fn checkmodule(
    checkmodule: &Path,
    dir: &Path,
    name: &str,
    file: &str,
    te_text: &str,
    output: Output,
) -> Result<PathBuf, Vec<String>> {
    let te = dir.join(format!("{name}.te"));
    let (flags, out): (&[&str], _) = match output {
        Output::Cil => (&["-M", "-m", "-C", "-o"], dir.join(format!("{name}.cil"))),
        Output::Binary => (&["-M", "-m", "-o"], dir.join(format!("{name}.mod"))),
    };
    std::fs::write(&te, te_text).map_err(|e| vec![format!("cannot stage {file}: {e}")])?;
    let run = cmd::run(Command::new(checkmodule).args(flags).arg(&out).arg(&te))
        .map_err(|e| vec![e.to_string()])?;
    if run.success() {
        Ok(out)
    } else {
        Err(super::checkmodule_errors(&run.text(), file))
    }
}
