//! The audio server itself: whether the musician's PipeWire or jackd really
//! runs its data thread realtime, and what stands in its way: the limits of
//! the user's `systemd --user` manager (which every user service inherits),
//! RTKit's cap, the graph's settings, and device power saving.

use super::context::Context;
use super::parse;
use super::{Status, Verdict};
use crate::profile::{AudioServer, Memlock};
use crate::validate::spa_json::{self, Value};

/// The audio servers' processes (comm): the ones whose threads carry the
/// audio, PipeWire's first. PipeWire names its realtime thread `data-loop.0`; jackd's
/// realtime threads carry no name of their own.
const SERVERS: &[&str] = &["pipewire", "jackd", "jackdbus"];

/// The realtime thread of a PipeWire process (module-rt raises it).
const PIPEWIRE_DATA_LOOP: &str = "data-loop";

/// The processes of the judged user among `names`: (pid, comm).
fn user_processes<'c>(cx: &'c Context, names: &[&str]) -> Vec<(&'c str, &'c str)> {
    cx.processes
        .iter()
        .filter(|(_, comm)| names.contains(&comm.as_str()))
        .filter(|(pid, _)| owner(cx, pid).is_some_and(|uid| Some(uid) == cx.user.uid))
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect()
}

/// The real uid of a process (`Uid:` of /proc/PID/status).
fn owner(cx: &Context, pid: &str) -> Option<u32> {
    let status = cx.m.read(&format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A process's threads: (tid, comm, policy, rt priority).
fn threads(cx: &Context, pid: &str) -> Vec<(String, String, u32, u32)> {
    cx.m.list(&format!("/proc/{pid}/task"))
        .into_iter()
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|tid| {
            let stat = cx.m.read(&format!("/proc/{pid}/task/{tid}/stat")).ok()?;
            let (comm, policy, prio) = parse::proc_stat(&stat)?;
            Some((tid, comm, policy, prio))
        })
        .collect()
}

fn policy_name(policy: u32) -> String {
    match policy {
        0 => "SCHED_OTHER".into(),
        parse::SCHED_FIFO => "SCHED_FIFO".into(),
        parse::SCHED_RR => "SCHED_RR".into(),
        3 => "SCHED_BATCH".into(),
        5 => "SCHED_IDLE".into(),
        6 => "SCHED_DEADLINE".into(),
        n => format!("policy {n}"),
    }
}

pub(super) fn server_rt(cx: &Context) -> Verdict {
    // The profile's server (a JACK studio may run PipeWire beside jackd for
    // the desktop), or any.
    let names: &[&str] = match cx.profile.map(|p| p.audio.server) {
        Some(AudioServer::Pipewire) => &SERVERS[..1],
        Some(AudioServer::Jack) => &SERVERS[1..],
        None => SERVERS,
    };
    let procs = user_processes(cx, names);
    if procs.is_empty() {
        return Verdict::new(
            Status::NotApplicable,
            format!("no {} of {} runs", names.join(" or "), cx.user.name),
        );
    }
    // The profile's priority, when a profile names the server that runs.
    let wanted = cx.profile.map(|p| p.audio.rt_priority);
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut others = Vec::new();
    let mut jack_other = Vec::new();
    let mut servers = 0;
    for (pid, comm) in procs {
        let all = threads(cx, pid);
        // Other programs run as `pipewire -c FILE` too (filter-chain,
        // pipewire-pulse on some builds): the server is the one with a data
        // loop, and one of the user's PipeWire processes must have it.
        if comm == "pipewire"
            && !all
                .iter()
                .any(|(_, c, _, _)| c.starts_with(PIPEWIRE_DATA_LOOP))
        {
            let cmdline =
                cx.m.read(&format!("/proc/{pid}/cmdline"))
                    .unwrap_or_default()
                    .split('\0')
                    .filter(|a| !a.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
            others.push(format!(
                "{comm} (pid {pid}, {cmdline}): no data loop of its own, not the server"
            ));
            continue;
        }
        servers += 1;
        let rt: Vec<&(String, String, u32, u32)> = if comm == "pipewire" {
            all.iter()
                .filter(|(_, c, _, _)| c.starts_with(PIPEWIRE_DATA_LOOP))
                .collect()
        } else {
            all.iter()
                .filter(|(_, _, policy, _)| matches!(*policy, parse::SCHED_FIFO | parse::SCHED_RR))
                .collect()
        };
        if rt.is_empty() {
            bad.push(format!(
                "{comm} (pid {pid}): no realtime thread among its {} threads",
                all.len()
            ));
            continue;
        }
        for (tid, tcomm, policy, prio) in rt {
            // module-rt takes SCHED_FIFO through RLIMIT_RTPRIO; RTKit and the
            // portal hand out SCHED_RR (rtkit-daemon.c), capped at their maximum.
            let path = match *policy {
                parse::SCHED_FIFO => "through RLIMIT_RTPRIO",
                parse::SCHED_RR => "through RTKit or the realtime portal",
                _ => "not realtime",
            };
            let line = format!(
                "{comm} (pid {pid}) thread {tcomm} ({tid}): {} priority {prio}, {path}",
                policy_name(*policy)
            );
            let realtime = matches!(*policy, parse::SCHED_FIFO | parse::SCHED_RR);
            let as_wanted = wanted.is_none_or(|w| *policy == parse::SCHED_FIFO && *prio == w);
            if realtime && as_wanted {
                good.push(line);
            } else if comm == "pipewire" {
                bad.push(line);
            } else {
                // jackd's threads carry no names: its other realtime threads
                // (raw MIDI at -P+1) are reported beside the one at -P.
                jack_other.push(line);
            }
        }
        if comm != "pipewire"
            && !good
                .iter()
                .any(|l| l.starts_with(&format!("{comm} (pid {pid})")))
        {
            bad.push(format!(
                "{comm} (pid {pid}): no thread at SCHED_FIFO{}",
                wanted.map_or(String::new(), |w| format!(" {w}"))
            ));
        }
    }
    others.extend(jack_other);
    if servers == 0 {
        bad.push(format!(
            "none of {}'s PipeWire processes runs a data loop: the server itself is not running",
            cx.user.name
        ));
    }
    let fix = match wanted {
        Some(w) => format!(
            "give {u} rtprio {w} or more (its realtime group's limits) where `systemd --user` gets its limits (see limits.user_manager), then restart the server: systemctl --user restart pipewire wireplumber",
            u = cx.user.name
        ),
        None => {
            "put the user in a group with rtprio and memlock limits and restart the audio server"
                .into()
        }
    };
    let v = if bad.is_empty() {
        Verdict::new(
            Status::Pass,
            match wanted {
                Some(w) => format!("the audio server's realtime threads run SCHED_FIFO at {w}"),
                None => "the audio server's realtime threads run realtime".into(),
            },
        )
    } else {
        Verdict::new(
            Status::Fail,
            match wanted {
                Some(w) => format!(
                    "the audio server runs, but not every realtime thread is SCHED_FIFO at the profile's {w}"
                ),
                None => "the audio server runs, but its data thread is not realtime".into(),
            },
        )
        .fix(fix)
    };
    bad.into_iter()
        .chain(good)
        .chain(others)
        .fold(v, |v, e| v.evidence(e))
}

/// `/proc/PID/limits`: item name -> (soft, hard), as the kernel prints them
/// (fs/proc/base.c proc_pid_limits: name, soft, hard and units in columns).
pub fn proc_limits(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let name = l.get(..25)?.trim().to_string();
            let mut rest = l.get(25..)?.split_whitespace();
            Some((name, rest.next()?.to_string(), rest.next()?.to_string()))
        })
        .collect()
}

/// Whether a PAM service's session stack runs pam_limits, following
/// `include`, `substack` and Debian's `@include` (depth bounded, as PAM's own
/// is), and the files read.
fn pam_has_limits(
    cx: &Context,
    service: &str,
    depth: usize,
    read: &mut Vec<String>,
) -> Option<bool> {
    if depth > 8 || service.contains('/') || service.is_empty() {
        return Some(false);
    }
    // Linux-PAM reads /etc/pam.d, else the vendor's /usr/lib/pam.d (Debian
    // 12 ships systemd-user there).
    let (path, text) = ["/etc/pam.d", "/usr/lib/pam.d"].iter().find_map(|d| {
        let path = format!("{d}/{service}");
        cx.m.read(&path).ok().map(|t| (path, t))
    })?;
    read.push(path);
    for line in text.lines() {
        let w: Vec<&str> = line
            .split('#')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let found = match w.as_slice() {
            ["@include", file] => pam_has_limits(cx, file, depth + 1, read),
            [kind, control, rest @ ..] if kind.trim_start_matches('-') == "session" => {
                match (*control, rest.first()) {
                    ("include" | "substack", Some(file)) => {
                        pam_has_limits(cx, file, depth + 1, read)
                    }
                    (_, Some(module)) => Some(module.rsplit('/').next() == Some("pam_limits.so")),
                    _ => None,
                }
            }
            _ => None,
        };
        if found == Some(true) {
            return Some(true);
        }
    }
    Some(false)
}

pub(super) fn user_manager(cx: &Context) -> Verdict {
    let mut read = Vec::new();
    let pam = pam_has_limits(cx, "systemd-user", 0, &mut read);
    let managers: Vec<&str> = cx
        .pids_named("systemd")
        .into_iter()
        .filter(|pid| owner(cx, pid).is_some_and(|uid| Some(uid) == cx.user.uid))
        .filter(|pid| {
            cx.m.read(&format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split('\0').any(|a| a == "--user"))
        })
        .collect();
    let rtprio_wanted = cx.profile.map_or(75, |p| p.realtime.rtprio);
    let memlock_wanted: Option<u64> = cx.profile.and_then(|p| match p.realtime.memlock {
        Memlock::Unlimited => None,
        Memlock::KiB(k) => Some(k * 1024),
    });
    let mut v = Verdict::new(Status::Pass, "");
    let mut problems = Vec::new();
    match pam {
        None => v
            .evidence
            .push("neither /etc/pam.d/systemd-user nor /usr/lib/pam.d/systemd-user can be read".into()),
        Some(true) => v
            .evidence
            .push(format!("pam_limits is in the systemd-user session stack ({})", read.join(", "))),
        Some(false) => problems.push(format!(
            "pam_limits is not in the systemd-user session stack ({}): user services never get the limits.d limits (systemd issues 4284, 11386)",
            read.join(", ")
        )),
    }
    for pid in &managers {
        let Ok(text) = cx.m.read(&format!("/proc/{pid}/limits")) else {
            continue;
        };
        let limits = proc_limits(&text);
        let get = |name: &str| limits.iter().find(|(n, _, _)| n == name);
        if let Some((_, soft, hard)) = get("Max realtime priority") {
            let ok =
                |s: &str| s == "unlimited" || s.parse::<u32>().is_ok_and(|n| n >= rtprio_wanted);
            let line = format!("systemd --user (pid {pid}): rtprio soft {soft}, hard {hard}");
            if ok(soft) && ok(hard) {
                v.evidence.push(line);
            } else {
                problems.push(format!("{line}, below {rtprio_wanted}"));
            }
        }
        if let Some((_, soft, hard)) = get("Max locked memory") {
            let ok = |s: &str| {
                s == "unlimited"
                    || memlock_wanted.is_some_and(|w| s.parse::<u64>().is_ok_and(|n| n >= w))
            };
            let wanted = memlock_wanted.map_or("unlimited".into(), |w| format!("{w} bytes"));
            let line = format!("systemd --user (pid {pid}): memlock soft {soft}, hard {hard}");
            if ok(soft) && ok(hard) {
                v.evidence.push(line);
            } else {
                problems.push(format!("{line}, below {wanted}"));
            }
        }
    }
    if managers.is_empty() {
        v.evidence.push(format!(
            "no systemd --user of {} runs (no session now): judged by the PAM stack alone",
            cx.user.name
        ));
    }
    if pam.is_none() && managers.is_empty() {
        return Verdict::new(
            Status::NotApplicable,
            "neither the systemd-user PAM stack nor a user manager can be read",
        );
    }
    if problems.is_empty() {
        v.summary = format!(
            "the user services of {} get the realtime limits",
            cx.user.name
        );
        return v;
    }
    let mut f = Verdict::new(
        Status::Fail,
        format!(
            "the user services of {} (PipeWire, WirePlumber) do not get the realtime limits",
            cx.user.name
        ),
    )
    .fix("add `session required pam_limits.so` to /etc/pam.d/systemd-user (Fedora's includes system-auth, which has it), then log out and in again so systemd --user restarts");
    f.evidence = problems.into_iter().chain(v.evidence).collect();
    f
}

/// RTKit: what it grants a process that has no realtime limit of its own.
pub(super) fn rtkit(cx: &Context) -> Verdict {
    let Some(pid) = cx.pids_named("rtkit-daemon").first().copied() else {
        return Verdict::new(Status::NotApplicable, "rtkit-daemon does not run");
    };
    let cmdline =
        cx.m.read(&format!("/proc/{pid}/cmdline"))
            .unwrap_or_default();
    // rtkit-daemon.c: max_realtime_priority defaults to 20.
    let max = cmdline
        .split('\0')
        .find_map(|a| a.strip_prefix("--max-realtime-priority="))
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(20);
    let args: Vec<&str> = cmdline.split('\0').filter(|a| !a.is_empty()).collect();
    let rtprio = cx
        .limits
        .soft
        .get("rtprio")
        .and_then(|l| parse::limit_number(&l.value).map_or(Some(u64::MAX), Some))
        .unwrap_or(0);
    let wanted = cx.profile.map_or(0, |p| u64::from(p.audio.rt_priority));
    let v = if rtprio >= wanted && rtprio > 0 {
        Verdict::new(
            Status::Pass,
            format!(
                "RTKit grants at most SCHED_RR {max}; {} has rtprio {} of its own, which module-rt uses first",
                cx.user.name,
                if rtprio == u64::MAX {
                    "unlimited".into()
                } else {
                    rtprio.to_string()
                }
            ),
        )
    } else {
        Verdict::new(
            Status::Warn,
            format!(
                "{} has rtprio {rtprio}: the audio server falls back to RTKit, which grants at most SCHED_RR {max}",
                cx.user.name
            ),
        )
        .fix(format!(
            "give {} the realtime group's limits (limits.rtprio) rather than raising RTKit's cap for every local user",
            cx.user.name
        ))
    };
    v.evidence(format!("rtkit-daemon (pid {pid}): {}", args.join(" ")))
}

/// A value of `pw-metadata` output: `update: id:0 key:'clock.rate'
/// value:'48000' type:''`.
pub fn pw_metadata(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l.split_once(&format!("key:'{key}' value:'"))?.1;
        rest.split_once('\'').map(|(v, _)| v.to_string())
    })
}

/// The settings in force, from the running server (`pw-metadata -n settings
/// 0`), when the check runs as the user whose PipeWire runs.
fn settings_in_force(cx: &Context) -> Option<String> {
    if !cx.is_self || user_processes(cx, &["pipewire"]).is_empty() {
        return None;
    }
    let tool = crate::cmd::find("pw-metadata")?;
    let o = crate::cmd::run(std::process::Command::new(tool).args(["-n", "settings", "0"])).ok()?;
    (o.success() && o.stdout.contains("key:'clock.quantum'")).then_some(o.stdout)
}

/// The graph settings PipeWire loads for the user: its defaults, the main
/// pipewire.conf's `context.properties`, then the drop-ins of
/// /usr/share/pipewire, /etc/pipewire and ~/.config/pipewire in that order
/// (PipeWire 1.1.81 and later, src/pipewire/conf.c), a later key winning.
pub(super) fn settings(cx: &Context) -> Verdict {
    if cx
        .profile
        .is_some_and(|p| p.audio.server != AudioServer::Pipewire)
    {
        return Verdict::new(
            Status::NotApplicable,
            "the profile's audio server is not PipeWire",
        );
    }
    if let (Some(text), Some(p)) = (settings_in_force(cx), cx.profile) {
        let a = &p.audio;
        let want = [
            ("clock.rate", a.rate),
            ("clock.quantum", a.quantum),
            ("clock.min-quantum", a.min_quantum),
            ("clock.max-quantum", a.max_quantum),
        ];
        let lines: Vec<(bool, String)> = want
            .iter()
            .map(|(k, w)| {
                let have = pw_metadata(&text, k);
                (
                    have.as_deref() == Some(w.to_string().as_str()),
                    format!(
                        "pw-metadata -n settings 0: {k} = {}, the profile's {w}",
                        have.as_deref().unwrap_or("not set")
                    ),
                )
            })
            .collect();
        let mut v = if lines.iter().all(|(ok, _)| *ok) {
            Verdict::new(
                Status::Pass,
                format!(
                    "PipeWire runs the profile's graph: {} Hz, quantum {}",
                    a.rate, a.quantum
                ),
            )
        } else {
            Verdict::new(Status::Fail, "PipeWire runs another graph than the profile's").fix(
                "install the profile's pipewire.conf.d drop-in, remove later drop-ins or rules that override it, then restart PipeWire (systemctl --user restart pipewire)",
            )
        };
        v.evidence = lines.into_iter().map(|(_, l)| l).collect();
        return v;
    }
    let passwd = cx.m.read("/etc/passwd").unwrap_or_default();
    let home = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[0] == cx.user.name && f[5].starts_with('/')).then(|| f[5].to_string())
    });
    let dirs: Vec<String> = [
        "/usr/share/pipewire".to_string(),
        "/etc/pipewire".to_string(),
    ]
    .into_iter()
    .chain(home.map(|h| format!("{h}/.config/pipewire")))
    .collect();
    let mut values: Vec<(&str, String, String)> = [
        "default.clock.rate",
        "default.clock.quantum",
        "default.clock.min-quantum",
        "default.clock.max-quantum",
    ]
    .iter()
    // src/pipewire/settings.c's defaults.
    .zip(["48000", "1024", "32", "2048"])
    .map(|(k, d)| (*k, d.to_string(), "PipeWire's default".to_string()))
    .collect();
    let mut read = Vec::new();
    let mut apply = |path: String, text: &str, values: &mut Vec<(&str, String, String)>| {
        let Ok(top) = spa_json::parse(text) else {
            read.push(format!("{path} (not readable as SPA-JSON)"));
            return;
        };
        read.push(path.clone());
        for (section, v) in &top {
            let Value::Object(members) = v else { continue };
            if section != "context.properties" {
                continue;
            }
            for (k, val) in members {
                if let (Some(slot), Value::Word(w)) =
                    (values.iter_mut().find(|(n, _, _)| n == k), val)
                {
                    slot.1 = w.clone();
                    slot.2 = path.clone();
                }
            }
        }
    };
    // The main file: the first of ~/.config, /etc, /usr/share (the same
    // lookup, highest first, for pipewire.conf itself).
    if let Some((path, text)) = dirs.iter().rev().find_map(|d| {
        cx.m.read(&format!("{d}/pipewire.conf"))
            .ok()
            .map(|t| (format!("{d}/pipewire.conf"), t))
    }) {
        apply(path, &text, &mut values);
    }
    for d in &dirs {
        let dir = format!("{d}/pipewire.conf.d");
        let mut names = cx.m.list(&dir);
        names.retain(|n| n.ends_with(".conf") && !n.starts_with('.'));
        names.sort();
        for n in names {
            let path = format!("{dir}/{n}");
            if let Ok(text) = cx.m.read(&path) {
                apply(path, &text, &mut values);
            }
        }
    }
    if read.is_empty() {
        return Verdict::new(
            Status::NotApplicable,
            "no pipewire.conf or pipewire.conf.d drop-in to read (PipeWire is not installed, or a capture without /usr/share)",
        );
    }
    let get = |k: &str| {
        values
            .iter()
            .find(|(n, _, _)| *n == k)
            .map(|(_, v, _)| v.clone())
            .unwrap_or_default()
    };
    let mut v = match cx.profile {
        Some(p) => {
            let a = &p.audio;
            let want = [
                ("default.clock.rate", a.rate),
                ("default.clock.quantum", a.quantum),
                ("default.clock.min-quantum", a.min_quantum),
                ("default.clock.max-quantum", a.max_quantum),
            ];
            let off: Vec<String> = want
                .iter()
                .filter(|(k, w)| get(k) != w.to_string())
                .map(|(k, w)| format!("{k} is {}, the profile's is {w}", get(k)))
                .collect();
            if off.is_empty() {
                Verdict::new(
                    Status::Pass,
                    format!(
                        "PipeWire loads the profile's graph: {} Hz, quantum {}",
                        a.rate, a.quantum
                    ),
                )
            } else {
                let mut v = Verdict::new(Status::Fail, "PipeWire loads another graph than the profile's")
                    .fix("install the profile's pipewire.conf.d drop-in, and remove the later drop-ins that override it, then restart PipeWire");
                v.evidence = off;
                v
            }
        }
        None => Verdict::new(
            Status::Pass,
            format!(
                "PipeWire loads {} Hz, quantum {} ({:.1} ms a cycle)",
                get("default.clock.rate"),
                get("default.clock.quantum"),
                get("default.clock.quantum").parse::<f64>().unwrap_or(0.0) * 1000.0
                    / get("default.clock.rate").parse::<f64>().unwrap_or(48000.0)
            ),
        ),
    };
    for (k, val, from) in &values {
        v.evidence.push(format!("{k} = {val} ({from})"));
    }
    if !read.is_empty() {
        v.evidence.push(format!("read {}", read.join(", ")));
    }
    v
}

pub(super) fn hda_power_save(cx: &Context) -> Verdict {
    const DIR: &str = "/sys/module/snd_hda_intel/parameters";
    let Ok(power_save) = cx.m.line(&format!("{DIR}/power_save")) else {
        return Verdict::new(Status::NotApplicable, "snd_hda_intel is not loaded");
    };
    let controller =
        cx.m.line(&format!("{DIR}/power_save_controller"))
            .unwrap_or_default();
    let allowed = cx.profile.is_some_and(|p| p.audio.hda_power_save);
    let off = power_save.trim() == "0" && controller.trim() == "N";
    let evidence = format!("{DIR}: power_save {power_save}, power_save_controller {controller}");
    let v = if off || allowed {
        Verdict::new(
            Status::Pass,
            if off {
                "HDA codecs and controllers stay powered".to_string()
            } else {
                "HDA power saving is on, as the profile allows".to_string()
            },
        )
    } else {
        Verdict::new(
            if cx.profile.is_some() { Status::Fail } else { Status::Warn },
            format!("HDA power saving is on (after {power_save} s idle): waking the codec clicks"),
        )
        .fix("echo 0 | sudo tee /sys/module/snd_hda_intel/parameters/power_save; for every boot: `options snd_hda_intel power_save=0 power_save_controller=N` in /etc/modprobe.d/ (the profile's package carries it)")
    };
    v.evidence(evidence)
}

pub(super) fn usb_autosuspend(cx: &Context) -> Verdict {
    const DIR: &str = "/sys/bus/usb/devices";
    let mut on = Vec::new();
    let mut auto = Vec::new();
    let mut devices: Vec<String> =
        cx.m.list(DIR)
            .into_iter()
            .filter(|n| n.contains(':'))
            .filter(|n| {
                cx.m.line(&format!("{DIR}/{n}/bInterfaceClass"))
                    .is_ok_and(|c| c.trim() == "01")
            })
            .filter_map(|n| n.split(':').next().map(String::from))
            .collect();
    devices.sort();
    devices.dedup();
    for d in devices {
        let control =
            cx.m.line(&format!("{DIR}/{d}/power/control"))
                .unwrap_or_default();
        let product = cx.m.line(&format!("{DIR}/{d}/product")).unwrap_or_default();
        let line = format!("{d} ({}): power/control {}", product.trim(), control.trim());
        if control.trim() == "auto" {
            auto.push(line);
        } else {
            on.push(line);
        }
    }
    if on.is_empty() && auto.is_empty() {
        return Verdict::new(Status::NotApplicable, "no USB audio device is plugged in");
    }
    let allowed = cx.profile.is_some_and(|p| p.audio.usb_autosuspend);
    let v = if auto.is_empty() || allowed {
        Verdict::new(
            Status::Pass,
            format!(
                "{} {} powered",
                crate::text::count(on.len(), "USB audio device"),
                if on.len() == 1 { "stays" } else { "stay" }
            ),
        )
    } else {
        Verdict::new(
            if cx.profile.is_some() { Status::Fail } else { Status::Warn },
            format!(
                "{} may autosuspend and drop out",
                crate::text::count(auto.len(), "USB audio device")
            ),
        )
        .fix("echo on | sudo tee /sys/bus/usb/devices/DEVICE/power/control; for every plug-in: the profile's udev rule (ATTR{../power/control}=\"on\" for audio interfaces)")
    };
    auto.into_iter().chain(on).fold(v, |v, e| v.evidence(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_limits_reads_the_kernels_columns() {
        // A Linux 6.18 host's /proc/self/limits, as fs/proc/base.c
        // proc_pid_limits prints it.
        let text = r"Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max data size             unlimited            unlimited            bytes     
Max stack size            8388608              unlimited            bytes     
Max core file size        0                    unlimited            bytes     
Max resident set          unlimited            unlimited            bytes     
Max processes             96367                96367                processes 
Max open files            20000                20000                files     
Max locked memory         8388608              8388608              bytes     
Max address space         unlimited            unlimited            bytes     
Max file locks            unlimited            unlimited            locks     
Max pending signals       96367                96367                signals   
Max msgqueue size         819200               819200               bytes     
Max nice priority         0                    0                    
Max realtime priority     0                    0                    
Max realtime timeout      unlimited            unlimited            us        
";
        let l = proc_limits(text);
        assert_eq!(
            l[8],
            (
                "Max locked memory".into(),
                "8388608".into(),
                "8388608".into()
            )
        );
        assert_eq!(
            l[14],
            ("Max realtime priority".into(), "0".into(), "0".into())
        );
        assert_eq!(l.len(), 16);
    }
}
