//! File contexts (`.fc`, as semodule_package reads them) as CIL `filecon`
//! statements, so a module carries its contexts in its one CIL file.
//!
//! Line format (semanage-fcontext / refpolicy .fc): `PATH_REGEX [TYPE] CONTEXT`,
//! TYPE one of `--` `-d` `-c` `-b` `-s` `-p` `-l`, CONTEXT `user:role:type:range`,
//! `gen_context(user:role:type,range)` or `<<none>>`.

fn file_type(t: &str) -> Option<&'static str> {
    Some(match t {
        "--" => "file",
        "-d" => "dir",
        "-c" => "char",
        "-b" => "block",
        "-s" => "socket",
        "-p" => "pipe",
        "-l" => "symlink",
        _ => return None,
    })
}

/// A user, role or type name of a context, as CIL declares them: a letter,
/// then letters, digits and `_` (CIL's `.` is a namespace separator).
fn ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Fedora's targeted policy is MCS: one sensitivity, `s0`, and the categories
/// `c0` to `c1023` (selinux-policy's build.conf: MLS_SENS=1 for mcs,
/// MCS_CATS=1024). `semodule -i` refuses a file context outside them.
const MCS_CATEGORIES: u32 = 1024;

fn category(s: &str) -> Option<u32> {
    let n = s.strip_prefix('c')?;
    if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) || (n.len() > 1 && n.starts_with('0'))
    {
        return None;
    }
    n.parse().ok().filter(|&n| n < MCS_CATEGORIES)
}

/// A level's categories, as a set.
#[derive(Clone, PartialEq, Eq)]
struct Level(Vec<bool>);

impl Level {
    fn parse(l: &str) -> Result<Level, String> {
        let shown = crate::text::one_line(l);
        let (sens, cats) = match l.split_once(':') {
            Some((s, c)) => (s, Some(c)),
            None => (l, None),
        };
        if sens != "s0" {
            return Err(format!(
                "`{shown}`: the sensitivity of Fedora's MCS policy is s0, the only one (s0, s0:c0.c1023)"
            ));
        }
        let mut set = vec![false; MCS_CATEGORIES as usize];
        let Some(cats) = cats else {
            return Ok(Level(set));
        };
        for item in cats.split(',') {
            let (a, b) = item.split_once('.').unwrap_or((item, item));
            match (category(a), category(b)) {
                (Some(a), Some(b)) if a <= b => set[a as usize..=b as usize].fill(true),
                _ => {
                    return Err(format!(
                        "`{shown}`: categories are c0 to c1023, one (c5), a range from low to high (c0.c1023) or a list of those (c1,c5.c9)"
                    ));
                }
            }
        }
        Ok(Level(set))
    }

    /// `self` dominates `other`: the same sensitivity, and every category of
    /// `other` is one of `self`'s.
    fn dominates(&self, other: &Level) -> bool {
        self.0.iter().zip(&other.0).all(|(s, o)| *s || !*o)
    }

    /// The level in CIL: `(s0)`, `(s0 (range c0 c1023))` for one run of
    /// categories, else `(s0 (c1 c5 ...))`.
    fn cil(&self) -> String {
        let on: Vec<usize> = (0..self.0.len()).filter(|&i| self.0[i]).collect();
        match on.as_slice() {
            [] => "(s0)".into(),
            [a, .., b] if b - a + 1 == on.len() => format!("(s0 (range c{a} c{b}))"),
            _ => {
                let names: Vec<String> = on.iter().map(|c| format!("c{c}")).collect();
                format!("(s0 ({}))", names.join(" "))
            }
        }
    }
}

fn context(ctx: &str) -> Result<String, String> {
    if ctx == "<<none>>" {
        return Ok("()".into());
    }
    let shown = crate::text::one_line(ctx);
    let plain = match ctx
        .strip_prefix("gen_context(")
        .and_then(|r| r.strip_suffix(')'))
    {
        Some(inner) => inner.replacen(',', ":", 1),
        None => ctx.to_string(),
    };
    let mut fields = plain.splitn(4, ':');
    let (Some(user), Some(role), Some(ty), Some(range)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(format!("`{shown}` is not user:role:type:level"));
    };
    if !(ident(user) && ident(role) && ident(ty)) {
        return Err(format!(
            "`{shown}` has an invalid user, role or type name (a letter, then letters, digits and _)"
        ));
    }
    // Files have the role object_r: the policy associates every type with it
    // and no other role with file types (refpolicy's and Fedora's .fc files
    // all write object_r), so libsepol refuses another one.
    if role != "object_r" {
        return Err(format!("`{shown}`: the role of a file context is object_r"));
    }
    let (low, high) = range.split_once('-').unwrap_or((range, range));
    let (low, high) = (Level::parse(low)?, Level::parse(high)?);
    if !high.dominates(&low) {
        return Err(format!(
            "`{shown}`: the range's high level must hold every category of its low level"
        ));
    }
    Ok(format!(
        "({user} {role} {ty} ({} {}))",
        low.cil(),
        high.cil()
    ))
}

/// Whether libselinux can compile a path expression: it anchors it as
/// `^EXPR$` and compiles it with PCRE2 and PCRE2_DOTALL (libselinux
/// src/label_file.h `compile_regex`, src/regex.c `regex_prepare_data`), and so
/// is it here, with the same library. A trailing `\` compiles once anchored
/// (it escapes the `$`) but is never what was meant: refused first.
fn regex_problem(path: &str) -> Option<String> {
    let trailing = path.len() - path.trim_end_matches('\\').len();
    if trailing % 2 == 1 {
        return Some(format!(
            "`{}` ends in a backslash that escapes nothing: libselinux appends `$` to the expression, so the backslash would make it a literal `$` and the context would label no path you meant",
            crate::text::one_line(path)
        ));
    }
    let e = pcre2::bytes::RegexBuilder::new()
        .dotall(true)
        .build(&format!("^{path}$"))
        .err()?;
    // PCRE2's message, with the offset given in the user's expression (the
    // library counts the anchor's `^`).
    let full = e.to_string();
    let (msg, at) = match e.offset() {
        Some(o) => (
            full.split_once(&format!("offset {o}: "))
                .map_or(full.as_str(), |(_, m)| m),
            format!(
                " (at byte {} of the expression)",
                (o.max(1) - 1).min(path.len())
            ),
        ),
        None => (full.as_str(), String::new()),
    };
    Some(format!(
        "`{}` is not a regular expression libselinux compiles (PCRE2): {}{at}",
        crate::text::one_line(path),
        crate::text::one_line(msg)
    ))
}

/// Path expressions libselinux compiles are shorter than this (PATH_MAX).
const MAX_PATH_EXPR: usize = 4096;

/// The `filecon` statements for an .fc file; errors carry their line number.
pub fn fc_to_cil(fc: &str) -> Result<String, (usize, String)> {
    let mut out = String::new();
    // (path, file type) -> the line that gave it a context first.
    let mut seen: std::collections::HashMap<(&str, &str), usize> = std::collections::HashMap::new();
    for (i, line) in fc.lines().enumerate() {
        let code = line.trim();
        if code.is_empty() || code.starts_with('#') {
            continue;
        }
        // libselinux refuses a specification with a byte outside ASCII
        // ("Non-ASCII characters found", label_support.c read_spec_entry),
        // and semodule -i with it.
        if let Some(c) = code.chars().find(|c| !c.is_ascii()) {
            return Err((
                i + 1,
                format!(
                    "{} is not ASCII: libselinux refuses file contexts with other characters; match it with `.` or a character class",
                    crate::text::char_name(c)
                ),
            ));
        }
        let words: Vec<&str> = code.split_whitespace().collect();
        let (path, ty, ctx) = match words.as_slice() {
            [path, ctx] => (*path, "any", *ctx),
            [path, t, ctx] => (
                *path,
                file_type(t).ok_or((
                    i + 1,
                    format!("`{}` is not a file type", crate::text::one_line(t)),
                ))?,
                *ctx,
            ),
            _ => return Err((i + 1, "expected PATH_REGEX [TYPE] CONTEXT".into())),
        };
        // A CIL string cannot hold a double quote (libsepol cil_lexer.l:
        // qstring is `"[^"\n\0]*"`); file paths never need one.
        if !path.starts_with('/') || path.contains('"') {
            return Err((
                i + 1,
                format!(
                    "`{}` is not an absolute path expression",
                    crate::text::one_line(path)
                ),
            ));
        }
        // libselinux compiles no longer expression (label_file.h
        // compile_regex, "regex of length ... too long").
        if path.len() >= MAX_PATH_EXPR {
            return Err((
                i + 1,
                format!(
                    "the path expression is {} bytes long; libselinux compiles at most {}",
                    path.len(),
                    MAX_PATH_EXPR - 1
                ),
            ));
        }
        if let Some(why) = regex_problem(path) {
            return Err((i + 1, why));
        }
        // Two contexts for one path and file type are "conflicting filecon
        // rules" to CIL (libsepol cil_post.c), and semodule -i fails.
        if let Some(first) = seen.insert((path, ty), i + 1) {
            return Err((
                i + 1,
                format!(
                    "`{}` already has a context for this file type (line {first}); CIL refuses two",
                    crate::text::one_line(path)
                ),
            ));
        }
        let ctx = context(ctx).map_err(|e| (i + 1, e))?;
        out.push_str(&format!("(filecon \"{path}\" {ty} {ctx})\n"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_semodule_would() {
        let e = fc_to_cil("/srv/Überspielungen(/.*)?\tsystem_u:object_r:etc_t:s0\n").unwrap_err();
        assert!(e.0 == 1 && e.1.contains("not ASCII"), "{e:?}");
        let long = format!("/{} system_u:object_r:etc_t:s0\n", "a".repeat(5000));
        assert!(fc_to_cil(&long).unwrap_err().1.contains("bytes long"));
        let twice = "/srv/x system_u:object_r:etc_t:s0\n/srv/x system_u:object_r:var_t:s0\n";
        let e = fc_to_cil(twice).unwrap_err();
        assert!(e.0 == 2 && e.1.contains("line 1"), "{e:?}");
        // Another file type for the same path is a rule of its own.
        assert!(
            fc_to_cil(
                "/srv/x -d system_u:object_r:etc_t:s0\n/srv/x -- system_u:object_r:var_t:s0\n"
            )
            .is_ok()
        );
    }

    #[test]
    fn converts_the_forms_semodule_package_reads() {
        let fc = "# comment\n/etc/rtaudio-tuning(/.*)?\tsystem_u:object_r:etc_t:s0\n/usr/bin/jackd\t--\tgen_context(system_u:object_r:jack_exec_t,s0)\n/dev/snd(/.*)?\t<<none>>\n/srv/x -d system_u:object_r:var_t:s0-s0:c0.c1023\n";
        assert_eq!(
            fc_to_cil(fc).unwrap(),
            "(filecon \"/etc/rtaudio-tuning(/.*)?\" any (system_u object_r etc_t ((s0) (s0))))\n\
             (filecon \"/usr/bin/jackd\" file (system_u object_r jack_exec_t ((s0) (s0))))\n\
             (filecon \"/dev/snd(/.*)?\" any ())\n\
             (filecon \"/srv/x\" dir (system_u object_r var_t ((s0) (s0 (range c0 c1023)))))\n"
        );
    }

    #[test]
    fn rejects_what_it_cannot_carry() {
        assert_eq!(fc_to_cil("/x -z a:b:c:s0\n").unwrap_err().0, 1);
        assert!(
            fc_to_cil("\n/x a:b:c\n")
                .unwrap_err()
                .1
                .contains("user:role:type:level")
        );
        assert!(fc_to_cil("x a:b:c:s0\n").is_err());
        assert!(fc_to_cil("/x\" a:b:c:s0\n").is_err());
        assert!(fc_to_cil("/x a:b:c:q0\n").is_err());
    }

    #[test]
    fn checks_what_semodule_checks() {
        let bad = [
            ("/opt/studio[(/.*)?", "PCRE2"),
            ("/opt/studio\\", "ends in a backslash"),
            ("/opt/(a", "PCRE2"),
            ("/opt/x{2,1}", "PCRE2"),
        ];
        for (path, why) in bad {
            let e = fc_to_cil(&format!("{path} system_u:object_r:etc_t:s0\n")).unwrap_err();
            assert!(e.1.contains(why), "{path}: {}", e.1);
        }
        for ctx in [
            "system_u:object_r:etc_t:s0-s9999:c0.c99999",
            "system_u:object_r:etc_t:s1",
            "system_u:object_r:etc_t:s0:c1024",
            "system_u:object_r:etc_t:s0:c5.c1",
            "system_u:object_r:etc_t:s0:c01",
            "system_u:object_r:etc_t:s0:c0.c9-s0:c1",
            "system_u:system_r:etc_t:s0",
            "system_u:object_r:9_t:s0",
        ] {
            assert!(fc_to_cil(&format!("/x {ctx}\n")).is_err(), "{ctx}");
        }
        assert_eq!(
            fc_to_cil("/srv/a(/.*)? system_u:object_r:var_t:s0-s0:c0,c2.c3\n").unwrap(),
            "(filecon \"/srv/a(/.*)?\" any (system_u object_r var_t ((s0) (s0 (c0 c2 c3)))))\n"
        );
    }
}
