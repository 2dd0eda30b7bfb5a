//! The drop-ins under `rootfs/`, each read with its own format's grammar:
//! pam_limits' limits.d (limits.conf(5)), sysusers.d(5), sysctl.d(5), udev rules
//! (udev(7)) and the environment files our units read (systemd.exec(5),
//! `EnvironmentFile=`). The copies in the other delivery paths are byte for byte
//! the same, which the consistency validator checks.

use super::{Outcome, Tree};

/// One drop-in format: which files it covers and how a line is checked.
struct Format {
    /// As the summary names it.
    label: &'static str,
    /// The folders it is read from (an absolute path ending in one of these).
    dirs: &'static [&'static str],
    extension: &'static str,
    /// What a comment line starts with.
    comment: &'static [char],
    /// Whether a `\` at the end of a line continues it (udev rules do).
    continues: bool,
    check: fn(&str) -> Result<(), String>,
}

const FORMATS: &[Format] = &[
    Format {
        label: "limits.d",
        dirs: &["/etc/security/limits.d"],
        extension: ".conf",
        comment: &['#'],
        continues: false,
        check: limits_line,
    },
    Format {
        label: "sysusers.d",
        dirs: &["/usr/lib/sysusers.d", "/etc/sysusers.d"],
        extension: ".conf",
        comment: &['#'],
        continues: false,
        check: sysusers_line,
    },
    Format {
        label: "sysctl.d",
        dirs: &["/sysctl.d"],
        extension: ".conf",
        comment: &['#', ';'],
        continues: false,
        check: sysctl_line,
    },
    Format {
        label: "udev",
        dirs: &["/udev/rules.d"],
        extension: ".rules",
        comment: &['#'],
        continues: true,
        check: udev_line,
    },
    Format {
        label: "env",
        dirs: &["/etc/rtaudio-tuning"],
        extension: ".env",
        comment: &['#', ';'],
        continues: false,
        check: env_line,
    },
];

pub fn validate(tree: &Tree) -> Outcome {
    let mut files = 0;
    let mut lines = [0; FORMATS.len()];
    let mut problems = Vec::new();
    for (rel, bytes) in tree.under("rootfs/") {
        let target = &rel["rootfs".len()..];
        let Some((k, format)) = FORMATS.iter().enumerate().find(|(_, f)| f.covers(target)) else {
            continue;
        };
        files += 1;
        let Ok(text) = std::str::from_utf8(bytes) else {
            problems.push(format!("{rel}: not UTF-8"));
            continue;
        };
        for (n, line) in format.lines(text) {
            lines[k] += 1;
            if let Err(msg) = (format.check)(&line) {
                problems.push(format!("{rel}:{n}: {msg}"));
            }
        }
    }
    if files == 0 {
        return Outcome::fail("no drop-ins under rootfs/", Vec::new());
    }
    let counts: Vec<String> = FORMATS
        .iter()
        .zip(lines)
        .enumerate()
        .map(|(k, (f, n))| match k {
            0 => format!("{} {n} lines", f.label),
            _ => format!("{} {n}", f.label),
        })
        .collect();
    let failed = format!(
        "{} problem{} in the drop-ins",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    Outcome::from_problems(
        format!("{files} files: {}", counts.join(", ")),
        failed,
        problems,
    )
}

impl Format {
    fn covers(&self, target: &str) -> bool {
        target.rsplit_once('/').is_some_and(|(dir, name)| {
            name.ends_with(self.extension) && self.dirs.iter().any(|d| dir.ends_with(d))
        })
    }

    /// The lines to check, by the line number they start on: comment and blank
    /// lines skipped, continued lines joined.
    fn lines(&self, text: &str) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        let mut pending: Option<(usize, String)> = None;
        for (i, raw) in text.lines().enumerate() {
            let (start, mut line) = pending.take().unwrap_or((i + 1, String::new()));
            let trimmed = raw.trim();
            if line.is_empty() && (trimmed.is_empty() || trimmed.starts_with(self.comment)) {
                continue;
            }
            match raw.strip_suffix('\\').filter(|_| self.continues) {
                Some(head) => {
                    line.push_str(head);
                    pending = Some((start, line));
                }
                None => {
                    line.push_str(raw);
                    out.push((start, line));
                }
            }
        }
        out.extend(pending);
        out
    }
}

/// limits.conf(5): `domain type item value`. pam_limits cuts a line at its
/// first `#` and skips a line without exactly four fields.
fn limits_line(line: &str) -> Result<(), String> {
    let line = line.split('#').next().unwrap_or_default();
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [domain, kind, item, value] = fields[..] else {
        return Err(format!(
            "{} fields; pam_limits wants 4 (domain type item value) and skips this line",
            fields.len()
        ));
    };
    limits_domain(domain)?;
    if !["soft", "hard", "-"].contains(&kind) {
        return Err(format!("type {kind:?} is not soft, hard or -"));
    }
    const ITEMS: &[&str] = &[
        "core",
        "data",
        "fsize",
        "memlock",
        "nofile",
        "rss",
        "stack",
        "cpu",
        "nproc",
        "as",
        "maxlogins",
        "maxsyslogins",
        "nonewprivs",
        "priority",
        "locks",
        "sigpending",
        "msgqueue",
        "nice",
        "rtprio",
    ];
    if !ITEMS.contains(&item) {
        return Err(format!("unknown item {item:?}"));
    }
    // pam_limits: nice and priority are integers (it clamps them to -20..19),
    // nonewprivs is 0 or 1; every other item takes a count or "unlimited".
    match item {
        "nice" | "priority" => match value.parse::<i32>() {
            Ok(v) if (-20..=19).contains(&v) => Ok(()),
            _ => Err(format!("{item} {value:?} is not an integer from -20 to 19")),
        },
        "nonewprivs" if value == "0" || value == "1" => Ok(()),
        "nonewprivs" => Err(format!("nonewprivs {value:?} is not 0 or 1")),
        _ if ["unlimited", "infinity", "-1", "-"].contains(&value) => Ok(()),
        "rtprio" => match value.parse::<u8>() {
            Ok(v) if v <= 99 => Ok(()),
            _ => Err(format!("rtprio {value:?} is not 0 to 99 or unlimited")),
        },
        _ => match value.parse::<u64>() {
            Ok(_) => Ok(()),
            Err(_) => Err(format!("{item} {value:?} is not a count or unlimited")),
        },
    }
}

/// limits.conf(5) domains: `*`, `%`, a user, `@group`, `%group`, or an id range
/// `min:max` with either end left out (`@` for gids, `%:gid`).
fn limits_domain(domain: &str) -> Result<(), String> {
    if domain == "*" || domain == "%" {
        return Ok(());
    }
    let bare = domain.strip_prefix(['@', '%']).unwrap_or(domain);
    let ok = match bare.split_once(':') {
        Some((lo, hi)) => {
            let id = |s: &str| s.is_empty() || s.parse::<u32>().is_ok();
            id(lo)
                && id(hi)
                && !(lo.is_empty() && hi.is_empty())
                && (lo.is_empty()
                    || hi.is_empty()
                    || lo.parse::<u32>().ok() <= hi.parse::<u32>().ok())
        }
        None => {
            let name = bare.strip_suffix('$').unwrap_or(bare);
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "domain {domain:?} is not *, a user, @group, %group or an id range"
        ))
    }
}

/// sysusers.d(5): `TYPE NAME ID GECOS HOME SHELL`, whitespace separated, quotes
/// allowed, `-` for an empty field.
fn sysusers_line(line: &str) -> Result<(), String> {
    let fields = split_quoted(line)?;
    let Some((kind, rest)) = fields.split_first() else {
        return Err("empty line".into());
    };
    if rest.len() > 5 {
        return Err(format!(
            "{} fields; sysusers.d takes at most 6",
            fields.len()
        ));
    }
    // A field given and not "-".
    let field = |i: usize| rest.get(i).map(String::as_str).filter(|f| *f != "-");
    let only = |count: usize, what: &str| match (count..5).find(|&i| field(i).is_some()) {
        Some(i) => Err(format!(
            "type {kind} takes only {what}; field {} must be - or left out",
            i + 2
        )),
        None => Ok(()),
    };
    let name = |i: usize| match field(i) {
        Some(n) if is_sysusers_name(n) => Ok(()),
        Some(n) => Err(format!(
            "{n:?} is not a valid user or group name ([a-z_][a-z0-9_-]{{0,31}})"
        )),
        None => Err(format!("type {kind} needs a name")),
    };
    match kind.as_str() {
        "u" | "u!" => {
            name(0)?;
            if let Some(id) = field(1) {
                // A uid, `uid:gid` (the group by number or name), or a path whose
                // owner gives the ids.
                match id.split_once(':') {
                    Some((uid, gid)) if is_id(uid) && (is_id(gid) || is_sysusers_name(gid)) => {}
                    None if is_id(id) || id.starts_with('/') => {}
                    _ => return Err(format!("user id {id:?} is not an id, uid:gid, a path or -")),
                }
            }
            for (i, what) in [(3, "home"), (4, "shell")] {
                if field(i).is_some_and(|p| !p.starts_with('/')) {
                    return Err(format!("{what} {:?} is not an absolute path", rest[i]));
                }
            }
            Ok(())
        }
        "g" => {
            name(0)?;
            if let Some(id) = field(1) {
                if !is_id(id) && !id.starts_with('/') {
                    return Err(format!("group id {id:?} is not an id, a path or -"));
                }
            }
            only(2, "a name and an id")
        }
        "m" => {
            name(0)?;
            name(1)?;
            only(2, "a user and a group")
        }
        "r" => {
            if field(0).is_some() {
                return Err("type r takes - as its name".into());
            }
            let range = field(1).ok_or("type r needs a range LOW-HIGH")?;
            let ok = match range.split_once('-') {
                Some((lo, hi)) => {
                    is_id(lo) && is_id(hi) && lo.parse::<u32>().ok() <= hi.parse::<u32>().ok()
                }
                None => is_id(range),
            };
            if !ok {
                return Err(format!("range {range:?} is not LOW-HIGH"));
            }
            only(2, "- and a range")
        }
        other => Err(format!(
            "unknown type {other:?}; sysusers.d has u, u!, g, m and r"
        )),
    }
}

fn is_sysusers_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 32
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A uid or gid: 0 to 4294967294 (4294967295 is (uid_t) -1).
fn is_id(s: &str) -> bool {
    !s.starts_with('+') && s.parse::<u32>().is_ok_and(|id| id != u32::MAX)
}

/// Whitespace-separated fields, where double or single quotes group and a
/// backslash escapes the next character.
fn split_quoted(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field: Option<String> = None;
    let mut quote = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => field.get_or_insert_default().extend(chars.next()),
            (None, '"' | '\'') => {
                quote = Some(c);
                field.get_or_insert_default();
            }
            (Some(q), _) if c == q => quote = None,
            (None, _) if c.is_whitespace() => fields.extend(field.take()),
            _ => field.get_or_insert_default().push(c),
        }
    }
    if let Some(q) = quote {
        return Err(format!("unbalanced {q} quote"));
    }
    fields.extend(field);
    Ok(fields)
}

/// sysctl.d(5): `key = value`; a leading `-` on the key ignores a failure to set
/// it. Keys are names separated by `.` or `/`, and may hold `*` globs.
fn sysctl_line(line: &str) -> Result<(), String> {
    let Some((key, value)) = line.split_once('=') else {
        return Err(format!(
            "{:?} has no '=': sysctl.d lines are key = value",
            line.trim()
        ));
    };
    let key = key.trim();
    let key = key.strip_prefix('-').unwrap_or(key);
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_*-".contains(&b))
    };
    if !key.split(['.', '/']).all(name_ok) {
        return Err(format!("key {key:?} is not names separated by . or /"));
    }
    if value.trim().is_empty() {
        return Err(format!("{key} has no value"));
    }
    Ok(())
}

/// udev(7) keys that match (`==`, `!=`) and keys that assign (`=`, `+=`, `-=`,
/// `:=`).
const UDEV_MATCH: &[&str] = &[
    "ACTION",
    "DEVPATH",
    "KERNEL",
    "NAME",
    "SYMLINK",
    "SUBSYSTEM",
    "DRIVER",
    "ATTR",
    "SYSCTL",
    "KERNELS",
    "SUBSYSTEMS",
    "DRIVERS",
    "ATTRS",
    "TAGS",
    "TAG",
    "TEST",
    "PROGRAM",
    "RESULT",
    "ENV",
    "CONST",
];
const UDEV_ASSIGN: &[&str] = &[
    "GROUP", "OWNER", "MODE", "NAME", "SYMLINK", "ENV", "TAG", "RUN", "LABEL", "GOTO", "IMPORT",
    "OPTIONS", "SECLABEL", "ATTR", "SYSCTL",
];
/// Keys that name what they act on: `ATTR{size}`, `ENV{ID_FS_TYPE}`.
const UDEV_NEEDS_ATTR: &[&str] = &[
    "ATTR", "ATTRS", "SYSCTL", "ENV", "CONST", "IMPORT", "SECLABEL",
];

/// udev(7): a rule is comma-separated `KEY{attr} OP "value"` pairs, at least one
/// match and one assignment. A `LABEL="x"` alone is a GOTO target.
fn udev_line(line: &str) -> Result<(), String> {
    let mut rest = line.trim();
    let (mut matches, mut assigns, mut labels) = (0, 0, 0);
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .unwrap_or(rest.len());
        let key = &rest[..end];
        if key.is_empty() {
            return Err(format!("expected a KEY at {rest:?}"));
        }
        rest = &rest[end..];
        let attr = match rest.strip_prefix('{') {
            Some(after) => {
                let close = after.find('}').ok_or(format!("{key}{{ is not closed"))?;
                rest = &after[close + 1..];
                Some(&after[..close])
            }
            None => None,
        };
        rest = rest.trim_start();
        let op = ["==", "!=", "+=", "-=", ":=", "="]
            .into_iter()
            .find(|op| rest.starts_with(op))
            .ok_or(format!(
                "{key}: expected an operator (==, !=, =, +=, -=, :=)"
            ))?;
        rest = rest[op.len()..].trim_start();
        // The value: double quotes, `\"` inside; an `e` before them (escapes).
        let quoted = rest
            .strip_prefix('e')
            .filter(|r| r.starts_with('"'))
            .unwrap_or(rest);
        let body = quoted
            .strip_prefix('"')
            .ok_or(format!("{key}: the value must be in double quotes"))?;
        let close = body
            .char_indices()
            .find(|&(i, c)| c == '"' && !body[..i].ends_with('\\'))
            .map(|(i, _)| i)
            .ok_or(format!("{key}: the value's quote is not closed"))?;
        let value = &body[..close];
        rest = body[close + 1..].trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start();
        } else if !rest.is_empty() {
            return Err(format!("expected ',' before {rest:?}"));
        }

        if !UDEV_MATCH.contains(&key) && !UDEV_ASSIGN.contains(&key) {
            let nearest = UDEV_MATCH
                .iter()
                .chain(UDEV_ASSIGN)
                .map(|k| (strsim::normalized_damerau_levenshtein(key, k), k))
                .filter(|(score, _)| *score >= 0.6)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            return Err(match nearest {
                Some((_, k)) => format!("unknown key {key} (did you mean {k}?)"),
                None => format!("unknown key {key}"),
            });
        }
        if UDEV_NEEDS_ATTR.contains(&key) && attr.is_none_or(str::is_empty) {
            return Err(format!("{key} needs a name in braces: {key}{{name}}"));
        }
        if op == "==" || op == "!=" {
            if !UDEV_MATCH.contains(&key) {
                return Err(format!("{key} cannot be matched with {op}; it is assigned"));
            }
            matches += 1;
        } else {
            if !UDEV_ASSIGN.contains(&key) {
                return Err(format!(
                    "{key} cannot be assigned with {op}; it is matched with == or !="
                ));
            }
            assigns += 1;
            labels += usize::from(key == "LABEL");
            let octal =
                (3..=4).contains(&value.len()) && value.bytes().all(|b| (b'0'..=b'7').contains(&b));
            if key == "MODE" && !octal {
                return Err(format!("MODE {value:?} is not an octal mode like \"0660\""));
            }
        }
    }
    if labels > 0 && labels == assigns && matches == 0 {
        return Ok(());
    }
    if matches == 0 {
        return Err("no match (== or !=): the rule would apply to every device event".into());
    }
    if assigns == 0 {
        return Err("no assignment: the rule does nothing".into());
    }
    Ok(())
}

/// systemd.exec(5) `EnvironmentFile=`: `NAME=value`, the value optionally
/// quoted; a quote left open swallows the lines after it.
fn env_line(line: &str) -> Result<(), String> {
    let Some((name, value)) = line.split_once('=') else {
        return Err(format!(
            "{:?} has no '=': lines are NAME=value",
            line.trim()
        ));
    };
    let name = name.trim();
    let mut bytes = name.bytes();
    let name_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !name_ok {
        return Err(format!(
            "{name:?} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)"
        ));
    }
    split_quoted(value).map(drop)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::validate::Status;

    /// The drop-ins rendered from examples/isolated.toml, comments shortened.
    const RENDERED: &[(&str, &str)] = &[
        (
            "rootfs/etc/rtaudio-tuning/cpupower.env",
            "# Environment for cpupower.service.\nGOVERNOR=performance\n# Older builds.\nCPUPOWER_START_OPTS=\"frequency-set -g performance\"\n",
        ),
        (
            "rootfs/etc/rtaudio-tuning/irqbalance.env",
            "# Environment for irqbalance.service.\nIRQBALANCE_BANNED_CPULIST=1-3\nIRQBALANCE_ARGS=\"--banirq=42 --banirq=43\"\n",
        ),
        (
            "rootfs/etc/rtaudio-tuning/irq-priority.sh",
            "#!/bin/sh\nRULES='\nsnd 90\n'\n",
        ),
        (
            "rootfs/etc/security/limits.d/rtaudio-tuning.conf",
            "# Realtime limits.\n#\n@audio-rt\t-\trtprio\t98\n@audio-rt\t-\tmemlock\tunlimited\n@audio-rt\t-\tnice\t-20\n",
        ),
        (
            "rootfs/usr/lib/sysctl.d/90-rtaudio-tuning.conf",
            "# sysctl.d(5)\nkernel.sched_rt_runtime_us = -1\nvm.swappiness = 1\n",
        ),
        (
            "rootfs/usr/lib/sysusers.d/rtaudio-tuning.conf",
            "# The realtime group.\ng audio-rt 1071\n",
        ),
        (
            "rootfs/usr/lib/udev/rules.d/70-rtaudio-tuning.rules",
            "# cpu_dma_latency\nKERNEL==\"cpu_dma_latency\", GROUP=\"audio-rt\", MODE=\"0660\"\n# Sound cards.\nACTION==\"add\", SUBSYSTEM==\"sound\", KERNEL==\"card*\", TAG+=\"systemd\", ENV{SYSTEMD_WANTS}+=\"rtaudio-irq-priority.service\"\n",
        ),
        (
            "rootfs/usr/lib/systemd/system/rtaudio-irq-priority.service",
            "[Service]\nType=oneshot\n",
        ),
    ];

    fn tree_with(path: &str, text: &str) -> Tree {
        let mut files: BTreeMap<String, Vec<u8>> = RENDERED
            .iter()
            .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
            .collect();
        files.insert(path.to_string(), text.as_bytes().to_vec());
        Tree::from_files(Path::new("/t"), files)
    }

    /// The rendered tree with one more file, which must fail with `needle`.
    fn fails_with(path: &str, text: &str, needle: &str) {
        let out = validate(&tree_with(path, text));
        assert_eq!(out.status, Status::Fail, "{out:?}");
        assert!(
            out.details.iter().any(|d| d.contains(needle)),
            "no {needle:?} in {out:?}"
        );
    }

    fn passes(path: &str, text: &str) {
        let out = validate(&tree_with(path, text));
        assert_eq!(out.status, Status::Pass, "{text:?}: {out:?}");
    }

    #[test]
    fn rendered_dropins_pass() {
        let files = RENDERED
            .iter()
            .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()));
        let out = validate(&Tree::from_files(Path::new("/t"), files.collect()));
        assert_eq!(out.status, Status::Pass, "{out:?}");
        assert_eq!(
            out.summary,
            "6 files: limits.d 3 lines, sysusers.d 1, sysctl.d 2, udev 2, env 4"
        );
        let empty = validate(&Tree::from_files(Path::new("/t"), BTreeMap::new()));
        assert_eq!(empty.status, Status::Fail);
    }

    #[test]
    fn limits() {
        let path = "rootfs/etc/security/limits.d/99-x.conf";
        fails_with(
            path,
            "\n@audio - rtprio\n",
            "99-x.conf:2: 3 fields; pam_limits wants 4",
        );
        fails_with(path, "@audio - rtprio 95 extra\n", "5 fields");
        fails_with(path, "@audio both rtprio 95\n", "type \"both\"");
        fails_with(
            path,
            "@audio - rtpriority 95\n",
            "unknown item \"rtpriority\"",
        );
        fails_with(path, "@audio - nice -21\n", "-20 to 19");
        fails_with(path, "@audio - nice unlimited\n", "-20 to 19");
        fails_with(path, "@audio - rtprio 100\n", "rtprio \"100\"");
        fails_with(path, "@audio - memlock lots\n", "memlock \"lots\"");
        fails_with(path, "@audio - nonewprivs 2\n", "not 0 or 1");
        fails_with(path, "@ - rtprio 95\n", "domain \"@\"");
        fails_with(path, "2000:1000 - rtprio 95\n", "domain \"2000:1000\"");
        passes(
            path,
            "* soft core 0 # trailing comment\n%audio - maxlogins 4\n1000: hard nofile 4096\n:1000 - cpu infinity\n@1000:2000 - memlock -1\nalice - priority -5\n%:100 - maxlogins 2\n@realtime - rtprio unlimited\n",
        );
    }

    #[test]
    fn sysusers() {
        let path = "rootfs/usr/lib/sysusers.d/x.conf";
        passes(
            path,
            "g audio-rt 1071\ng pw -\ng owner /etc/x\nu jack - \"JACK daemon\" /var/lib/jack /sbin/nologin\nu! locked 990:audio-rt\nu svc 991:991 - - -\nm jack audio-rt\nr - 500-900\n",
        );
        fails_with(path, "x audio 10\n", "x.conf:1: unknown type \"x\"");
        fails_with(
            path,
            "g Audio 10\n",
            "\"Audio\" is not a valid user or group name",
        );
        fails_with(path, "g audio 4294967295\n", "group id \"4294967295\"");
        fails_with(
            path,
            "g audio 10 \"gecos\"\n",
            "field 4 must be - or left out",
        );
        fails_with(
            path,
            "u jack - \"JACK daemon /var/lib/jack\n",
            "unbalanced \" quote",
        );
        fails_with(
            path,
            "u jack - - var/lib/jack\n",
            "home \"var/lib/jack\" is not an absolute path",
        );
        fails_with(path, "u jack x:y\n", "user id \"x:y\"");
        fails_with(path, "m jack\n", "type m needs a name");
        fails_with(path, "r - 900-500\n", "range \"900-500\"");
        fails_with(path, "g a 1 - - - -\n", "7 fields");
    }

    #[test]
    fn sysctl() {
        let path = "rootfs/etc/sysctl.d/50-x.conf";
        passes(
            path,
            "; comment\n-kernel.sched_rt_runtime_us = -1\nnet/ipv4/ip_forward=1\nnet.ipv4.conf.*.rp_filter = 2\n",
        );
        fails_with(
            path,
            "vm.swappiness 10\n",
            "50-x.conf:1: \"vm.swappiness 10\" has no '='",
        );
        fails_with(path, "vm.swappiness =  \n", "vm.swappiness has no value");
        fails_with(path, "vm..swappiness = 1\n", "key \"vm..swappiness\"");
        fails_with(path, "vm.swap piness = 1\n", "key \"vm.swap piness\"");
    }

    #[test]
    fn udev() {
        let path = "rootfs/etc/udev/rules.d/99-x.rules";
        passes(
            path,
            "SUBSYSTEM==\"sound\", ATTRS{idVendor}==\"1234\", \\\n  ENV{ID_X}=\"1\", TAG+=\"uaccess\", RUN+=\"/bin/true\"\nLABEL=\"end\"\nACTION!=\"add\", GOTO=\"end\"\nKERNEL==\"a\\\"b\", SYMLINK+=\"x\"\n",
        );
        fails_with(
            path,
            "KERNEL==\"cpu_dma_latency\", GRUOP=\"audio\"\n",
            "99-x.rules:1: unknown key GRUOP (did you mean GROUP?)",
        );
        assert_eq!(
            udev_line("KERNEL==\"x\", FOO=\"1\""),
            Err("unknown key FOO".into())
        );
        fails_with(path, "KERNEL==\"x\", MODE=\"660x\"\n", "MODE \"660x\"");
        fails_with(
            path,
            "KERNEL==\"x\", MODE=0660\n",
            "MODE: the value must be in double quotes",
        );
        fails_with(path, "KERNEL==\"x\" MODE=\"0660\"\n", "expected ','");
        fails_with(path, "KERNEL==\"x\", GROUP=\"a\n", "quote is not closed");
        fails_with(path, "GROUP=\"audio\"\n", "no match");
        fails_with(path, "KERNEL==\"x\"\n", "no assignment");
        fails_with(
            path,
            "KERNEL=\"x\", GROUP=\"a\"\n",
            "KERNEL cannot be assigned",
        );
        fails_with(
            path,
            "KERNEL==\"x\", GROUP==\"a\"\n",
            "GROUP cannot be matched",
        );
        fails_with(path, "ATTR==\"x\", GROUP=\"a\"\n", "ATTR needs a name");
        fails_with(path, "KERNEL==\"x\", GROUP~\"a\"\n", "expected an operator");
    }

    #[test]
    fn env() {
        let path = "rootfs/etc/rtaudio-tuning/x.env";
        passes(
            path,
            "A=1\n_B='two words'\nC=\"say \\\"hi\\\"\"\nD=\n; comment\n",
        );
        fails_with(
            path,
            "IRQBALANCE_ARGS=\"--banirq=42\n",
            "x.env:1: unbalanced \" quote",
        );
        fails_with(path, "A='x\n", "unbalanced ' quote");
        fails_with(path, "1A=x\n", "\"1A\" is not a variable name");
        fails_with(path, "just words\n", "has no '='");
    }
}
