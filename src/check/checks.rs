//! The checks, in the order they are reported. rtcqs's checks come first in
//! each group (same verdicts where both look at the same thing; README.md says
//! where this tool differs), then what a profile makes knowable.

use std::collections::BTreeMap;

use super::machine::Machine;
use super::parse::{self, Limits};
use super::{Check, Status, probe};
use crate::profile::{Conflicts, Flavor, Memlock, Profile};
use crate::render::Plan;

/// The musician a check judges.
pub struct User {
    pub name: String,
    pub uid: Option<u32>,
    pub groups: Vec<String>,
}

/// Everything read once and shared by the checks.
pub struct Context<'a> {
    pub m: &'a Machine,
    pub user: User,
    /// Checking the user this process runs as, on the live machine: only then
    /// do probes (SCHED_FIFO, mlockall, getrlimit) speak for the user.
    pub is_self: bool,
    pub profile: Option<&'a Profile>,
    pub plan: Option<Plan<'a>>,
    pub cmdline: Vec<String>,
    pub version: String,
    /// Where the kernel configuration was read and its text, when
    /// /proc/config.gz or /boot/config-RELEASE could be read.
    pub config: Option<(String, String)>,
    /// Why each place of the configuration that was not used could not be.
    pub config_unread: Vec<String>,
    /// (pid, comm) of every process.
    pub processes: Vec<(String, String)>,
    pub limits: Limits,
    pub limit_files: Vec<String>,
}

impl<'a> Context<'a> {
    pub fn new(
        m: &'a Machine,
        user: Option<&str>,
        profile: Option<&'a Profile>,
        compiled: &'a crate::selinux::Compiled,
    ) -> anyhow::Result<Context<'a>> {
        let passwd = m.read("/etc/passwd").unwrap_or_default();
        let group = m.read("/etc/group").unwrap_or_default();
        let own_uid = m.live.then(probe::uid);
        let name = match user {
            Some(u) => u.to_string(),
            None if m.live => std::env::var("SUDO_USER")
                .ok()
                .filter(|_| own_uid == Some(0))
                .or_else(|| own_uid.and_then(|uid| parse::passwd_name(&passwd, uid)))
                .unwrap_or_else(|| "root".into()),
            None => profile
                .and_then(|p| p.users.first().map(|u| u.name.clone()))
                .or_else(|| first_person(&passwd))
                .unwrap_or_else(|| "root".into()),
        };
        let ids = parse::passwd_user(&passwd, &name);
        let groups = parse::user_groups(&group, &name, ids.map(|(_, gid)| gid));
        let is_self = m.live && ids.map(|(uid, _)| uid) == own_uid;

        let mut limit_files = vec!["/etc/security/limits.conf".to_string()];
        // pam_limits reads limits.d in C-locale (byte) order; list() sorts so.
        for f in m.list("/etc/security/limits.d") {
            if f.ends_with(".conf") {
                limit_files.push(format!("/etc/security/limits.d/{f}"));
            }
        }
        let texts: Vec<(String, String)> = limit_files
            .iter()
            .filter_map(|f| m.read(f).ok().map(|t| (f.clone(), t)))
            .collect();
        let limits = Limits::new(&texts, &name, &groups);

        let version = m.line("/proc/version").unwrap_or_default();
        // uname's release, else the third word of /proc/version ("Linux
        // version RELEASE (...)").
        let release = match m.line("/proc/sys/kernel/osrelease") {
            Ok(r) => ("/proc/sys/kernel/osrelease", r),
            Err(_) => (
                "/proc/version",
                version.split_whitespace().nth(2).unwrap_or("").to_string(),
            ),
        };
        let (config, config_unread) = kernel_config(m, release);
        let processes = m
            .list("/proc")
            .into_iter()
            .filter(|p| p.chars().all(|c| c.is_ascii_digit()))
            .filter_map(|p| m.line(&format!("/proc/{p}/comm")).ok().map(|c| (p, c)))
            .collect();
        let plan = profile
            .map(|p| crate::render::plan(p, compiled))
            .transpose()?;
        Ok(Context {
            m,
            user: User {
                name,
                uid: ids.map(|(uid, _)| uid),
                groups,
            },
            is_self,
            profile,
            plan,
            cmdline: m
                .read("/proc/cmdline")
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect(),
            version,
            config,
            config_unread,
            processes,
            limits,
            limit_files,
        })
    }

    fn has_arg(&self, arg: &str) -> bool {
        self.cmdline.iter().any(|a| a == arg)
    }

    fn config_has(&self, line: &str) -> bool {
        self.config
            .as_ref()
            .is_some_and(|(_, c)| c.lines().any(|l| l == line))
    }

    fn realtime_kernel(&self) -> bool {
        self.m.line("/sys/kernel/realtime").is_ok_and(|v| v == "1")
            || self.version.contains("PREEMPT_RT")
            || self.config_has("CONFIG_PREEMPT_RT=y")
    }

    /// The groups that carry realtime limits: the profile's, else rtcqs's.
    fn rt_groups(&self) -> Vec<String> {
        match self.profile {
            Some(p) => vec![p.realtime.group.clone()],
            None => vec!["realtime".into(), "audio".into()],
        }
    }

    fn pids_named(&self, comm: &str) -> Vec<&str> {
        self.processes
            .iter()
            .filter(|(_, c)| c == comm)
            .map(|(p, _)| p.as_str())
            .collect()
    }
}

/// The first account that looks like a person's (uid 1000 and up).
fn first_person(passwd: &str) -> Option<String> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        let uid: u32 = f.get(2)?.parse().ok()?;
        (f.len() >= 7 && (1000..60000).contains(&uid)).then(|| f[0].to_string())
    })
}

/// The kernel configuration: /proc/config.gz (CONFIG_IKCONFIG_PROC), else
/// the kernel package's /boot/config-RELEASE; and why the places not used
/// could not be read. The release comes from the machine, so it is held to a
/// release's grammar before it becomes part of a path.
fn kernel_config(
    m: &Machine,
    (from, release): (&str, String),
) -> (Option<(String, String)>, Vec<String>) {
    let mut unread = Vec::new();
    match m.read_gzip("/proc/config.gz") {
        Ok(text) => return (Some(("/proc/config.gz".into(), text)), unread),
        Err(e) => unread.push(e.to_string()),
    }
    match parse::kernel_release(&release) {
        Ok(release) => {
            let boot = format!("/boot/config-{release}");
            match m.read(&boot) {
                Ok(text) => return (Some((boot, text)), unread),
                Err(e) => unread.push(e.to_string()),
            }
        }
        Err(e) => unread.push(format!("/boot/config-RELEASE not read: {from}: {e}")),
    }
    (None, unread)
}

fn check(
    id: &'static str,
    group: &'static str,
    status: Status,
    summary: impl Into<String>,
) -> Check {
    Check {
        id,
        group,
        status,
        summary: summary.into(),
        evidence: Vec::new(),
        fix: None,
    }
}

trait With {
    fn evidence(self, e: impl Into<String>) -> Self;
    fn fix(self, f: impl Into<String>) -> Self;
}

impl With for Check {
    fn evidence(mut self, e: impl Into<String>) -> Self {
        self.evidence.push(e.into());
        self
    }
    fn fix(mut self, f: impl Into<String>) -> Self {
        self.fix = Some(f.into());
        self
    }
}

pub fn all(cx: &Context) -> Vec<Check> {
    let mut v = vec![
        user_root(cx),
        user_group(cx),
        limits_item(cx, "rtprio"),
        limits_item(cx, "memlock"),
        sched_fifo(cx),
        mlockall(cx),
        cpu_governor(cx),
        cpu_conflicts(cx),
        cpu_smt(cx),
        kernel_config_found(cx),
        kernel_option(
            cx,
            "kernel.hrtimers",
            &["CONFIG_HIGH_RES_TIMERS=y"],
            "high-resolution timers",
        ),
        kernel_option(
            cx,
            "kernel.tickless",
            &[
                "CONFIG_NO_HZ=y",
                "CONFIG_NO_HZ_IDLE=y",
                "CONFIG_NO_HZ_FULL=y",
            ],
            "tickless timer support",
        ),
        kernel_preempt(cx),
        kernel_mitigations(cx),
        irqs_shared(cx),
        swappiness(cx),
        filesystems(cx),
        cpu_dma_latency(cx),
        selinux_mode(cx),
        selinux_denials(cx),
        os_release(cx),
    ];
    if cx.plan.is_some() {
        v.extend([
            kernel_args(cx),
            kernel_args_effect(cx),
            irq_balance(cx),
            irq_priorities(cx),
            sysctl_values(cx),
            dropins(cx),
        ]);
    }
    v
}

fn user_root(cx: &Context) -> Check {
    if cx.user.uid == Some(0) {
        check(
            "user.root",
            "user",
            Status::Warn,
            "the user checked is root",
        )
        .evidence("audio software should run as a normal user; root hides missing permissions")
        .fix("run `rtaudio-tuning check` as the musician, or give --user NAME")
    } else {
        check(
            "user.root",
            "user",
            Status::Pass,
            format!("checking {}, not root", cx.user.name),
        )
    }
}

fn user_group(cx: &Context) -> Check {
    let wanted = cx.rt_groups();
    let have: Vec<&String> = wanted
        .iter()
        .filter(|g| cx.user.groups.contains(g))
        .collect();
    let evidence = format!(
        "{} is in: {}",
        cx.user.name,
        if cx.user.groups.is_empty() {
            "no group".into()
        } else {
            cx.user.groups.join(", ")
        }
    );
    let Some(group) = have.first() else {
        let g = &wanted[0];
        return check(
            "user.group",
            "user",
            Status::Fail,
            format!("{} is not in the {g} group", cx.user.name),
        )
        .evidence(evidence)
        .fix(format!(
            "sudo usermod -a -G {g} {}, then log out and in again",
            cx.user.name
        ));
    };
    if cx.is_self {
        let gids = probe::process_gids();
        let group_db = cx.m.read("/etc/group").unwrap_or_default();
        let gid = group_db.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3 && f[0] == group.as_str()).then(|| f[2].parse::<u32>().ok())?
        });
        if gid.is_some_and(|g| !gids.contains(&g)) {
            return check(
                "user.group",
                "user",
                Status::Warn,
                format!("{} is in {group}, but this session is not", cx.user.name),
            )
            .evidence(evidence)
            .evidence(format!("this process's groups: {gids:?}"))
            .fix("log out and in again (or reboot) so the session picks up the group");
        }
    }
    check(
        "user.group",
        "user",
        Status::Pass,
        format!("{} is in the {group} group", cx.user.name),
    )
    .evidence(evidence)
}

fn limits_item(cx: &Context, item: &'static str) -> Check {
    let id = if item == "rtprio" {
        "limits.rtprio"
    } else {
        "limits.memlock"
    };
    let hard = cx.limits.hard.get(item);
    let soft = cx.limits.soft.get(item);
    let read = format!("read {}", cx.limit_files.join(", "));
    // What the profile asks for, or what rtcqs's advice (and JACK) needs.
    let (wanted, wanted_text): (Option<u64>, String) = match (item, cx.profile) {
        ("rtprio", Some(p)) => (
            Some(u64::from(p.realtime.rtprio)),
            p.realtime.rtprio.to_string(),
        ),
        ("rtprio", None) => (Some(75), "75".into()),
        (_, Some(p)) => match &p.realtime.memlock {
            Memlock::Unlimited => (None, "unlimited".into()),
            Memlock::KiB(k) => (Some(*k), format!("{k} KiB")),
        },
        _ => (None, "unlimited".into()),
    };
    let enough = |l: Option<&parse::Limit>| match (l.map(|l| parse::limit_number(&l.value)), wanted)
    {
        (None, _) => false,
        (Some(None), _) => true,
        (Some(Some(_)), None) => false,
        (Some(Some(have)), Some(want)) => have >= want,
    };
    let fix = format!(
        "add `@{g} - {item} {w}` in /etc/security/limits.d/ (the profile's RPM or kickstart does), and put {u} in {g}",
        g = cx.rt_groups()[0],
        w = if item == "rtprio" {
            wanted_text.clone()
        } else {
            "unlimited".into()
        },
        u = cx.user.name
    );
    let shown = |l: Option<&parse::Limit>| {
        l.map_or("not set".into(), |l| format!("{} ({})", l.value, l.origin))
    };
    let mut c = if enough(hard) && enough(soft) {
        check(
            id,
            "limits",
            Status::Pass,
            format!(
                "{item} for {} is {}",
                cx.user.name,
                hard.map_or("", |l| l.value.as_str())
            ),
        )
    } else {
        check(
            id,
            "limits",
            Status::Fail,
            format!("{item} for {} is below {wanted_text}", cx.user.name),
        )
        .fix(fix)
    }
    .evidence(format!("soft {}, hard {}", shown(soft), shown(hard)))
    .evidence(read);
    // Another file deciding our limit: realtime-setup's, JACK's, PipeWire's.
    if let (Some(_), Some(h)) = (cx.profile, hard) {
        if !h.origin.contains("rtaudio-tuning.conf") {
            c.evidence.push(format!(
                "set by {}, not by the profile's rtaudio-tuning.conf",
                h.origin
            ));
            if c.status == Status::Pass {
                c.status = Status::Warn;
                c.summary = format!(
                    "{item} for {} comes from {}, not from the profile",
                    cx.user.name, h.origin
                );
            }
        }
    }
    if cx.is_self {
        let resource = if item == "rtprio" {
            probe::RLIMIT_RTPRIO
        } else {
            probe::RLIMIT_MEMLOCK
        };
        let (cur, max) = probe::rlimit(resource);
        let show = |v: Option<u64>| v.map_or("unlimited".into(), |n| n.to_string());
        c.evidence.push(format!(
            "this process: soft {}, hard {} (ulimit {})",
            show(cur),
            show(max),
            if item == "rtprio" { "-r" } else { "-l, bytes" }
        ));
    }
    c
}

fn sched_fifo(cx: &Context) -> Check {
    let prio = cx.profile.map_or(80, |p| p.realtime.rtprio as i32);
    if !cx.is_self {
        return check(
            "rt.sched_fifo",
            "limits",
            Status::NotApplicable,
            "not tried: SCHED_FIFO is tried for the user running the check, on the live machine",
        )
        .evidence(format!(
            "checking {} on {}",
            cx.user.name,
            if cx.m.live {
                "this machine"
            } else {
                "a captured machine"
            }
        ));
    }
    match probe::sched_fifo(prio) {
        Ok(()) => check(
            "rt.sched_fifo",
            "limits",
            Status::Pass,
            format!("SCHED_FIFO at priority {prio} works"),
        ),
        Err(e) => check(
            "rt.sched_fifo",
            "limits",
            Status::Fail,
            format!("SCHED_FIFO at priority {prio} is refused: {e}"),
        )
        .fix("give the user an rtprio limit (limits.rtprio) and log in again"),
    }
}

fn mlockall(cx: &Context) -> Check {
    if !cx.is_self {
        return check(
            "rt.mlockall",
            "limits",
            Status::NotApplicable,
            "not tried: mlockall is tried for the user running the check, on the live machine",
        );
    }
    match probe::mlockall() {
        Ok(()) => check("rt.mlockall", "limits", Status::Pass, "mlockall works"),
        Err(e) => check(
            "rt.mlockall",
            "limits",
            Status::Fail,
            format!("mlockall is refused: {e}"),
        )
        .fix("give the user a memlock limit of unlimited (limits.memlock) and log in again"),
    }
}

fn online_cpus(m: &Machine) -> Vec<u32> {
    m.line("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|l| parse::cpu_list(&l))
        .unwrap_or_default()
}

fn cpu_governor(cx: &Context) -> Check {
    let wanted = cx
        .profile
        .map_or("performance", |p| p.cpu.governor.as_str());
    let mut found = Vec::new();
    for cpu in online_cpus(cx.m) {
        if let Ok(g) = cx.m.line(&format!(
            "/sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor"
        )) {
            found.push((cpu, g));
        }
    }
    if found.is_empty() {
        // rtcqs reports OK here; there is no governor to judge at all.
        return check(
            "cpu.governor",
            "cpu",
            Status::NotApplicable,
            "no cpufreq: the CPU frequency is not scaled here (usual in VMs)",
        )
        .evidence("/sys/devices/system/cpu/cpu*/cpufreq is missing");
    }
    let bad: Vec<String> = found
        .iter()
        .filter(|(_, g)| g != wanted)
        .map(|(c, g)| format!("cpu{c}: {g}"))
        .collect();
    let mut c = if bad.is_empty() {
        check(
            "cpu.governor",
            "cpu",
            Status::Pass,
            format!("every CPU uses the {wanted} governor"),
        )
    } else {
        check(
            "cpu.governor",
            "cpu",
            Status::Fail,
            format!("{} CPU(s) do not use {wanted}", bad.len()),
        )
        .evidence(bad.join(", "))
        .fix(format!(
            "sudo cpupower frequency-set -g {wanted}; sudo systemctl enable --now cpupower.service"
        ))
    };
    if cx.m.live {
        if let Some(state) = probe::systemctl("is-enabled", "cpupower.service") {
            c.evidence.push(format!("cpupower.service: {state}"));
            if state != "enabled" && c.status == Status::Pass {
                c.status = Status::Warn;
                c.summary = format!(
                    "{wanted} now, but cpupower.service is {state}: it will not last a reboot"
                );
                c.fix = Some("sudo systemctl enable cpupower.service".into());
            }
        }
    }
    c
}

/// Daemons that set the governor too and can undo cpupower's.
const GOVERNOR_DAEMONS: &[(&str, &str)] = &[
    ("tuned", "tuned.service"),
    ("tuned-ppd", "tuned-ppd.service"),
    ("power-profiles-", "power-profiles-daemon.service"),
];

fn cpu_conflicts(cx: &Context) -> Check {
    let running: Vec<&str> = GOVERNOR_DAEMONS
        .iter()
        .filter(|(comm, _)| cx.processes.iter().any(|(_, c)| c.starts_with(comm)))
        .map(|(_, unit)| *unit)
        .collect();
    let keep = cx
        .profile
        .is_some_and(|p| p.cpu.conflicts == Conflicts::Keep);
    if running.is_empty() {
        return check(
            "cpu.conflicts",
            "cpu",
            Status::Pass,
            "no tuned, tuned-ppd or power-profiles-daemon running",
        );
    }
    let c = check(
        "cpu.conflicts",
        "cpu",
        if keep { Status::Warn } else { Status::Fail },
        format!(
            "{} running: it can change the governor behind cpupower's back",
            running.join(", ")
        ),
    );
    if keep {
        c.evidence("the profile keeps them (cpu.conflicts = \"keep\")")
    } else {
        c.fix(format!("sudo systemctl mask --now {}", running.join(" ")))
    }
}

fn cpu_smt(cx: &Context) -> Check {
    match cx.m.line("/sys/devices/system/cpu/smt/control") {
        Ok(v) if v == "on" => check("cpu.smt", "cpu", Status::Warn, "simultaneous multithreading is on: sibling threads share a core and can delay audio threads")
            .fix("turn SMT off in the firmware, or boot with nosmt (costs throughput)"),
        Ok(v) => check("cpu.smt", "cpu", Status::Pass, format!("SMT: {v}")),
        Err(e) => check("cpu.smt", "cpu", Status::NotApplicable, "SMT state unknown").evidence(e),
    }
}

fn kernel_config_found(cx: &Context) -> Check {
    let c = match &cx.config {
        Some((from, _)) => check(
            "kernel.config",
            "kernel",
            Status::Pass,
            format!("kernel configuration found in {from}"),
        ),
        None => check(
            "kernel.config",
            "kernel",
            Status::Warn,
            "no kernel configuration (/proc/config.gz, /boot/config-*): its options cannot be checked",
        ),
    };
    cx.config_unread
        .iter()
        .fold(c, |c, e| c.evidence(e.as_str()))
}

fn kernel_option(cx: &Context, id: &'static str, any: &[&str], what: &str) -> Check {
    let Some((from, _)) = &cx.config else {
        return check(
            id,
            "kernel",
            Status::NotApplicable,
            format!("{what}: no kernel configuration to read"),
        );
    };
    match any.iter().find(|o| cx.config_has(o)) {
        Some(o) => check(id, "kernel", Status::Pass, format!("{what}: {o}"))
            .evidence(format!("read {from}")),
        None => check(id, "kernel", Status::Warn, format!("{what} not enabled"))
            .evidence(format!("none of {} in {from}", any.join(", "))),
    }
}

fn kernel_preempt(cx: &Context) -> Check {
    let rt = cx.realtime_kernel();
    let threadirqs = cx.has_arg("threadirqs");
    let dynamic = cx.version.contains("PREEMPT_DYNAMIC");
    // The kernel takes the last preempt= on its command line.
    let full = cx
        .cmdline
        .iter()
        .rev()
        .find(|a| a.starts_with("preempt="))
        .is_some_and(|a| a == "preempt=full");
    let evidence = format!("/proc/version: {}", cx.version);
    if let Some(p) = cx.profile {
        return match p.kernel.flavor {
            Flavor::Rt if rt => check("kernel.preempt", "kernel", Status::Pass, "a PREEMPT_RT kernel runs, as the profile asks").evidence(evidence),
            Flavor::Rt => check("kernel.preempt", "kernel", Status::Fail, "the profile asks for kernel-rt, but this kernel is not PREEMPT_RT")
                .evidence(evidence)
                .evidence(format!("/sys/kernel/realtime: {}", cx.m.line("/sys/kernel/realtime").unwrap_or_else(String::from)))
                .fix("install kernel-rt (the profile's repository) and boot it: sudo grubby --set-default=/boot/vmlinuz-<version>+rt"),
            Flavor::Stock if rt || (dynamic && full) => {
                check("kernel.preempt", "kernel", Status::Pass, if rt { "a PREEMPT_RT kernel runs" } else { "full preemption: PREEMPT_DYNAMIC kernel booted with preempt=full" }).evidence(evidence)
            }
            Flavor::Stock => check("kernel.preempt", "kernel", Status::Fail, "the kernel does not run with full preemption")
                .evidence(evidence)
                .evidence(format!("preempt=full on the command line: {}", if full { "yes" } else { "no" }))
                .fix("sudo grubby --update-kernel=ALL --args=preempt=full, then reboot"),
        };
    }
    if rt {
        check(
            "kernel.preempt",
            "kernel",
            Status::Pass,
            "a PREEMPT_RT kernel runs",
        )
        .evidence(evidence)
    } else if threadirqs {
        check(
            "kernel.preempt",
            "kernel",
            Status::Pass,
            format!(
                "threaded IRQs (threadirqs){}",
                if dynamic && full {
                    ", full preemption"
                } else {
                    ""
                }
            ),
        )
        .evidence(evidence)
    } else {
        check("kernel.preempt", "kernel", Status::Fail, "neither a PREEMPT_RT kernel nor threadirqs")
            .evidence(evidence)
            .fix("sudo grubby --update-kernel=ALL --args='threadirqs preempt=full', then reboot (or install kernel-rt)")
    }
}

fn kernel_mitigations(cx: &Context) -> Check {
    let vulns: Vec<String> =
        cx.m.list("/sys/devices/system/cpu/vulnerabilities")
            .into_iter()
            .filter_map(|v| {
                cx.m.line(&format!("/sys/devices/system/cpu/vulnerabilities/{v}"))
                    .ok()
                    .map(|s| format!("{v}: {s}"))
            })
            .filter(|s| s.contains("Mitigation"))
            .collect();
    if cx.has_arg("mitigations=off") {
        return check(
            "kernel.mitigations",
            "kernel",
            Status::Pass,
            "CPU vulnerability mitigations are off (mitigations=off): lower latency, less protection",
        );
    }
    // rtcqs warns here; turning mitigations off trades security for latency,
    // so this tool leaves that to kernel.args and only reports.
    let c = check(
        "kernel.mitigations",
        "kernel",
        Status::Pass,
        format!(
            "CPU vulnerability mitigations are on ({} active)",
            vulns.len()
        ),
    );
    vulns.into_iter().fold(c, |c, v| c.evidence(v))
}

fn swappiness(cx: &Context) -> Check {
    let swaps = cx.m.read("/proc/swaps").unwrap_or_default();
    let wanted: u32 = cx
        .profile
        .and_then(|p| p.sysctl.get("vm.swappiness"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let value = match cx
        .m
        .line("/proc/sys/vm/swappiness")
        .map(|v| v.parse::<u32>())
    {
        Ok(Ok(v)) => v,
        _ => {
            return check(
                "vm.swappiness",
                "system",
                Status::NotApplicable,
                "/proc/sys/vm/swappiness cannot be read",
            );
        }
    };
    if swaps.lines().count() < 2 {
        return check(
            "vm.swappiness",
            "system",
            Status::Pass,
            format!("no swap in use (swappiness {value} does not matter)"),
        );
    }
    if value <= wanted {
        check(
            "vm.swappiness",
            "system",
            Status::Pass,
            format!("vm.swappiness is {value}"),
        )
    } else {
        check("vm.swappiness", "system", Status::Warn, format!("vm.swappiness is {value}, above {wanted}"))
            .fix(format!("echo 'vm.swappiness = {wanted}' | sudo tee /etc/sysctl.d/90-swappiness.conf; sudo sysctl --system"))
    }
}

fn filesystems(cx: &Context) -> Check {
    let Ok(mounts) = cx.m.read("/proc/mounts") else {
        return check(
            "fs.mounts",
            "system",
            Status::NotApplicable,
            "/proc/mounts cannot be read",
        );
    };
    // rtcqs's list of file systems that stall audio I/O.
    let bad: Vec<String> = mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let fs = f.get(2)?.split('.').next()?;
            (fs.starts_with("fuse") && fs != "fusectl" || matches!(fs, "reiserfs" | "nfs" | "nfs4"))
                .then(|| format!("{} ({})", f[1], f[2]))
        })
        .collect();
    if bad.is_empty() {
        check(
            "fs.mounts",
            "system",
            Status::Pass,
            "no FUSE, NFS or reiserfs mounts",
        )
    } else {
        check(
            "fs.mounts",
            "system",
            Status::Warn,
            format!("mounts to keep audio files off: {}", bad.join(", ")),
        )
        .fix("record to a local ext4, xfs or btrfs file system")
    }
}

fn irqs_shared(cx: &Context) -> Check {
    let Ok(text) = cx.m.read("/proc/interrupts") else {
        return check(
            "irq.shared",
            "irq",
            Status::NotApplicable,
            "/proc/interrupts cannot be read",
        );
    };
    let mut shared = Vec::new();
    let mut alone = Vec::new();
    for line in parse::interrupts(&text) {
        let audio = line.devices.iter().any(|d| {
            let d = d.to_lowercase();
            d.starts_with("snd_")
                || d.starts_with("audiodsp")
                || d.starts_with("xhci_hcd")
                || d.starts_with("ehci_hcd")
                || d.starts_with("uhci_hcd")
        });
        if !audio {
            continue;
        }
        if line.devices.len() > 1 {
            shared.push(format!("IRQ {}: {}", line.irq, line.devices.join(", ")));
        } else {
            alone.push(format!("IRQ {}: {}", line.irq, line.devices[0]));
        }
    }
    if shared.is_empty() && alone.is_empty() {
        return check(
            "irq.shared",
            "irq",
            Status::NotApplicable,
            "no sound card or USB controller interrupt found",
        );
    }
    let c = if shared.is_empty() {
        check(
            "irq.shared",
            "irq",
            Status::Pass,
            "sound and USB interrupts are not shared",
        )
    } else {
        check(
            "irq.shared",
            "irq",
            Status::Warn,
            format!(
                "{} sound/USB interrupt(s) shared with other devices",
                shared.len()
            ),
        )
        .fix("move the interface to another port or slot, or enable MSI for the device")
    };
    shared
        .into_iter()
        .chain(alone)
        .fold(c, |c, e| c.evidence(e))
}

fn cpu_dma_latency(cx: &Context) -> Check {
    let path = "/dev/cpu_dma_latency";
    // A capture keeps the node's mode and owner beside it (`MODE UID GID`):
    // a plain file in git cannot.
    let recorded = (!cx.m.live)
        .then(|| cx.m.line(&format!("{path}.stat")).ok())
        .flatten()
        .and_then(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((
                u32::from_str_radix(f.first()?, 8).ok()?,
                f.get(1)?.parse().ok()?,
                f.get(2)?.parse().ok()?,
            ))
        });
    let node = recorded.or_else(|| {
        cx.m.metadata(path)
            .map(|m| (m.st_mode & 0o7777, m.st_uid, m.st_gid))
    });
    let Some((mode, uid, gid)) = node else {
        return check(
            "pm.cpu_dma_latency",
            "system",
            Status::NotApplicable,
            format!("{path} is missing"),
        );
    };
    let writable = if cx.is_self {
        // Only the live machine's own user is probed: the path is this one's.
        probe::writable(std::path::Path::new(path))
    } else {
        let group_db = cx.m.read("/etc/group").unwrap_or_default();
        let group_name = group_db.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3 && f[2].parse::<u32>().ok() == Some(gid)).then(|| f[0].to_string())
        });
        cx.user.uid == Some(0)
            || (cx.user.uid == Some(uid) && mode & 0o200 != 0)
            || (group_name.is_some_and(|g| cx.user.groups.contains(&g)) && mode & 0o020 != 0)
            || mode & 0o002 != 0
    };
    let evidence = format!("{path}: mode {mode:o}, uid {uid}, gid {gid}");
    if writable {
        check(
            "pm.cpu_dma_latency",
            "system",
            Status::Pass,
            format!(
                "{} can hold {path} (keeps CPUs out of deep C-states)",
                cx.user.name
            ),
        )
        .evidence(evidence)
    } else {
        check("pm.cpu_dma_latency", "system", Status::Warn, format!("{} cannot write {path}: DAWs cannot keep CPUs out of deep C-states", cx.user.name))
            .evidence(evidence)
            .fix(format!(
                "a udev rule: KERNEL==\"cpu_dma_latency\", GROUP=\"{}\", MODE=\"0660\" (the profile's artifacts ship it)",
                cx.rt_groups()[0]
            ))
    }
}

fn selinux_mode(cx: &Context) -> Check {
    match cx.m.line("/sys/fs/selinux/enforce").as_deref() {
        Ok("1") => check("selinux.mode", "system", Status::Pass, "SELinux is enforcing"),
        Ok("0") => check("selinux.mode", "system", Status::Warn, "SELinux is permissive: that hides denials instead of fixing them")
            .fix("sudo setenforce 1; for the denials: ausearch -m avc -ts recent | rtaudio-tuning selinux from-audit - -n studio_local --add-to PROFILE"),
        _ => check("selinux.mode", "system", Status::NotApplicable, "SELinux is not enabled on this kernel"),
    }
}

/// Programs whose denials break audio.
const AUDIO_COMMS: &[&str] = &[
    "jackd",
    "jackdbus",
    "pipewire",
    "wireplumber",
    "pulseaudio",
    "rtkit-daemon",
    "ardour",
    "bitwig",
    "reaper",
    "qjackctl",
    "carla",
    "a2jmidid",
];

fn selinux_denials(cx: &Context) -> Check {
    let enforcing = cx.m.line("/sys/fs/selinux/enforce").is_ok();
    let ausearch = crate::cmd::find("ausearch");
    let (true, true, Some(ausearch)) = (cx.m.live, enforcing, ausearch) else {
        return check(
            "selinux.denials",
            "system",
            Status::NotApplicable,
            "recent AVC denials not looked for (needs a live machine with SELinux and ausearch)",
        );
    };
    let out =
        crate::cmd::run(std::process::Command::new(ausearch).args(["-m", "avc", "-ts", "today"]));
    let Ok(out) = out else {
        return check(
            "selinux.denials",
            "system",
            Status::NotApplicable,
            "ausearch could not run",
        );
    };
    let parsed = crate::selinux::audit::parse(&out.stdout);
    let audio: Vec<String> = parsed
        .denials
        .iter()
        .filter(|d| {
            d.comm
                .as_deref()
                .is_some_and(|c| AUDIO_COMMS.iter().any(|a| c.starts_with(a)))
        })
        .map(|d| {
            format!(
                "{} denied {{ {} }} on {} ({})",
                d.comm.as_deref().unwrap_or("?"),
                d.perms.join(" "),
                d.target_type(),
                d.tclass
            )
        })
        .collect();
    if audio.is_empty() {
        return check(
            "selinux.denials",
            "system",
            Status::Pass,
            format!(
                "no audio-related AVC denial today ({} in all)",
                parsed.denials.len()
            ),
        );
    }
    audio.into_iter().fold(
        check("selinux.denials", "system", Status::Warn, "audio programs were denied by SELinux today")
            .fix("ausearch -m avc -ts today | rtaudio-tuning selinux from-audit - -n studio_local --add-to PROFILE"),
        |c, e| c.evidence(e),
    )
}

/// Fedora's cadence: a release about every six months, each supported until
/// four weeks after the release two later (docs.fedoraproject.org, "Fedora
/// Release Life Cycle"). Release dates up to 43 are history; later ones are
/// estimated from the cadence, so the answer is "about".
fn fedora_eol_days(version: u32) -> Option<i64> {
    let release = |n: u32| -> Option<i64> {
        match n {
            40 => Some(days_from_civil(2024, 4, 23)),
            41 => Some(days_from_civil(2024, 10, 29)),
            42 => Some(days_from_civil(2025, 4, 15)),
            43 => Some(days_from_civil(2025, 10, 28)),
            n if n > 43 => Some(days_from_civil(2025, 10, 28) + i64::from(n - 43) * 182),
            _ => None,
        }
    };
    release(version + 2).map(|d| d + 28)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn os_release(cx: &Context) -> Check {
    let Ok(text) =
        cx.m.read("/etc/os-release")
            .or_else(|_| cx.m.read("/usr/lib/os-release"))
    else {
        return check(
            "os.release",
            "system",
            Status::NotApplicable,
            "no os-release to read",
        );
    };
    let kv = parse::key_values(&text);
    let id = kv.get("ID").map_or("", String::as_str);
    let version = kv.get("VERSION_ID").map_or("", String::as_str);
    let name = kv
        .get("PRETTY_NAME")
        .cloned()
        .unwrap_or_else(|| format!("{id} {version}"));
    match id {
        "fedora" => {
            let Ok(n) = version.parse::<u32>() else {
                return check(
                    "os.release",
                    "system",
                    Status::NotApplicable,
                    format!("{name}: not a numbered release"),
                );
            };
            let today = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| (d.as_secs() / 86_400) as i64);
            // Fedora's os-release states the end of support (SUPPORT_END, since
            // Fedora 39); the cadence estimate is only for older files.
            let stated = kv.get("SUPPORT_END").and_then(|d| {
                let p: Vec<i64> = d.split('-').filter_map(|x| x.parse().ok()).collect();
                (p.len() == 3).then(|| days_from_civil(p[0], p[1], p[2]))
            });
            match stated.or_else(|| fedora_eol_days(n)) {
                Some(eol) if eol < today => check("os.release", "system", Status::Warn, format!("{name} has reached its end of life ({} days ago{}): no more security or kernel updates", today - eol, if stated.is_some() { ", SUPPORT_END" } else { ", estimated from Fedora's cadence" }))
                    .fix(format!("upgrade: sudo dnf system-upgrade download --releasever={}", n + 2)),
                Some(_) => check("os.release", "system", Status::Pass, format!("{name} is supported")),
                None => check("os.release", "system", Status::Warn, format!("{name} is long past its end of life")),
            }
        }
        "centos" | "rhel" | "almalinux" if version.starts_with("10") => check(
            "os.release",
            "system",
            Status::Pass,
            format!("{name} is supported"),
        ),
        _ => check(
            "os.release",
            "system",
            Status::NotApplicable,
            format!("{name} is not a target of this tool (Fedora 42-46, EL 10)"),
        ),
    }
}

fn kernel_args(cx: &Context) -> Check {
    let plan = cx.plan.as_ref().expect("profile checks run with a plan");
    let missing: Vec<&String> = plan.kargs.iter().filter(|a| !cx.has_arg(a)).collect();
    let c = if missing.is_empty() {
        check(
            "profile.kargs",
            "profile",
            Status::Pass,
            format!(
                "all {} kernel arguments of the profile are on /proc/cmdline",
                plan.kargs.len()
            ),
        )
    } else {
        let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        check(
            "profile.kargs",
            "profile",
            Status::Fail,
            format!("missing from /proc/cmdline: {}", list.join(" ")),
        )
        .fix(format!(
            "sudo grubby --update-kernel=ALL --args='{}', then reboot",
            list.join(" ")
        ))
    };
    c.evidence(format!("/proc/cmdline: {}", cx.cmdline.join(" ")))
}

fn kernel_args_effect(cx: &Context) -> Check {
    let p = cx.profile.expect("profile checks run with a profile");
    let mut problems = Vec::new();
    let mut evidence = Vec::new();
    let irq_threads = cx
        .processes
        .iter()
        .filter(|(_, c)| c.starts_with("irq/"))
        .count();
    if cx.has_arg("threadirqs") || cx.realtime_kernel() {
        evidence.push(format!("{irq_threads} irq/N-* threads"));
        if irq_threads == 0 {
            problems.push("no irq/N-* thread: interrupts are not threaded".to_string());
        }
    }
    if let Some(want) = &p.kernel.isolate_cpus {
        let want = parse::cpu_list(want).unwrap_or_default();
        for file in ["isolated", "nohz_full"] {
            let got =
                cx.m.line(&format!("/sys/devices/system/cpu/{file}"))
                    .ok()
                    .and_then(|l| parse::cpu_list(&l));
            evidence.push(format!("/sys/devices/system/cpu/{file}: {got:?}"));
            if got.as_ref() != Some(&want) {
                problems.push(format!(
                    "CPUs {want:?} are not in /sys/devices/system/cpu/{file}"
                ));
            }
        }
    }
    if evidence.is_empty() {
        return check(
            "profile.kargs_effect",
            "profile",
            Status::NotApplicable,
            "no kernel argument with a visible effect to verify",
        );
    }
    let c = if problems.is_empty() {
        check(
            "profile.kargs_effect",
            "profile",
            Status::Pass,
            "the kernel arguments took effect",
        )
    } else {
        check(
            "profile.kargs_effect",
            "profile",
            Status::Fail,
            problems.join("; "),
        )
        .fix("reboot with the profile's kernel arguments (profile.kargs)")
    };
    evidence.into_iter().fold(c, |c, e| c.evidence(e))
}

fn irq_balance(cx: &Context) -> Check {
    let p = cx.profile.expect("profile checks run with a profile");
    let plan = cx.plan.as_ref().expect("profile checks run with a plan");
    let pids = cx.pids_named("irqbalance");
    if !p.irq.balance {
        return if pids.is_empty() {
            check(
                "profile.irqbalance",
                "profile",
                Status::Pass,
                "irqbalance is off, as the profile asks",
            )
        } else {
            check(
                "profile.irqbalance",
                "profile",
                Status::Fail,
                "irqbalance runs, though the profile turns it off",
            )
            .fix("sudo systemctl mask --now irqbalance.service")
        };
    }
    let Some(pid) = pids.first() else {
        return check(
            "profile.irqbalance",
            "profile",
            Status::Fail,
            "irqbalance is not running",
        )
        .fix("sudo systemctl enable --now irqbalance.service");
    };
    let env = match cx.m.read_bytes(&format!("/proc/{pid}/environ")) {
        Ok(b) => parse::key_values(&String::from_utf8_lossy(&b)),
        Err(e) => {
            return check(
                "profile.irqbalance",
                "profile",
                Status::Warn,
                "irqbalance runs; its environment cannot be read to verify the bans",
            )
            .evidence(e)
            .fix("run the check as root to read /proc/PID/environ");
        }
    };
    let mut problems = Vec::new();
    if let Some(cpus) = &plan.irq_banned_cpus {
        let got = env.get("IRQBALANCE_BANNED_CPULIST");
        if got.and_then(|g| parse::cpu_list(g)) != parse::cpu_list(cpus) {
            problems.push(format!(
                "IRQBALANCE_BANNED_CPULIST is {got:?}, the profile bans CPUs {cpus}"
            ));
        }
    }
    let args = env.get("IRQBALANCE_ARGS").cloned().unwrap_or_default();
    for irq in &p.irq.ban {
        if !args
            .split_whitespace()
            .any(|a| a == format!("--banirq={irq}"))
        {
            problems.push(format!(
                "IRQ {irq} is not banned (IRQBALANCE_ARGS: {args:?})"
            ));
        }
    }
    if problems.is_empty() {
        check(
            "profile.irqbalance",
            "profile",
            Status::Pass,
            format!("irqbalance runs (pid {pid}) with the profile's bans"),
        )
    } else {
        check("profile.irqbalance", "profile", Status::Fail, problems.join("; "))
            .fix("install the profile's irqbalance drop-in, then: sudo systemctl daemon-reload; sudo systemctl restart irqbalance")
    }
}

fn irq_priorities(cx: &Context) -> Check {
    let p = cx.profile.expect("profile checks run with a profile");
    if p.irq.priority.is_empty() {
        return check(
            "profile.irq_priority",
            "profile",
            Status::NotApplicable,
            "the profile sets no IRQ thread priority",
        );
    }
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (pid, comm) in cx.processes.iter().filter(|(_, c)| c.starts_with("irq/")) {
        // The IRQ number becomes part of a path: digits only.
        let Some(irq) = comm
            .trim_start_matches("irq/")
            .split('-')
            .next()
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(actions) = cx.m.line(&format!("/sys/kernel/irq/{irq}/actions")) else {
            continue;
        };
        let Some(rule) = p.irq.priority.iter().find(|r| actions.contains(&r.pattern)) else {
            continue;
        };
        let Some((_, policy, prio)) =
            cx.m.read(&format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| parse::proc_stat(&s))
        else {
            continue;
        };
        let line = format!(
            "{comm} ({actions}): policy {policy}, priority {prio}, wanted SCHED_FIFO {}",
            rule.prio
        );
        if policy == parse::SCHED_FIFO && prio == rule.prio {
            good.push(line);
        } else {
            bad.push(line);
        }
    }
    if good.is_empty() && bad.is_empty() {
        return check(
            "profile.irq_priority",
            "profile",
            Status::NotApplicable,
            "no IRQ thread matches the profile's patterns (no such device, or IRQs not threaded)",
        );
    }
    let c = if bad.is_empty() {
        check(
            "profile.irq_priority",
            "profile",
            Status::Pass,
            format!(
                "{} audio IRQ thread(s) at the profile's priority",
                good.len()
            ),
        )
    } else {
        check(
            "profile.irq_priority",
            "profile",
            Status::Fail,
            format!(
                "{} audio IRQ thread(s) not at the profile's priority",
                bad.len()
            ),
        )
        .fix("sudo systemctl start rtaudio-irq-priority.service")
    };
    bad.into_iter().chain(good).fold(c, |c, e| c.evidence(e))
}

fn sysctl_values(cx: &Context) -> Check {
    let p = cx.profile.expect("profile checks run with a profile");
    if p.sysctl.is_empty() {
        return check(
            "profile.sysctl",
            "profile",
            Status::NotApplicable,
            "the profile sets no sysctl",
        );
    }
    let mut bad = Vec::new();
    for (key, want) in &p.sysctl {
        let path = format!("/proc/sys/{}", crate::profile::grammar::sysctl_path(key));
        match cx.m.read(&path) {
            Ok(got) => {
                let got = got.split_whitespace().collect::<Vec<_>>().join(" ");
                if got != *want {
                    bad.push(format!("{key} = {got}, the profile sets {want}"));
                }
            }
            Err(e) => bad.push(e.into()),
        }
    }
    if bad.is_empty() {
        check(
            "profile.sysctl",
            "profile",
            Status::Pass,
            format!("all {} sysctl values are in force", p.sysctl.len()),
        )
    } else {
        bad.into_iter()
            .fold(
                check(
                    "profile.sysctl",
                    "profile",
                    Status::Fail,
                    "sysctl values differ from the profile",
                ),
                |c, e| c.evidence(e),
            )
            .fix("sudo sysctl --system (after installing the profile's sysctl.d file)")
    }
}

fn dropins(cx: &Context) -> Check {
    let plan = cx.plan.as_ref().expect("profile checks run with a plan");
    let mut missing = Vec::new();
    let mut changed = Vec::new();
    for f in &plan.rootfs {
        match cx.m.read_bytes(&f.path) {
            Ok(b) if b == f.content.as_bytes() => {}
            Ok(_) => changed.push(f.path.clone()),
            Err(_) => missing.push(f.path.clone()),
        }
    }
    let total = plan.rootfs.len();
    if missing.is_empty() && changed.is_empty() {
        return check(
            "profile.dropins",
            "profile",
            Status::Pass,
            format!("all {total} drop-ins are installed as rendered"),
        );
    }
    let status = if missing.len() == total {
        Status::Fail
    } else {
        Status::Warn
    };
    let mut c = check(
        "profile.dropins",
        "profile",
        status,
        format!("{} of {total} drop-ins missing, {} differ from the profile", missing.len(), changed.len()),
    )
    .fix("install the profile's package (rtaudio-tuning rpm PROFILE -o DIR; sudo dnf install DIR/*.rpm), or re-render and compare");
    let mut by_kind: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    by_kind.insert("missing", missing);
    by_kind.insert("differs", changed);
    for (kind, files) in by_kind {
        for f in files {
            c.evidence.push(format!("{kind}: {f}"));
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_support_from_os_release() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::write(
            t.path().join("etc/os-release"),
            "ID=fedora\nVERSION_ID=44\nSUPPORT_END=2020-01-01\n",
        )
        .unwrap();
        let m = Machine::new(Some(t.path())).unwrap();
        let none = crate::selinux::Compiled::default();
        let cx = Context::new(&m, Some("nobody"), None, &none).unwrap();
        let c = os_release(&cx);
        assert_eq!(c.status, Status::Warn);
        assert!(c.summary.contains("SUPPORT_END"), "{}", c.summary);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        // Fedora 40 ended four weeks after Fedora 42's release.
        assert_eq!(fedora_eol_days(40), Some(days_from_civil(2025, 5, 13)));
    }
}
