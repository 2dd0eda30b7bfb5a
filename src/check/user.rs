//! Who is checked: not root, and in the realtime group (in this session too).

use super::context::Context;
use super::{Status, Verdict, probe};

pub(super) fn root(cx: &Context) -> Verdict {
    if cx.user.uid == Some(0) {
        Verdict::new(Status::Warn, "the user checked is root")
            .evidence("audio software should run as a normal user; root hides missing permissions")
            .fix("run `rtaudio-tuning check` as the musician, or give --user NAME")
    } else {
        Verdict::new(Status::Pass, format!("checking {}, not root", cx.user.name))
    }
}

pub(super) fn group(cx: &Context) -> Verdict {
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
        // usermod -G fails for a group the machine does not have: say how
        // to make it first.
        let group_db = cx.m.read("/etc/group").unwrap_or_default();
        let exists = group_db
            .lines()
            .any(|l| l.split(':').next() == Some(g.as_str()));
        let add = format!(
            "sudo usermod -a -G {g} {}, then log out and in again",
            cx.user.name
        );
        let verdict = Verdict::new(
            Status::Fail,
            format!("{} is not in the {g} group", cx.user.name),
        )
        .evidence(evidence);
        return if exists {
            verdict.fix(add)
        } else {
            verdict
                .evidence(format!("this machine has no {g} group"))
                .fix(format!(
                    "create it first: sudo groupadd --system {g} (or install the profile's package, which does), then {add}"
                ))
        };
    };
    if cx.is_self {
        let gids = probe::process_gids();
        let group_db = cx.m.read("/etc/group").unwrap_or_default();
        let gid = group_db.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3 && f[0] == group.as_str()).then(|| f[2].parse::<u32>().ok())?
        });
        if gid.is_some_and(|g| !gids.contains(&g)) {
            return Verdict::new(
                Status::Warn,
                format!("{} is in {group}, but this session is not", cx.user.name),
            )
            .evidence(evidence)
            .evidence(format!(
                "this process's groups: {}",
                gids.iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .fix("log out and in again (or reboot) so the session picks up the group");
        }
    }
    Verdict::new(
        Status::Pass,
        format!("{} is in the {group} group", cx.user.name),
    )
    .evidence(evidence)
}
