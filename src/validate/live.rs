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
//! - no `bootloader --append`: livemedia-creator installs with `--dirinstall`,
//!   where Anaconda skips the boot loader (pyanaconda
//!   `modules/storage/installation.py`: the boot loader tasks are left out
//!   when `conf.target.is_directory`), and Anaconda's live install builds the
//!   new system's arguments from its own list (`bootloader/base.py`
//!   `collect_arguments`; only `preserved_arguments` come from the live boot)
//!   and rewrites `/etc/default/grub` whole (`bootloader/grub2.py`
//!   `write_defaults`), so neither the ISO nor its installs get them.
//! - instead, when the installation kickstart beside it has kernel arguments,
//!   `%post` writes and enables a unit that adds every one of them with
//!   `grubby --update-kernel=ALL --args=` (grubby-bls writes
//!   GRUB_CMDLINE_LINUX, `/etc/kernel/cmdline` and every boot entry, so
//!   kernels installed later keep them), skipped in the live session
//!   (`ConditionKernelCommandLine=!rd.live.image`: lorax's live boot menus
//!   carry `rd.live.image`) and run once (a `ConditionPathExists=!` stamp).

use super::consistency::{kickstart_files, kickstart_kargs};
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
        return Outcome::not_applicable("no live spin kickstart in the tree");
    }
    let mut problems = Vec::new();
    for (rel, bytes) in &live {
        let Ok(text) = std::str::from_utf8(bytes) else {
            problems.push(format!("{rel}: not UTF-8 text"));
            continue;
        };
        problems.extend(check(text).into_iter().map(|p| format!("{rel}: {p}")));
        // The installation kickstart beside it says which kernel arguments
        // the profile wants.
        let install = rel.replace("-live.ks", ".ks");
        let wanted = match tree.text(&install).map(kickstart_kargs) {
            Some(Ok(k)) => k,
            Some(Err(e)) => {
                problems.push(format!("{install}: {e}"));
                continue;
            }
            None => Vec::new(),
        };
        problems.extend(
            check_kargs(text, &wanted)
                .into_iter()
                .map(|p| format!("{rel}: {p}")),
        );
    }
    let names: Vec<&str> = live.iter().map(|(p, _)| *p).collect();
    Outcome::from_problems(
        format!(
            "{} enables livesys and livesys-late, holds one kernel and the references' live packages, resets machine-id, gives its installs the kernel arguments at first boot",
            names.join(", ")
        ),
        format!(
            "{} in the live spin kickstart",
            crate::text::count(problems.len(), "problem")
        ),
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

/// What keeps the kernel arguments `wanted` (the installation kickstart's)
/// from reaching systems installed from the live spin `ks`.
pub fn check_kargs(ks: &str, wanted: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(line) = ks
        .lines()
        .find(|l| words(l).first() == Some(&"bootloader") && l.contains("--append"))
    {
        problems.push(format!(
            "`{}`: bootloader --append does nothing in a live spin (livemedia-creator installs with --dirinstall, where Anaconda skips the boot loader, and Anaconda's live install writes the new system's arguments from its own list); drop it, pass livemedia-creator --extra-boot-args for the live session and add the arguments to installed systems with a first-boot grubby unit",
            line.trim()
        ));
    }
    if wanted.is_empty() {
        return problems;
    }
    let files = match kickstart_files(ks) {
        Ok(f) => f,
        Err(e) => {
            problems.push(e);
            return problems;
        }
    };
    let units: Vec<(&str, String, Vec<String>)> = files
        .iter()
        .filter(|(path, _)| path.contains("/systemd/system/") && path.ends_with(".service"))
        .filter_map(|(path, bytes)| {
            let text = String::from_utf8_lossy(bytes).into_owned();
            let args = grubby_args(&text)?;
            Some((path.rsplit('/').next().unwrap_or(path), text, args))
        })
        .collect();
    let fix = "write a unit in %post that runs `grubby --update-kernel=ALL \"--args=...\"` with ConditionKernelCommandLine=!rd.live.image and a ConditionPathExists=! stamp, and enable it";
    let Some((unit, text, args)) = units.first() else {
        problems.push(format!(
            "no first-boot unit adds the kernel arguments ({}) to systems installed from the spin: {fix}",
            wanted.join(" ")
        ));
        return problems;
    };
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|a| !args.contains(a))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{unit}: grubby --args leaves out {} of the installation kickstart's kernel arguments",
            missing.join(" ")
        ));
    }
    let conditions: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ConditionKernelCommandLine="))
        .collect();
    if !conditions.iter().any(|c| c.trim() == "!rd.live.image") {
        problems.push(format!(
            "{unit}: no ConditionKernelCommandLine=!rd.live.image: it would change the live session's boot entries instead of waiting for an installed system"
        ));
    }
    if !text
        .lines()
        .any(|l| l.trim().starts_with("ConditionPathExists=!"))
    {
        problems.push(format!(
            "{unit}: no ConditionPathExists=! stamp: it would add the arguments at every boot, back over an admin who removed one"
        ));
    }
    let sections = Sections::of(ks);
    let name = unit.trim_end_matches(".service");
    if !enabled_units(ks, &sections.post).iter().any(|u| u == name) {
        problems.push(format!(
            "{unit} is not enabled (services --enabled= or systemctl enable in %post): it never runs"
        ));
    }
    problems
}

/// The kernel arguments a unit adds with `grubby --update-kernel=ALL
/// --args=...` in an `ExecStart=`, if it does.
pub fn grubby_args(unit: &str) -> Option<Vec<String>> {
    unit.lines().find_map(|l| {
        let command = l.trim().strip_prefix("ExecStart=")?;
        let w = unquote(command);
        let program = w.first()?.trim_start_matches(['-', '@', ':', '+', '!']);
        if program.rsplit('/').next() != Some("grubby") {
            return None;
        }
        let all = w
            .windows(2)
            .any(|p| p[0] == "--update-kernel" && p[1] == "ALL")
            || w.iter().any(|a| a == "--update-kernel=ALL");
        let args = w
            .iter()
            .enumerate()
            .find_map(|(i, a)| match a.strip_prefix("--args") {
                Some(rest) if rest.starts_with('=') => Some(rest[1..].to_string()),
                Some("") => w.get(i + 1).cloned(),
                _ => None,
            })?;
        all.then(|| args.split_whitespace().map(String::from).collect())
    })
}

/// A command line split into words as systemd splits `ExecStart=`: on white
/// space, with double and single quotes grouping (systemd.service(5)).
fn unquote(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The kernel arguments the first-boot unit of a live spin adds to systems
/// installed from it: none when it has no such unit.
pub fn first_boot_kargs(ks: &str) -> Result<Vec<String>, String> {
    Ok(kickstart_files(ks)?
        .values()
        .find_map(|b| grubby_args(&String::from_utf8_lossy(b)))
        .unwrap_or_default())
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
    fn grubby_lines_are_read_as_systemd_splits_them() {
        let unit = |exec: &str| format!("[Service]\nExecStart={exec}\n");
        let args = |exec: &str| grubby_args(&unit(exec));
        assert_eq!(
            args("/usr/sbin/grubby --update-kernel=ALL \"--args=a b=1\"").unwrap(),
            ["a", "b=1"]
        );
        assert_eq!(
            args("-grubby --update-kernel ALL --args 'threadirqs'").unwrap(),
            ["threadirqs"]
        );
        // Not every kernel, or not grubby.
        assert_eq!(
            args("/usr/sbin/grubby --update-kernel=DEFAULT --args=a"),
            None
        );
        assert_eq!(
            args("/usr/bin/echo grubby --update-kernel=ALL --args=a"),
            None
        );
    }

    fn live_ks(unit: &str, enable: bool) -> String {
        format!(
            "bootloader --location=none\n%post\ncat >/etc/systemd/system/k.service <<'EOF'\n{unit}EOF\n{}%end\n",
            if enable {
                "systemctl enable k.service\n"
            } else {
                ""
            }
        )
    }

    const GOOD_UNIT: &str = "[Unit]\nConditionKernelCommandLine=!rd.live.image\nConditionPathExists=!/var/lib/x/done\n[Service]\nType=oneshot\nExecStart=/usr/sbin/grubby --update-kernel=ALL \"--args=threadirqs preempt=full\"\n";

    #[test]
    fn installs_from_the_spin_get_every_kernel_argument() {
        let wanted = ["threadirqs".to_string(), "preempt=full".to_string()];
        assert_eq!(
            check_kargs(&live_ks(GOOD_UNIT, true), &wanted),
            Vec::<String>::new()
        );
        let one = |p: Vec<String>, want: &str| {
            assert_eq!(p.len(), 1, "{p:?}");
            assert!(p[0].contains(want), "{want}: {p:?}");
        };
        one(
            check_kargs(&live_ks(GOOD_UNIT, false), &wanted),
            "k.service is not enabled",
        );
        one(
            check_kargs(
                &live_ks(&GOOD_UNIT.replace(" preempt=full", ""), true),
                &wanted,
            ),
            "leaves out preempt=full",
        );
        one(
            check_kargs(
                &live_ks(&GOOD_UNIT.replace("!rd.live.image", "rd.live.image"), true),
                &wanted,
            ),
            "no ConditionKernelCommandLine=!rd.live.image",
        );
        one(
            check_kargs(
                &live_ks(
                    &GOOD_UNIT.replace("ConditionPathExists=!/var/lib/x/done\n", ""),
                    true,
                ),
                &wanted,
            ),
            "no ConditionPathExists=! stamp",
        );
        one(
            check_kargs("bootloader --location=none --append=\"threadirqs\"\n", &[]),
            "bootloader --append does nothing in a live spin",
        );
        one(
            check_kargs("bootloader --location=none\n", &wanted),
            "no first-boot unit adds the kernel arguments (threadirqs preempt=full)",
        );
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
