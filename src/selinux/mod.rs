//! Local SELinux policy modules: checking a module's header, turning its file
//! contexts into CIL, and compiling it with checkmodule for Fedora's MCS
//! targeted policy. The compiled form is CIL (text), which `semodule -i`
//! installs and which every delivery path can carry as it carries the other
//! drop-ins (a kickstart here-document, a blueprint file, the RPM, the image).

mod attributes;
pub mod audit;
mod compile;
mod fc;
pub mod from_audit;
pub mod rules;

use std::path::Path;

pub use compile::{CompileError, Compiled, Output, checkmodule, compile};
pub use fc::fc_to_cil;

use crate::text;

/// Why a module's text (`.te`, `.fc`, or the CIL made from them) cannot be
/// carried: `FILE line N: a carriage return (U+000D), which ...`.
///
/// The CIL travels inside a kickstart's `%post` here-document, where
/// pykickstart ends lines at every character of [`text::is_foreign_line_break`]
/// and ends the section at a line that begins with `%` (after leading white
/// space: pykickstart/parser.py, `_readSection`, `line.lstrip().startswith("%")`).
/// So no character some reader takes as a line break may appear anywhere in a
/// module's files, comments and strings included (checkmodule copies a
/// `type_transition` file name, any bytes but `"`, `/` and `\n`, into the CIL
/// as it is). Other control characters and the bidirectional controls are
/// refused too: they make a file show a reviewer something other than what
/// checkmodule reads.
pub fn text_problem(file: &str, body: &str) -> Option<String> {
    let (at, c) = text::first_unsafe_on_terminal(body)?;
    let what = if text::is_foreign_line_break(c) {
        format!(
            "a {}, which some readers of the kickstart and the image files take as a line break",
            text::char_name(c)
        )
    } else {
        format!(
            "the control or bidirectional-formatting character U+{:04X}, which makes the file show something other than what the policy tools read",
            c as u32
        )
    };
    Some(format!("{file} line {}: {what}", text::line_of(body, at)))
}

/// What a `.te` may not hold besides [`text_problem`]'s characters: a
/// `#line` comment is a directive to checkmodule (checkpolicy/policy_scan.l)
/// that renames the file and renumbers the lines of its messages.
pub fn te_problem(file: &str, te: &str) -> Option<String> {
    if let Some(p) = text_problem(file, te) {
        return Some(p);
    }
    let (n, _) = te.lines().enumerate().find(|(_, l)| l.contains("#line"))?;
    Some(format!(
        "{file} line {}: `#line` is a checkmodule directive that renumbers its messages, not a comment",
        n + 1
    ))
}

/// The CIL checkmodule made, checked before any delivery path carries it:
/// every line a statement that begins with `(` or closes one with `)` after
/// leading spaces (the form checkmodule -C writes), so no line can end a
/// here-document or open a kickstart section, and no character that some
/// reader takes as a line break.
fn cil_problem(file: &str, cil: &str) -> Option<String> {
    if let Some(p) = text_problem(&format!("the CIL checkmodule made from {file}"), cil) {
        return Some(p);
    }
    let (n, line) = cil
        .lines()
        .enumerate()
        .find(|(_, l)| !matches!(l.trim_start_matches(' ').chars().next(), Some('(' | ')')))?;
    Some(format!(
        "the CIL checkmodule made from {file} has a line {} that is no CIL statement: {}",
        n + 1,
        text::one_line(&line.chars().take(80).collect::<String>())
    ))
}

/// `allow` rules of a `.te` whose source or target names a known attribute
/// ([`attributes::is_attribute`]): `(line, attribute, rule)`. A warning, not
/// an error: the module is the admin's own text, and an attribute can be
/// what they mean; but a rule on `domain` or `file_type` covers every type
/// that has it, `shadow_t` included.
pub fn attribute_rules(te: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    // The statement so far, comments cut, lines kept (for the rule's line),
    // and the line it started on.
    let mut statement = String::new();
    let mut start_line = 1;
    for (i, line) in te.lines().enumerate() {
        let code = line.split('#').next().unwrap_or("");
        for (j, part) in code.split(';').enumerate() {
            if j > 0 {
                attribute_rule(&statement, start_line, &mut out);
                statement.clear();
            }
            if statement.is_empty() {
                start_line = i + 1;
            } else if j == 0 {
                statement.push('\n');
            }
            statement.push_str(part);
        }
    }
    out
}

/// One statement (without its `;`) of [`attribute_rules`]: `allow SOURCE
/// TARGET:CLASS PERMS`, either side a name, a `{ set }`, `~` or `*`. A
/// statement inside a block begins after its `{` (`optional { allow ...`).
fn attribute_rule(statement: &str, first_line: usize, out: &mut Vec<(usize, String, String)>) {
    let spaced = statement.replace(['{', '}'], " { ");
    let Some(at) = spaced.match_indices("allow").map(|(i, _)| i).find(|&i| {
        let before = spaced[..i].chars().next_back();
        let after = spaced[i + 5..].chars().next();
        before.is_none_or(char::is_whitespace) && after.is_some_and(char::is_whitespace)
    }) else {
        return;
    };
    let line = first_line + spaced[..at].matches('\n').count();
    let words: Vec<&str> = spaced[at..].split_whitespace().collect();
    let rule = words.join(" ");
    for word in &words[1..] {
        let (name, done) = match word.split_once(':') {
            Some((n, _)) => (n, true),
            None => (*word, false),
        };
        let name = name.trim_start_matches(['~', '-']);
        if attributes::is_attribute(name) {
            out.push((line, name.to_string(), text::one_line(&rule)));
        }
        if done {
            break;
        }
    }
}

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
                "the first statement is `{}`, not `module NAME VERSION;`",
                text::one_line(&code.chars().take(80).collect::<String>())
            )),
        };
    }
    Err("the file is empty".into())
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

    #[test]
    fn module_text_is_printable_lines() {
        for c in [
            '\r', '\u{0b}', '\u{0c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}',
            '\u{2029}', '\0',
        ] {
            let te =
                format!("module m 1.0;\n# ok\ntype_transition a_t b_t:file c_t \"x{c}%end\";\n");
            let p = text_problem("selinux/m.te", &te).unwrap();
            assert!(
                p.starts_with("selinux/m.te line 3: a ") && p.contains("line break"),
                "{p}"
            );
        }
        assert!(
            text_problem("m.fc", "/x\u{1b}[2J a:object_r:b_t:s0\n")
                .unwrap()
                .contains("U+001B")
        );
        assert!(text_problem("m.te", "module m 1.0;\n\tallow a_t b_t:file read;\n").is_none());
        assert!(te_problem("m.te", "module m 1.0;\nrequire { type etc_t; } #line 900\n").is_some());
        assert!(
            te_problem("m.te", "module m 1.0;\n#line 7\n")
                .unwrap()
                .contains("line 2")
        );
    }

    #[test]
    fn derived_cil_is_statements_only() {
        assert!(
            cil_problem(
                "m.te",
                "(allow a b (file (read)))\n(optional o\n    (allow a b (file (read)))\n)\n"
            )
            .is_none()
        );
        assert!(
            cil_problem("m.te", "(allow a b (file (read)))\n%end\n")
                .unwrap()
                .contains("line 2")
        );
        assert!(
            cil_problem("m.te", "(typetransition a b file \"x\r%post\" c)\n")
                .unwrap()
                .contains("carriage return")
        );
        assert!(cil_problem("m.te", "  \u{3000}%post\n").is_some());
    }

    #[test]
    fn allow_rules_on_attributes_are_found() {
        let te = "module m 1.0;\nallow jackd_t { etc_t file_type }:file read; # x\noptional { allow domain\n  etc_t:file write; }\nallow jackd_t self:process setsched;\n";
        let found: Vec<(usize, String)> = attribute_rules(te)
            .into_iter()
            .map(|(l, a, _)| (l, a))
            .collect();
        assert_eq!(
            found,
            vec![(2, "file_type".to_string()), (3, "domain".to_string())]
        );
    }
}
