//! Every unit and drop-in through `systemd-analyze verify`. It exits 0 on
//! "Unknown key" and "Failed to parse" lines, so every line it prints about our
//! files counts as a failure. Drop-ins for units another package ships
//! (irqbalance.service, cpupower.service) are verified on a minimal stand-in of
//! that unit: what is checked is our drop-in's own keys. No unit or drop-in
//! may pull in a deprecated unit (systemd-udev-settle.service).

use std::collections::BTreeMap;
use std::process::Command;

use super::consistency::kickstart_files;
use super::{Outcome, Tree, tidy};
use crate::cmd;

const UNIT_SUFFIXES: &[&str] = &[
    ".service", ".socket", ".timer", ".path", ".target", ".mount",
];

/// Units (name -> bytes) and drop-ins (unit name -> [(file name, bytes)]) under
/// the rootfs' systemd unit folders.
type Units<'a> = (
    BTreeMap<String, Vec<u8>>,
    BTreeMap<String, Vec<(String, &'a [u8])>>,
);

fn collect(tree: &Tree) -> Units<'_> {
    let mut units = BTreeMap::new();
    let mut dropins: BTreeMap<String, Vec<(String, &[u8])>> = BTreeMap::new();
    for prefix in [
        "rootfs/usr/lib/systemd/system/",
        "rootfs/etc/systemd/system/",
    ] {
        for (rel, bytes) in tree.under(prefix) {
            let local = &rel[prefix.len()..];
            match local.split_once('/') {
                None if UNIT_SUFFIXES.iter().any(|s| local.ends_with(s)) => {
                    units.insert(local.to_string(), bytes.to_vec());
                }
                Some((dir, file))
                    if dir.ends_with(".d") && file.ends_with(".conf") && !file.contains('/') =>
                {
                    dropins
                        .entry(dir.trim_end_matches(".d").to_string())
                        .or_default()
                        .push((file.to_string(), bytes));
                }
                _ => {}
            }
        }
    }
    // Units only a kickstart's %post writes (the live spin's first-boot unit).
    for (rel, bytes) in tree.under("kickstart/") {
        if !rel.ends_with(".ks") {
            continue;
        }
        let Ok(files) = kickstart_files(&String::from_utf8_lossy(bytes)) else {
            continue;
        };
        for (path, data) in files {
            let name = ["/etc/systemd/system/", "/usr/lib/systemd/system/"]
                .iter()
                .find_map(|d| path.strip_prefix(d));
            if let Some(name) = name
                && !name.contains('/')
                && UNIT_SUFFIXES.iter().any(|s| name.ends_with(s))
                && !units.contains_key(name)
            {
                units.insert(name.to_string(), data);
            }
        }
    }
    // Units only a blueprint carries (its first-boot unit), from its file entries.
    for (rel, bytes) in tree.under("blueprint/") {
        let Ok(doc) = String::from_utf8_lossy(bytes).parse::<toml::Table>() else {
            continue;
        };
        let files = doc
            .get("customizations")
            .and_then(|c| c.get("files"))
            .and_then(|f| f.as_array());
        for f in files.into_iter().flatten() {
            let (Some(path), Some(data)) = (
                f.get("path").and_then(|p| p.as_str()),
                f.get("data").and_then(|d| d.as_str()),
            ) else {
                continue;
            };
            let Some(name) = path.strip_prefix("/etc/systemd/system/") else {
                continue;
            };
            if !name.contains('/')
                && UNIT_SUFFIXES.iter().any(|s| name.ends_with(s))
                && !units.contains_key(name)
                && rel.ends_with(".toml")
            {
                units.insert(name.to_string(), data.as_bytes().to_vec());
            }
        }
    }
    (units, dropins)
}

/// Units no unit of ours may pull in, with why.
const DEPRECATED: &[(&str, &str)] = &[(
    "systemd-udev-settle.service",
    // systemd src/udev/udevadm-settle.c, emit_deprecation_warning():
    // "systemd-udev-settle.service is deprecated. Please fix %s not to pull it in."
    "deprecated: udevadm settle logs a warning naming every unit that pulls it in, and it holds the boot until all devices are probed; start work for late devices from a udev rule (SYSTEMD_WANTS) instead",
)];

/// The dependencies that pull a unit in (systemd.unit(5)); `After=` alone
/// only orders.
const PULLING: &[&str] = &[
    "Wants",
    "Requires",
    "Requisite",
    "BindsTo",
    "Upholds",
    "WantedBy",
    "RequiredBy",
    "UpheldBy",
];

/// Lines of our units and drop-ins that pull in a deprecated unit.
fn pulls_in_deprecated(
    units: &BTreeMap<String, Vec<u8>>,
    dropins: &BTreeMap<String, Vec<(String, &[u8])>>,
) -> Vec<String> {
    let files = units
        .iter()
        .map(|(name, bytes)| (name.clone(), bytes.as_slice()))
        .chain(dropins.iter().flat_map(|(unit, files)| {
            files
                .iter()
                .map(move |(file, bytes)| (format!("{unit}.d/{file}"), *bytes))
        }));
    let mut problems = Vec::new();
    for (name, bytes) in files {
        for (n, line) in String::from_utf8_lossy(bytes).lines().enumerate() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if !PULLING.contains(&key.trim()) {
                continue;
            }
            for unit in value.split_whitespace() {
                if let Some((_, why)) = DEPRECATED.iter().find(|(d, _)| *d == unit) {
                    problems.push(format!(
                        "{name}:{}: {}= pulls in {unit}, {why}",
                        n + 1,
                        key.trim()
                    ));
                }
            }
        }
    }
    problems
}

pub fn validate(tree: &Tree) -> Outcome {
    let (units, dropins) = collect(tree);
    let deprecated = pulls_in_deprecated(&units, &dropins);
    let Some(analyze) = cmd::find("systemd-analyze") else {
        if !deprecated.is_empty() {
            return Outcome::fail("units pull in deprecated units", deprecated);
        }
        return Outcome::unavailable("systemd (systemd-analyze)");
    };
    if units.is_empty() && dropins.is_empty() {
        return Outcome::pass("no units or drop-ins in rootfs/");
    }
    let tmp = match tempfile::Builder::new()
        .prefix("rtaudio-tuning-units-")
        .tempdir()
    {
        Ok(t) => t,
        Err(e) => {
            return Outcome::fail(format!("cannot create a temporary folder: {e}"), Vec::new());
        }
    };
    let stage = || -> std::io::Result<Vec<String>> {
        let mut verify = Vec::new();
        for (name, bytes) in &units {
            std::fs::write(tmp.path().join(name), bytes)?;
            verify.push(name.clone());
        }
        for (unit, files) in &dropins {
            let dir = tmp.path().join(format!("{unit}.d"));
            std::fs::create_dir_all(&dir)?;
            for (file, bytes) in files {
                std::fs::write(dir.join(file), bytes)?;
            }
            if !units.contains_key(unit) {
                std::fs::write(
                    tmp.path().join(unit),
                    "# stand-in for the packaged unit\n[Service]\nType=oneshot\nExecStart=/bin/true\n",
                )?;
                verify.push(unit.clone());
            }
        }
        Ok(verify)
    };
    let verify = match stage() {
        Ok(v) => v,
        Err(e) => return Outcome::fail(format!("cannot stage the units: {e}"), Vec::new()),
    };
    let mut c = Command::new(&analyze);
    c.arg("verify").arg("--man=no");
    for name in &verify {
        c.arg(tmp.path().join(name));
    }
    // systemd-analyze looks for units beside the given files too; keep the host's
    // own unit folders out of the judgement of ours.
    c.current_dir(tmp.path());
    let o = match cmd::run(&mut c) {
        Ok(o) => o,
        Err(e) => return Outcome::fail(e.to_string(), Vec::new()),
    };
    let text = tidy(&o.text(), tmp.path());
    // A command missing from this host (semodule on a build host without
    // policycoreutils) says nothing about the unit: the target image has it.
    let (warnings, complaints): (Vec<String>, Vec<String>) = text
        .lines()
        .map(String::from)
        .partition(|l| l.contains("is not executable: No such file or directory"));
    let problems: Vec<String> = deprecated.into_iter().chain(complaints).collect();
    let checked = units.len() + dropins.values().map(Vec::len).sum::<usize>();
    if !o.success() && problems.is_empty() && warnings.is_empty() {
        return Outcome::fail(
            format!("systemd-analyze verify exited with {}", o.status),
            Vec::new(),
        );
    }
    Outcome::from_problems(
        format!("systemd-analyze verify: {checked} units and drop-ins, no complaints"),
        "systemd-analyze verify or the deprecated-unit rule complained",
        problems,
    )
    .with_warnings(warnings)
}
