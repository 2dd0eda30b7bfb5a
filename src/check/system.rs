//! The rest of the system: swap, file systems, C-states, SELinux and the
//! release's support.

use super::context::Context;
use super::parse;
use super::{Status, Verdict, probe};

pub(super) fn swappiness(cx: &Context) -> Verdict {
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
            return Verdict::new(
                Status::NotApplicable,
                "/proc/sys/vm/swappiness cannot be read",
            );
        }
    };
    if swaps.lines().count() < 2 {
        return Verdict::new(
            Status::Pass,
            format!("no swap in use (swappiness {value} does not matter)"),
        );
    }
    if value <= wanted {
        Verdict::new(Status::Pass, format!("vm.swappiness is {value}"))
    } else {
        Verdict::new(Status::Warn, format!("vm.swappiness is {value}, above {wanted}"))
            .fix(format!("echo 'vm.swappiness = {wanted}' | sudo tee /etc/sysctl.d/90-swappiness.conf; sudo sysctl --system"))
    }
}

pub(super) fn mounts(cx: &Context) -> Verdict {
    let Ok(mounts) = cx.m.read("/proc/mounts") else {
        return Verdict::new(Status::NotApplicable, "/proc/mounts cannot be read");
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
        Verdict::new(Status::Pass, "no FUSE, NFS or reiserfs mounts")
    } else {
        Verdict::new(
            Status::Warn,
            format!("mounts to keep audio files off: {}", bad.join(", ")),
        )
        .fix("record to a local ext4, xfs or btrfs file system")
    }
}

pub(super) fn cpu_dma_latency(cx: &Context) -> Verdict {
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
        return Verdict::new(Status::NotApplicable, format!("{path} is missing"));
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
        Verdict::new(
            Status::Pass,
            format!(
                "{} can hold {path} (keeps CPUs out of deep C-states)",
                cx.user.name
            ),
        )
        .evidence(evidence)
    } else {
        Verdict::new(Status::Warn, format!("{} cannot write {path}: DAWs cannot keep CPUs out of deep C-states", cx.user.name))
            .evidence(evidence)
            .fix(format!(
                "a udev rule: KERNEL==\"cpu_dma_latency\", GROUP=\"{}\", MODE=\"0660\" (the profile's artifacts ship it)",
                cx.rt_groups()[0]
            ))
    }
}

pub(super) fn selinux_mode(cx: &Context) -> Verdict {
    match cx.m.line("/sys/fs/selinux/enforce").as_deref() {
        Ok("1") => Verdict::new(Status::Pass, "SELinux is enforcing"),
        Ok("0") => Verdict::new(Status::Warn, "SELinux is permissive: that hides denials instead of fixing them")
            .fix("sudo setenforce 1; for the denials: ausearch -m avc -ts recent | rtaudio-tuning selinux from-audit - -n studio_local --add-to PROFILE"),
        _ => Verdict::new(Status::NotApplicable, "SELinux is not enabled on this kernel"),
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

pub(super) fn selinux_denials(cx: &Context) -> Verdict {
    let enforcing = cx.m.line("/sys/fs/selinux/enforce").is_ok();
    let ausearch = crate::cmd::find("ausearch");
    let (true, true, Some(ausearch)) = (cx.m.live, enforcing, ausearch) else {
        return Verdict::new(
            Status::NotApplicable,
            "recent AVC denials not looked for (needs a live machine with SELinux and ausearch)",
        );
    };
    let out =
        crate::cmd::run(std::process::Command::new(ausearch).args(["-m", "avc", "-ts", "today"]));
    let Ok(out) = out else {
        return Verdict::new(Status::NotApplicable, "ausearch could not run");
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
        return Verdict::new(
            Status::Pass,
            format!(
                "no audio-related AVC denial today ({} in all)",
                parsed.denials.len()
            ),
        );
    }
    audio.into_iter().fold(
        Verdict::new(Status::Warn, "audio programs were denied by SELinux today")
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

pub(super) fn os_release(cx: &Context) -> Verdict {
    let Ok(text) =
        cx.m.read("/etc/os-release")
            .or_else(|_| cx.m.read("/usr/lib/os-release"))
    else {
        return Verdict::new(Status::NotApplicable, "no os-release to read");
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
                return Verdict::new(
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
                Some(eol) if eol < today => Verdict::new(Status::Warn, format!("{name} has reached its end of life ({} days ago{}): no more security or kernel updates", today - eol, if stated.is_some() { ", SUPPORT_END" } else { ", estimated from Fedora's cadence" }))
                    .fix(format!("upgrade: sudo dnf system-upgrade download --releasever={}", n + 2)),
                Some(_) => Verdict::new(Status::Pass, format!("{name} is supported")),
                None => Verdict::new(Status::Warn, format!("{name} is long past its end of life")),
            }
        }
        "centos" | "rhel" | "almalinux" if version.starts_with("10") => {
            Verdict::new(Status::Pass, format!("{name} is supported"))
        }
        _ => Verdict::new(
            Status::NotApplicable,
            format!("{name} is not a target of this tool (Fedora 42-46, EL 10)"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Machine;
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
