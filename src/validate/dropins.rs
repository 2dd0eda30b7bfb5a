//! The drop-ins under `rootfs/`, each read with its own format's grammar:
//! pam_limits' limits.d (limits.conf(5)), sysusers.d(5), sysctl.d(5), udev rules
//! (udev(7)), modprobe.d(5), PipeWire's and WirePlumber's SPA-JSON drop-ins
//! and the environment files our units read (systemd.exec(5),
//! `EnvironmentFile=`), and the .repo files' signing keys against the keys the
//! target's release ships. The copies in the other delivery paths are byte
//! for byte the same, which the consistency validator checks.

use super::{Outcome, Tree, spa_json};
use crate::limits_conf;

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
    /// Whether a `\r` before the `\n` is part of the line: pam_limits reads
    /// lines with getline, where systemd's read_line ends a line at `\r\n`.
    cr_in_line: bool,
    check: fn(&str) -> Result<(), String>,
}

const FORMATS: &[Format] = &[
    Format {
        label: "limits.d",
        dirs: &["/etc/security/limits.d"],
        extension: ".conf",
        comment: &['#'],
        continues: false,
        cr_in_line: true,
        check: limits_line,
    },
    Format {
        label: "sysusers.d",
        dirs: &["/usr/lib/sysusers.d", "/etc/sysusers.d"],
        extension: ".conf",
        comment: &['#'],
        continues: false,
        cr_in_line: false,
        check: sysusers_line,
    },
    Format {
        label: "sysctl.d",
        dirs: &["/sysctl.d"],
        extension: ".conf",
        comment: &['#', ';'],
        continues: false,
        cr_in_line: false,
        check: sysctl_line,
    },
    Format {
        label: "udev",
        dirs: &["/udev/rules.d"],
        extension: ".rules",
        comment: &['#'],
        continues: true,
        cr_in_line: false,
        check: udev_line,
    },
    Format {
        label: "modprobe.d",
        dirs: &["/modprobe.d"],
        extension: ".conf",
        comment: &['#'],
        continues: true,
        cr_in_line: false,
        check: modprobe_line,
    },
    Format {
        label: "env",
        dirs: &["/etc/rtaudio-tuning"],
        extension: ".env",
        comment: &['#', ';'],
        continues: false,
        cr_in_line: false,
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
    // jack2's server command line.
    if let Some(bytes) = tree.files.get("rootfs/etc/jackdrc") {
        files += 1;
        problems.extend(
            jackdrc(&String::from_utf8_lossy(bytes))
                .into_iter()
                .map(|p| format!("rootfs/etc/jackdrc: {p}")),
        );
    }
    // PipeWire's and WirePlumber's drop-ins: whole files of SPA-JSON.
    let mut spa = 0;
    for (rel, bytes) in tree.under("rootfs/") {
        let check: fn(&str) -> Vec<String> = if SPA_PIPEWIRE.iter().any(|d| in_dir(rel, d)) {
            spa_json::check_pipewire
        } else if SPA_WIREPLUMBER.iter().any(|d| in_dir(rel, d)) {
            spa_json::check_wireplumber
        } else {
            continue;
        };
        files += 1;
        spa += 1;
        match std::str::from_utf8(bytes) {
            Ok(text) => problems.extend(check(text).into_iter().map(|p| format!("{rel}: {p}"))),
            Err(_) => problems.push(format!("{rel}: not UTF-8")),
        }
    }
    let target = target_of(tree);
    for (rel, bytes) in tree.under("rootfs/etc/yum.repos.d/") {
        if rel.ends_with(".repo") {
            files += 1;
            problems.extend(repo_keys(
                rel,
                &String::from_utf8_lossy(bytes),
                target.as_ref(),
            ));
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
    let (udev_problems, udev_by) = udevadm_verify(tree);
    problems.extend(udev_problems);
    Outcome::from_problems(
        format!(
            "{files} files: {}, SPA-JSON {spa}; {udev_by}",
            counts.join(", ")
        ),
        failed,
        problems,
    )
}

/// systemd's own reading of the udev rules, `udevadm verify` (systemd 254
/// and later), beside this module's grammar; and what read them, for the
/// summary (the grammar alone where the host's udevadm lacks verify).
fn udevadm_verify(tree: &Tree) -> (Vec<String>, String) {
    let rules: Vec<(&str, &[u8])> = tree
        .under("rootfs/")
        .filter(|(rel, _)| rel.contains("/udev/rules.d/") && rel.ends_with(".rules"))
        .collect();
    if rules.is_empty() {
        return (Vec::new(), "no udev rules".into());
    }
    let unsupported =
        || "udev rules by grammar only (udevadm verify needs systemd 254 or later)".to_string();
    let Some(udevadm) = crate::cmd::find("udevadm") else {
        return (Vec::new(), unsupported());
    };
    let help =
        match crate::cmd::run(std::process::Command::new(&udevadm).args(["verify", "--help"])) {
            Ok(o) if o.success() => o.text(),
            _ => return (Vec::new(), unsupported()),
        };
    // The tree's bytes, staged one file per name: the tree may be in memory.
    let Ok(stage) = tempfile::Builder::new()
        .prefix("rtaudio-tuning-udev-")
        .tempdir()
    else {
        return (
            vec!["cannot create a temporary folder for udevadm verify".into()],
            unsupported(),
        );
    };
    let mut paths = Vec::new();
    for (i, (rel, bytes)) in rules.iter().enumerate() {
        let name = rel.rsplit('/').next().unwrap_or("x.rules");
        let path = stage.path().join(format!("{i}-{name}"));
        if std::fs::write(&path, bytes).is_err() {
            return (
                vec![format!("cannot stage {rel} for udevadm verify")],
                unsupported(),
            );
        }
        paths.push(path);
    }
    let mut c = std::process::Command::new(&udevadm);
    c.args(["verify", "--resolve-names=never"]);
    // Style issues fail verify from systemd 255 on, which added --no-style:
    // the rules' meaning is what is checked here.
    if help.contains("--no-style") {
        c.arg("--no-style");
    }
    c.args(&paths);
    let by = "udev rules by grammar and udevadm verify".to_string();
    match crate::cmd::run(&mut c) {
        Ok(o) if o.success() => (Vec::new(), by),
        Ok(o) => (
            o.text()
                .lines()
                .map(|l| format!("udevadm verify: {l}"))
                .collect(),
            by,
        ),
        Err(e) => (vec![format!("udevadm verify: {e}")], by),
    }
}

/// The folders of PipeWire's and WirePlumber's drop-ins, under /usr/share
/// and /etc.
const SPA_PIPEWIRE: &[&str] = &[
    "rootfs/usr/share/pipewire/pipewire.conf.d/",
    "rootfs/etc/pipewire/pipewire.conf.d/",
];
const SPA_WIREPLUMBER: &[&str] = &[
    "rootfs/usr/share/wireplumber/wireplumber.conf.d/",
    "rootfs/etc/wireplumber/wireplumber.conf.d/",
];

/// A `.conf` file directly in `dir`.
fn in_dir(rel: &str, dir: &str) -> bool {
    rel.strip_prefix(dir)
        .is_some_and(|name| !name.contains('/') && name.ends_with(".conf"))
}

/// /etc/jackdrc as libjack reads it to start jackd (jack2
/// posix/JackPosixServerLaunch.cpp): every word, `fscanf("%s")` into 64-byte
/// buffers, is one argument of the server's command line, so the file holds
/// the command and nothing else (no comments), each word under 64 bytes.
fn jackdrc(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut problems = Vec::new();
    if words.first() != Some(&"/usr/bin/jackd") {
        problems
            .push("the first word must be /usr/bin/jackd: libjack runs it as the server".into());
    }
    if words.len() > 32 {
        problems.push(format!(
            "{} words: libjack takes a short command line",
            words.len()
        ));
    }
    for w in &words {
        if w.len() >= 64 {
            problems.push(format!(
                "{w:?} is 64 bytes or longer: libjack's buffer for a word is 64"
            ));
        } else if !w.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | ',' | '.' | '/' | '=')
        }) {
            problems.push(format!("{w:?} is not a word of a jackd command line (a comment or a quote is read as an argument)"));
        }
    }
    if !words.contains(&"-R") {
        problems.push("no -R: jackd would not run realtime".into());
    }
    problems
}

/// modprobe.d(5): the commands that set module options. `install` and
/// `remove` run shell commands as root at every module load: none of ours.
fn modprobe_line(line: &str) -> Result<(), String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let module_ok = |m: &str| {
        !m.is_empty()
            && m.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    match words.as_slice() {
        ["options", module, params @ ..] if module_ok(module) && !params.is_empty() => {
            for p in params {
                let (name, value) = p.split_once('=').unwrap_or((p, ""));
                if !module_ok(name)
                    || !value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ',' | '.'))
                {
                    return Err(format!("{p:?} is not a module parameter (name=value)"));
                }
            }
            Ok(())
        }
        ["options", ..] => Err("options needs a module name and at least one name=value".into()),
        ["blacklist", module] | ["softdep", module, ..] if module_ok(module) => Ok(()),
        [cmd @ ("install" | "remove"), ..] => Err(format!(
            "{cmd} runs a shell command as root at every module load; set options instead"
        )),
        [cmd, ..] => Err(format!(
            "unknown command {cmd} (options, blacklist, softdep)"
        )),
        [] => Ok(()),
    }
}

/// A distribution family's signing keys under /etc/pki/rpm-gpg, as its
/// release or key package installs them. A key name that starts with the
/// family's prefix is the family's; other names are the admin's own keys,
/// which no table knows.
struct KeyFamily {
    /// As the tree names its target (the bootc base image's name).
    distro: &'static str,
    prefix: &'static str,
    /// The keys a release ships; `arch` expands Fedora's per-arch links.
    keys: fn(release: u32, arch: &str) -> Vec<String>,
}

const KEY_FAMILIES: &[KeyFamily] = &[
    // fedora-gpg-keys ships the primary key of every release up to the next
    // one (and per-arch links); mkosi reads RPM-GPG-KEY-fedora-N-primary
    // (systemd/mkosi, mkosi/distribution/fedora.py).
    KeyFamily {
        distro: "fedora",
        prefix: "RPM-GPG-KEY-fedora",
        keys: |release, arch| {
            (7..=release + 1)
                .flat_map(|n| {
                    [
                        format!("RPM-GPG-KEY-fedora-{n}-primary"),
                        format!("RPM-GPG-KEY-fedora-{n}-{arch}"),
                    ]
                })
                .collect()
        },
    },
    // centos-gpg-keys: CentOS Stream 9 ships RPM-GPG-KEY-centosofficial,
    // CentOS Stream 10 RPM-GPG-KEY-centosofficial-SHA256 (systemd/mkosi
    // 70ce10d1, mkosi/distribution/centos.py, gpgurls).
    KeyFamily {
        distro: "centos-stream",
        prefix: "RPM-GPG-KEY-centosofficial",
        keys: |release, _| match release {
            ..=9 => vec!["RPM-GPG-KEY-centosofficial".into()],
            _ => vec!["RPM-GPG-KEY-centosofficial-SHA256".into()],
        },
    },
    // almalinux-release: RPM-GPG-KEY-AlmaLinux-N (systemd/mkosi,
    // mkosi/distribution/alma.py, gpgurls).
    KeyFamily {
        distro: "almalinux",
        prefix: "RPM-GPG-KEY-AlmaLinux",
        keys: |release, _| vec![format!("RPM-GPG-KEY-AlmaLinux-{release}")],
    },
    // redhat-release: the release and beta keys.
    KeyFamily {
        distro: "rhel",
        prefix: "RPM-GPG-KEY-redhat",
        keys: |_, _| {
            vec![
                "RPM-GPG-KEY-redhat-release".into(),
                "RPM-GPG-KEY-redhat-beta".into(),
            ]
        },
    },
];

/// The target of a rendered tree, from its bootc image's base (the one
/// artifact that names distribution and release in a machine's terms):
/// `(distro, release, arch)`.
fn target_of(tree: &Tree) -> Option<(&'static str, u32, String)> {
    let containerfile = tree.text("bootc/Containerfile")?;
    let from = containerfile
        .lines()
        .find_map(|l| l.strip_prefix("FROM "))?
        .trim();
    let arch = containerfile
        .lines()
        .next()
        .and_then(|l| l.split(" (").nth(1))
        .and_then(|r| r.split(')').next())
        .unwrap_or("x86_64")
        .to_string();
    let number = |s: &str| s.parse::<u32>().ok();
    let (distro, release) = if let Some(r) = from.strip_prefix("quay.io/fedora/fedora-bootc:") {
        ("fedora", number(r)?)
    } else if let Some(r) = from.strip_prefix("quay.io/centos-bootc/centos-bootc:stream") {
        ("centos-stream", number(r)?)
    } else if let Some(r) = from.strip_prefix("quay.io/almalinuxorg/almalinux-bootc:") {
        ("almalinux", number(r)?)
    } else if let Some(r) = from.strip_prefix("registry.redhat.io/rhel") {
        ("rhel", number(r.split('/').next()?)?)
    } else {
        return None;
    };
    Some((distro, release, arch))
}

/// Every `gpgkey=file:///etc/pki/rpm-gpg/NAME` of a .repo file that names a
/// distribution's key names one the target has: a key the release does not
/// ship fails every install and update with "Couldn't open file". Without a
/// known target the key must be one some release of its family ships.
fn repo_keys(rel: &str, text: &str, target: Option<&(&str, u32, String)>) -> Vec<String> {
    let mut problems = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(value) = line
            .split_once('=')
            .filter(|(k, _)| k.trim() == "gpgkey")
            .map(|(_, v)| v)
        else {
            continue;
        };
        for url in value.split([',', ' ', '\t']).filter(|u| !u.is_empty()) {
            let Some(name) = url.strip_prefix("file:///etc/pki/rpm-gpg/") else {
                continue;
            };
            let Some(family) = KEY_FAMILIES.iter().find(|f| name.starts_with(f.prefix)) else {
                continue;
            };
            let known = match target {
                Some((distro, release, arch)) => {
                    let name = name
                        .replace("$releasever", &release.to_string())
                        .replace("$basearch", arch);
                    *distro == family.distro && (family.keys)(*release, arch).contains(&name)
                }
                None => (1..=99).any(|r| (family.keys)(r, "x86_64").iter().any(|k| k == name)),
            };
            if !known {
                let on = target.map_or_else(
                    || format!("any {} release", family.distro),
                    |(d, r, _)| format!("{d} {r}"),
                );
                let have = target
                    .filter(|(d, _, _)| *d == family.distro)
                    .map(|(_, r, a)| (family.keys)(*r, a))
                    .and_then(|k| k.last().cloned())
                    .map(|k| format!(" (it has {k})"))
                    .unwrap_or_default();
                problems.push(format!(
                    "{rel}:{}: gpgkey {name}: {on} ships no such key{have}",
                    n + 1
                ));
            }
        }
    }
    problems
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
        for (i, raw) in text.split('\n').enumerate() {
            let raw = match raw.strip_suffix('\r') {
                Some(head) if !self.cr_in_line => head,
                _ => raw,
            };
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

/// limits.conf(5), read with pam_limits' own grammar ([`crate::limits_conf`]):
/// a line is an error where pam_limits would skip it, read less of it than is
/// written, or take it otherwise than it reads.
fn limits_line(line: &str) -> Result<(), String> {
    use crate::limits_conf::{Kind, Line, Skip, Value};
    let entry = match limits_conf::line(line) {
        None => return Ok(()),
        Some(Line::Entry(e)) => e,
        Some(Line::Incomplete { parts }) => {
            return Err(format!(
                "{parts} fields; pam_limits wants 4 (domain type item value) and skips this line"
            ));
        }
        Some(Line::NoLimits { text, .. }) => {
            return Err(format!(
                "`{text} -` tells pam_limits to set no limits at all for the users it names, and to read no further; give domain type item value"
            ));
        }
        Some(Line::BadRange { domain }) => {
            return Err(format!(
                "domain {domain:?} is not an id range pam_limits reads (MIN:MAX, MIN: or :ID, ids in decimal); it skips this line"
            ));
        }
    };
    limits_domain(&entry)?;
    let (item, value) = (entry.item.as_str(), entry.value.as_str());
    let bad_type = || format!("type {:?} is not soft, hard or -", entry.kind);
    let effect = entry.effect().map_err(|skip| match skip {
        Skip::UnknownItem => format!("unknown item {item:?}"),
        Skip::UnknownType => bad_type(),
        Skip::Value
            if matches!(
                limits_conf::item_kind(item),
                Some(Kind::Nice | Kind::Priority)
            ) =>
        {
            format!("{item} {value:?} is not an integer from -20 to 19; pam_limits skips this line")
        }
        Skip::Value => {
            format!("{item} {value:?} is not a count or unlimited; pam_limits skips this line")
        }
        Skip::LoginsOnly => format!(
            "domain {:?}: pam_limits takes % domains for maxlogins only and skips this line",
            entry.text
        ),
        Skip::LoginRange => format!(
            "domain {:?}: pam_limits matches no %MIN:MAX range and skips this line",
            entry.text
        ),
    })?;
    // pam_limits ignores the type of maxlogins and nonewprivs; a line still
    // says one it knows.
    if !["soft", "hard", "-"].contains(&entry.kind.as_str()) {
        return Err(bad_type());
    }
    // The value is all after the item: a second word in it is not a field of
    // its own, and pam_limits reads the value only up to it.
    let words = value.split([' ', '\t']).filter(|w| !w.is_empty()).count();
    if words > 1 {
        return Err(format!(
            "{} fields; pam_limits takes {value:?}, all after the item, as the value{}",
            3 + words,
            match effect.kind {
                Kind::Flag => ", which is not 0 or 1".to_string(),
                _ => format!(", and reads it as {}", effect.value),
            }
        ));
    }
    if !effect.unread.is_empty() {
        return Err(match effect.kind {
            Kind::Flag => format!("nonewprivs {value:?} is not 0 or 1"),
            _ => format!(
                "{item} {value:?}: pam_limits reads it as {} and ignores {:?}",
                effect.value, effect.unread
            ),
        });
    }
    // What pam_limits takes but means something else: it clamps nice to
    // -20..19, and an rtprio above 99 is no priority SCHED_FIFO has.
    match (effect.kind, effect.value) {
        (Kind::Nice | Kind::Priority, Value::Int(n))
            if !(-20..=19).contains(&n) || value != n.to_string() =>
        {
            Err(format!("{item} {value:?} is not an integer from -20 to 19"))
        }
        _ if item == "rtprio"
            && !matches!(effect.value, Value::Unlimited | Value::Count(0..=99)) =>
        {
            Err(format!("rtprio {value:?} is not 0 to 99 or unlimited"))
        }
        _ => Ok(()),
    }
}

/// limits.conf(5) domains beyond what pam_limits refuses: a name of letters,
/// digits and `_.-` (a trailing `$` for machine accounts), a group with a
/// name, a range whose low end is not above its high end.
fn limits_domain(entry: &limits_conf::Entry) -> Result<(), String> {
    use crate::limits_conf::{Domain, Range};
    let text = entry.text;
    let name_ok = |name: &str| {
        let name = name.strip_suffix('$').unwrap_or(name);
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    };
    let ok = match entry.domain {
        Domain::Everyone | Domain::AllLogins => true,
        Domain::Name => name_ok(text),
        Domain::Group(g) | Domain::LoginGroup(g) => name_ok(g),
        Domain::Gids(r) | Domain::LoginGids(r) | Domain::Uids(r) => {
            !matches!(r, Range::Between(lo, hi) if lo > hi)
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "domain {text:?} is not *, a user, @group, %group or an id range that holds an id"
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
            if let Some(id) = field(1)
                && !is_id(id)
                && !id.starts_with('/')
            {
                return Err(format!("group id {id:?} is not an id, a path or -"));
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
        // Then which read the udev rules: the grammar, and udevadm verify
        // where the host has it.
        assert!(
            out.summary.starts_with(
                "6 files: limits.d 3 lines, sysusers.d 1, sysctl.d 2, udev 2, modprobe.d 0, env 4, SPA-JSON 0; udev rules by grammar"
            ),
            "{}",
            out.summary
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
        // As pam_limits reads them: the value is all after the item, read as
        // strtoull reads it; a \r is part of it; `domain -` lifts all limits.
        for (line, needle) in [
            (
                "@audio - memlock unlimited extra\n",
                "memlock \"unlimited extra\" is not a count or unlimited; pam_limits skips",
            ),
            (
                "@audio - rtprio 95 extra\n",
                "5 fields; pam_limits takes \"95 extra\", all after the item, as the value, and reads it as 95",
            ),
            (
                "@audio - memlock 4G\n",
                "memlock \"4g\": pam_limits reads it as 4 and ignores \"g\"",
            ),
            (
                "@audio - rtprio 95\r\n",
                "rtprio \"95\\r\": pam_limits reads it as 95 and ignores \"\\r\"",
            ),
            ("@audio -\n", "`@audio -` tells pam_limits to set no limits"),
            ("%audio - rtprio 95\n", "% domains for maxlogins only"),
            ("%1:5 - maxlogins 2\n", "no %MIN:MAX range"),
            ("x:1 - rtprio 95\n", "domain \"x:1\" is not an id range"),
            ("@audio - nice -1x\n", "ignores \"x\""),
        ] {
            fails_with(path, line, needle);
        }
        passes(
            path,
            "@audio - RTPRIO 95\n@audio HARD rttime 200000\n@audio - memlock unlimited\t # x\n",
        );
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
    fn modprobe() {
        let path = "rootfs/usr/lib/modprobe.d/x.conf";
        passes(
            path,
            "# HDA\noptions snd_hda_intel power_save=0 power_save_controller=N\nblacklist pcspkr\n",
        );
        fails_with(
            path,
            "install snd_hda_intel /bin/sh -c 'x'\n",
            "x.conf:1: install runs a shell command",
        );
        fails_with(
            path,
            "options snd_hda_intel\n",
            "options needs a module name",
        );
        fails_with(
            path,
            "options snd-hda-intel power_save=$(x)\n",
            "is not a module parameter",
        );
        fails_with(
            path,
            "option snd_hda_intel power_save=0\n",
            "unknown command option",
        );
    }

    #[test]
    fn jackdrc_is_one_command_line() {
        assert_eq!(
            jackdrc("/usr/bin/jackd -R -P88 -dalsa -dhw:0 -r48000 -p256 -n2\n"),
            Vec::<String>::new()
        );
        let p = jackdrc("# JACK\n/usr/bin/jackd -P88 -dalsa\n");
        assert!(
            p.iter()
                .any(|p| p.contains("first word must be /usr/bin/jackd")),
            "{p:?}"
        );
        assert!(p.iter().any(|p| p.contains("\"#\" is not a word")), "{p:?}");
        assert!(p.iter().any(|p| p.contains("no -R")), "{p:?}");
        let long = format!("/usr/bin/jackd -R -d{}", "a".repeat(70));
        assert!(jackdrc(&long)[0].contains("64 bytes or longer"));
    }

    #[test]
    fn spa_json_drop_ins() {
        passes(
            "rootfs/etc/pipewire/pipewire.conf.d/60-x.conf",
            "context.properties = { default.clock.rate = 48000 }\n",
        );
        fails_with(
            "rootfs/usr/share/pipewire/pipewire.conf.d/60-x.conf",
            "context.properties = { default.clock.quantum = 256\n",
            "60-x.conf: line 2: an object is not closed with }",
        );
        fails_with(
            "rootfs/usr/share/wireplumber/wireplumber.conf.d/60-x.conf",
            "wireplumber.settings = { }\n",
            "unknown section wireplumber.settings",
        );
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
