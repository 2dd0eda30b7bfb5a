//! One source of truth: every delivery path carries the rootfs drop-ins byte for
//! byte, and the same kernel argument list. Each path is read back with its own
//! format's rules.

use std::collections::BTreeMap;

use super::{Outcome, Tree};
use crate::render::TOOL;
use crate::rpmbuild::FEDORA_MACROS;

type Files = BTreeMap<String, Vec<u8>>;

/// Where systemd (and kmod, PipeWire, WirePlumber) reads a file with the same meaning under /etc: a blueprint
/// cannot write /usr, so it carries these files there.
const ETC_EQUIVALENT: &[(&str, &str)] = &[
    ("/etc/systemd/system/", "/usr/lib/systemd/system/"),
    ("/etc/sysusers.d/", "/usr/lib/sysusers.d/"),
    ("/etc/sysctl.d/", "/usr/lib/sysctl.d/"),
    ("/etc/udev/rules.d/", "/usr/lib/udev/rules.d/"),
    ("/etc/modprobe.d/", "/usr/lib/modprobe.d/"),
    // PipeWire and WirePlumber read their drop-ins from /usr/share and /etc.
    ("/etc/pipewire/", "/usr/share/pipewire/"),
    ("/etc/wireplumber/", "/usr/share/wireplumber/"),
    (
        "/etc/rtaudio-tuning/selinux/",
        "/usr/share/selinux/packages/rtaudio-tuning/",
    ),
];

/// What only a blueprint carries: blueprints have no %post, so a first-boot
/// unit installs the SELinux modules there.
const BLUEPRINT_ONLY: &[&str] = &["/etc/systemd/system/rtaudio-selinux-modules.service"];

/// The files a kickstart's %post writes with `cat >PATH <<'DELIM'`. A
/// here-document appended to a file of the system's (`cat >>"$home/.ssh/
/// authorized_keys"`, a user's keys after the first) is no drop-in: its body
/// is read past and left out.
pub fn kickstart_files(ks: &str) -> Result<Files, String> {
    let mut out = Files::new();
    let mut lines = ks.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("cat >") else {
            continue;
        };
        let append = rest.starts_with('>');
        let Some((path, delim)) = rest.split_once(" <<'") else {
            return Err(format!("unreadable here-document: {line}"));
        };
        let delim = delim.trim_end_matches('\'');
        let mut body = String::new();
        let mut closed = false;
        for l in lines.by_ref() {
            if l == delim {
                closed = true;
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        if !closed {
            return Err(format!("here-document for {path} is not closed"));
        }
        if append {
            continue;
        }
        if out.insert(path.to_string(), body.into_bytes()).is_some() {
            return Err(format!("{path} is written twice"));
        }
    }
    Ok(out)
}

/// Whether a kickstart installs our package from its own repository: a
/// `repo --name=rtaudio-tuning` line and the package in `%packages`.
pub fn installs_package(ks: &str) -> bool {
    let repo = ks
        .lines()
        .any(|l| l.starts_with(&format!("repo --name={TOOL} ")));
    let mut in_packages = false;
    let mut listed = false;
    for l in ks.lines() {
        let l = l.trim();
        if l.starts_with("%packages") {
            in_packages = true;
        } else if l == "%end" {
            in_packages = false;
        } else if in_packages && l == TOOL {
            listed = true;
        }
    }
    repo && listed
}

/// The kernel arguments a kickstart gives the systems installed with it: a
/// live spin's from its first-boot unit (the live validator says why), any
/// other's from its `bootloader --append`.
pub fn installed_kargs(name: &str, ks: &str) -> Result<Vec<String>, String> {
    if name.ends_with("-live.ks") {
        super::live::first_boot_kargs(ks)
    } else {
        kickstart_kargs(ks)
    }
}

/// The kernel arguments of a kickstart's `bootloader --append="..."` line.
pub fn kickstart_kargs(ks: &str) -> Result<Vec<String>, String> {
    let line = ks
        .lines()
        .find(|l| l.starts_with("bootloader"))
        .ok_or("no bootloader line")?;
    Ok(match line.split("--append=\"").nth(1) {
        Some(args) => args
            .trim_end_matches('"')
            .split_whitespace()
            .map(String::from)
            .collect(),
        None => Vec::new(),
    })
}

/// The files the spec installs, with `%{SOURCEn}` resolved in rpm/ and the path
/// macros expanded as rpm would.
fn rpm_files(tree: &Tree, spec: &str) -> Result<Files, String> {
    let mut macros: Vec<(String, &str)> = FEDORA_MACROS
        .iter()
        .map(|(k, v)| (format!("%{{{k}}}"), *v))
        .collect();
    macros.push(("%{_exec_prefix}".into(), "/usr"));
    macros.push(("%{_prefix}".into(), "/usr"));
    macros.push(("%{_sysconfdir}".into(), "/etc"));
    let mut sources = BTreeMap::new();
    for line in spec.lines() {
        if let Some((n, name)) = line.strip_prefix("Source").and_then(|r| r.split_once(':')) {
            sources.insert(format!("%{{SOURCE{n}}}"), name.trim().to_string());
        }
    }
    let mut out = Files::new();
    for line in spec.lines().filter(|l| l.starts_with("install ")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (Some(src), Some(dest)) = (words.iter().rev().nth(1), words.last()) else {
            continue;
        };
        let Some(name) = sources.get(*src) else {
            return Err(format!("install line uses unknown source {src}"));
        };
        let mut path = dest.trim_start_matches("%{buildroot}").to_string();
        for (m, v) in &macros {
            path = path.replace(m.as_str(), v);
        }
        if path.contains('%') {
            return Err(format!("unexpanded macro in {dest}"));
        }
        let bytes = tree
            .files
            .get(&format!("rpm/{name}"))
            .ok_or(format!("rpm/{name} (a Source of the spec) is missing"))?;
        out.insert(path, bytes.clone());
    }
    Ok(out)
}

fn rpm_kargs(spec: &str) -> Result<Vec<String>, String> {
    let line = spec
        .lines()
        .find(|l| l.starts_with("wanted=\""))
        .ok_or("no wanted= line in %post")?;
    Ok(line["wanted=\"".len()..]
        .trim_end_matches('"')
        .split_whitespace()
        .map(String::from)
        .collect())
}

fn blueprint(text: &str) -> Result<(Files, Vec<String>), String> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    let custom = doc.get("customizations").and_then(|c| c.as_table());
    let mut files = Files::new();
    for f in custom
        .and_then(|c| c.get("files"))
        .and_then(|f| f.as_array())
        .into_iter()
        .flatten()
    {
        let (Some(p), Some(data)) = (
            f.get("path").and_then(|p| p.as_str()),
            f.get("data").and_then(|d| d.as_str()),
        ) else {
            return Err("a [[customizations.files]] entry without path or data".into());
        };
        if BLUEPRINT_ONLY.contains(&p) {
            continue;
        }
        let target = ETC_EQUIVALENT
            .iter()
            .find_map(|(etc, usr)| p.strip_prefix(etc).map(|r| format!("{usr}{r}")))
            .unwrap_or_else(|| p.to_string());
        files.insert(target, data.as_bytes().to_vec());
    }
    let append = custom
        .and_then(|c| c.get("kernel"))
        .and_then(|k| k.get("append"))
        .and_then(|a| a.as_str())
        .unwrap_or("");
    Ok((files, append.split_whitespace().map(String::from).collect()))
}

fn bootc_kargs(root: &BTreeMap<String, &[u8]>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (path, bytes) in root.range("/usr/lib/bootc/kargs.d/".to_string()..) {
        if !path.starts_with("/usr/lib/bootc/kargs.d/") {
            break;
        }
        let text = std::str::from_utf8(bytes).map_err(|_| format!("{path} is not UTF-8"))?;
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| format!("{path}: {}", e.message()))?;
        for v in doc
            .get("kargs")
            .and_then(|k| k.as_array())
            .ok_or(format!("{path}: no kargs"))?
        {
            out.push(
                v.as_str()
                    .ok_or(format!("{path}: a karg is not a string"))?
                    .to_string(),
            );
        }
    }
    Ok(out)
}

/// Name the files two paths disagree about.
fn compare(what: &str, have: &Files, want: &BTreeMap<String, &[u8]>, problems: &mut Vec<String>) {
    for (path, bytes) in want {
        match have.get(path) {
            None => problems.push(format!("{what} does not carry {path}")),
            Some(b) if b.as_slice() != *bytes => problems.push(format!(
                "{what} carries {path} with other bytes than rootfs/"
            )),
            Some(_) => {}
        }
    }
    for path in have.keys().filter(|p| !want.contains_key(*p)) {
        problems.push(format!("{what} carries {path}, which is not in rootfs/"));
    }
}

pub fn validate(tree: &Tree) -> Outcome {
    let root = tree.rootfs();
    if root.is_empty() {
        return Outcome::fail("no rootfs/ in the tree", Vec::new());
    }
    let mut problems = Vec::new();
    let mut kargs: Vec<(String, Vec<String>)> = Vec::new();
    match bootc_kargs(&root) {
        Ok(k) => kargs.push(("rootfs kargs.d".into(), k)),
        Err(e) => problems.push(e),
    }

    match tree.text("rpm/rtaudio-tuning.spec") {
        None => problems.push("rpm/rtaudio-tuning.spec is missing".into()),
        Some(spec) => {
            match rpm_files(tree, spec) {
                Ok(f) => compare("the RPM", &f, &root, &mut problems),
                Err(e) => problems.push(format!("rpm/rtaudio-tuning.spec: {e}")),
            }
            match rpm_kargs(spec) {
                Ok(k) => kargs.push(("the RPM's %post".into(), k)),
                Err(e) => problems.push(format!("rpm/rtaudio-tuning.spec: {e}")),
            }
        }
    }

    let bootc: Files = tree
        .under("bootc/rootfs/")
        .map(|(p, b)| (p["bootc/rootfs".len()..].to_string(), b.to_vec()))
        .collect();
    compare("bootc/rootfs", &bootc, &root, &mut problems);

    let kickstarts: Vec<(&str, &[u8])> = tree
        .under("kickstart/")
        .filter(|(p, _)| p.ends_with(".ks"))
        .collect();
    // A fleet's kickstarts are per host (hosts/), each with its own variant of
    // the drop-ins: the shared paths are compared here, the hosts by `fleet`.
    if kickstarts.is_empty() && !tree.is_fleet() {
        problems.push("no kickstart under kickstart/".into());
    }
    for (rel, bytes) in &kickstarts {
        let text = String::from_utf8_lossy(bytes);
        // A live spin's installs get the kernel arguments from its first-boot
        // unit (the live validator says why), which only it carries.
        let live = rel.ends_with("-live.ks");
        // A kickstart that installs the package carries the RPM's files,
        // compared above; none may also come from a here-document.
        let files = kickstart_files(&text).map(|mut f| {
            if live {
                f.retain(|_, b| super::live::grubby_args(&String::from_utf8_lossy(b)).is_none());
            }
            f
        });
        match files {
            Ok(f) if installs_package(&text) => {
                if !f.is_empty() {
                    problems.push(format!(
                        "{rel}: installs the {TOOL} package and also writes {} in %post",
                        f.keys().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            Ok(f) => compare(&format!("{rel} %post"), &f, &root, &mut problems),
            Err(e) => problems.push(format!("{rel}: {e}")),
        }
        let source = if live {
            "first-boot grubby --args"
        } else {
            "bootloader --append"
        };
        match installed_kargs(rel, &text) {
            Ok(k) => kargs.push((format!("{rel} {source}"), k)),
            Err(e) => problems.push(format!("{rel}: {e}")),
        }
    }

    let blueprints: Vec<(&str, &[u8])> = tree
        .under("blueprint/")
        .filter(|(p, _)| p.ends_with(".toml"))
        .collect();
    if blueprints.is_empty() {
        problems.push("no blueprint under blueprint/".into());
    }
    // Everything a blueprint can place: bootc's kargs.d is replaced by
    // [customizations.kernel] append.
    let placeable: BTreeMap<String, &[u8]> = root
        .iter()
        .filter(|(p, _)| !p.starts_with("/usr/lib/bootc/"))
        .map(|(p, b)| (p.clone(), *b))
        .collect();
    for (rel, bytes) in &blueprints {
        match blueprint(&String::from_utf8_lossy(bytes)) {
            Ok((f, k)) => {
                compare(rel, &f, &placeable, &mut problems);
                kargs.push((format!("{rel} customizations.kernel.append"), k));
            }
            Err(e) => problems.push(format!("{rel}: {e}")),
        }
    }

    if let Some((first, reference)) = kargs.first() {
        for (what, list) in &kargs[1..] {
            if list != reference {
                problems.push(format!(
                    "kernel arguments differ: {what} has [{}], {first} has [{}]",
                    list.join(" "),
                    reference.join(" ")
                ));
            }
        }
    }
    let paths = 3 + kickstarts.len() + blueprints.len();
    Outcome::from_problems(
        format!(
            "{} and {} identical across {paths} delivery paths",
            crate::text::count(root.len(), "drop-in"),
            crate::text::count(kargs.first().map_or(0, |(_, k)| k.len()), "kernel argument")
        ),
        "the delivery paths disagree",
        problems,
    )
}
