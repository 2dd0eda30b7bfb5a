//! The latency probe, driven through the library for short runs. Machines are
//! noisy, so nothing here asserts how low a latency is: only that the figures
//! are consistent and that the options and privileges are handled.

use std::time::Duration;

use rtaudio_tuning::UserError;
use rtaudio_tuning::latency::{Measurement, Options, measure, run};

const INTERVAL_US: u64 = 1000;

fn short(ms: u64) -> Options {
    Options {
        duration: Duration::from_millis(ms),
        interval_us: INTERVAL_US,
        ..Options::default()
    }
}

fn check_sane(m: &Measurement, ms: u64) {
    let expected = ms * 1000 / INTERVAL_US;
    assert!(!m.threads.is_empty());
    for t in &m.threads {
        // Late wake-ups skip the periods they missed, so a loaded machine
        // measures fewer; never more.
        assert!(
            t.samples <= expected && t.samples >= expected / 2,
            "CPU {}: {} samples in {ms} ms at {INTERVAL_US} us",
            t.cpu,
            t.samples
        );
        // Not avg <= p99: one long stall can pull the mean above the 99th
        // percentile of a few hundred samples.
        assert!(t.min_us > 0.0, "CPU {}: min {}", t.cpu, t.min_us);
        assert!(t.min_us <= t.avg_us && t.avg_us <= t.max_us, "{t:?}");
        assert!(t.min_us <= t.p99_us, "{t:?}");
        assert!(t.p99_us <= t.p99_9_us && t.p99_9_us <= t.max_us, "{t:?}");
    }
    let max = m.threads.iter().map(|t| t.max_us).fold(0.0, f64::max);
    assert_eq!(m.max_us, max);
    assert!(m.p99_us > 0.0 && m.p99_us <= m.max_us);
    assert_eq!(m.interval_us, INTERVAL_US);
    assert_eq!(m.duration_s, ms as f64 / 1000.0);
}

/// Whether this process has the capabilities that make SCHED_FIFO and
/// mlockall succeed whatever the limits say (root has both).
fn privileged() -> bool {
    const CAP_IPC_LOCK: u32 = 14;
    const CAP_SYS_NICE: u32 = 23;
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0);
    caps & (1 << CAP_IPC_LOCK) != 0 && caps & (1 << CAP_SYS_NICE) != 0
}

/// The highest CPU this process may run on: the end of a list like "0-3,6-7".
fn last_allowed_cpu() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap();
    list.trim()
        .rsplit([',', '-'])
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn every_cpu_measured_sanely_and_realtime_when_privileged() {
    let m = measure(&short(500)).unwrap();
    check_sane(&m, 500);
    let mut cpus: Vec<usize> = m.threads.iter().map(|t| t.cpu).collect();
    cpus.dedup();
    assert_eq!(cpus.len(), m.threads.len(), "one thread per CPU");
    if privileged() {
        assert!(
            m.realtime,
            "privileged but not realtime: {:?}",
            m.limitations
        );
        assert!(m.threads.iter().all(|t| t.fifo));
        assert!(
            !m.limitations
                .iter()
                .any(|l| l.contains("SCHED_FIFO") || l.contains("mlockall")),
            "{:?}",
            m.limitations
        );
    } else if !m.realtime {
        // An rtprio and memlock limit can make it realtime without the
        // capabilities; when they do not, the report must say why.
        assert!(
            m.limitations
                .iter()
                .any(|l| l.starts_with("no SCHED_FIFO: ") || l.starts_with("no mlockall: ")),
            "{:?}",
            m.limitations
        );
    }
}

#[test]
fn a_cpu_list_is_honored_and_judged_against_the_buffer() {
    let last = last_allowed_cpu();
    let o = Options {
        cpus: Some(vec![last]),
        buffer_frames: Some(128),
        progress: true,
        ..short(300)
    };
    let m = measure(&o).unwrap();
    check_sane(&m, 300);
    assert_eq!(m.threads.len(), 1);
    assert_eq!(m.threads[0].cpu, last);
    let p = m.period.as_ref().expect("a buffer gives a period");
    assert_eq!((p.frames, p.rate_hz), (128, 48_000));
    assert!((p.period_us - 2666.667).abs() < 0.001);
    assert!((p.max_percent - m.max_us / p.period_us * 100.0).abs() < 1e-9);

    let json = serde_json::to_value(&m).unwrap();
    for key in [
        "realtime",
        "limitations",
        "interval_us",
        "duration_s",
        "priority",
        "max_us",
        "p99_us",
        "period",
        "threads",
    ] {
        assert!(json.get(key).is_some(), "no {key} in {json}");
    }
}

#[test]
fn the_histogram_file_counts_every_sample() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hist.txt");
    let o = Options {
        cpus: Some(vec![0]),
        histogram: Some(path.clone()),
        json: true,
        ..short(300)
    };
    assert_eq!(run(&o).unwrap(), 0);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# Histogram\n# CPUs: 0\n"), "{text}");
    let counted: u64 = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    let total: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("# Total: "))
        .unwrap()
        .parse()
        .unwrap();
    let overflows: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("# Histogram Overflows: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(total > 0);
    assert_eq!(counted + overflows, total);
}

#[test]
fn invalid_options_are_the_users_errors() {
    let cases: Vec<(Options, &str)> = vec![
        (
            Options {
                interval_us: 0,
                ..short(300)
            },
            "interval",
        ),
        (
            Options {
                priority: 0,
                ..short(300)
            },
            "1 to 99",
        ),
        (
            Options {
                priority: 100,
                ..short(300)
            },
            "1 to 99",
        ),
        (
            Options {
                cpus: Some(vec![]),
                ..short(300)
            },
            "empty",
        ),
        (
            Options {
                cpus: Some(vec![100_000]),
                ..short(300)
            },
            "CPU 100000 is not available",
        ),
        (
            Options {
                cpus: Some(vec![0, 0]),
                ..short(300)
            },
            "CPU 0 is listed twice",
        ),
        (
            Options {
                duration: Duration::ZERO,
                ..short(300)
            },
            "shorter than one interval",
        ),
        (
            Options {
                interval_us: u64::MAX,
                ..short(300)
            },
            "too long",
        ),
        (
            Options {
                buffer_frames: Some(0),
                ..short(300)
            },
            "0 frames",
        ),
        (
            Options {
                buffer_frames: Some(64),
                rate_hz: Some(0),
                ..short(300)
            },
            "0 Hz",
        ),
    ];
    for (o, wanted) in cases {
        let Err(e) = measure(&o) else {
            panic!("{o:?} was accepted");
        };
        assert!(e.downcast_ref::<UserError>().is_some(), "{e:#}");
        assert!(format!("{e:#}").contains(wanted), "{e:#} lacks {wanted:?}");
    }
}

#[test]
fn an_unwritable_histogram_path_fails_before_measuring() {
    let o = Options {
        histogram: Some("/nonexistent/dir/hist.txt".into()),
        ..short(5_000)
    };
    let started = std::time::Instant::now();
    let e = run(&o).unwrap_err();
    assert!(e.downcast_ref::<UserError>().is_some(), "{e:#}");
    assert!(format!("{e:#}").contains("/nonexistent/dir/hist.txt"));
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// The `latency` subcommand: its flags reach the probe, and bad ones are
/// usage errors (exit 2).
#[test]
fn the_command_line_drives_the_probe() {
    let bin = env!("CARGO_BIN_EXE_rtaudio-tuning");
    let o = std::process::Command::new(bin)
        .args([
            "latency",
            "--duration",
            "0.3",
            "--interval",
            "500",
            "--cpus",
            "0",
            "--buffer",
            "64",
            "--json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["interval_us"], 500);
    assert_eq!(v["threads"].as_array().unwrap().len(), 1);
    assert_eq!(v["threads"][0]["cpu"], 0);
    assert_eq!(v["period"]["frames"], 64);
    // The verdict is the exit code, as for `check`: 1 when the thread could
    // not run realtime or its worst case is longer than the period (this
    // machine's noise decides which; the code must agree with the figures).
    let passed = v["realtime"] == true && v["period"]["max_percent"].as_f64().unwrap() < 100.0;
    assert_eq!(v["ok"], passed, "{v:#}");
    assert_eq!(
        o.status.code(),
        Some(if passed { 0 } else { 1 }),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // cyclictest's spellings of a duration: -D, and units.
    for (flag, value, seconds) in [("-D", "0.2s", 0.2), ("--duration", "0.005m", 0.3)] {
        let o = std::process::Command::new(bin)
            .args(["latency", flag, value, "--cpus", "0", "--json"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(
            (v["duration_s"].as_f64().unwrap() - seconds).abs() < 1e-9,
            "{flag} {value}: {v:#}"
        );
        assert!(matches!(o.status.code(), Some(0 | 1)), "{flag} {value}");
    }
    for bad in [
        vec!["latency", "--duration", "0"],
        vec!["latency", "--duration", "nan"],
        vec!["latency", "--duration", "5x"],
        vec!["latency", "-D", "m"],
        vec!["latency", "--cpus", "3-1"],
        vec!["latency", "--priority", "150", "--duration", "0.1"],
        vec!["latency", "--interval", "0", "--duration", "0.1"],
    ] {
        let o = std::process::Command::new(bin).args(&bad).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(2),
            "{bad:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
