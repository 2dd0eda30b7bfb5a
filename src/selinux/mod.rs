//! Local SELinux policy modules: checking a module's header, turning its file
//! contexts into CIL, and compiling it with checkmodule for Fedora's MCS
//! targeted policy. The compiled form is CIL (text), which `semodule -i`
//! installs and which every delivery path can carry as it carries the other
//! drop-ins (a kickstart here-document, a blueprint file, the RPM, the image).

pub mod audit;
mod fc;
pub mod from_audit;
pub mod rules;

use std::path::Path;
use std::process::Command;

pub use fc::fc_to_cil;

use crate::cmd;
use crate::profile::{Profile, SelinuxModule};
use crate::report::Report;

/// The name a standalone module declares in its first statement,
/// `module NAME VERSION;`.
pub fn module_header(te: &str) -> Result<String, String> {
    for line in te.lines() {
        let code = line.split('#').next().unwrap_or("").trim();
        if code.is_empty() {
            continue;
        }
        if code.starts_with("policy_module(") {
            return Err(
                "uses the refpolicy macro policy_module(), which needs the m4 headers".into(),
            );
        }
        let words: Vec<&str> = code.trim_end_matches(';').split_whitespace().collect();
        return match words.as_slice() {
            ["module", name, _version] if code.ends_with(';') => Ok((*name).to_string()),
            _ => Err(format!(
                "the first statement is `{code}`, not `module NAME VERSION;`"
            )),
        };
    }
    Err("the file is empty".into())
}

/// Why a profile's modules could not be compiled.
pub enum CompileError {
    /// checkmodule is missing: exit 3.
    Unavailable(String),
    /// The modules' own mistakes, in the profile's report: exit 2.
    Report,
}

/// Compile every module of the profile to CIL (checkmodule -M -m -C), appending
/// its file contexts; errors go into `report`, against the module's `file` key.
pub fn compile(profile: &mut Profile, report: &mut Report) -> Result<(), CompileError> {
    if profile.selinux.module.is_empty() {
        return Ok(());
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
    let mut failed = false;
    for (i, m) in profile.selinux.module.iter_mut().enumerate() {
        match compile_one(&checkmodule, tmp.path(), m) {
            Ok(cil) => m.cil = cil,
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
        Ok(())
    }
}

fn compile_one(checkmodule: &Path, tmp: &Path, m: &SelinuxModule) -> Result<String, Vec<String>> {
    compile_text(
        checkmodule,
        tmp,
        &m.name,
        &m.file,
        &m.te_text,
        m.fc_text.as_deref(),
    )
}

/// One module's CIL: checkmodule's translation of the .te, then the .fc's
/// file contexts as filecon statements. `file` names the .te in messages.
pub fn compile_text(
    checkmodule: &Path,
    tmp: &Path,
    name: &str,
    file: &str,
    te_text: &str,
    fc_text: Option<&str>,
) -> Result<String, Vec<String>> {
    // checkmodule names a CIL module after its output file.
    let te = tmp.join(format!("{name}.te"));
    let cil = tmp.join(format!("{name}.cil"));
    std::fs::write(&te, te_text).map_err(|e| vec![format!("cannot stage {file}: {e}")])?;
    let out = cmd::run(
        Command::new(checkmodule)
            .args(["-M", "-m", "-C", "-o"])
            .arg(&cil)
            .arg(&te),
    )
    .map_err(|e| vec![e.to_string()])?;
    if !out.success() {
        return Err(checkmodule_errors(&out.text(), file));
    }
    let mut text = std::fs::read_to_string(&cil)
        .map_err(|e| vec![format!("checkmodule wrote no module: {e}")])?;
    if let Some(fc) = fc_text {
        let filecons =
            fc_to_cil(fc).map_err(|(line, why)| vec![format!("{name}.fc line {line}: {why}")])?;
        text.push_str(&filecons);
    }
    Ok(text)
}

/// checkmodule's messages (`FILE.te:LINE:ERROR 'what' at token ...`) as
/// "selinux/x.te line 3: what", one per error.
fn checkmodule_errors(text: &str, file: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((_, rest)) = line.split_once(".te:") else {
            continue;
        };
        let Some((num, msg)) = rest.split_once(":ERROR ") else {
            continue;
        };
        let what = msg
            .split(" at token")
            .next()
            .unwrap_or(msg)
            .trim_matches('\'');
        out.push(format!("{file} line {num}: {what}"));
    }
    if out.is_empty() {
        out.push(format!("checkmodule rejected {file}: {}", text.trim()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_headers() {
        assert_eq!(
            module_header("# c\n\nmodule jack_local 1.0;\nrequire {}\n").unwrap(),
            "jack_local"
        );
        assert!(
            module_header("policy_module(x, 1.0)\n")
                .unwrap_err()
                .contains("refpolicy")
        );
        assert!(module_header("require { type a; }\n").is_err());
        assert!(module_header("").is_err());
    }

    #[test]
    fn checkmodule_messages_name_the_line() {
        let text = "/tmp/x/studio_local.te:3:ERROR 'unknown type undeclared_t' at token ';' on line 3:\nallow ...\n/usr/bin/checkmodule:  error(s) encountered while parsing configuration\n";
        assert_eq!(
            checkmodule_errors(text, "selinux/studio_local.te"),
            vec!["selinux/studio_local.te line 3: unknown type undeclared_t"]
        );
    }
}
