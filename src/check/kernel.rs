//! The running kernel: its configuration, preemption model and mitigations.

use super::context::Context;
use super::{Status, Verdict};
use crate::profile::Flavor;

pub(super) fn config(cx: &Context) -> Verdict {
    let c = match &cx.config {
        Some((from, _)) => Verdict::new(
            Status::Pass,
            format!("kernel configuration found in {from}"),
        ),
        None => Verdict::new(
            Status::Warn,
            "no kernel configuration (/proc/config.gz, /boot/config-*): its options cannot be checked",
        ),
    };
    cx.config_unread
        .iter()
        .fold(c, |c, e| c.evidence(e.as_str()))
}

pub(super) fn hrtimers(cx: &Context) -> Verdict {
    kernel_option(cx, &["CONFIG_HIGH_RES_TIMERS=y"], "high-resolution timers")
}

pub(super) fn tickless(cx: &Context) -> Verdict {
    kernel_option(
        cx,
        &[
            "CONFIG_NO_HZ=y",
            "CONFIG_NO_HZ_IDLE=y",
            "CONFIG_NO_HZ_FULL=y",
        ],
        "tickless timer support",
    )
}

fn kernel_option(cx: &Context, any: &[&str], what: &str) -> Verdict {
    let Some((from, _)) = &cx.config else {
        return Verdict::new(
            Status::NotApplicable,
            format!("{what}: no kernel configuration to read"),
        );
    };
    match any.iter().find(|o| cx.config_has(o)) {
        Some(o) => {
            Verdict::new(Status::Pass, format!("{what}: {o}")).evidence(format!("read {from}"))
        }
        None => Verdict::new(Status::Warn, format!("{what} not enabled"))
            .evidence(format!("none of {} in {from}", any.join(", "))),
    }
}

pub(super) fn preempt(cx: &Context) -> Verdict {
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
            Flavor::Rt if rt => Verdict::new(Status::Pass, "a PREEMPT_RT kernel runs, as the profile asks").evidence(evidence),
            Flavor::Rt => Verdict::new(Status::Fail, "the profile asks for kernel-rt, but this kernel is not PREEMPT_RT")
                .evidence(evidence)
                .evidence(format!("/sys/kernel/realtime: {}", cx.m.line("/sys/kernel/realtime").unwrap_or_else(String::from)))
                .fix("install kernel-rt (the profile's repository) and boot it: sudo grubby --set-default=/boot/vmlinuz-<version>+rt"),
            Flavor::Stock if rt || (dynamic && full) => {
                Verdict::new(Status::Pass, if rt { "a PREEMPT_RT kernel runs" } else { "full preemption: PREEMPT_DYNAMIC kernel booted with preempt=full" }).evidence(evidence)
            }
            Flavor::Stock => Verdict::new(Status::Fail, "the kernel does not run with full preemption")
                .evidence(evidence)
                .evidence(format!("preempt=full on the command line: {}", if full { "yes" } else { "no" }))
                .fix("sudo grubby --update-kernel=ALL --args=preempt=full, then reboot"),
        };
    }
    if rt {
        Verdict::new(Status::Pass, "a PREEMPT_RT kernel runs").evidence(evidence)
    } else if threadirqs {
        Verdict::new(
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
        Verdict::new(Status::Fail, "neither a PREEMPT_RT kernel nor threadirqs")
            .evidence(evidence)
            .fix("sudo grubby --update-kernel=ALL --args='threadirqs preempt=full', then reboot (or install kernel-rt)")
    }
}

pub(super) fn mitigations(cx: &Context) -> Verdict {
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
        return Verdict::new(
            Status::Pass,
            "CPU vulnerability mitigations are off (mitigations=off): lower latency, less protection",
        );
    }
    // rtcqs warns here; turning mitigations off trades security for latency,
    // so this tool leaves that to kernel.args and only reports.
    let c = Verdict::new(
        Status::Pass,
        format!(
            "CPU vulnerability mitigations are on ({} active)",
            vulns.len()
        ),
    );
    vulns.into_iter().fold(c, |c, v| c.evidence(v))
}
