//! `check`: is this machine (or a captured one, `--root`) ready for realtime
//! audio, and if not, why? Every check rtcqs performs, plus what a profile
//! makes knowable. Each check has an id, a status, the evidence it read and
//! the command that fixes it. The checks are the entries of [`CHECKS`], each
//! written in the file of its group (user.rs, limits.rs, ...).

pub mod audio;
mod context;
mod cpu;
mod irq;
mod kernel;
mod limits;
pub mod machine;
pub mod parse;
mod probe;
mod profile;
mod resolve;
mod system;
mod user;

use std::path::Path;

use serde::Serialize;

use crate::profile::Profile;
pub use machine::Machine;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub enum Status {
    #[serde(rename = "pass")]
    Pass,
    #[serde(rename = "warn")]
    Warn,
    #[serde(rename = "fail")]
    Fail,
    /// The check does not apply here (no cpufreq in a VM, no profile given),
    /// or could not look (a file missing from a capture): the evidence says which.
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::NotApplicable => "n/a",
        }
    }

    pub fn style(self) -> anstyle::Style {
        use crate::console::style;
        match self {
            Status::Pass => style::GOOD,
            Status::Warn => style::WARNING,
            Status::Fail => style::ERROR,
            Status::NotApplicable => style::DIM,
        }
    }
}

/// One check's verdict. The JSON schema is this struct's fields.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Check {
    /// Stable, dotted: `kernel.preempt`, `limits.rtprio`, ...
    pub id: &'static str,
    /// For grouping in text output: user, limits, cpu, kernel, irq, system, profile.
    pub group: &'static str,
    pub status: Status,
    /// One sentence: what was found.
    pub summary: String,
    /// What was read to decide: file contents, values, command results.
    pub evidence: Vec<String>,
    /// The command or change that fixes a warn or fail.
    pub fix: Option<String>,
}

/// What one check found; [`Entry::run`] gives it its id and group.
pub(crate) struct Verdict {
    pub status: Status,
    pub summary: String,
    pub evidence: Vec<String>,
    pub fix: Option<String>,
}

impl Verdict {
    fn new(status: Status, summary: impl Into<String>) -> Verdict {
        Verdict {
            status,
            summary: summary.into(),
            evidence: Vec::new(),
            fix: None,
        }
    }

    fn evidence(mut self, e: impl Into<String>) -> Verdict {
        self.evidence.push(e.into());
        self
    }

    fn fix(mut self, f: impl Into<String>) -> Verdict {
        self.fix = Some(f.into());
        self
    }
}

// The check ids: stable, they name the checks in the JSON, in `--only` and
// `--skip`, and in vm-test's verdict.
pub const USER_ROOT: &str = "user.root";
pub const USER_GROUP: &str = "user.group";
pub const LIMITS_RTPRIO: &str = "limits.rtprio";
pub const LIMITS_MEMLOCK: &str = "limits.memlock";
pub const RT_SCHED_FIFO: &str = "rt.sched_fifo";
pub const RT_MLOCKALL: &str = "rt.mlockall";
pub const LIMITS_USER_MANAGER: &str = "limits.user_manager";
pub const AUDIO_SERVER_RT: &str = "audio.server_rt";
pub const AUDIO_RTKIT: &str = "audio.rtkit";
pub const AUDIO_SETTINGS: &str = "audio.settings";
pub const POWER_HDA: &str = "power.hda_power_save";
pub const POWER_USB: &str = "power.usb_autosuspend";
pub const CPU_GOVERNOR: &str = "cpu.governor";
pub const CPU_CONFLICTS: &str = "cpu.conflicts";
pub const CPU_SMT: &str = "cpu.smt";
pub const KERNEL_CONFIG: &str = "kernel.config";
pub const KERNEL_HRTIMERS: &str = "kernel.hrtimers";
pub const KERNEL_TICKLESS: &str = "kernel.tickless";
pub const KERNEL_PREEMPT: &str = "kernel.preempt";
pub const KERNEL_MITIGATIONS: &str = "kernel.mitigations";
pub const IRQ_SHARED: &str = "irq.shared";
pub const VM_SWAPPINESS: &str = "vm.swappiness";
pub const FS_MOUNTS: &str = "fs.mounts";
pub const PM_CPU_DMA_LATENCY: &str = "pm.cpu_dma_latency";
pub const SELINUX_MODE: &str = "selinux.mode";
pub const SELINUX_DENIALS: &str = "selinux.denials";
pub const OS_RELEASE: &str = "os.release";
pub const PROFILE_KARGS: &str = "profile.kargs";
pub const PROFILE_KARGS_EFFECT: &str = "profile.kargs_effect";
pub const PROFILE_IRQBALANCE: &str = "profile.irqbalance";
pub const PROFILE_IRQ_PRIORITY: &str = "profile.irq_priority";
pub const PROFILE_SYSCTL: &str = "profile.sysctl";
pub const PROFILE_DROPINS: &str = "profile.dropins";

/// One check of the registry.
pub struct Entry {
    pub id: &'static str,
    /// For grouping in text output; `--only GROUP` selects its checks.
    pub group: &'static str,
    /// What it checks, for `check --list`.
    pub description: &'static str,
    /// It compares the machine with a profile, so it runs only with `--profile`.
    pub needs_profile: bool,
    judge: fn(&context::Context) -> Verdict,
}

impl Entry {
    fn run(&self, cx: &context::Context) -> Check {
        let v = (self.judge)(cx);
        Check {
            id: self.id,
            group: self.group,
            status: v.status,
            summary: v.summary,
            evidence: v.evidence,
            fix: v.fix,
        }
    }
}

const fn machine(
    id: &'static str,
    group: &'static str,
    description: &'static str,
    judge: fn(&context::Context) -> Verdict,
) -> Entry {
    Entry {
        id,
        group,
        description,
        needs_profile: false,
        judge,
    }
}

const fn against_profile(
    id: &'static str,
    description: &'static str,
    judge: fn(&context::Context) -> Verdict,
) -> Entry {
    Entry {
        id,
        group: "profile",
        description,
        needs_profile: true,
        judge,
    }
}

/// Every check, in the order they are reported. rtcqs's checks come first in
/// each group (same verdicts where both look at the same thing; README.md says
/// where this tool differs), then what a profile makes knowable.
pub const CHECKS: &[Entry] = &[
    machine(
        USER_ROOT,
        "user",
        "the user checked is not root (root hides missing permissions)",
        user::root,
    ),
    machine(
        USER_GROUP,
        "user",
        "the user is in the realtime group (the profile's, else realtime or audio), and so is this session",
        user::group,
    ),
    machine(
        LIMITS_RTPRIO,
        "limits",
        "pam_limits gives the user, soft and hard, the profile's realtime.rtprio (75 without a profile)",
        limits::rtprio,
    ),
    machine(
        LIMITS_MEMLOCK,
        "limits",
        "pam_limits gives the user, soft and hard, the profile's realtime.memlock (unlimited without a profile)",
        limits::memlock,
    ),
    machine(
        RT_SCHED_FIFO,
        "limits",
        "SCHED_FIFO at the profile's priority works (tried in a child process, for the user running the check on the live machine)",
        limits::sched_fifo,
    ),
    machine(
        RT_MLOCKALL,
        "limits",
        "mlockall works (tried in a child process, for the user running the check on the live machine)",
        limits::mlockall,
    ),
    machine(
        LIMITS_USER_MANAGER,
        "limits",
        "the user's systemd --user manager, which every user service (PipeWire, WirePlumber) inherits, has the realtime limits, and pam_limits is in its systemd-user PAM stack",
        audio::user_manager,
    ),
    machine(
        AUDIO_SERVER_RT,
        "audio",
        "the user's running PipeWire (its data-loop thread) or jackd runs SCHED_FIFO, at the profile's audio.rt_priority",
        audio::server_rt,
    ),
    machine(
        AUDIO_RTKIT,
        "audio",
        "what RTKit grants (its --max-realtime-priority, 20 by default) and whether the user needs it",
        audio::rtkit,
    ),
    machine(
        AUDIO_SETTINGS,
        "audio",
        "the graph PipeWire runs (pw-metadata, checking as the user whose PipeWire runs) or loads (its pipewire.conf and drop-ins) is the profile's rate and quanta",
        audio::settings,
    ),
    machine(
        POWER_HDA,
        "power",
        "snd_hda_intel keeps codecs and controllers powered (power_save=0, power_save_controller=N)",
        audio::hda_power_save,
    ),
    machine(
        POWER_USB,
        "power",
        "USB audio devices do not autosuspend (power/control is on)",
        audio::usb_autosuspend,
    ),
    machine(
        CPU_GOVERNOR,
        "cpu",
        "every online CPU uses the profile's governor (performance), and cpupower.service keeps it after a reboot",
        cpu::governor,
    ),
    machine(
        CPU_CONFLICTS,
        "cpu",
        "no tuned, tuned-ppd or power-profiles-daemon runs to change the governor",
        cpu::conflicts,
    ),
    machine(
        CPU_SMT,
        "cpu",
        "simultaneous multithreading is off",
        cpu::smt,
    ),
    machine(
        KERNEL_CONFIG,
        "kernel",
        "the kernel configuration can be read (/proc/config.gz, /boot/config-RELEASE)",
        kernel::config,
    ),
    machine(
        KERNEL_HRTIMERS,
        "kernel",
        "the kernel has high-resolution timers (CONFIG_HIGH_RES_TIMERS)",
        kernel::hrtimers,
    ),
    machine(
        KERNEL_TICKLESS,
        "kernel",
        "the kernel is tickless (CONFIG_NO_HZ, CONFIG_NO_HZ_IDLE or CONFIG_NO_HZ_FULL)",
        kernel::tickless,
    ),
    machine(
        KERNEL_PREEMPT,
        "kernel",
        "a PREEMPT_RT kernel runs, or threaded IRQs and full preemption, as the profile's kernel.flavor asks",
        kernel::preempt,
    ),
    machine(
        KERNEL_MITIGATIONS,
        "kernel",
        "the CPU vulnerability mitigations in force, reported (mitigations=off is the profile's choice)",
        kernel::mitigations,
    ),
    machine(
        IRQ_SHARED,
        "irq",
        "sound card and USB controller interrupts are not shared with other devices",
        irq::shared,
    ),
    machine(
        VM_SWAPPINESS,
        "system",
        "vm.swappiness is at most the profile's (10), when swap is in use",
        system::swappiness,
    ),
    machine(
        FS_MOUNTS,
        "system",
        "no FUSE, NFS or reiserfs mount to record onto",
        system::mounts,
    ),
    machine(
        PM_CPU_DMA_LATENCY,
        "system",
        "the user can write /dev/cpu_dma_latency, to keep CPUs out of deep C-states",
        system::cpu_dma_latency,
    ),
    machine(
        SELINUX_MODE,
        "system",
        "SELinux is enforcing, not permissive",
        system::selinux_mode,
    ),
    machine(
        SELINUX_DENIALS,
        "system",
        "no AVC denial of an audio program today (ausearch, on the live machine)",
        system::selinux_denials,
    ),
    machine(
        OS_RELEASE,
        "system",
        "the release is a supported Fedora or EL 10",
        system::os_release,
    ),
    against_profile(
        PROFILE_KARGS,
        "every kernel argument of the profile is on /proc/cmdline",
        profile::kargs,
    ),
    against_profile(
        PROFILE_KARGS_EFFECT,
        "the kernel arguments took effect: IRQ threads, isolated and nohz_full CPUs",
        profile::kargs_effect,
    ),
    against_profile(
        PROFILE_IRQBALANCE,
        "irqbalance runs or not as the profile asks, with its banned CPUs and IRQs in its environment",
        profile::irqbalance,
    ),
    against_profile(
        PROFILE_IRQ_PRIORITY,
        "IRQ threads matching the profile's irq.priority run SCHED_FIFO at its priority",
        profile::irq_priority,
    ),
    against_profile(
        PROFILE_SYSCTL,
        "every sysctl value of the profile is in force",
        profile::sysctl,
    ),
    against_profile(
        PROFILE_DROPINS,
        "every drop-in of the profile is installed with the rendered bytes",
        profile::dropins,
    ),
];

/// The groups, in the order their checks are reported.
pub fn groups() -> Vec<&'static str> {
    let mut groups: Vec<&str> = CHECKS.iter().map(|c| c.group).collect();
    groups.dedup();
    groups
}

/// The id or group nearest to a name that is neither, if one is near: the
/// whole id, or the part after its dot (`preempt` is `kernel.preempt`).
fn nearest(name: &str) -> Option<&'static str> {
    let score = |known: &str| strsim::normalized_damerau_levenshtein(name, known);
    CHECKS
        .iter()
        .map(|c| {
            let tail = c.id.split_once('.').map_or(c.id, |(_, t)| t);
            (score(c.id).max(score(tail)), c.id)
        })
        .chain(groups().into_iter().map(|g| (score(g), g)))
        .filter(|(s, _)| *s >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, known)| known)
}

/// Which checks to run: all but `skip`, or only `only` when given; a group's
/// name stands for its checks. Err names an unknown name (and the nearest
/// known one), or a profile's check asked for without a profile.
pub fn select(
    only: &[String],
    skip: &[String],
    with_profile: bool,
) -> Result<Vec<&'static Entry>, String> {
    let names = |names: &[String], c: &Entry| names.iter().any(|n| n == c.id || n == c.group);
    for name in only.iter().chain(skip) {
        if !CHECKS.iter().any(|c| names(std::slice::from_ref(name), c)) {
            let ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
            return Err(format!(
                "no check or group named {name:?}{}; the checks are: {}; the groups: {}",
                nearest(name).map_or(String::new(), |n| format!(" (did you mean {n}?)")),
                ids.join(", "),
                groups().join(", ")
            ));
        }
    }
    if !with_profile {
        let needs = |n: &String| {
            CHECKS
                .iter()
                .any(|c| c.needs_profile && names(std::slice::from_ref(n), c))
        };
        if let Some(name) = only.iter().find(|n| needs(n)) {
            return Err(format!(
                "--only {name}: it compares the machine with a profile; give --profile PROFILE too"
            ));
        }
    }
    if let Some(both) = only.iter().find(|o| skip.contains(o)) {
        return Err(format!(
            "--only {both} and --skip {both} together: give the check or group to one of them"
        ));
    }
    let chosen: Vec<&'static Entry> = CHECKS
        .iter()
        .filter(|c| only.is_empty() || names(only, c))
        .filter(|c| !names(skip, c))
        .collect();
    if chosen.is_empty() {
        return Err(
            "--only and --skip leave no check to run: skip fewer, or name more with --only".into(),
        );
    }
    Ok(chosen)
}

/// What `check` looks at.
pub struct Options<'a> {
    /// The checks to run ([`select`]), in registry order.
    pub checks: &'a [&'static Entry],
    pub root: Option<&'a Path>,
    /// The musician to judge (default: the user running the check, or the
    /// first user of the profile when a captured machine is read).
    pub user: Option<&'a str>,
    pub profile: Option<&'a Profile>,
    /// The profile's SELinux modules, compiled (what its drop-ins hold).
    pub compiled: &'a crate::selinux::Compiled,
}

/// The JSON document of `check --json` (README.md, "check --json"), schema 1
/// in the envelope of every command's document.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Outcome {
    pub root: String,
    pub user: String,
    pub profile: Option<String>,
    pub checks: Vec<Check>,
    pub passed: usize,
    pub warned: usize,
    pub failed: usize,
    pub not_applicable: usize,
    /// Bounds reached while reading the machine (README.md, "check --root").
    pub notes: Vec<String>,
}

/// Evidence kept per check, and the length of one summary, evidence or fix
/// string: a capture decides how much it holds, the report does not grow
/// with it.
const EVIDENCE_MAX: usize = 50;
const STRING_MAX: usize = 2048;

/// `s` cut to [`STRING_MAX`] bytes at a character boundary, saying how much
/// was left out.
fn clipped(mut s: String) -> String {
    if s.len() > STRING_MAX {
        let mut end = STRING_MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let more = s.len() - end;
        s.truncate(end);
        s.push_str(&format!("... ({more} more bytes)"));
    }
    s
}

fn bounded(mut c: Check) -> Check {
    c.summary = clipped(c.summary);
    c.fix = c.fix.map(clipped);
    let more = c.evidence.len().saturating_sub(EVIDENCE_MAX);
    c.evidence.truncate(EVIDENCE_MAX);
    c.evidence = c.evidence.into_iter().map(clipped).collect();
    if more > 0 {
        c.evidence.push(format!("... and {more} more"));
    }
    c
}

pub fn run(o: &Options) -> anyhow::Result<Outcome> {
    let machine = Machine::new(o.root).map_err(|e| {
        crate::UserError(format!(
            "--root {}: cannot be opened as a folder: {e}",
            o.root.unwrap_or(Path::new("/")).display()
        ))
    })?;
    let cx = context::Context::new(&machine, o.user, o.profile, o.compiled)?;
    let list: Vec<Check> = o
        .checks
        .iter()
        .filter(|e| cx.plan.is_some() || !e.needs_profile)
        .map(|e| bounded(e.run(&cx)))
        .collect();
    let count = |s: Status| list.iter().filter(|c| c.status == s).count();
    Ok(Outcome {
        root: o
            .root
            .map_or_else(|| "/".into(), |r| r.display().to_string()),
        user: cx.user.name.clone(),
        profile: o.profile.map(|p| p.name.clone()),
        passed: count(Status::Pass),
        warned: count(Status::Warn),
        failed: count(Status::Fail),
        not_applicable: count(Status::NotApplicable),
        checks: list,
        notes: machine.notes(),
    })
}

/// Text output, grouped. Everything that came from the machine (process and
/// IRQ names, file contents, user names) is printed through
/// [`crate::text::one_line`], so a capture's bytes cannot drive the terminal.
/// The report for a person. With `width` (standard output is a terminal that
/// wide), summaries and evidence are wrapped to it; piped, each stays one
/// line, for grep.
pub fn format(out: &Outcome, width: Option<usize>) -> String {
    use crate::console::{paint, style};
    use crate::text::one_line;
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "check of {} for user {}{}",
        one_line(&out.root),
        one_line(&out.user),
        out.profile
            .as_ref()
            .map_or(String::new(), |p| format!(", profile {}", one_line(p)))
    );
    let mut group = "";
    for c in &out.checks {
        if c.group != group {
            group = c.group;
            let _ = writeln!(s, "\n{}", paint(style::EMPH, group));
        }
        // Summaries and evidence are prose and quotes from the machine:
        // wrapped by display width, under their indent. A fix is a command
        // to copy, and stays one line.
        const INDENT: &str = "                               ";
        let width = width.unwrap_or(usize::MAX);
        let summary = textwrap::Options::new(width)
            .initial_indent(INDENT)
            .subsequent_indent(INDENT)
            .break_words(true);
        for (i, line) in textwrap::wrap(&one_line(&c.summary), &summary)
            .iter()
            .enumerate()
        {
            if i == 0 {
                let _ = writeln!(
                    s,
                    "  {} {:<22} {}",
                    paint(c.status.style(), format_args!("{:<5}", c.status.label())),
                    c.id,
                    line.trim_start()
                );
            } else {
                let _ = writeln!(s, "{line}");
            }
        }
        if c.status != Status::Pass {
            let evidence = textwrap::Options::new(width)
                .initial_indent(INDENT)
                .subsequent_indent("                                 ")
                .break_words(true);
            for e in &c.evidence {
                for line in textwrap::wrap(&one_line(e), &evidence) {
                    let _ = writeln!(s, "{line}");
                }
            }
        }
        if let Some(fix) = &c.fix {
            let _ = writeln!(s, "{:<31}fix: {}", "", one_line(fix));
        }
    }
    if !out.notes.is_empty() {
        let _ = writeln!(s, "\nnotes");
        for n in &out.notes {
            let _ = writeln!(s, "  {}", one_line(n));
        }
    }
    let _ = writeln!(
        s,
        "\n{} passed, {} failed, {}, {} not applicable",
        out.passed,
        out.failed,
        crate::text::count(out.warned, "warning"),
        out.not_applicable
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_ids_are_unique_and_dotted_under_their_group() {
        let mut seen = std::collections::BTreeSet::new();
        let mut groups: Vec<&str> = Vec::new();
        for c in CHECKS {
            assert!(seen.insert(c.id), "{} twice in CHECKS", c.id);
            let (head, tail) = c.id.split_once('.').expect("a dotted id");
            assert!(!head.is_empty() && !tail.is_empty(), "{}", c.id);
            assert!(!c.description.is_empty(), "{}", c.id);
            assert_eq!(c.needs_profile, c.group == "profile", "{}", c.id);
            // Text output prints a group's heading where the group changes:
            // each group's checks stand together.
            if groups.last() != Some(&c.group) {
                assert!(!groups.contains(&c.group), "{} splits {}", c.id, c.group);
                groups.push(c.group);
            }
        }
        // A group name selects its checks: none may also be an id.
        assert!(groups.iter().all(|g| !seen.contains(g)));
    }

    #[test]
    fn a_check_holds_bounded_evidence() {
        let c = bounded(Check {
            id: IRQ_SHARED,
            group: "irq",
            status: Status::Warn,
            summary: "é".repeat(STRING_MAX),
            evidence: (0..EVIDENCE_MAX + 7).map(|i| i.to_string()).collect(),
            fix: Some("short".into()),
        });
        // Cut at a character boundary, saying how much is left out.
        assert_eq!(
            c.summary,
            format!(
                "{}... ({STRING_MAX} more bytes)",
                "é".repeat(STRING_MAX / 2)
            )
        );
        assert_eq!(c.evidence.len(), EVIDENCE_MAX + 1);
        assert_eq!(c.evidence[EVIDENCE_MAX], "... and 7 more");
        assert_eq!(c.fix.as_deref(), Some("short"));
    }
}
