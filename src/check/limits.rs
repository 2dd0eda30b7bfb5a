//! The realtime limits pam_limits gives the user, and whether SCHED_FIFO and
//! mlockall really work for the user running the check.

use super::context::Context;
use super::parse;
use super::{Status, Verdict, probe};
use crate::profile::Memlock;

pub(super) fn rtprio(cx: &Context) -> Verdict {
    limits_item(cx, "rtprio")
}

pub(super) fn memlock(cx: &Context) -> Verdict {
    limits_item(cx, "memlock")
}

fn limits_item(cx: &Context, item: &'static str) -> Verdict {
    let hard = cx.limits.hard.get(item);
    let soft = cx.limits.soft.get(item);
    let read = if cx.limit_files.is_empty() && cx.limit_unread.is_empty() {
        "read no limits file: there is none".to_string()
    } else if cx.limit_files.is_empty() {
        "read no limits file".to_string()
    } else {
        format!("read {}", cx.limit_files.join(", "))
    };
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
        Verdict::new(
            Status::Pass,
            format!(
                "{item} for {} is {}",
                cx.user.name,
                hard.map_or("", |l| l.value.as_str())
            ),
        )
    } else {
        Verdict::new(
            Status::Fail,
            format!("{item} for {} is below {wanted_text}", cx.user.name),
        )
        .fix(fix)
    }
    .evidence(format!("soft {}, hard {}", shown(soft), shown(hard)))
    .evidence(read);
    if let Some(by) = &cx.limits.none_by {
        c.evidence.push(format!(
            "{by} is a `domain -` line for {}: pam_limits sets no limit at all for them",
            cx.user.name
        ));
        c.fix = Some(format!(
            "remove the `domain -` line at {by} (with it pam_limits sets no limit from any file), then log in again"
        ));
    }
    // Another file deciding our limit: realtime-setup's, JACK's, PipeWire's.
    if let (Some(_), Some(h)) = (cx.profile, hard)
        && !h.origin.contains("rtaudio-tuning.conf")
    {
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
    // pam_limits fails the session on a file it cannot open, other than a
    // missing one; here the file's lines are unknown, so the limit is too.
    if !cx.limit_unread.is_empty() {
        c.status = Status::Fail;
        c.summary = format!(
            "{item} for {} is not known: not all that pam_limits reads can be read here",
            cx.user.name
        );
        c.evidence.extend(cx.limit_unread.iter().cloned());
        c.fix = Some("make limits.conf and each limits.d/*.conf a regular file root can read, or remove it (pam_limits fails the login on one it cannot open); if only this user cannot read it, run the check with sudo".into());
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

pub(super) fn sched_fifo(cx: &Context) -> Verdict {
    let prio = cx.profile.map_or(80, |p| p.realtime.rtprio as i32);
    if !cx.is_self {
        return Verdict::new(
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
        Ok(()) => Verdict::new(Status::Pass, format!("SCHED_FIFO at priority {prio} works")),
        Err(e) => Verdict::new(
            Status::Fail,
            format!("SCHED_FIFO at priority {prio} is refused: {e}"),
        )
        .fix("give the user an rtprio limit (limits.rtprio) and log in again"),
    }
}

pub(super) fn mlockall(cx: &Context) -> Verdict {
    if !cx.is_self {
        return Verdict::new(
            Status::NotApplicable,
            "not tried: mlockall is tried for the user running the check, on the live machine",
        );
    }
    match probe::mlockall() {
        Ok(()) => Verdict::new(Status::Pass, "mlockall works"),
        Err(e) => Verdict::new(Status::Fail, format!("mlockall is refused: {e}"))
            .fix("give the user a memlock limit of unlimited (limits.memlock) and log in again"),
    }
}
