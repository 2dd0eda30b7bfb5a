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

fn ident(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn numbered(s: &str, prefix: char) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// `s0`, `s0:c0.c1023`, `s0:c1,c5` as a CIL level.
fn level(l: &str) -> Result<String, String> {
    let (sens, cats) = match l.split_once(':') {
        Some((s, c)) => (s, Some(c)),
        None => (l, None),
    };
    if !numbered(sens, 's') {
        return Err(format!("{l:?} is not an MLS level (s0, s0:c0.c1023)"));
    }
    let Some(cats) = cats else {
        return Ok(format!("({sens})"));
    };
    // CIL category sets: one range `(range c0 c1023)`, or a list `(c1 c5)`.
    if let Some((a, b)) = cats.split_once('.') {
        if numbered(a, 'c') && numbered(b, 'c') {
            return Ok(format!("({sens} (range {a} {b}))"));
        }
    } else if cats.split(',').all(|c| numbered(c, 'c')) {
        return Ok(format!("({sens} ({}))", cats.replace(',', " ")));
    }
    Err(format!(
        "{cats:?} is not a category range (c0.c1023) or list (c1,c5)"
    ))
}

fn context(ctx: &str) -> Result<String, String> {
    if ctx == "<<none>>" {
        return Ok("()".into());
    }
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
        return Err(format!("{ctx:?} is not user:role:type:level"));
    };
    if !(ident(user) && ident(role) && ident(ty)) {
        return Err(format!("{ctx:?} has an invalid user, role or type name"));
    }
    let (low, high) = range.split_once('-').unwrap_or((range, range));
    Ok(format!(
        "({user} {role} {ty} ({} {}))",
        level(low)?,
        level(high)?
    ))
}

/// The `filecon` statements for an .fc file; errors carry their line number.
pub fn fc_to_cil(fc: &str) -> Result<String, (usize, String)> {
    let mut out = String::new();
    for (i, line) in fc.lines().enumerate() {
        let code = line.trim();
        if code.is_empty() || code.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = code.split_whitespace().collect();
        let (path, ty, ctx) = match words.as_slice() {
            [path, ctx] => (*path, "any", *ctx),
            [path, t, ctx] => (
                *path,
                file_type(t).ok_or((i + 1, format!("{t:?} is not a file type")))?,
                *ctx,
            ),
            _ => return Err((i + 1, "expected PATH_REGEX [TYPE] CONTEXT".into())),
        };
        // A CIL string cannot hold a double quote; file paths never need one.
        if !path.starts_with('/') || path.contains('"') {
            return Err((
                i + 1,
                format!("{path:?} is not an absolute path expression"),
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
}
