//! What a profile makes knowable: its kernel arguments and their effect,
//! irqbalance's bans, IRQ thread priorities, sysctl values and drop-ins. These
//! run only with `--profile`.

use std::collections::BTreeMap;

use super::context::Context;
use super::parse;
use super::{Status, Verdict};

pub(super) fn kargs(cx: &Context) -> Verdict {
    let plan = cx.plan.as_ref().expect("profile checks run with a plan");
    let missing: Vec<&String> = plan.kargs.iter().filter(|a| !cx.has_arg(a)).collect();
    let c = if missing.is_empty() {
        Verdict::new(
            Status::Pass,
            format!(
                "all {} kernel arguments of the profile are on /proc/cmdline",
                plan.kargs.len()
            ),
        )
    } else {
        let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        Verdict::new(
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

pub(super) fn kargs_effect(cx: &Context) -> Verdict {
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
            let shown = got.as_deref().map_or("none".to_string(), |c| {
                if c.is_empty() {
                    "none".to_string()
                } else {
                    crate::profile::grammar::cpu_list_string(c)
                }
            });
            evidence.push(format!("/sys/devices/system/cpu/{file}: {shown}"));
            if got.as_ref() != Some(&want) {
                problems.push(format!(
                    "CPUs {} are not in /sys/devices/system/cpu/{file}",
                    crate::profile::grammar::cpu_list_string(&want)
                ));
            }
        }
    }
    if evidence.is_empty() {
        return Verdict::new(
            Status::NotApplicable,
            "no kernel argument with a visible effect to verify",
        );
    }
    let c = if problems.is_empty() {
        Verdict::new(Status::Pass, "the kernel arguments took effect")
    } else {
        Verdict::new(Status::Fail, problems.join("; "))
            .fix("reboot with the profile's kernel arguments (profile.kargs)")
    };
    evidence.into_iter().fold(c, |c, e| c.evidence(e))
}

pub(super) fn irqbalance(cx: &Context) -> Verdict {
    let p = cx.profile.expect("profile checks run with a profile");
    let plan = cx.plan.as_ref().expect("profile checks run with a plan");
    let pids = cx.pids_named("irqbalance");
    if !p.irq.balance {
        return if pids.is_empty() {
            Verdict::new(Status::Pass, "irqbalance is off, as the profile asks")
        } else {
            Verdict::new(
                Status::Fail,
                "irqbalance runs, though the profile turns it off",
            )
            .fix("sudo systemctl mask --now irqbalance.service")
        };
    }
    let Some(pid) = pids.first() else {
        return Verdict::new(Status::Fail, "irqbalance is not running")
            .fix("sudo systemctl enable --now irqbalance.service");
    };
    let env = match cx.m.read_bytes(&format!("/proc/{pid}/environ")) {
        Ok(b) => parse::key_values(&String::from_utf8_lossy(&b)),
        Err(e) => {
            return Verdict::new(
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
        Verdict::new(
            Status::Pass,
            format!("irqbalance runs (pid {pid}) with the profile's bans"),
        )
    } else {
        Verdict::new(Status::Fail, problems.join("; "))
            .fix("install the profile's irqbalance drop-in, then: sudo systemctl daemon-reload; sudo systemctl restart irqbalance")
    }
}

pub(super) fn irq_priority(cx: &Context) -> Verdict {
    let p = cx.profile.expect("profile checks run with a profile");
    if p.irq.priority.is_empty() {
        return Verdict::new(
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
        return Verdict::new(
            Status::NotApplicable,
            "no IRQ thread matches the profile's patterns (no such device, or IRQs not threaded)",
        );
    }
    let c = if bad.is_empty() {
        Verdict::new(
            Status::Pass,
            format!(
                "{} audio IRQ thread(s) at the profile's priority",
                good.len()
            ),
        )
    } else {
        Verdict::new(
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

pub(super) fn sysctl(cx: &Context) -> Verdict {
    let p = cx.profile.expect("profile checks run with a profile");
    if p.sysctl.is_empty() {
        return Verdict::new(Status::NotApplicable, "the profile sets no sysctl");
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
        Verdict::new(
            Status::Pass,
            format!("all {} sysctl values are in force", p.sysctl.len()),
        )
    } else {
        bad.into_iter()
            .fold(
                Verdict::new(Status::Fail, "sysctl values differ from the profile"),
                |c, e| c.evidence(e),
            )
            .fix("sudo sysctl --system (after installing the profile's sysctl.d file)")
    }
}

/// Whether a fleet host's own copy of a file of ours under /etc (what
/// `fleet`'s image-mode snippet writes to /etc/rtaudio-tuning/host/, read
/// through a drop-in, beside the image's file) holds the profile's content:
/// the same text, then only comments and variables it sets empty (those the
/// image sets and this host does not).
fn fleet_host_copy(cx: &Context, f: &crate::render::RootfsFile) -> bool {
    let ours = format!("/etc/{}/", crate::render::TOOL);
    let Some(name) = f.path.strip_prefix(&ours) else {
        return false;
    };
    let Ok(text) = cx.m.read(&format!("{ours}host/{name}")) else {
        return false;
    };
    text.strip_prefix(f.content.as_str()).is_some_and(|rest| {
        rest.lines().all(|l| {
            let l = l.trim();
            l.is_empty()
                || l.starts_with('#')
                || l.strip_suffix('=').is_some_and(|k| !k.contains('='))
        })
    })
}

pub(super) fn dropins(cx: &Context) -> Verdict {
    let plan = cx.plan.as_ref().expect("profile checks run with a plan");
    let mut missing = Vec::new();
    let mut changed = Vec::new();
    let mut notes = Vec::new();
    // bootc reads kargs.d when it builds or updates a deployment; a fleet
    // host's own arguments come from `rpm-ostree kargs` over the image's
    // file. What counts is the command line: a kargs.d of another profile
    // whose arguments the kernel has anyway is noted, not held against it.
    let on_cmdline = plan.kargs.iter().all(|k| cx.cmdline.contains(k));
    for f in &plan.rootfs {
        match cx.m.read_bytes(&f.path) {
            Ok(b) if b == f.content.as_bytes() => {}
            Ok(_) if f.path.starts_with("/usr/lib/bootc/kargs.d/") && on_cmdline => notes.push(
                format!("{}: the image's, not this profile's; its kernel arguments are on /proc/cmdline", f.path),
            ),
            Ok(_) if fleet_host_copy(cx, f) => notes.push(format!(
                "{}: the image's; this host's copy in the fleet's host folder is the profile's",
                f.path
            )),
            Ok(_) => changed.push(f.path.clone()),
            Err(_) => missing.push(f.path.clone()),
        }
    }
    let total = plan.rootfs.len();
    if missing.is_empty() && changed.is_empty() {
        let mut v = Verdict::new(
            Status::Pass,
            format!("all {total} drop-ins are installed as rendered"),
        );
        v.evidence.extend(notes);
        return v;
    }
    let status = if missing.len() == total {
        Status::Fail
    } else {
        Status::Warn
    };
    let mut c = Verdict::new(status,
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
