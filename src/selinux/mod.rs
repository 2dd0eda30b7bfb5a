//! Local SELinux policy modules: checking a module's header, turning its file
//! contexts into CIL, and compiling it with checkmodule for Fedora's MCS
//! targeted policy. The compiled form is CIL (text), which `semodule -i`
//! installs and which every delivery path can carry as it carries the other
//! drop-ins (a kickstart here-document, a blueprint file, the RPM, the image).

pub mod audit;
mod compile;
pub mod from_audit;
pub mod rules;

use std::path::Path;

use crate::sepolicy::cil_problem;
pub use crate::sepolicy::{attribute_rules, fc_to_cil, module_header, te_problem, text_problem};
pub use compile::{CompileError, Compiled, Output, checkmodule, compile};

use crate::text;

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
    let cil = compile::checkmodule(checkmodule, tmp, name, file, te_text, compile::Output::Cil)?;
    let mut cil_text = std::fs::read_to_string(&cil)
        .map_err(|e| vec![format!("checkmodule wrote no module: {e}")])?;
    if let Some(fc) = fc_text {
        let filecons =
            fc_to_cil(fc).map_err(|(line, why)| vec![format!("{name}.fc line {line}: {why}")])?;
        cil_text.push_str(&filecons);
    }
    if let Some(p) = cil_problem(file, &cil_text) {
        return Err(vec![p]);
    }
    Ok(cil_text)
}

/// checkmodule's messages (`FILE.te:LINE:ERROR 'what' at token ...`) as
/// "selinux/x.te line 3: what", one per error.
fn checkmodule_errors(output: &str, file: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in output.lines() {
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
        out.push(format!(
            "{file} line {}: {}",
            text::one_line(num),
            text::one_line(what)
        ));
    }
    if out.is_empty() {
        out.push(format!(
            "checkmodule rejected {file}: {}",
            text::one_line(output.trim())
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkmodule_messages_name_the_line() {
        let text = "/tmp/x/studio_local.te:3:ERROR 'unknown type undeclared_t' at token ';' on line 3:\nallow ...\n/usr/bin/checkmodule:  error(s) encountered while parsing configuration\n";
        assert_eq!(
            checkmodule_errors(text, "selinux/studio_local.te"),
            vec!["selinux/studio_local.te line 3: unknown type undeclared_t"]
        );
    }
}
