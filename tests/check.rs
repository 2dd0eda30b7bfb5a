//! `check` through the binary: on this machine (agreeing with rtcqs where both
//! look at the same thing), on captured machines (tests/fixtures/machines/,
//! each with its recorded expectation), and on captures with odd content.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::*;

fn check_json(args: &[&str], root: Option<&Path>) -> (i32, serde_json::Value) {
    let mut cmd = bin();
    cmd.arg("check").arg("--json").args(args);
    if let Some(r) = root {
        cmd.arg("--root").arg(r);
    }
    let o = run(&mut cmd);
    let code = o.status.code().expect("exit code");
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
    (code, v)
}

fn statuses(v: &serde_json::Value) -> BTreeMap<String, String> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn this_machine_gets_a_verdict_with_evidence() {
    let (code, v) = check_json(&[], None);
    assert!(code == 0 || code == 1, "exit {code}");
    assert_eq!(v["schema"], 1);
    let checks = v["checks"].as_array().unwrap();
    assert!(checks.len() >= 18);
    for c in checks {
        let status = c["status"].as_str().unwrap();
        assert!(["pass", "warn", "fail", "n/a"].contains(&status), "{c}");
        assert!(!c["summary"].as_str().unwrap().is_empty());
        if status == "warn" || status == "fail" {
            assert!(
                c["fix"].is_string() || !c["evidence"].as_array().unwrap().is_empty(),
                "{c}"
            );
        }
    }
    assert_eq!(code == 1, v["failed"].as_u64().unwrap() > 0);
    // With a profile, the profile's checks join in.
    let (_, v) = check_json(
        &[
            "--profile",
            repo().join("examples/studio.toml").to_str().unwrap(),
        ],
        None,
    );
    let s = statuses(&v);
    for id in [
        "profile.kargs",
        "profile.dropins",
        "profile.sysctl",
        "profile.irqbalance",
    ] {
        assert!(s.contains_key(id), "{id} missing: {s:?}");
    }
}

/// rtcqs's headline -> our check id, where both look at the same thing.
const RTCQS: &[(&str, &str)] = &[
    ("Root User", "user.root"),
    ("Group Limits", "limits.rtprio"),
    ("Simultaneous Multithreading", "cpu.smt"),
    ("Kernel Configuration", "kernel.config"),
    ("High Resolution Timers", "kernel.hrtimers"),
    ("Tickless Kernel", "kernel.tickless"),
    ("Preempt RT", "kernel.preempt"),
    ("RT Priorities", "rt.sched_fifo"),
    ("Swappiness", "vm.swappiness"),
    ("Power Management", "pm.cpu_dma_latency"),
];

#[test]
fn verdicts_agree_with_rtcqs() {
    let rtcqs = tool("rtcqs", "rtcqs (pip install rtcqs)");
    let o = std::process::Command::new(rtcqs).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout)
        .replace("\u{1b}[31m", "")
        .replace("\u{1b}[32m", "")
        .replace("\u{1b}[00m", "");
    let mut theirs = BTreeMap::new();
    let mut headline = "";
    for line in text.lines() {
        if line.starts_with("[ OK ]") {
            theirs.insert(headline.to_string(), true);
        } else if line.starts_with("[ WARNING ]") {
            theirs.insert(headline.to_string(), false);
        } else if !line.starts_with('=') && !line.is_empty() {
            headline = line;
        }
    }
    let (_, v) = check_json(&[], None);
    let ours = statuses(&v);
    for (head, id) in RTCQS {
        let Some(ok) = theirs.get(*head) else {
            continue;
        };
        let status = ours[*id].as_str();
        let agree = if *ok {
            status == "pass" || status == "n/a"
        } else {
            status == "warn" || status == "fail"
        };
        assert!(
            agree,
            "rtcqs says {head}: {}, we say {id}: {status}",
            if *ok { "OK" } else { "WARNING" }
        );
    }
    assert!(theirs.len() >= 8, "rtcqs output not understood:\n{text}");
}

#[test]
fn odd_captures_give_na_or_warn_never_a_crash() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    for d in [
        "proc/sys/vm",
        "proc/42",
        "sys/devices/system/cpu/cpu0/cpufreq",
        "sys/kernel/irq/16",
        "etc/security/limits.d",
    ] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::write(
        root.join("proc/interrupts"),
        b"           CPU0\n 16:  12  IO-APIC  snd_hda_\xff\xfeintel, xhci\n 17:\n",
    )
    .unwrap();
    fs::write(root.join("proc/cmdline"), b"threadirqs \xff\n").unwrap();
    fs::write(root.join("proc/42/comm"), "irq/16-snd\n").unwrap();
    fs::write(root.join("proc/42/stat"), "42 (irq/16-snd) S 2 0").unwrap();
    fs::write(root.join("proc/sys/vm/swappiness"), "lots\n").unwrap();
    fs::write(root.join("sys/devices/system/cpu/online"), "0-\n").unwrap();
    fs::write(root.join("sys/kernel/irq/16/actions"), "snd_hda_intel\n").unwrap();
    fs::write(root.join("etc/passwd"), "musician:x:1000\nbroken\n").unwrap();
    fs::write(root.join("etc/group"), "realtime:x:oops:musician\n").unwrap();
    fs::write(
        root.join("etc/security/limits.d/x.conf"),
        b"@realtime - rtprio\n\xff\xff\n@realtime - memlock unlimited extra\n",
    )
    .unwrap();
    fs::write(root.join("etc/os-release"), b"ID=\xff\n").unwrap();
    // A capture must not read the host through links, or block on FIFOs.
    std::os::unix::fs::symlink("/etc/shadow", root.join("etc/group.lnk")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", root.join("proc/swaps")).unwrap();
    let fifo = root.join("proc/version");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (code, v) = check_json(
        &[
            "--user",
            "musician",
            "--profile",
            repo().join("examples/studio.toml").to_str().unwrap(),
        ],
        Some(root),
    );
    assert!(code == 0 || code == 1);
    let s = statuses(&v);
    assert_eq!(s["vm.swappiness"], "n/a");
    assert_eq!(s["cpu.governor"], "n/a");
    assert_eq!(
        s["rt.sched_fifo"], "n/a",
        "probes never run against a capture"
    );
    assert_eq!(
        s["user.group"], "pass",
        "the group line with a bad gid still lists the member"
    );
    assert_eq!(s["limits.rtprio"], "fail");
    // An empty capture is all n/a or failures with reasons, not a crash.
    let empty = t.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let (code, v) = check_json(&[], Some(&empty));
    assert!(code == 0 || code == 1);
    assert!(
        statuses(&v)
            .values()
            .all(|s| ["pass", "warn", "fail", "n/a"].contains(&s.as_str()))
    );
}

#[test]
fn captured_machines_match_their_recorded_expectations() {
    let dir = repo().join("tests/fixtures/machines");
    let mut seen = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let machine = entry.unwrap().path();
        if !machine.is_dir() {
            continue;
        }
        let expect = machine.join("expected.txt");
        let text = fs::read_to_string(&expect)
            .unwrap_or_else(|_| panic!("{} has no expected.txt", machine.display()));
        // expected.txt: the check's arguments on its first line, then `id status` lines.
        let mut lines = text.lines();
        let args: Vec<String> = lines
            .next()
            .unwrap()
            .split_whitespace()
            .map(|a| a.replace("{repo}", &repo().to_string_lossy()))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_, v) = check_json(&args, Some(&machine));
        let got = statuses(&v);
        for line in lines.filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
            let (id, want) = line.split_once(' ').unwrap();
            assert_eq!(
                got.get(id).map(String::as_str),
                Some(want.trim()),
                "{}: {id}\n{:#}",
                machine.display(),
                v
            );
        }
        seen += 1;
    }
    assert!(seen >= 3, "fewer than three captured machines");
}
