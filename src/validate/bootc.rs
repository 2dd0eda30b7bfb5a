//! The bootc image: kargs.d files read with exactly bootc's schema
//! (containers/bootc lib/src/kargs.rs), and the Containerfile: its instructions
//! parse, it starts FROM a base and ends with `RUN bootc container lint`, what it
//! copies exists in the build context, and it never installs kernel-rt beside the
//! stock kernel (the lint fails with two kernels under /usr/lib/modules).

use serde::Deserialize;

use super::{Outcome, Tree};

/// containers/bootc `kargs::Config`, with its serde attributes.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct KargsConfig {
    kargs: Vec<String>,
    match_architectures: Option<Vec<String>>,
}

/// Where kargs.d files live in the tree: the rootfs and the bootc build context.
const KARGS_DIRS: &[&str] = &[
    "rootfs/usr/lib/bootc/kargs.d/",
    "bootc/rootfs/usr/lib/bootc/kargs.d/",
];

/// Values of Rust's `std::env::consts::ARCH`, which bootc compares
/// `match-architectures` with.
const RUST_ARCHES: &[&str] = &[
    "x86",
    "x86_64",
    "arm",
    "aarch64",
    "loongarch64",
    "m68k",
    "csky",
    "mips",
    "mips32r6",
    "mips64",
    "mips64r6",
    "powerpc",
    "powerpc64",
    "riscv32",
    "riscv64",
    "s390x",
    "sparc",
    "sparc64",
    "hexagon",
];

/// Other tools' names for an architecture, and the Rust name bootc wants.
const ARCH_ALIASES: &[(&str, &str)] = &[
    ("amd64", "x86_64"),
    ("x64", "x86_64"),
    ("arm64", "aarch64"),
    ("ppc64le", "powerpc64"),
    ("ppc64", "powerpc64"),
    ("i386", "x86"),
    ("i686", "x86"),
    ("armhfp", "arm"),
];

/// Dockerfile reference: every instruction.
const INSTRUCTIONS: &[&str] = &[
    "FROM",
    "RUN",
    "COPY",
    "ADD",
    "ARG",
    "ENV",
    "LABEL",
    "WORKDIR",
    "USER",
    "EXPOSE",
    "VOLUME",
    "ENTRYPOINT",
    "CMD",
    "SHELL",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "ONBUILD",
    "MAINTAINER",
];

const CONTAINERFILE: &str = "bootc/Containerfile";

/// One instruction: the line it starts on, its keyword (upper case), its arguments.
struct Instruction {
    line: usize,
    keyword: String,
    args: String,
}

pub fn validate(tree: &Tree) -> Outcome {
    let mut problems = Vec::new();
    let mut kargs_files = 0;
    for (rel, bytes) in &tree.files {
        let in_kargs_dir = KARGS_DIRS.iter().any(|dir| {
            rel.strip_prefix(dir)
                .is_some_and(|name| name.ends_with(".toml") && !name.contains('/'))
        });
        if in_kargs_dir {
            kargs_files += 1;
            problems.extend(check_kargs(rel, bytes));
        }
    }
    let summary = match tree.text(CONTAINERFILE) {
        Some(text) => check_containerfile(tree, text, &mut problems),
        None => {
            problems.push(format!("{CONTAINERFILE}: missing or not UTF-8"));
            String::new()
        }
    };
    let failed = format!(
        "{} problem{} in the bootc image",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    Outcome::from_problems(
        format!("{summary}; {kargs_files} kargs.d files"),
        failed,
        problems,
    )
}

fn check_kargs(rel: &str, bytes: &[u8]) -> Vec<String> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return vec![format!("{rel}: not UTF-8")];
    };
    let config: KargsConfig = match toml::from_str(text) {
        Ok(c) => c,
        Err(e) => return vec![super::blueprint::toml_error(rel, text, &e)],
    };
    let mut problems = Vec::new();
    for (i, karg) in config.kargs.iter().enumerate() {
        // bootc appends each entry to the BLS entry's options as one argument.
        let bad = if karg.is_empty() {
            Some("is empty")
        } else if karg.chars().any(char::is_whitespace) {
            Some("contains whitespace: one argument per entry")
        } else if karg.contains(['"', '\'']) {
            Some("contains a quote")
        } else if karg.chars().any(char::is_control) {
            Some("contains a control character")
        } else {
            None
        };
        if let Some(bad) = bad {
            problems.push(format!("{rel}: kargs[{i}]: {karg:?} {bad}"));
        }
    }
    if let Some(arches) = &config.match_architectures {
        if arches.is_empty() {
            problems.push(format!(
                "{rel}: match-architectures: empty, so the file applies nowhere"
            ));
        }
        for (i, arch) in arches.iter().enumerate() {
            if RUST_ARCHES.contains(&arch.as_str()) {
                continue;
            }
            let hint = ARCH_ALIASES
                .iter()
                .find(|(alias, _)| alias == arch)
                .map(|(_, rust)| format!(": use {rust:?}"))
                .unwrap_or_default();
            problems.push(format!(
                "{rel}: match-architectures[{i}]: {arch:?} is not a Rust architecture name{hint}"
            ));
        }
    }
    problems
}

/// Check the Containerfile, adding problems; returns the pass summary.
/// The bootc-image-builder config with the users.
const CONFIG: &str = "bootc/config.toml";

fn check_containerfile(tree: &Tree, text: &str, problems: &mut Vec<String>) -> String {
    // The users are in config.toml, which image-builder reads only from
    // `--blueprint` (image-builder-cli cmd/image-builder/main.go: `build`
    // takes the manifest command's flags, `--blueprint` among them): a build
    // line that leaves it out makes a disk image nobody can log in to.
    if tree.files.contains_key(CONFIG) {
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("image-builder build") && l.contains("--bootc-ref"))
            .collect();
        if lines.is_empty() {
            problems.push(format!(
                "{CONTAINERFILE}: no `image-builder build --bootc-ref` line to make the disk image with {CONFIG}'s users"
            ));
        }
        for l in lines {
            if !l
                .split_whitespace()
                .collect::<Vec<_>>()
                .windows(2)
                .any(|w| w == ["--blueprint", "config.toml"])
            {
                problems.push(format!(
                    "{CONTAINERFILE}: `{}` leaves out --blueprint config.toml: the disk image would get none of the profile's users",
                    l.trim_start_matches(['#', ' '])
                ));
            }
        }
    }
    let instructions = parse(text, problems);
    let at = |line: usize| format!("{CONTAINERFILE}:{line}");

    match instructions.iter().find(|i| i.keyword != "ARG") {
        None => problems.push(format!("{CONTAINERFILE}: no FROM instruction")),
        Some(first) if first.keyword != "FROM" => problems.push(format!(
            "{}: the first instruction (after ARG) must be FROM, not {}",
            at(first.line),
            first.keyword
        )),
        Some(_) => {}
    }

    let is_lint = |i: &Instruction| {
        i.keyword == "RUN" && {
            let w = words(&i.args);
            w.len() >= 3
                && w[..3] == ["bootc", "container", "lint"]
                && w[3..].iter().all(|flag| flag.starts_with('-'))
        }
    };
    match instructions.last() {
        Some(last) if is_lint(last) => {}
        Some(last) => {
            let lint = instructions.iter().find(|i| is_lint(i));
            problems.push(match lint {
                Some(l) => format!(
                    "{}: RUN bootc container lint must be the last instruction, so it checks the final image; {} {} follows it at line {}",
                    at(l.line),
                    last.keyword,
                    last.args,
                    last.line
                ),
                None => format!(
                    "{}: the last instruction must be RUN bootc container lint, not {} {}",
                    at(last.line),
                    last.keyword,
                    last.args
                ),
            })
        }
        None => {}
    }

    for i in instructions
        .iter()
        .filter(|i| i.keyword == "COPY" || i.keyword == "ADD")
    {
        for source in missing_sources(tree, i) {
            problems.push(format!(
                "{}: {} source {source:?} does not exist in the build context (bootc/{source})",
                at(i.line),
                i.keyword
            ));
        }
    }

    // One kernel: kernel-rt may come in only where the stock kernel goes out, in
    // the same RUN or an earlier one.
    let mut stock_removed = false;
    let mut swapped_at = None;
    for i in instructions.iter().filter(|i| i.keyword == "RUN") {
        let (removes_stock, installs_rt) = kernel_changes(&i.args);
        stock_removed |= removes_stock;
        if let Some(rt) = installs_rt {
            if stock_removed {
                swapped_at.get_or_insert(i.line);
            } else {
                problems.push(format!(
                    "{}: installs {rt} but no earlier RUN removes the stock kernel: the image would have two kernels under /usr/lib/modules, and bootc container lint fails",
                    at(i.line)
                ));
            }
        }
    }

    let kernel = match swapped_at {
        Some(line) => format!("kernel-rt replaces the stock kernel at line {line}"),
        None => "stock kernel".to_string(),
    };
    format!(
        "{CONTAINERFILE}: {} instructions, {kernel}, ends with bootc container lint",
        instructions.len()
    )
}

/// The instructions, with continuation lines (`\` at the end) joined and comment
/// and blank lines skipped, as the Dockerfile reference describes; an unknown
/// keyword is a problem.
fn parse(text: &str, problems: &mut Vec<String>) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    let mut finish = |line: usize, joined: String| {
        let joined = joined.trim();
        let (word, args) = joined
            .split_once(char::is_whitespace)
            .unwrap_or((joined, ""));
        let keyword = word.to_ascii_uppercase();
        if INSTRUCTIONS.contains(&keyword.as_str()) {
            out.push(Instruction {
                line,
                keyword,
                args: args.trim().to_string(),
            });
        } else {
            problems.push(format!(
                "{CONTAINERFILE}:{line}: unknown instruction {word:?}"
            ));
        }
    };
    for (n, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (body, continues) = match raw.trim_end().strip_suffix('\\') {
            Some(body) => (body, true),
            None => (raw, false),
        };
        let (start, mut joined) = pending.take().unwrap_or((n + 1, String::new()));
        joined.push_str(body);
        joined.push(' ');
        if continues {
            pending = Some((start, joined));
        } else {
            finish(start, joined);
        }
    }
    if let Some((start, joined)) = pending {
        finish(start, joined);
    }
    out
}

/// Shell-form arguments split on whitespace, or the strings of an exec-form
/// (JSON array) instruction.
fn words(args: &str) -> Vec<String> {
    if args.starts_with('[')
        && let Ok(list) = serde_json::from_str::<Vec<String>>(args)
    {
        return list;
    }
    args.split_whitespace().map(String::from).collect()
}

/// The sources of a COPY or ADD that match nothing under `bootc/`. Copies from
/// another stage or image (`--from=`), URLs and sources with variables are not
/// the build context's to check.
fn missing_sources(tree: &Tree, i: &Instruction) -> Vec<String> {
    let w = words(&i.args);
    if w.iter().any(|a| a.starts_with("--from=")) {
        return Vec::new();
    }
    let paths: Vec<&String> = w.iter().filter(|a| !a.starts_with("--")).collect();
    let Some((_dest, sources)) = paths.split_last() else {
        return Vec::new();
    };
    sources
        .iter()
        .filter(|s| !s.contains("://") && !s.starts_with("git@") && !s.contains('$'))
        .filter(|s| !in_context(tree, s))
        .map(|s| s.to_string())
        .collect()
}

/// Whether a source (a file, a folder or a wildcard pattern, relative to the
/// context even when written absolute) matches something under `bootc/`.
fn in_context(tree: &Tree, source: &str) -> bool {
    let pattern: Vec<&str> = source
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    tree.under("bootc/").any(|(rel, _)| {
        let parts: Vec<&str> = rel["bootc/".len()..].split('/').collect();
        parts.len() >= pattern.len()
            && pattern
                .iter()
                .zip(&parts)
                .all(|(p, c)| wildcard(p.as_bytes(), c.as_bytes()))
    })
}

/// Go's `filepath.Match` for one path component, `*` and `?` only.
fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.split_first(), name.split_first()) {
        (None, None) => true,
        (Some((b'*', rest)), _) => {
            wildcard(rest, name) || (!name.is_empty() && wildcard(pattern, &name[1..]))
        }
        (Some((b'?', rest)), Some((_, tail))) => wildcard(rest, tail),
        (Some((p, rest)), Some((c, tail))) => p == c && wildcard(rest, tail),
        _ => false,
    }
}

/// What one RUN does to kernels: whether it removes the stock kernel, and the
/// first kernel-rt package it installs. It reads each simple command of the
/// shell line: `rpm-ostree override remove ... --install PKG`, `rpm-ostree
/// install`, and dnf/dnf5/yum/microdnf `install`, `remove`/`erase` and `swap`.
/// Packages the shell computes (`"$@"` from `rpm -q ... | xargs`, `$(...)`)
/// count as the stock kernel when the same RUN names it.
fn kernel_changes(run: &str) -> (bool, Option<String>) {
    const STOCK: &[&str] = &["kernel", "kernel-core"];
    let shell = words(run).join(" ");
    // Shell words, their quotes dropped.
    fn unquoted(text: &str) -> Vec<&str> {
        text.split_whitespace()
            .map(|t| t.trim_matches(['"', '\'']))
            .collect()
    }
    let names_stock = unquoted(&shell).iter().any(|t| STOCK.contains(t));
    let mut removes_stock = false;
    let mut installs_rt = None;
    for command in shell.split(['\n', ';', '|', '&']) {
        let tokens = unquoted(command);
        let Some(start) = tokens.iter().position(|t| {
            let program = t.rsplit('/').next().unwrap_or(t);
            ["rpm-ostree", "dnf", "dnf5", "yum", "microdnf"].contains(&program)
        }) else {
            continue;
        };
        // Operands, and the packages of `--install PKG` / `--install=PKG` (as
        // `rpm-ostree override remove` takes them).
        let mut verbs: Vec<&str> = Vec::new();
        let mut installed: Vec<&str> = Vec::new();
        let mut args = tokens[start + 1..].iter();
        while let Some(arg) = args.next() {
            if *arg == "--install" {
                installed.extend(args.next());
            } else if let Some(pkg) = arg.strip_prefix("--install=") {
                installed.push(pkg);
            } else if !arg.starts_with('-') {
                verbs.push(arg);
            }
        }
        let mut removed: Vec<&str> = Vec::new();
        match verbs.as_slice() {
            ["override", "remove", pkgs @ ..] | ["remove" | "erase", pkgs @ ..] => {
                removed.extend(pkgs)
            }
            ["install", pkgs @ ..] => installed.extend(pkgs),
            ["swap", old, new, ..] => {
                removed.push(old);
                installed.push(new);
            }
            _ => {}
        }
        removes_stock |= removed
            .iter()
            .any(|p| STOCK.contains(p) || (p.contains('$') && names_stock));
        if installs_rt.is_none() {
            installs_rt = installed
                .iter()
                .find(|p| p.starts_with("kernel-rt"))
                .map(|p| p.to_string());
        }
    }
    (removes_stock, installs_rt)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::validate::Status;

    /// A rendered Containerfile (examples/isolated.toml), comments shortened.
    const RENDERED: &str = r#"# bootc image for profile "mixer": Fedora 44 (x86_64), kernel-rt (PREEMPT_RT).
FROM quay.io/fedora/fedora-bootc:44

# The drop-ins, the kernel-rt repository among them.
COPY rootfs/ /

# One kernel per image (bootc container lint fails with two): swap the stock
# kernel packages that are installed for kernel-rt.
RUN rpm -qa --qf '%{NAME}\n' kernel kernel-core kernel-modules kernel-modules-core kernel-modules-extra | \
    xargs sh -c 'rpm-ostree override remove "$@" --install kernel-rt-core --install kernel-rt-modules' sh

RUN dnf -y install irqbalance kernel-tools jack-audio-connection-kit && \
    dnf clean all

RUN systemd-sysusers

RUN systemctl enable irqbalance.service cpupower.service rtaudio-irq-priority.service && \
    systemctl mask tuned.service tuned-ppd.service power-profiles-daemon.service

RUN bootc container lint
# A disk image: image-builder build --bootc-ref localhost/mixer:latest --blueprint config.toml qcow2
"#;

    /// The RUN that swaps the kernel, lines 9-10 of `RENDERED`.
    const SWAP: &str = r#"RUN rpm -qa --qf '%{NAME}\n' kernel kernel-core kernel-modules kernel-modules-core kernel-modules-extra | \
    xargs sh -c 'rpm-ostree override remove "$@" --install kernel-rt-core --install kernel-rt-modules' sh
"#;

    const KARGS: &str = r#"# Kernel arguments for bootc images.
kargs = ["intel_pstate=disable", "threadirqs", "nosoftlockup", "skew_tick=1", "isolcpus=managed_irq,domain,2-3", "nohz_full=2-3", "rcu_nocbs=2-3"]
"#;

    /// The users' config is in the tree when the Containerfile's build line
    /// names it, as the render writes it.
    fn tree(containerfile: &str, kargs: &str) -> Tree {
        let with_users = containerfile.contains("--blueprint config.toml");
        let files = [
            ("bootc/Containerfile", containerfile),
            (
                "bootc/config.toml",
                "[[customizations.user]]\nname = \"mixer\"\n",
            ),
            (
                "bootc/rootfs/etc/yum.repos.d/rtaudio-tuning-kernel-rt.repo",
                "[rt]\n",
            ),
            (
                "bootc/rootfs/usr/lib/bootc/kargs.d/50-rtaudio-tuning.toml",
                kargs,
            ),
            ("rootfs/usr/lib/bootc/kargs.d/50-rtaudio-tuning.toml", kargs),
        ];
        let files = files
            .into_iter()
            .filter(|(p, _)| with_users || *p != "bootc/config.toml")
            .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()));
        Tree::from_files(Path::new("/t"), files.collect::<BTreeMap<_, _>>())
    }

    fn passes(containerfile: &str, kargs: &str) {
        let out = validate(&tree(containerfile, kargs));
        assert_eq!(
            out.status,
            Status::Pass,
            "{containerfile}\n{kargs}\n{out:?}"
        );
    }

    fn fails_with(containerfile: &str, kargs: &str, needle: &str) {
        let out = validate(&tree(containerfile, kargs));
        assert_eq!(out.status, Status::Fail, "{out:?}");
        assert!(
            out.details.iter().any(|d| d.contains(needle)),
            "no {needle:?} in {out:?}"
        );
    }

    #[test]
    fn rendered_image_passes() {
        let out = validate(&tree(RENDERED, KARGS));
        assert_eq!(out.status, Status::Pass, "{out:?}");
        assert_eq!(
            out.summary,
            "bootc/Containerfile: 7 instructions, kernel-rt replaces the stock kernel at line 9, ends with bootc container lint; 2 kargs.d files"
        );
        // The stock-kernel image (the default profile).
        passes(&RENDERED.replace(SWAP, ""), KARGS);
    }

    #[test]
    fn kargs_files_have_exactly_bootcs_schema() {
        fails_with(
            RENDERED,
            &format!("{KARGS}delete = [\"quiet\"]\n"),
            "unknown field `delete`",
        );
        fails_with(RENDERED, "karg = [\"quiet\"]\n", "did you mean `kargs`?");
        fails_with(
            RENDERED,
            "match-architectures = [\"x86_64\"]\n",
            "missing field `kargs`",
        );
        fails_with(
            RENDERED,
            "kargs = \"quiet\"\n",
            "50-rtaudio-tuning.toml:1: invalid type",
        );
        let arches = format!("{KARGS}match-architectures = [\"x86_64\", \"amd64\"]\n");
        fails_with(
            RENDERED,
            &arches,
            "match-architectures[1]: \"amd64\" is not a Rust architecture name: use \"x86_64\"",
        );
        fails_with(
            RENDERED,
            &format!("{KARGS}match-architectures = []\n"),
            "applies nowhere",
        );
        passes(
            RENDERED,
            &format!("{KARGS}match-architectures = [\"x86_64\", \"aarch64\"]\n"),
        );
    }

    #[test]
    fn each_karg_is_one_token() {
        fails_with(
            RENDERED,
            "kargs = [\"quiet splash\"]\n",
            "kargs[0]: \"quiet splash\" contains whitespace",
        );
        fails_with(
            RENDERED,
            "kargs = [\"a\", \"\"]\n",
            "kargs[1]: \"\" is empty",
        );
        fails_with(RENDERED, "kargs = ['x=\"y\"']\n", "contains a quote");
        fails_with(RENDERED, "kargs = [\"x\\u0007\"]\n", "control character");
    }

    #[test]
    fn instructions_parse() {
        fails_with(
            &RENDERED.replace("COPY rootfs/ /", "COPPY rootfs/ /"),
            KARGS,
            "bootc/Containerfile:5: unknown instruction \"COPPY\"",
        );
        // Lower case keywords are instructions too.
        passes(&RENDERED.replace("COPY rootfs/", "copy rootfs/"), KARGS);
        fails_with(
            &format!("LABEL a=b\n{RENDERED}"),
            KARGS,
            "Containerfile:1: the first instruction (after ARG) must be FROM, not LABEL",
        );
        passes(&format!("ARG V=44\n{RENDERED}"), KARGS);
    }

    #[test]
    fn lint_is_last() {
        fails_with(
            &format!("{RENDERED}LABEL a=b\n"),
            KARGS,
            "Containerfile:20: RUN bootc container lint must be the last instruction",
        );
        fails_with(
            &RENDERED.replace("RUN bootc container lint", "RUN bootc container build"),
            KARGS,
            "the last instruction must be RUN bootc container lint",
        );
        passes(
            &RENDERED.replace("container lint", "container lint --fatal-warnings"),
            KARGS,
        );
        passes(
            &RENDERED.replace(
                "RUN bootc container lint",
                "RUN [\"bootc\", \"container\", \"lint\"]",
            ),
            KARGS,
        );
    }

    #[test]
    fn copied_sources_exist() {
        let out = validate(&tree(
            &RENDERED.replace("COPY rootfs/ /", "COPY rootfs/ overlay/ /"),
            KARGS,
        ));
        assert_eq!(
            out.details,
            [
                "bootc/Containerfile:5: COPY source \"overlay/\" does not exist in the build context (bootc/overlay/)"
            ]
        );
        fails_with(
            &RENDERED.replace("COPY rootfs/ /", "COPY kernel-rt.repo /etc/yum.repos.d/"),
            KARGS,
            "COPY source \"kernel-rt.repo\"",
        );
        fails_with(
            &RENDERED.replace("COPY rootfs/ /", "COPY *.rpm /tmp/"),
            KARGS,
            "\"*.rpm\"",
        );
        for fine in [
            "COPY --chmod=0644 ./rootfs/etc/yum.repos.d/rtaudio-tuning-kernel-rt.repo /etc/yum.repos.d/",
            "COPY rootfs/etc/yum.repos.d/*.repo /etc/yum.repos.d/",
            "ADD https://example.org/x.repo /etc/",
            "COPY --from=builder /out /usr/",
            "COPY [\"rootfs/\", \"/\"]",
            "COPY . /src/",
        ] {
            passes(&RENDERED.replace("COPY rootfs/ /", fine), KARGS);
        }
    }

    #[test]
    fn one_kernel() {
        // Installing kernel-rt beside the stock kernel.
        let beside = RENDERED.replace(
            "rpm-ostree override remove \"$@\" --install",
            "rpm-ostree install",
        );
        fails_with(
            &beside,
            KARGS,
            "Containerfile:9: installs kernel-rt-modules but no earlier RUN removes the stock kernel",
        );
        let dnf = RENDERED
            .replace(SWAP, "")
            .replace("jack-audio-connection-kit", "kernel-rt");
        fails_with(&dnf, KARGS, "Containerfile:10: installs kernel-rt but");
        // Packages computed by the shell count only when the RUN names the kernel.
        let other = SWAP.replace(" kernel kernel-core", "");
        fails_with(
            &RENDERED.replace(SWAP, &other),
            KARGS,
            "installs kernel-rt-core",
        );
        // The packages written out, a dnf swap, or a removal in an earlier RUN.
        passes(
            "FROM x\nRUN rpm-ostree override remove kernel kernel-core kernel-modules \\\n    --install kernel-rt-core\nRUN bootc container lint\n",
            KARGS,
        );
        fails_with(
            "FROM x\nRUN rpm-ostree override remove kernel-modules-extra --install kernel-rt-core\nRUN bootc container lint\n",
            KARGS,
            "Containerfile:2: installs kernel-rt-core",
        );
        passes(
            "FROM x\nRUN dnf -y swap kernel-core kernel-rt-core\nRUN bootc container lint\n",
            KARGS,
        );
        passes(
            "FROM x\nRUN dnf -y remove kernel kernel-core\nRUN dnf -y install kernel-rt && dnf clean all\nRUN bootc container lint\n",
            KARGS,
        );
        fails_with(
            "FROM x\nRUN dnf -y install kernel-rt\nRUN dnf -y remove kernel\nRUN bootc container lint\n",
            KARGS,
            "Containerfile:2: installs kernel-rt",
        );
    }

    #[test]
    fn wildcards_match_one_component() {
        assert!(wildcard(b"*.repo", b"kernel-rt.repo"));
        assert!(wildcard(b"k?rnel*", b"kernel-rt.repo"));
        assert!(!wildcard(b"*.rpm", b"kernel-rt.repo"));
    }
}
