//! The CPU frequency governor, the daemons that change it, and SMT.

use super::context::Context;
use super::machine::Machine;
use super::parse;
use super::{Status, Verdict, probe};
use crate::profile::Conflicts;

fn online_cpus(m: &Machine) -> Vec<u32> {
    m.line("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|l| parse::cpu_list(&l))
        .unwrap_or_default()
}

pub(super) fn governor(cx: &Context) -> Verdict {
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
        return Verdict::new(
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
        Verdict::new(
            Status::Pass,
            format!("every CPU uses the {wanted} governor"),
        )
    } else {
        Verdict::new(
            Status::Fail,
            format!(
                "{} {} not use {wanted}",
                crate::text::count(bad.len(), "CPU"),
                if bad.len() == 1 { "does" } else { "do" }
            ),
        )
        .evidence(bad.join(", "))
        .fix(format!(
            "sudo cpupower frequency-set -g {wanted}; sudo systemctl enable --now cpupower.service"
        ))
    };
    if cx.m.live
        && let Some(state) = probe::systemctl("is-enabled", "cpupower.service")
    {
        c.evidence.push(format!("cpupower.service: {state}"));
        if state != "enabled" && c.status == Status::Pass {
            c.status = Status::Warn;
            c.summary =
                format!("{wanted} now, but cpupower.service is {state}: it will not last a reboot");
            c.fix = Some("sudo systemctl enable cpupower.service".into());
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

pub(super) fn conflicts(cx: &Context) -> Verdict {
    let running: Vec<&str> = GOVERNOR_DAEMONS
        .iter()
        .filter(|(comm, _)| cx.processes.iter().any(|(_, c)| c.starts_with(comm)))
        .map(|(_, unit)| *unit)
        .collect();
    let keep = cx
        .profile
        .is_some_and(|p| p.cpu.conflicts == Conflicts::Keep);
    if running.is_empty() {
        return Verdict::new(
            Status::Pass,
            "no tuned, tuned-ppd or power-profiles-daemon running",
        );
    }
    let c = Verdict::new(
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

pub(super) fn smt(cx: &Context) -> Verdict {
    match cx.m.line("/sys/devices/system/cpu/smt/control") {
        Ok(v) if v == "on" => Verdict::new(Status::Warn, "simultaneous multithreading is on: sibling threads share a core and can delay audio threads")
            .fix("turn SMT off in the firmware, or boot with nosmt (costs throughput)"),
        Ok(v) => Verdict::new(Status::Pass, format!("SMT: {v}")),
        Err(e) => Verdict::new(Status::NotApplicable, "SMT state unknown").evidence(e),
    }
}
