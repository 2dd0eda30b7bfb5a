//! Pure parsers of /proc, /sys and /etc text. They take what the files hold,
//! truncated or not, and never panic.

use std::collections::BTreeMap;

use crate::limits_conf::{self, Line, Member, Source, Type};

/// One numbered line of /proc/interrupts: the IRQ and the devices on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrqLine {
    pub irq: String,
    pub devices: Vec<String>,
}

/// /proc/interrupts, as rtcqs reads it: columns are separated by two or more
/// spaces, the last column lists the devices sharing the line (", ").
pub fn interrupts(text: &str) -> Vec<IrqLine> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let Some((irq, rest)) = line.trim_start().split_once(':') else {
            continue;
        };
        if irq.is_empty() || !irq.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let cols: Vec<&str> = rest
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        let Some(last) = cols.last() else { continue };
        if last.chars().all(|c| c.is_ascii_digit()) {
            continue; // a truncated line: counts only
        }
        // The last column holds "chip hwirq-type  devices" on some kernels:
        // the devices are what follows the last wide gap.
        let devices = last
            .split(", ")
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty())
            .collect();
        out.push(IrqLine {
            irq: irq.to_string(),
            devices,
        });
    }
    out
}

/// `name:x:uid:gid:...` lines of /etc/passwd: (uid, gid) of a user.
pub fn passwd_user(text: &str, user: &str) -> Option<(u32, u32)> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4 && f[0] == user).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

/// The name of a uid in /etc/passwd.
pub fn passwd_name(text: &str, uid: u32) -> Option<String> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[0].to_string())
    })
}

/// The groups of a user in /etc/group: those listing the user, and the one
/// whose gid is the user's primary gid.
pub fn user_groups(text: &str, user: &str, primary_gid: Option<u32>) -> Vec<String> {
    let mut out = Vec::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 {
            continue;
        }
        let member = f[3].split(',').any(|m| m.trim() == user);
        let primary = primary_gid.is_some() && f[2].parse::<u32>().ok() == primary_gid;
        if (member || primary) && !out.iter().any(|g| g == f[0]) {
            out.push(f[0].to_string());
        }
    }
    out
}

/// The gids /etc/group gives these groups.
pub fn group_gids(text: &str, names: &[String]) -> Vec<u32> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3 && names.iter().any(|n| n == f[0])).then(|| f[2].parse().ok())?
        })
        .collect()
}

/// A pam_limits value: the value and where it was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub value: String,
    pub origin: String,
    /// The kind of entry that set it: one of a lower kind is not replaced.
    source: Source,
}

/// Effective soft and hard limits per rlimit item, by pam_limits' rules:
/// limits.conf, then limits.d/*.conf in C-locale order, each line read with
/// its grammar ([`crate::limits_conf`]); an entry for the user beats a group
/// entry, which beats `*`; within a kind a later line wins.
#[derive(Debug, Default)]
pub struct Limits {
    pub soft: BTreeMap<String, Limit>,
    pub hard: BTreeMap<String, Limit>,
    /// A `domain -` line for the user, which makes pam_limits set no limit
    /// at all: where it is.
    pub none_by: Option<String>,
}

impl Limits {
    pub fn new(files: &[(String, String)], who: &Member) -> Limits {
        let mut l = Limits::default();
        for (name, text) in files {
            for (n, line) in limits_conf::lines(text) {
                let origin = format!("{name}:{n}");
                let entry = match line {
                    Line::Entry(e) => e,
                    Line::NoLimits { text, domain } if domain.stops_for(text, who) => {
                        return Limits {
                            none_by: Some(origin),
                            ..Limits::default()
                        };
                    }
                    _ => continue,
                };
                let Some(source) = entry.domain.source_for(entry.text, who) else {
                    continue;
                };
                // A line pam_limits skips, or one of its login counts,
                // priority and nonewprivs, which have no soft and hard value.
                let Ok(effect) = entry.effect() else { continue };
                let Some(kind) = effect.limit_type.filter(|_| effect.kind.is_rlimit()) else {
                    continue;
                };
                let new = Limit {
                    value: effect.value.to_string(),
                    origin,
                    source,
                };
                // pam_limits' process_limit: an entry of a lower kind (a group
                // line after the user's own) does not replace; for `-`, a soft
                // limit it may not replace ends the line, hard included.
                let may = |map: &BTreeMap<String, Limit>| {
                    map.get(effect.item).is_none_or(|old| old.source >= source)
                };
                let item = effect.item.to_string();
                match kind {
                    Type::Soft if may(&l.soft) => {
                        l.soft.insert(item, new);
                    }
                    Type::Hard if may(&l.hard) => {
                        l.hard.insert(item, new);
                    }
                    Type::Both if may(&l.soft) => {
                        l.soft.insert(item.clone(), new.clone());
                        if may(&l.hard) {
                            l.hard.insert(item, new);
                        }
                    }
                    _ => {}
                }
            }
        }
        l
    }
}

/// A normalised limit value as a number; None is unlimited.
pub fn limit_number(v: &str) -> Option<u64> {
    if v == "unlimited" {
        None
    } else {
        v.parse().ok()
    }
}

/// /proc/PID/stat: (comm, scheduling policy, rt priority). The comm is in
/// parentheses and may hold spaces or ')': the fields follow the last ')'.
pub fn proc_stat(text: &str) -> Option<(String, u32, u32)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state): rt_priority is field 40, policy field 41.
    let rt_priority = rest.get(37)?.parse().ok()?;
    let policy = rest.get(38)?.parse().ok()?;
    Some((comm, policy, rt_priority))
}

pub const SCHED_FIFO: u32 = 1;
pub const SCHED_RR: u32 = 2;

/// KEY=value lines (os-release, EnvironmentFile, environ split on NUL).
pub fn key_values(text: &str) -> BTreeMap<String, String> {
    text.split(['\n', '\0'])
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            Some((
                k.trim().to_string(),
                v.trim().trim_matches(['"', '\'']).to_string(),
            ))
        })
        .collect()
}

/// The longest kernel release: `struct new_utsname`'s release field holds 64
/// characters (include/uapi/linux/utsname.h, __NEW_UTS_LEN).
pub const RELEASE_MAX: usize = 64;

/// A kernel release (`6.1.0-56-rt-amd64`, `6.14.2-300.fc42.x86_64+rt`) as it
/// may become part of a path (/boot/config-RELEASE): letters, digits and
/// `._+~-`, at most [`RELEASE_MAX`] of them, and not `.` or `..`. Err says
/// what is wrong, for the evidence.
pub fn kernel_release(s: &str) -> Result<&str, String> {
    if s.is_empty() {
        return Err("no kernel release".into());
    }
    if s.len() > RELEASE_MAX {
        return Err(format!(
            "the kernel release is longer than {RELEASE_MAX} characters"
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '~' | '-')))
    {
        return Err(format!(
            "the kernel release {s:?} holds {c:?}, which no release has"
        ));
    }
    if s == "." || s == ".." {
        return Err(format!("the kernel release {s:?} is not a release"));
    }
    Ok(s)
}

/// A cpu list (`0-3,8`) as CPU numbers; None when it does not parse.
pub fn cpu_list(text: &str) -> Option<Vec<u32>> {
    let t = text.trim();
    if t.is_empty() {
        return Some(Vec::new());
    }
    crate::profile::grammar::cpu_list(t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupts_as_rtcqs_reads_them() {
        let text = "           CPU0       CPU1\n  0:         33          0   IO-APIC   2-edge      timer\n 16:       1001         12   IO-APIC  16-fasteoi   snd_hda_intel:card0, ehci_hcd:usb1\n 24:        998          0  PCI-MSI 327680-edge      xhci_hcd\nNMI:          0          0   Non-maskable interrupts\n 99:  12\n";
        let lines = interrupts(text);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1].irq, "16");
        assert_eq!(lines[1].devices, ["snd_hda_intel:card0", "ehci_hcd:usb1"]);
        assert_eq!(lines[2].devices, ["xhci_hcd"]);
    }

    fn member<'a>(name: &'a str, groups: &'a [String]) -> Member<'a> {
        Member {
            name,
            uid: Some(1000),
            gid: Some(1000),
            groups,
            gids: &[],
        }
    }

    #[test]
    fn pam_limits_order_and_ranking() {
        let files = vec![
            (
                "/etc/security/limits.conf".to_string(),
                "* - rtprio 0\n".to_string(),
            ),
            (
                "/etc/security/limits.d/95-jack.conf".to_string(),
                "@audio - rtprio 70\n@audio - memlock 4194304\n".to_string(),
            ),
            (
                "/etc/security/limits.d/realtime.conf".to_string(),
                "@realtime - rtprio 99\n".to_string(),
            ),
            (
                "/etc/security/limits.d/rtaudio-tuning.conf".to_string(),
                "@realtime\t-\trtprio\t95\n@realtime - memlock unlimited # ok\n".to_string(),
            ),
        ];
        let groups = vec!["audio".to_string(), "realtime".to_string()];
        let musician = member("musician", &groups);
        let l = Limits::new(&files, &musician);
        assert_eq!(l.hard["rtprio"].value, "95");
        assert_eq!(
            l.hard["rtprio"].origin,
            "/etc/security/limits.d/rtaudio-tuning.conf:1"
        );
        assert_eq!(l.soft["memlock"].value, "unlimited");
        // A user entry beats any group entry, wherever it is.
        let mut with_user = files.clone();
        with_user.insert(
            0,
            (
                "/etc/security/limits.conf".into(),
                "musician hard rtprio 10\n".into(),
            ),
        );
        assert_eq!(
            Limits::new(&with_user, &musician).hard["rtprio"].value,
            "10"
        );
        assert_eq!(
            Limits::new(&with_user, &musician).soft["rtprio"].value,
            "95"
        );
        // Not in the groups: only `*` applies.
        assert_eq!(
            Limits::new(&files, &member("other", &[])).hard["rtprio"].value,
            "0"
        );
        // Values pam_limits cannot read are skipped; case does not matter.
        let odd = vec![(
            "/etc/security/limits.conf".to_string(),
            "@realtime - rtprio fast\n@realtime - RTPRIO 80 extra\n@realtime - memlock 4G\n"
                .to_string(),
        )];
        let l = Limits::new(&odd, &musician);
        assert_eq!(l.hard["rtprio"].value, "80");
        assert_eq!(l.hard["memlock"].value, "4");
        // A user's own soft line stops a later group `-` line, hard included.
        let user_soft = vec![(
            "/etc/security/limits.conf".to_string(),
            "musician soft memlock unlimited\n@realtime - memlock unlimited\n".to_string(),
        )];
        let l = Limits::new(&user_soft, &musician);
        assert_eq!(l.soft["memlock"].value, "unlimited");
        assert!(!l.hard.contains_key("memlock"));
        // pam_limits: `-` is unlimited for rlimits; nice is a plain integer,
        // so its -1 is -1; strtoull wraps a negative rlimit.
        let signs = vec![(
            "/etc/security/limits.conf".to_string(),
            "@realtime - memlock -
@realtime - nice -1
@realtime - rtprio -5
"
            .to_string(),
        )];
        let l = Limits::new(&signs, &musician);
        assert_eq!(l.hard["memlock"].value, "unlimited");
        assert_eq!(l.hard["nice"].value, "-1");
        assert_eq!(l.hard["rtprio"].value, (u64::MAX - 4).to_string());
    }

    #[test]
    fn pam_limits_ranges_and_a_line_that_sets_no_limits() {
        let groups = vec!["realtime".to_string()];
        let musician = member("musician", &groups);
        let file = |text: &str| {
            vec![
                (
                    "/etc/security/limits.conf".to_string(),
                    "@realtime - rtprio 95\n% - rtprio 5\n".to_string(),
                ),
                (
                    "/etc/security/limits.d/x.conf".to_string(),
                    text.to_string(),
                ),
            ]
        };
        // A uid range is the user's own entry: a later group line does not
        // replace it; `%` sets maxlogins only.
        let l = Limits::new(
            &file("1000:1999 hard rtprio 50\n@realtime - rtprio 99\n"),
            &musician,
        );
        assert_eq!(l.hard["rtprio"].value, "50");
        assert_eq!(l.soft["rtprio"].value, "99");
        assert_eq!(l.none_by, None);
        // `@realtime -` ends pam_limits for the group's members: no limit is
        // set, not even those read before it.
        let l = Limits::new(&file("@realtime -\n@realtime - rtprio 99\n"), &musician);
        assert_eq!(
            l.none_by.as_deref(),
            Some("/etc/security/limits.d/x.conf:1")
        );
        assert!(l.hard.is_empty() && l.soft.is_empty());
        // `* -` applies to no one.
        let l = Limits::new(&file("* -\n"), &musician);
        assert_eq!((l.none_by, l.hard["rtprio"].value.as_str()), (None, "95"));
    }

    #[test]
    fn proc_stat_with_odd_comm() {
        let mut fields = vec!["S"; 38];
        fields[37] = "90";
        let text = format!("123 (irq/16-snd )x) {} 1 0 0\n", fields.join(" "));
        assert_eq!(proc_stat(&text), Some(("irq/16-snd )x".into(), 1, 90)));
        assert_eq!(proc_stat("12 (trunc"), None);
        assert_eq!(proc_stat(""), None);
    }

    #[test]
    fn kernel_releases_that_may_name_a_file() {
        for ok in [
            "6.1.0-56-rt-amd64",
            "6.14.2-300.fc42.x86_64+rt",
            "6.12.0-55.el10_0.x86_64",
            "6.15.0~rc1",
            "..x",
        ] {
            assert_eq!(kernel_release(ok), Ok(ok));
        }
        let longest = "a".repeat(RELEASE_MAX);
        assert!(kernel_release(&longest).is_ok());
        for bad in [
            "",
            ".",
            "..",
            "../../proc/kmsg",
            "6.1/x",
            "6.1 x",
            "6.1\n",
            "6.1\u{1b}[2J",
            "6.1.0-\u{e9}",
            "6.1\0",
        ] {
            assert!(kernel_release(bad).is_err(), "{bad:?}");
        }
        assert!(kernel_release(&format!("{longest}a")).is_err());
    }

    #[test]
    fn passwd_and_groups() {
        let passwd = "root:x:0:0::/root:/bin/sh\nmusician:x:1000:1000::/home/m:/bin/bash\nbroken\n";
        let group = "root:x:0:\naudio:x:63:musician,bob\nrealtime:x:71:\nmusician:x:1000:\nbad\n";
        assert_eq!(passwd_user(passwd, "musician"), Some((1000, 1000)));
        assert_eq!(passwd_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(
            user_groups(group, "musician", Some(1000)),
            ["audio", "musician"]
        );
        let groups = [
            "audio".to_string(),
            "musician".to_string(),
            "bad".to_string(),
        ];
        assert_eq!(group_gids(group, &groups), [63, 1000]);
    }
}
