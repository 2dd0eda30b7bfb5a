//! The live spin kickstart (`kickstart/*-live.ks`) against what its consumers
//! need, as the references build theirs (lorax `docs/fedora-livemedia.ks`,
//! fedora-kickstarts `fedora-live-base.ks`):
//!
//! - livesys-scripts' `livesys` and `livesys-late` are enabled: they create the
//!   live user; without them the ISO stops at a login nobody can pass.
//! - one kernel: lorax's `findkernels()` (`src/pylorax/treebuilder.py`) puts
//!   every kernel it matches on the same `images/pxeboot/vmlinuz`, and
//!   Anaconda adds `kernel` itself unless `-kernel` is listed
//!   (`pyanaconda/modules/payloads/payload/dnf/utils.py`, `get_kernel_package`).
//! - the references' package set; no `syslinux` or `memtest86+`, which lorax's
//!   templates no longer use.
//! - `%post` empties `/etc/machine-id` (every machine booted from the ISO
//!   would share one) and drops the rescue kernel.
//! - an EL target gets none: anaconda.spec builds `anaconda-live` only for
//!   Fedora and ELN (`%bcond live %[%{defined fedora} || %{defined eln}]`).

use super::{Outcome, Tree};

/// What a live image's `%packages` must hold (lorax `docs/fedora-livemedia.ks`).
const REQUIRED: &[&str] = &[
    "@anaconda-tools",
    "anaconda",
    "anaconda-install-env-deps",
    "anaconda-live",
    "dracut-live",
    "dracut-config-generic",
    "glibc-all-langpacks",
    "livesys-scripts",
];

/// What lorax's live templates no longer use.
const OBSOLETE: &[&str] = &["syslinux", "memtest86+"];

/// The units livesys-scripts ships, which the image must enable.
const LIVESYS_UNITS: &[&str] = &["livesys", "livesys-late"];

pub fn validate(tree: &Tree) -> Outcome {
    let live: Vec<(&str, &[u8])> = tree
        .under("kickstart/")
        .filter(|(p, _)| p.ends_with("-live.ks"))
        .collect();
    if live.is_empty() {
        return Outcome::pass("no live spin kickstart in the tree (nothing to check)");
    }
    let mut problems = Vec::new();
    for (rel, bytes) in &live {
        match std::str::from_utf8(bytes) {
            Ok(text) => problems.extend(check(text).into_iter().map(|p| format!("{rel}: {p}"))),
            Err(_) => problems.push(format!("{rel}: not UTF-8 text")),
        }
    }
    let names: Vec<&str> = live.iter().map(|(p, _)| *p).collect();
    Outcome::from_problems(
        format!(
            "{} enables livesys and livesys-late, holds one kernel and the references' live packages, resets machine-id",
            names.join(", ")
        ),
        format!("{} problem(s) in the live spin kickstart", problems.len()),
        problems,
    )
}

/// The problems of one live kickstart.
pub fn check(ks: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let sections = Sections::of(ks);
    if let Some(version) = ks
        .lines()
        .find_map(|l| l.strip_prefix("#version="))
        .map(str::trim)
        .filter(|v| v.starts_with("RHEL"))
    {
        problems.push(format!(
            "#version={version}: an EL target has no anaconda-live (anaconda.spec builds it for Fedora and ELN only) and no livesys-scripts, so livemedia-creator cannot build this spin; use the installation kickstart (mkksiso --ks) or the bootc image instead"
        ));
    }
    let (include, exclude) = packages(&sections.packages);
    for name in REQUIRED {
        if !include.iter().any(|p| p == name) {
            problems.push(format!(
                "%packages: {name} is missing (lorax docs/fedora-livemedia.ks lists it for a live image)"
            ));
        }
    }
    for name in OBSOLETE {
        if include.iter().any(|p| p == name) {
            problems.push(format!(
                "%packages: {name} is listed; lorax's live templates no longer use it: drop it"
            ));
        }
    }
    let kernels = kernels(&include, &exclude);
    if kernels.len() != 1 {
        problems.push(format!(
            "%packages: a live image holds one kernel; this one holds {} ({}): lorax puts each on images/pxeboot/vmlinuz; list one and exclude the others (Anaconda adds kernel unless -kernel is listed)",
            kernels.len(),
            if kernels.is_empty() { "none".to_string() } else { kernels.join(", ") }
        ));
    }
    let enabled = enabled_units(ks, &sections.post);
    for unit in LIVESYS_UNITS {
        if !enabled.iter().any(|u| u == unit) {
            problems.push(format!(
                "{unit}.service is not enabled (services --enabled= or systemctl enable in %post): without it the live image has no live user"
            ));
        }
    }
    if !resets_machine_id(&sections.post) {
        problems.push(
            "%post does not empty /etc/machine-id (rm -f /etc/machine-id; touch /etc/machine-id): every machine booted from the image would share one".into(),
        );
    }
    if !sections
        .post
        .iter()
        .any(|l| words(l).first() == Some(&"rm") && l.contains("/boot/") && l.contains("rescue"))
    {
        problems.push(
            "%post does not remove the rescue kernel (rm -f /boot/*-rescue*): installations recreate it".into(),
        );
    }
    problems
}

/// The lines of the kickstart's `%packages` and `%post` sections.
#[derive(Default)]
struct Sections<'a> {
    packages: Vec<&'a str>,
    post: Vec<&'a str>,
}

impl<'a> Sections<'a> {
    fn of(ks: &'a str) -> Self {
        let mut s = Sections::default();
        let mut current: Option<&mut Vec<&'a str>> = None;
        for line in ks.lines() {
            let t = line.trim();
            if t.starts_with("%end") {
                current = None;
            } else if t.starts_with("%packages") {
                current = Some(&mut s.packages);
            } else if t.starts_with("%post") {
                // %post --nochroot runs on the build host, not in the image.
                current = (!t.contains("--nochroot")).then_some(&mut s.post);
            } else if t.starts_with('%') && !t.starts_with("%include") {
                current = None;
            } else if let Some(c) = current.as_mut() {
                c.push(t);
            }
        }
        s
    }
}

/// The names `%packages` includes and excludes (`-name`), without comments.
fn packages(lines: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    for l in lines {
        let l = l.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        match l.strip_prefix('-') {
            Some(x) => exclude.push(x.to_string()),
            None => include.push(l.to_string()),
        }
    }
    (include, exclude)
}

/// The kernels the image ends up with: each kernel package listed (its
/// `-core` counts as the same kernel), plus `kernel`, which Anaconda adds
/// unless it is excluded; less the excluded ones.
fn kernels(include: &[String], exclude: &[String]) -> Vec<String> {
    let mut out: Vec<String> = include.iter().filter_map(|p| kernel_of(p)).collect();
    if !exclude.iter().any(|p| p == "kernel") {
        out.push("kernel".into());
    }
    out.retain(|k| !exclude.iter().any(|p| p == k));
    out.sort();
    out.dedup();
    out
}

/// The kernel a package is (`kernel`, `kernel-rt`, `kernel-rt-core` is
/// `kernel-rt`), or None for a kernel's modules, tools, headers and the like.
fn kernel_of(package: &str) -> Option<String> {
    let rest = package.strip_prefix("kernel")?;
    let parts: Vec<&str> = rest.split('-').skip(1).collect();
    if !rest.is_empty() && !rest.starts_with('-') {
        return None;
    }
    // Subpackages that carry no kernel image.
    const NOT_A_KERNEL: &[&str] = &[
        "modules",
        "devel",
        "headers",
        "tools",
        "doc",
        "abi",
        "srpm",
        "cross",
        "uki",
        "selftests",
        "debuginfo",
        "kvm",
        "ipaclones",
        "livepatch",
        "bootcfg",
    ];
    if parts.iter().any(|p| NOT_A_KERNEL.contains(p)) {
        return None;
    }
    let flavor: Vec<&str> = parts.into_iter().filter(|p| *p != "core").collect();
    Some(
        std::iter::once("kernel")
            .chain(flavor)
            .collect::<Vec<_>>()
            .join("-"),
    )
}

/// Units enabled by `services --enabled=` or by `systemctl enable` in %post,
/// without their `.service` suffix.
fn enabled_units(ks: &str, post: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let strip = |u: &str| u.trim_matches('"').trim_end_matches(".service").to_string();
    for l in ks.lines() {
        let w = words(l);
        if w.first() == Some(&"services") {
            for arg in &w[1..] {
                if let Some(list) = arg.strip_prefix("--enabled=") {
                    out.extend(list.trim_matches('"').split(',').map(strip));
                }
            }
        }
    }
    for l in post {
        let w = words(l);
        if let [cmd, rest @ ..] = w.as_slice()
            && cmd.ends_with("systemctl")
            && let Some(i) = rest.iter().position(|a| *a == "enable")
        {
            out.extend(
                rest[i + 1..]
                    .iter()
                    .filter(|a| !a.starts_with('-'))
                    .map(|a| strip(a)),
            );
        }
    }
    out
}

/// Whether %post empties /etc/machine-id: removes it and creates it again
/// empty, or truncates it.
fn resets_machine_id(post: &[&str]) -> bool {
    const ID: &str = "/etc/machine-id";
    let names = |l: &&str| words(l).contains(&ID);
    let removed = post
        .iter()
        .position(|l| names(l) && words(l).first() == Some(&"rm"));
    let recreated = |from: usize| {
        post[from..]
            .iter()
            .any(|l| names(l) && words(l).first() == Some(&"touch"))
    };
    removed.is_some_and(|i| recreated(i + 1))
        || post.iter().any(|l| {
            let w = words(l);
            names(l)
                && (w.first() == Some(&"truncate")
                    || matches!(w.as_slice(), [":", ">", _] | [">", _])
                    || l.trim_start().starts_with(": >"))
        })
}

fn words(line: &str) -> Vec<&str> {
    line.split('#')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_packages_name_their_kernel() {
        assert_eq!(kernel_of("kernel").as_deref(), Some("kernel"));
        assert_eq!(kernel_of("kernel-core").as_deref(), Some("kernel"));
        assert_eq!(kernel_of("kernel-rt").as_deref(), Some("kernel-rt"));
        assert_eq!(kernel_of("kernel-rt-core").as_deref(), Some("kernel-rt"));
        assert_eq!(kernel_of("kernel-64k").as_deref(), Some("kernel-64k"));
        for not in [
            "kernel-modules",
            "kernel-rt-modules-extra",
            "kernel-tools",
            "kernel-headers",
            "kernelshark",
        ] {
            assert_eq!(kernel_of(not), None, "{not}");
        }
    }

    #[test]
    fn anaconda_adds_kernel_unless_excluded() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(kernels(&s(&["kernel-rt"]), &[]), ["kernel", "kernel-rt"]);
        assert_eq!(kernels(&s(&["kernel-rt"]), &s(&["kernel"])), ["kernel-rt"]);
        assert_eq!(kernels(&s(&["kernel-modules"]), &[]), ["kernel"]);
    }

    #[test]
    fn machine_id_is_reset_only_when_emptied() {
        assert!(resets_machine_id(&[
            "rm -f /etc/machine-id",
            "touch /etc/machine-id"
        ]));
        assert!(resets_machine_id(&["truncate -s 0 /etc/machine-id"]));
        assert!(!resets_machine_id(&[
            "touch /etc/machine-id",
            "rm -f /etc/machine-id"
        ]));
        assert!(!resets_machine_id(&["cat /etc/machine-id"]));
    }
}
