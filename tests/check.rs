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

/// `check --list --json`: (id, group) of every check, in report order.
fn listed() -> Vec<(String, String)> {
    let o = run(bin().args(["check", "--list", "--json"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert!(!c["description"].as_str().unwrap().is_empty(), "{c}");
            (
                c["id"].as_str().unwrap().to_string(),
                c["group"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn checks_are_listed_and_chosen_by_id_or_group() {
    let list = listed();
    let ids: Vec<&str> = list.iter().map(|(id, _)| id.as_str()).collect();
    let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an id twice: {ids:?}");
    // The text list names the same checks, in the same order, with their group.
    let o = run(bin().args(["check", "--list"]));
    let text = stdout(&o);
    let rows: Vec<(String, String)> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f[1].to_string())
        })
        .collect();
    assert_eq!(rows, list);

    // A captured machine checked against its profile reports every check listed.
    let machine = repo().join("tests/fixtures/machines/rt-hda");
    let profile = machine.join("profile.toml");
    let profile = profile.to_str().unwrap();
    let base = ["--user", "musician", "--profile", profile];
    let (_, all) = check_json(&base, Some(&machine));
    let reported: Vec<&str> = all["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(reported, ids);
    let ran = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let (code, v) = check_json(&args, Some(&machine));
        let checks = v["checks"].as_array().unwrap().clone();
        let counted = ["passed", "warned", "failed", "not_applicable"]
            .iter()
            .map(|k| v[*k].as_u64().unwrap())
            .sum::<u64>();
        assert_eq!(counted as usize, checks.len(), "{v:#}");
        let got: Vec<String> = checks
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        (code, got)
    };
    let of_group = |g: &str| -> Vec<String> {
        list.iter()
            .filter(|(_, group)| group == g)
            .map(|(id, _)| id.clone())
            .collect()
    };
    assert_eq!(
        ran(&["--only", "kernel.preempt"]),
        (0, vec!["kernel.preempt".into()])
    );
    assert_eq!(
        ran(&["--only", "kernel.preempt", "--only", "user.root"]),
        (0, vec!["user.root".into(), "kernel.preempt".into()]),
        "reported in registry order"
    );
    let kernel = of_group("kernel");
    assert!(kernel.len() >= 5, "{kernel:?}");
    assert_eq!(ran(&["--only", "kernel"]).1, kernel);
    let without: Vec<String> = kernel
        .iter()
        .filter(|id| *id != "kernel.config")
        .cloned()
        .collect();
    assert_eq!(
        ran(&["--only", "kernel", "--skip", "kernel.config"]).1,
        without
    );
    let (_, rest) = ran(&["--skip", "profile", "--skip", "user.root"]);
    assert_eq!(rest.len(), ids.len() - of_group("profile").len() - 1);
    assert!(
        !rest
            .iter()
            .any(|id| id.starts_with("profile.") || id == "user.root")
    );

    // The exit code follows what ran: this machine fails kernel.preempt only
    // among its kernel checks.
    let plain = repo().join("tests/fixtures/machines/stock-plain");
    let (code, v) = check_json(&["--user", "musician", "--only", "kernel"], Some(&plain));
    assert_eq!((code, v["failed"].as_u64()), (1, Some(1)), "{v:#}");
    let skipped = [
        "--user",
        "musician",
        "--only",
        "kernel",
        "--skip",
        "kernel.preempt",
    ];
    let (code, v) = check_json(&skipped, Some(&plain));
    assert_eq!((code, v["failed"].as_u64()), (0, Some(0)), "{v:#}");

    // Unknown names: exit 2, naming the name and the nearest check.
    for (flag, name, near) in [
        ("--only", "kernel.prempt", Some("kernel.preempt")),
        ("--skip", "preempt", Some("kernel.preempt")),
        ("--skip", "limit", Some("limits")),
        ("--only", "nothing-like-it", None),
    ] {
        let o = run(bin().args(["check", flag, name]));
        assert_eq!(o.status.code(), Some(2), "{flag} {name}");
        let err = stderr(&o);
        assert!(
            err.contains(&format!("no check or group named {name:?}")),
            "{err}"
        );
        match near {
            Some(n) => assert!(err.contains(&format!("(did you mean {n}?)")), "{err}"),
            None => assert!(!err.contains("did you mean"), "{err}"),
        }
        assert!(err.contains("the checks are: user.root, "), "{err}");
    }
    // A profile's check cannot run without one.
    for name in ["profile.kargs", "profile"] {
        let o = run(bin().args(["check", "--only", name]));
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stderr(&o).contains(&format!(
                "--only {name}: it compares the machine with a profile"
            )),
            "{}",
            stderr(&o)
        );
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

/// What one bounded run of the binary gave.
struct Ran {
    code: i32,
    stdout: String,
    /// Peak resident memory of that process alone, in KiB (wait4's rusage).
    max_rss_kib: i64,
}

/// Run `cmd`, killing it (and failing) when it takes longer than `limit`: a
/// capture must not make `check` block.
fn run_bounded(cmd: &mut std::process::Command, limit: std::time::Duration) -> Ran {
    use std::io::{Read as _, Seek as _};
    let mut out = tempfile::tempfile().unwrap();
    cmd.stdin(std::process::Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(std::process::Stdio::null());
    let start = std::time::Instant::now();
    // wait4 below reaps the child: std's wait has no rusage to give.
    let pid = cmd.spawn().expect("running rtaudio-tuning").id() as i32;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for our own child; status and usage are valid pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        assert_eq!(r, 0, "wait4: {}", std::io::Error::last_os_error());
        if start.elapsed() > limit {
            // SAFETY: kills and reaps our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::wait4(pid, &mut status, 0, &mut usage);
            }
            panic!("{cmd:?} still ran after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    out.rewind().unwrap();
    let mut stdout = String::new();
    out.read_to_string(&mut stdout).unwrap();
    assert!(libc::WIFEXITED(status), "{cmd:?} died: {status}");
    Ran {
        code: libc::WEXITSTATUS(status),
        stdout,
        max_rss_kib: usage.ru_maxrss,
    }
}

const LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// `check --root ROOT` against the example profile, as text and as JSON.
fn check_capture(root: &Path) -> (Ran, Ran) {
    let run = |json: bool| {
        let mut cmd = bin();
        cmd.arg("check")
            .args(["--user", "musician", "--profile"])
            .arg(repo().join("examples/studio.toml"))
            .arg("--root")
            .arg(root);
        if json {
            cmd.arg("--json");
        }
        let ran = run_bounded(&mut cmd, LIMIT);
        assert!(ran.code == 0 || ran.code == 1, "{cmd:?}: exit {}", ran.code);
        ran
    };
    (run(false), run(true))
}

/// Strings only the host's own files hold: none may show in a capture's report.
fn host_markers() -> Vec<String> {
    let first_line = |p: &str| {
        fs::read_to_string(p)
            .ok()
            .and_then(|t| t.lines().next().map(str::to_string))
    };
    let mut v: Vec<String> = ["/proc/version", "/proc/cmdline"]
        .iter()
        .filter_map(|p| first_line(p))
        .collect();
    if let Ok(os) = fs::read_to_string("/etc/os-release") {
        v.extend(
            os.lines()
                .filter_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|n| n.trim_matches('"').to_string()),
        );
    }
    let vulns = "/sys/devices/system/cpu/vulnerabilities";
    for e in fs::read_dir(vulns).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(l) = first_line(&format!("{vulns}/{name}")) {
            v.push(format!("{name}: {l}"));
        }
    }
    v.retain(|m| m.trim().len() >= 8);
    assert!(!v.is_empty(), "no host file to tell the host by");
    v
}

/// A control character printed raw (a newline aside) could drive the terminal.
fn raw_control(text: &str) -> Option<char> {
    text.chars().find(|&c| c.is_control() && c != '\n')
}

#[test]
fn hostile_captures_read_nothing_outside_and_end() {
    let markers = host_markers();
    let dir = repo().join("tests/fixtures/hostile/check-root");
    let mut seen = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let capture = entry.unwrap().path();
        let readme = fs::read_to_string(capture.join("README.md")).unwrap_or_default();
        assert!(
            readme.starts_with("Attacks: "),
            "{}: a README.md saying what it attacks",
            capture.display()
        );
        let (text, json) = check_capture(&capture);
        if let Some(c) = raw_control(&text.stdout) {
            panic!("{}: {c:?} printed raw", capture.display());
        }
        let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        for out in [&text.stdout, &json.stdout] {
            for m in &markers {
                assert!(
                    !out.contains(m.as_str()),
                    "{}: the host's {m:?} was read",
                    capture.display()
                );
            }
            assert!(
                !out.contains("kernel configuration found"),
                "{}: a configuration was found outside",
                capture.display()
            );
        }
        assert_eq!(
            statuses(&v)["kernel.config"],
            "warn",
            "{}",
            capture.display()
        );
        seen += 1;
    }
    assert!(seen >= 9, "check-root lost cases");
}

#[test]
fn capture_bytes_are_escaped_in_text_and_kept_in_json() {
    let capture = repo().join("tests/fixtures/hostile/check-root/terminal-escapes");
    let (text, json) = check_capture(&capture);
    for shown in [
        r"Debian \u{1b}]8;;http://example.invalid/\u{7}click here",
        r"\r[ pass ] all good",
        r"irq/5-snd_hda_intel\u{1b}]0;owned\u{7} (snd_hda_intel\u{1b}[2J\u{1b}[H)",
        r"irq/7-xhci_hcd\r[ pass ] fake line (xhci_hcd\0\u{7f}\u{85}next line)",
        r"PREEMPT_DYNAMIC \u{1b}[31mred\u{1b}[0m\r\u{9b}2Joverwritten",
        r"quiet \u{1b}]0;new title\u{7} threadirqs \u{202e}reversed",
        r"snd_hda_intel\u{1b}[1A\u{1b}[2K, ehci_hcd\u{b}\u{c}fake",
        r"SMT: on\u{1b}[2K\u{8}\u{8}\u{8}\u{8}off",
    ] {
        assert!(
            text.stdout.contains(shown),
            "{shown} not in:\n{}",
            text.stdout
        );
    }
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let all: Vec<String> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            let mut s = vec![c["summary"].as_str().unwrap().to_string()];
            s.extend(
                c["evidence"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap().to_string()),
            );
            s
        })
        .collect();
    for raw in [
        "Debian \x1b]8;;http://example.invalid/\x07click here",
        "irq/7-xhci_hcd\r[ pass ] fake line (xhci_hcd\0\x7f\u{85}next line)",
        "threadirqs \u{202e}reversed",
    ] {
        assert!(
            all.iter().any(|s| s.contains(raw)),
            "{raw:?} not kept raw in the JSON"
        );
    }
}

/// The folder around a capture, with files that would show in the report if a
/// read left the capture: every value says MARKER.
fn outside(around: &Path) {
    let files = [
        (
            "outside/etc/passwd",
            "markeruser:x:1000:1000::/home/m:/bin/sh\n",
        ),
        ("outside/etc/group", "realtime:x:71:markeruser\n"),
        (
            "outside/etc/os-release",
            "ID=debian\nPRETTY_NAME=\"MARKER OS\"\n",
        ),
        (
            "outside/limits.d/99-x.conf",
            "@realtime - rtprio 4242 # MARKER\n",
        ),
        ("outside/sys/devices/system/cpu/smt/control", "MARKER\n"),
        (
            "outside/boot/config-6.1.0-test",
            "CONFIG_PREEMPT_RT=y\nCONFIG_HIGH_RES_TIMERS=y\n# MARKER\n",
        ),
        (
            "outside/proc/version",
            "Linux version 6.1.0-test MARKER PREEMPT_RT\n",
        ),
        ("outside/proc77/comm", "irq/5-snd_MARKER\n"),
        ("outside/proc77/stat", "77 (irq/5-snd_MARKER) S 0\n"),
        ("outside/actions", "snd_hda_intel MARKER\n"),
        ("outside/irq5/actions", "snd_hda_intel MARKER\n"),
    ];
    for (p, text) in files {
        let p = around.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
}

/// A plain capture: a musician, a kernel release, an IRQ thread on IRQ 5.
fn plain_capture(root: &Path) {
    let mut stat = vec!["0"; 50];
    stat[0] = "S";
    let stat = format!("42 (irq/5-snd_hda_intel) {}\n", stat.join(" "));
    for (p, text) in [
        (
            "etc/passwd",
            "musician:x:1000:1000::/home/musician:/bin/bash\n",
        ),
        ("etc/group", "realtime:x:71:musician\n"),
        ("proc/sys/kernel/osrelease", "6.1.0-test\n"),
        (
            "proc/version",
            "Linux version 6.1.0-test (b@h) #1 SMP PREEMPT_DYNAMIC\n",
        ),
        ("proc/42/comm", "irq/5-snd_hda_intel\n"),
        ("proc/42/stat", stat.as_str()),
        ("sys/kernel/irq/5/actions", "snd_hda_intel\n"),
        (
            "boot/config-..//README",
            "so that boot/config-.. is a folder\n",
        ),
    ] {
        let p = root.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
}

/// The statuses of limits.rtprio and limits.memlock on a capture holding
/// these limits files, against the example profile (rtprio 95, memlock
/// unlimited, group realtime), and the report.
fn limits_of(files: &[(&str, &[u8])]) -> ((String, String), serde_json::Value) {
    let t = tempfile::tempdir().unwrap();
    plain_capture(t.path());
    for (p, text) in files {
        let p = t.path().join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    let (_, v) = check_json(
        &[
            "--user",
            "musician",
            "--profile",
            repo().join("examples/studio.toml").to_str().unwrap(),
            "--only",
            "limits.rtprio",
            "--only",
            "limits.memlock",
        ],
        Some(t.path()),
    );
    let s = statuses(&v);
    ((s["limits.rtprio"].clone(), s["limits.memlock"].clone()), v)
}

fn evidence(v: &serde_json::Value, id: &str) -> Vec<String> {
    let c = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {v:#}"));
    c["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn limits_are_read_as_pam_limits_reads_them() {
    let ours = "etc/security/limits.d/rtaudio-tuning.conf";
    let (got, v) = limits_of(&[(
        ours,
        b"@realtime\t-\trtprio\t95\n@realtime\t-\tmemlock\tunlimited\n",
    )]);
    assert_eq!(got, ("pass".into(), "pass".into()), "{v:#}");
    // A CRLF line: the \r is part of the value, `unlimited\r` no number, and
    // pam_limits skips the line.
    let (got, v) = limits_of(&[(
        ours,
        b"@realtime\t-\trtprio\t95\r\n@realtime\t-\tmemlock\tunlimited\r\n",
    )]);
    assert_eq!(got, ("pass".into(), "fail".into()), "{v:#}");
    // The value is all after the item: `95 # more` is 95, `unlimited x` none.
    let (got, v) = limits_of(&[(
        ours,
        b"@realtime - rtprio 95 # more\n@realtime - memlock unlimited x\n",
    )]);
    assert_eq!(got, ("pass".into(), "fail".into()), "{v:#}");
    // `@realtime -` in a file read later: no limits at all, and the check
    // says which line.
    let (got, v) = limits_of(&[
        (
            ours,
            b"@realtime - rtprio 95\n@realtime - memlock unlimited\n",
        ),
        (
            "etc/security/limits.d/zz-site.conf",
            b"# site policy\n@realtime -\n",
        ),
    ]);
    assert_eq!(got, ("fail".into(), "fail".into()), "{v:#}");
    let e = evidence(&v, "limits.rtprio");
    assert!(
        e.iter().any(|l| l.starts_with(
            "/etc/security/limits.d/zz-site.conf:2 is a `domain -` line for musician"
        )),
        "{e:?}"
    );
}

#[test]
fn every_limits_file_pam_limits_reads_is_read_or_reported() {
    use std::os::unix::ffi::OsStrExt as _;
    let good: &[u8] = b"@realtime - rtprio 95\n@realtime - memlock unlimited\n";
    let ours = ("etc/security/limits.d/rtaudio-tuning.conf", good);
    // A name glob does not match (a leading dot) is not read.
    let (got, v) = limits_of(&[
        ours,
        ("etc/security/limits.d/.zz.conf", b"@realtime - rtprio 0\n"),
    ]);
    assert_eq!(got, ("pass".into(), "pass".into()), "{v:#}");
    // A name that is not UTF-8 is read like any other: sorted last, its line
    // is the one in force.
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    plain_capture(root);
    let dir = root.join("etc/security/limits.d");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("rtaudio-tuning.conf"), good).unwrap();
    let odd = std::ffi::OsStr::from_bytes(b"\xffzz.conf");
    fs::write(dir.join(odd), "@realtime - rtprio 0\n").unwrap();
    let profile = repo().join("examples/studio.toml");
    let args = [
        "--user",
        "musician",
        "--profile",
        profile.to_str().unwrap(),
        "--only",
        "limits",
    ];
    let (code, v) = check_json(&args, Some(root));
    assert_eq!(code, 1);
    assert_eq!(statuses(&v)["limits.rtprio"], "fail", "{v:#}");
    let e = evidence(&v, "limits.rtprio");
    assert!(
        e.contains(&"soft 0 (/etc/security/limits.d/\\xffzz.conf:1), hard 0 (/etc/security/limits.d/\\xffzz.conf:1)".to_string()),
        "{e:?}"
    );
    // One that cannot be read (a FIFO here) leaves the limit unknown: a
    // failure that names it, never a pass.
    fs::remove_file(dir.join(odd)).unwrap();
    rustix_mkfifo(&dir.join("50-site.conf"));
    let (code, v) = check_json(&args, Some(root));
    assert_eq!(code, 1);
    let s = statuses(&v);
    assert_eq!(
        (s["limits.rtprio"].as_str(), s["limits.memlock"].as_str()),
        ("fail", "fail"),
        "{v:#}"
    );
    let e = evidence(&v, "limits.memlock");
    assert!(
        e.contains(
            &"/etc/security/limits.d/50-site.conf is a FIFO, not a regular file (not read)"
                .to_string()
        ),
        "{e:?}"
    );
    assert!(
        e.contains(&"read /etc/security/limits.d/rtaudio-tuning.conf".to_string()),
        "only what was read is listed as read: {e:?}"
    );
}

#[test]
fn links_out_of_a_capture_read_nothing_outside() {
    let t = tempfile::tempdir().unwrap();
    let around = t.path();
    outside(around);
    let abs = |p: &str| around.join(p).to_string_lossy().into_owned();
    let up = "../".repeat(24);
    let release = format!(
        "{up}{}",
        abs("outside/boot/config-6.1.0-test").trim_start_matches('/')
    );
    // (what is replaced by a link, its target; the file a naive join reads)
    let cases: Vec<(&str, String, &str)> = vec![
        ("etc", abs("outside/etc"), "etc/os-release"),
        ("etc", "../outside/etc".into(), "etc/os-release"),
        (
            "etc/security/limits.d",
            abs("outside/limits.d"),
            "etc/security/limits.d/99-x.conf",
        ),
        (
            "sys",
            abs("outside/sys"),
            "sys/devices/system/cpu/smt/control",
        ),
        (
            "sys",
            "../outside/sys".into(),
            "sys/devices/system/cpu/smt/control",
        ),
        ("boot", abs("outside/boot"), "boot/config-6.1.0-test"),
        ("boot", "../outside/boot".into(), "boot/config-6.1.0-test"),
        ("proc/version", abs("outside/proc/version"), "proc/version"),
        ("proc/77", abs("outside/proc77"), "proc/77/comm"),
        (
            "sys/kernel/irq/5/actions",
            abs("outside/actions"),
            "sys/kernel/irq/5/actions",
        ),
        (
            "sys/kernel/irq/5",
            "../../../../outside/irq5".into(),
            "sys/kernel/irq/5/actions",
        ),
        // A chain: climbing out, then absolute, then relative.
        ("etc/os-release", "../../x1".into(), "etc/os-release"),
    ];
    for (i, (at, target, naive)) in cases.iter().enumerate() {
        let root = around.join(format!("capture{i}"));
        plain_capture(&root);
        let at = root.join(at);
        let _ = fs::remove_dir_all(&at);
        let _ = fs::remove_file(&at);
        fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, &at).unwrap();
        if target == "../../x1" {
            std::os::unix::fs::symlink(abs("x2"), around.join("x1")).unwrap();
            std::os::unix::fs::symlink("outside/etc/os-release", around.join("x2")).unwrap();
        }
        // The case is a real escape: a plain join would read the marker.
        let joined = fs::read_to_string(root.join(naive)).unwrap();
        assert!(joined.contains("MARKER"), "case {i} does not reach outside");
        let (text, json) = check_capture(&root);
        for out in [&text.stdout, &json.stdout] {
            for m in ["MARKER", "markeruser", "4242"] {
                assert!(
                    !out.contains(m),
                    "case {i} ({naive} -> {target}) read outside:\n{out}"
                );
            }
        }
    }
    // A kernel release of ../ names, from uname or from /proc/version.
    let root = around.join("release");
    plain_capture(&root);
    assert!(
        fs::read_to_string(root.join(format!("boot/config-{release}")))
            .unwrap()
            .contains("MARKER")
    );
    fs::write(
        root.join("proc/sys/kernel/osrelease"),
        format!("{release}\n"),
    )
    .unwrap();
    let (text, json) = check_capture(&root);
    assert!(!json.stdout.contains("MARKER"), "{}", json.stdout);
    assert!(
        text.stdout.contains(
            "/boot/config-RELEASE not read: /proc/sys/kernel/osrelease: the kernel release"
        ),
        "{}",
        text.stdout
    );
    fs::remove_file(root.join("proc/sys/kernel/osrelease")).unwrap();
    fs::write(
        root.join("proc/version"),
        format!("Linux version {release} (b@h) #1\n"),
    )
    .unwrap();
    let (text, json) = check_capture(&root);
    assert!(!json.stdout.contains("MARKER"));
    assert!(
        text.stdout
            .contains("not read: /proc/version: the kernel release"),
        "{}",
        text.stdout
    );
    // The host's /proc/kmsg, which blocks a reader: the run ends.
    fs::write(
        root.join("proc/sys/kernel/osrelease"),
        format!("{up}proc/kmsg\n"),
    )
    .unwrap();
    check_capture(&root);
}

#[test]
fn fifos_in_a_capture_do_not_block() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    plain_capture(root);
    for p in [
        "proc/config.gz",
        "boot/config-6.1.0-test",
        "etc/os-release",
        "etc/security/limits.conf",
        "proc/42/comm",
        "sys/kernel/irq/5/actions",
        "proc/cmdline-fifo",
    ] {
        let p = root.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let _ = fs::remove_file(&p);
        rustix_mkfifo(&p);
    }
    // Reached through a link too.
    std::os::unix::fs::symlink("cmdline-fifo", root.join("proc/cmdline")).unwrap();
    let (text, json) = check_capture(root);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(statuses(&v)["kernel.config"], "warn");
    assert!(
        text.stdout
            .contains("/proc/config.gz is a FIFO, not a regular file"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("/boot/config-6.1.0-test is a FIFO"),
        "{}",
        text.stdout
    );
}

fn rustix_mkfifo(p: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(p)
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo {}", p.display());
}

/// A gzip file whose one deflate block (fixed Huffman codes, RFC 1951 3.2.6)
/// is a zero byte and then `n` copies of "repeat the last 258 bytes": 13 bits
/// for 258 bytes, so a file of 2.9 MB makes 464 MB. The trailer's CRC
/// is left zero: a decoder that stops at its bound never reaches it.
fn gzip_bomb(n: usize) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    let (mut acc, mut bits) = (0u64, 0u32);
    let mut put = |out: &mut Vec<u8>, value: u64, count: u32| {
        acc |= value << bits;
        bits += count;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    };
    // Huffman codes go most significant bit first: reverse them.
    let code = |c: u64, len: u32| (0..len).fold(0, |r, i| r | ((c >> i) & 1) << (len - 1 - i));
    put(&mut out, 1, 1); // BFINAL
    put(&mut out, 1, 2); // BTYPE 01: fixed codes
    put(&mut out, code(0x30, 8), 8); // literal 0
    for _ in 0..n {
        put(&mut out, code(0b1100_0101, 8), 8); // length code 285: 258 bytes
        put(&mut out, 0, 5); // distance code 0: distance 1
    }
    put(&mut out, 0, 7); // end of block (256)
    put(&mut out, 0, 7);
    out.extend([0; 8]);
    out
}

#[test]
fn a_gzip_bomb_config_is_not_loaded() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    plain_capture(root);
    // The issue's size, 2.9 MB, which decompresses to 464 MB.
    let bomb = gzip_bomb(1_800_000);
    assert!(bomb.len() > 2_900_000 && bomb.len() < 3_000_000);
    fs::write(root.join("proc/config.gz"), &bomb).unwrap();
    let (text, json) = check_capture(root);
    assert!(
        text.stdout
            .contains("/proc/config.gz decompresses to more than 16777216 bytes"),
        "{}",
        text.stdout
    );
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(statuses(&v)["kernel.config"], "warn");
    for ran in [&text, &json] {
        assert!(ran.max_rss_kib < 100 * 1024, "{} KiB", ran.max_rss_kib);
    }
    // A real configuration's size is read, from /proc/config.gz first.
    use std::io::Write as _;
    let config =
        fs::read(repo().join("tests/fixtures/machines/rt-hda/boot/config-6.1.0-56-rt-amd64"))
            .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&config).unwrap();
    fs::write(root.join("proc/config.gz"), gz.finish().unwrap()).unwrap();
    let (_, json) = check_capture(root);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let s = statuses(&v);
    assert_eq!(s["kernel.config"], "pass", "{v:#}");
    assert_eq!(s["kernel.preempt"], "pass", "the RT configuration was read");
}

/// A /proc/PID/stat line (fields as proc(5) numbers them): `comm`, and
/// rt_priority and policy in fields 40 and 41.
fn task_stat(pid: u32, comm: &str, policy: u32, prio: u32) -> String {
    let mut f = vec!["0".to_string(); 50];
    f[0] = "S".into();
    f[37] = prio.to_string();
    f[38] = policy.to_string();
    format!("{pid} ({comm}) {}\n", f.join(" "))
}

/// A musician's session as `check --root` reads it: the systemd --user
/// manager with its limits, PipeWire with its data-loop thread, RTKit, an
/// HDA card and a USB audio interface, and the profile's drop-ins under /etc
/// (where a blueprint puts them). `edits` changes or adds files.
fn audio_session(edits: &[(&str, &str)]) -> BTreeMap<String, String> {
    let t = tempfile::tempdir().unwrap();
    plain_capture(t.path());
    let rendered = t.path().join("rendered");
    render(Some(&repo().join("examples/studio.toml")), &rendered);
    let rootfs = |p: &str| fs::read_to_string(rendered.join("rootfs").join(p)).unwrap();
    let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
Max locked memory         unlimited            unlimited            bytes     \n\
Max realtime priority     95                   95                   \n";
    let mut files: BTreeMap<String, String> = [
        ("etc/security/limits.d/rtaudio-tuning.conf", rootfs("etc/security/limits.d/rtaudio-tuning.conf")),
        (
            "etc/pipewire/pipewire.conf.d/60-rtaudio-tuning.conf",
            rootfs("usr/share/pipewire/pipewire.conf.d/60-rtaudio-tuning.conf"),
        ),
        // Fedora's /etc/pam.d/systemd-user includes system-auth.
        ("etc/pam.d/systemd-user", "#%PAM-1.0\naccount  include system-auth\nsession  required pam_loginuid.so\nsession  include system-auth\n".into()),
        ("etc/pam.d/system-auth", "session     optional      pam_keyinit.so revoke\nsession     required      pam_limits.so\n-session    optional      pam_systemd.so\n".into()),
        ("proc/100/comm", "systemd\n".into()),
        ("proc/100/status", "Name:\tsystemd\nUid:\t1000\t1000\t1000\t1000\n".into()),
        ("proc/100/cmdline", "/usr/lib/systemd/systemd\0--user\0".into()),
        ("proc/100/limits", limits.into()),
        ("proc/200/comm", "pipewire\n".into()),
        ("proc/200/status", "Name:\tpipewire\nUid:\t1000\t1000\t1000\t1000\n".into()),
        ("proc/200/stat", task_stat(200, "pipewire", 0, 0)),
        ("proc/200/task/200/stat", task_stat(200, "pipewire", 0, 0)),
        ("proc/200/task/201/stat", task_stat(201, "data-loop.0", 1, 88)),
        // Debian's filter-chain.service: `pipewire -c filter-chain.conf`, no
        // data loop of its own (as in vm-test's guest).
        ("proc/210/comm", "pipewire\n".into()),
        ("proc/210/status", "Name:\tpipewire\nUid:\t1000\t1000\t1000\t1000\n".into()),
        ("proc/210/cmdline", "/usr/bin/pipewire\0-c\0filter-chain.conf\0".into()),
        ("proc/210/task/210/stat", task_stat(210, "pipewire", 0, 0)),
        ("proc/300/comm", "rtkit-daemon\n".into()),
        ("proc/300/status", "Name:\trtkit-daemon\nUid:\t172\t172\t172\t172\n".into()),
        ("proc/300/cmdline", "/usr/libexec/rtkit-daemon\0".into()),
        ("sys/module/snd_hda_intel/parameters/power_save", "0\n".into()),
        ("sys/module/snd_hda_intel/parameters/power_save_controller", "N\n".into()),
        ("sys/bus/usb/devices/1-1:1.0/bInterfaceClass", "01\n".into()),
        ("sys/bus/usb/devices/1-1:1.1/bInterfaceClass", "01\n".into()),
        ("sys/bus/usb/devices/1-1/product", "Scarlett 2i2 USB\n".into()),
        ("sys/bus/usb/devices/1-1/power/control", "on\n".into()),
        ("sys/bus/usb/devices/2-1:1.0/bInterfaceClass", "03\n".into()),
        ("sys/bus/usb/devices/2-1/power/control", "auto\n".into()),
    ]
    .into_iter()
    .map(|(p, t)| (p.to_string(), t))
    .collect();
    for (p, text) in edits {
        files.insert(p.to_string(), text.to_string());
    }
    for (p, text) in &files {
        let p = t.path().join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    let (_, v) = check_json(
        &[
            "--user",
            "musician",
            "--profile",
            repo().join("examples/studio.toml").to_str().unwrap(),
            "--only",
            "audio",
            "--only",
            "power",
            "--only",
            "limits.user_manager",
        ],
        Some(t.path()),
    );
    statuses(&v)
}

/// Issue 15: the audio server's own checks, on a session built from the
/// formats the kernel and the packages write, and on each way it breaks.
#[test]
fn the_audio_server_is_judged_where_it_runs() {
    let all_pass: BTreeMap<String, String> = [
        "limits.user_manager",
        "audio.server_rt",
        "audio.rtkit",
        "audio.settings",
        "power.hda_power_save",
        "power.usb_autosuspend",
    ]
    .iter()
    .map(|id| (id.to_string(), "pass".to_string()))
    .collect();
    assert_eq!(audio_session(&[]), all_pass);
    // Debian 12 ships its stack in the vendor folder, /usr/lib/pam.d, which
    // Linux-PAM reads when /etc/pam.d has none (its systemd package's file).
    let t = tempfile::tempdir().unwrap();
    plain_capture(t.path());
    let debian = "# Used by systemd --user instances.\n\n@include common-account\n\nsession  required pam_selinux.so close\nsession  required pam_selinux.so nottys open\nsession  required pam_loginuid.so\nsession  required pam_limits.so\n@include common-session-noninteractive\nsession  optional pam_keyinit.so force revoke\nsession  optional pam_systemd.so\n";
    let p = t.path().join("usr/lib/pam.d/systemd-user");
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, debian).unwrap();
    let (_, v) = check_json(
        &["--user", "musician", "--only", "limits.user_manager"],
        Some(t.path()),
    );
    assert_eq!(statuses(&v)["limits.user_manager"], "pass", "{v:#}");
    assert!(
        evidence(&v, "limits.user_manager")
            .iter()
            .any(|e| e.contains("/usr/lib/pam.d/systemd-user")),
        "{v:#}"
    );
    let rtkit_rr = task_stat(201, "data-loop.0", 2, 20);
    let no_loop = task_stat(201, "pw-thread", 0, 0);
    type Edits<'a> = &'a [(&'a str, &'a str)];
    let broken: &[(&str, Edits, &str)] = &[
        // RTKit's SCHED_RR 20, not the profile's SCHED_FIFO 88.
        (
            "audio.server_rt",
            &[("proc/200/task/201/stat", rtkit_rr.as_str())],
            "fail",
        ),
        // The server's data loop gone: only filter-chain's process is left.
        (
            "audio.server_rt",
            &[("proc/200/task/201/stat", no_loop.as_str())],
            "fail",
        ),
        // A systemd-user stack without pam_limits, includes followed.
        (
            "limits.user_manager",
            &[
                (
                    "etc/pam.d/systemd-user",
                    "@include common-account\n@include common-session-noninteractive\n",
                ),
                (
                    "etc/pam.d/common-session-noninteractive",
                    "session [default=1] pam_permit.so\nsession required pam_unix.so\n",
                ),
            ],
            "fail",
        ),
        (
            "limits.user_manager",
            &[(
                "proc/100/limits",
                "Limit                     Soft Limit           Hard Limit           Units     \nMax realtime priority     0                    0                    \n",
            )],
            "fail",
        ),
        (
            "power.hda_power_save",
            &[("sys/module/snd_hda_intel/parameters/power_save", "1\n")],
            "fail",
        ),
        (
            "power.usb_autosuspend",
            &[("sys/bus/usb/devices/1-1/power/control", "auto\n")],
            "fail",
        ),
        // A user's drop-in, read last, sets another quantum.
        (
            "audio.settings",
            &[(
                "home/musician/.config/pipewire/pipewire.conf.d/10-mine.conf",
                "context.properties = { default.clock.quantum = 1024 }\n",
            )],
            "fail",
        ),
    ];
    for (id, edits, want) in broken {
        let got = audio_session(edits);
        assert_eq!(
            got.get(*id).map(String::as_str),
            Some(*want),
            "{id}: {got:?}"
        );
        for (other, status) in &got {
            if other != id {
                assert_eq!(status, "pass", "{id} broke {other} too: {got:?}");
            }
        }
    }
    // The user's rtprio limit below the profile's priority: PipeWire would
    // fall back to RTKit and its cap.
    let got = audio_session(&[(
        "etc/security/limits.d/rtaudio-tuning.conf",
        "@realtime - rtprio 10\n@realtime - memlock unlimited\n",
    )]);
    assert_eq!(got["audio.rtkit"], "warn", "{got:?}");
    // Nothing of it on a bare capture: not applicable, never a pass.
    let t = tempfile::tempdir().unwrap();
    plain_capture(t.path());
    let (_, v) = check_json(
        &[
            "--user",
            "musician",
            "--only",
            "audio",
            "--only",
            "power",
            "--only",
            "limits.user_manager",
        ],
        Some(t.path()),
    );
    assert!(statuses(&v).values().all(|s| s == "n/a"), "{v:#}");
}

#[test]
fn a_fleet_hosts_own_copies_count_as_the_profiles_drop_ins() {
    // A fleet host in image mode: the image's files are the base profile's,
    // the host's differing file is its own copy under /etc/rtaudio-tuning/host/
    // (read through a drop-in), its kernel arguments on the command line.
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    plain_capture(&root);
    let base = repo().join("examples/isolated.toml");
    let host = t.path().join("host.toml");
    let text = fs::read_to_string(&base).unwrap();
    fs::write(
        &host,
        text.replace("isolate_cpus = \"2-3\"", "isolate_cpus = \"3\""),
    )
    .unwrap();
    copy_tree(&repo().join("examples/selinux"), &t.path().join("selinux"));
    let image = t.path().join("image");
    let host_tree = t.path().join("host-tree");
    render(Some(&base), &image);
    render(Some(&host), &host_tree);
    copy_tree(&image.join("rootfs"), &root);
    let env = "etc/rtaudio-tuning/irqbalance.env";
    let mine = fs::read_to_string(host_tree.join("rootfs").join(env)).unwrap();
    fs::create_dir_all(root.join("etc/rtaudio-tuning/host")).unwrap();
    fs::write(
        root.join("etc/rtaudio-tuning/host/irqbalance.env"),
        format!("{mine}# Set by the image, not for this host:\nIRQBALANCE_ARGS=\n"),
    )
    .unwrap();
    let kargs_d: toml::Table =
        fs::read_to_string(host_tree.join("rootfs/usr/lib/bootc/kargs.d/50-rtaudio-tuning.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let kargs: Vec<&str> = kargs_d["kargs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    fs::write(
        root.join("proc/cmdline"),
        format!("root=/dev/vda {}\n", kargs.join(" ")),
    )
    .unwrap();
    let profile = host.to_str().unwrap();
    let (_, v) = check_json(
        &["--profile", profile, "--only", "profile.dropins"],
        Some(&root),
    );
    assert_eq!(statuses(&v)["profile.dropins"], "pass", "{v:#}");
    let ev = evidence(&v, "profile.dropins").join("\n");
    assert!(ev.contains("this host's copy"), "{ev}");
    assert!(ev.contains("kargs.d"), "{ev}");
    // A host copy that is not the profile's is a difference.
    fs::write(
        root.join("etc/rtaudio-tuning/host/irqbalance.env"),
        "IRQBALANCE_BANNED_CPULIST=0\n",
    )
    .unwrap();
    let (_, v) = check_json(
        &["--profile", profile, "--only", "profile.dropins"],
        Some(&root),
    );
    assert_eq!(statuses(&v)["profile.dropins"], "warn", "{v:#}");
}

fn copy_tree(from: &Path, to: &Path) {
    for (rel, bytes) in tree(from) {
        let p = to.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    }
}

#[test]
fn a_user_the_machine_does_not_have_is_bad_input() {
    for (args, place) in [
        (vec!["check", "--user", "no-such-musician"], "this machine"),
        (
            vec![
                "check",
                "--root",
                "tests/fixtures/machines/rt-hda",
                "--user",
                "no-such-musician",
            ],
            "the captured machine",
        ),
    ] {
        let o = run(bin().current_dir(repo()).args(&args));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("--user no-such-musician: no such user on {place}")),
            "{}",
            stderr(&o)
        );
        assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    }
}

#[test]
fn the_fix_for_a_missing_group_creates_it_first() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(
        root.join("etc/passwd"),
        "musician:x:1000:1000::/home/musician:/bin/bash\n",
    )
    .unwrap();
    let fix = |group_file: &str| {
        fs::write(root.join("etc/group"), group_file).unwrap();
        let (code, v) = check_json(&["--user", "musician", "--only", "user.group"], Some(root));
        assert_eq!(code, 1, "{v:#}");
        let c = &v["checks"][0];
        assert_eq!(c["status"], "fail", "{c:#}");
        c["fix"].as_str().unwrap().to_string()
    };
    // No realtime group: usermod alone would fail.
    let f = fix("musician:x:1000:\naudio:x:63:\n");
    assert!(
        f.starts_with("create it first: sudo groupadd --system realtime")
            && f.contains("usermod -a -G realtime musician"),
        "{f}"
    );
    // The group exists: usermod is the whole fix.
    let f = fix("musician:x:1000:\nrealtime:x:71:\n");
    assert!(f.starts_with("sudo usermod -a -G realtime musician"), "{f}");
}
