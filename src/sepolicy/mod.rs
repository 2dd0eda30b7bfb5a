//! The SELinux policy language as this tool reads it, apart from any tool
//! that runs it: a module's header, the characters its files may carry, rules
//! on attributes, checkpolicy's names and keywords, the attributes of the
//! reference and Fedora policies, and file contexts turned into CIL. A leaf:
//! the profile checks its module files with it and `selinux` compiles and
//! writes modules with it, neither depending on the other.

mod attributes;
mod fc;

pub use attributes::is_attribute;
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
pub(crate) fn cil_problem(file: &str, cil: &str) -> Option<String> {
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

/// A name checkmodule reads as an identifier in a rule: a letter, then
/// letters, digits and `_` (checkpolicy/policy_scan.l's IDENTIFIER, without
/// the `-` and `.` no kernel name holds), and not one of its keywords, which
/// the lexer takes in lower or upper case (`module`, `TYPE`), nor `self`.
/// Anything else is no name a kernel logs, and checkmodule would reject the
/// module built from it.
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !is_keyword(s)
}

/// checkpolicy's keywords (checkpolicy/policy_scan.l, SELinux userspace 3.x),
/// each matched as written there in lower case or in upper case.
const KEYWORDS: &[&str] = &[
    "alias",
    "allow",
    "allowxperm",
    "and",
    "attribute",
    "attribute_role",
    "auditallow",
    "auditallowxperm",
    "auditdeny",
    "bool",
    "category",
    "class",
    "clone",
    "common",
    "constrain",
    "default_range",
    "default_role",
    "default_type",
    "default_user",
    "devicetreecon",
    "dom",
    "domby",
    "dominance",
    "dontaudit",
    "dontauditxperm",
    "else",
    "eq",
    "expandattribute",
    "false",
    "fs_use_task",
    "fs_use_trans",
    "fs_use_xattr",
    "fscon",
    "genfscon",
    "glblub",
    "h1",
    "h2",
    "high",
    "ibendportcon",
    "ibpkeycon",
    "if",
    "incomp",
    "inherits",
    "iomemcon",
    "ioportcon",
    "l1",
    "l2",
    "level",
    "low",
    "mlsconstrain",
    "mlsvalidatetrans",
    "neveraudit",
    "module",
    "netifcon",
    "neverallow",
    "neverallowxperm",
    "nodecon",
    "not",
    "optional",
    "or",
    "pcidevicecon",
    "permissive",
    "pirqcon",
    "policycap",
    "portcon",
    "r1",
    "r2",
    "r3",
    "range",
    "range_transition",
    "require",
    "role",
    "role_transition",
    "roleattribute",
    "roles",
    "sameuser",
    "self",
    "sensitivity",
    "sid",
    "source",
    "t1",
    "t2",
    "t3",
    "target",
    "true",
    "tunable",
    "type",
    "type_change",
    "type_member",
    "type_transition",
    "typealias",
    "typeattribute",
    "typebounds",
    "types",
    "u1",
    "u2",
    "u3",
    "user",
    "validatetrans",
    "xor",
];

/// Whether checkmodule reads `s` as one of its keywords rather than a name.
pub fn is_keyword(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    (s == lower || s == s.to_ascii_uppercase()) && KEYWORDS.contains(&lower.as_str())
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
