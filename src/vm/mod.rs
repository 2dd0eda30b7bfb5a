//! `vm-test`: boot the rendered artifacts in a QEMU guest and let this same
//! binary, inside, judge them (`check` as the musician through PAM, a short
//! `latency` run), then read its verdict off the serial console.
//!
//! The guest is Debian (the only distribution this machine's package mirrors
//! reach): a PREEMPT_RT or stock kernel and a debootstrap root file system,
//! built and cached by scripts/vm/build-guest, which is embedded here. On a
//! Fedora host, `--kernel`, `--initrd` and `--rootfs` point at Fedora's instead.

mod agent;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

pub use agent::run as agent_run;

use crate::{ToolMissing, UserError, check, exit};

/// scripts/vm/, embedded so that an installed binary can build its guest.
const BUILD_GUEST: &str = include_str!("../../scripts/vm/build-guest");
const GUEST_INIT: &str = include_str!("../../scripts/vm/init");
pub const BEGIN: &str = "RTAUDIO-TUNING-VERDICT-BEGIN";
pub const END: &str = "RTAUDIO-TUNING-VERDICT-END";
/// Around the capture (`--capture`) on the guest's second serial port.
pub const CAPTURE_BEGIN: &str = "RTAUDIO-TUNING-CAPTURE-BEGIN";
pub const CAPTURE_END: &str = "RTAUDIO-TUNING-CAPTURE-END";
/// Where the guest finds what it judges against.
pub const GUEST_PROFILE: &str = "/etc/rtaudio-tuning/vm-test/profile.toml";
pub const GUEST_BIN: &str = "/usr/local/bin/rtaudio-tuning";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Accel {
    Tcg,
    Kvm,
    Auto,
}

pub struct Options<'a> {
    /// The profile the guest is judged against (and rendered from, unless `tree`).
    pub profile: &'a Path,
    /// A rendered tree to apply instead of rendering the profile (a test breaks
    /// one artifact this way and expects the verdict to name it).
    pub tree: Option<&'a Path>,
    pub kernel: Option<&'a Path>,
    pub initrd: Option<&'a Path>,
    pub rootfs: Option<&'a Path>,
    pub accel: Accel,
    pub timeout: Duration,
    pub keep: bool,
    pub json: bool,
    /// Write the booted guest, as `check --root` reads it, to this new folder.
    pub capture: Option<&'a Path>,
}

/// What vm-test verifies, each the verdict of one or more checks the agent ran
/// inside: as the musician logged in through PAM (`runuser`), or as root where
/// only root can look (irqbalance's environment). `n/a` passes only where the
/// issue allows it (no cpufreq in a VM, no sound device to raise).
struct Verified {
    what: &'static str,
    ids: &'static [&'static str],
    na_ok: bool,
    as_root: bool,
}

const VERIFIED: &[Verified] = &[
    Verified {
        what: "kernel",
        ids: &[check::KERNEL_PREEMPT],
        na_ok: false,
        as_root: false,
    },
    Verified {
        what: "kernel arguments",
        ids: &[check::PROFILE_KARGS, check::PROFILE_KARGS_EFFECT],
        na_ok: true,
        as_root: false,
    },
    Verified {
        what: "realtime group",
        ids: &[check::USER_GROUP],
        na_ok: false,
        as_root: false,
    },
    Verified {
        what: "rtprio limit",
        ids: &[check::LIMITS_RTPRIO],
        na_ok: false,
        as_root: false,
    },
    Verified {
        what: "memlock limit",
        ids: &[check::LIMITS_MEMLOCK],
        na_ok: false,
        as_root: false,
    },
    Verified {
        what: "SCHED_FIFO",
        ids: &[check::RT_SCHED_FIFO],
        na_ok: false,
        as_root: false,
    },
    Verified {
        what: "mlockall",
        ids: &[check::RT_MLOCKALL],
        na_ok: false,
        as_root: false,
    },
    Verified {
        what: "irqbalance",
        ids: &[check::PROFILE_IRQBALANCE],
        na_ok: false,
        as_root: true,
    },
    Verified {
        what: "IRQ thread priorities",
        ids: &[check::PROFILE_IRQ_PRIORITY],
        na_ok: true,
        as_root: true,
    },
    Verified {
        what: "CPU governor",
        ids: &[check::CPU_GOVERNOR],
        na_ok: true,
        as_root: true,
    },
    Verified {
        what: "sysctl",
        ids: &[check::PROFILE_SYSCTL],
        na_ok: true,
        as_root: true,
    },
    Verified {
        what: "cpu_dma_latency (udev)",
        ids: &[check::PM_CPU_DMA_LATENCY],
        na_ok: false,
        as_root: false,
    },
    Verified {
        what: "user manager limits",
        ids: &[check::LIMITS_USER_MANAGER],
        na_ok: false,
        as_root: false,
    },
    Verified {
        what: "HDA power saving",
        ids: &[check::POWER_HDA],
        na_ok: false,
        as_root: false,
    },
    Verified {
        what: "USB autosuspend",
        ids: &[check::POWER_USB],
        na_ok: false,
        as_root: false,
    },
    Verified {
        what: "drop-ins",
        ids: &[check::PROFILE_DROPINS],
        na_ok: false,
        as_root: true,
    },
];

/// What vm-test verifies of the audio server, when the profile's is PipeWire
/// and the agent started the musician's session.
const VERIFIED_PIPEWIRE: &[Verified] = &[
    Verified {
        what: "audio server realtime",
        ids: &[check::AUDIO_SERVER_RT],
        na_ok: false,
        as_root: false,
    },
    Verified {
        what: "audio graph settings",
        ids: &[check::AUDIO_SETTINGS],
        na_ok: false,
        as_root: false,
    },
];

/// What vm-test verifies of jackd, when the profile's server is JACK.
const VERIFIED_JACK: &[Verified] = &[Verified {
    what: "audio server realtime",
    ids: &[check::AUDIO_SERVER_RT],
    na_ok: false,
    as_root: false,
}];

#[derive(Serialize)]
struct Row {
    what: &'static str,
    ok: bool,
    checks: Vec<String>,
}

#[derive(Serialize)]
struct Verdict {
    /// The envelope's `ok`.
    #[serde(skip)]
    ok: bool,
    accel: &'static str,
    seconds_to_verdict: f64,
    serial_log: String,
    rows: Vec<Row>,
    latency: serde_json::Value,
    agent: serde_json::Value,
}

pub fn run(o: &Options) -> anyhow::Result<i32> {
    let Some(qemu) = crate::cmd::find("qemu-system-x86_64") else {
        return Err(ToolMissing("install qemu-system-x86 (apt-get install qemu-system-x86; dnf install qemu-system-x86)".into()).into());
    };
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(UserError(
            "vm-test builds a guest image whose files belong to root: run it as root (sudo)".into(),
        )
        .into());
    }
    if let Some(dir) = o.capture
        && (dir.symlink_metadata().is_ok()
            && std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_some()))
    {
        return Err(UserError(format!(
            "--capture {}: give a folder that does not exist yet (or an empty one): a capture never replaces files",
            dir.display()
        ))
        .into());
    }
    let work = tempfile::Builder::new()
        .prefix("rtaudio-tuning-vm-")
        .tempdir()?;
    let started = Instant::now();

    // The artifacts: the given tree, or the profile rendered now. The
    // profile is loaded and its modules compiled as `render` does it, either
    // way: the guest is set up from its plan.
    let (loaded, compiled, fatal) =
        crate::load::load_and_compile(Some(o.profile), false, false, true)?;
    let Some(profile) = loaded.profile.as_ref().filter(|_| !fatal) else {
        return Ok(exit::BAD_INPUT);
    };
    let tree = match o.tree {
        Some(t) => t.to_path_buf(),
        None => {
            let dir = work.path().join("tree");
            crate::output::write_tree(
                &dir,
                &crate::render::render_all(profile, &compiled)?,
                false,
            )?;
            dir
        }
    };
    let kargs = kargs_from_tree(&tree)?;

    let guest = guest_parts(o, profile)?;
    crate::errln!("vm-test: guest kernel {}", guest.kernel.display())?;
    let stage = work.path().join("stage");
    assemble(
        &guest.rootfs,
        &stage,
        &tree,
        o.profile,
        profile,
        &compiled,
        o.capture.is_some(),
    )?;
    let disk = work.path().join("disk.img");
    make_disk(&stage, &disk)?;
    let _ = std::fs::remove_dir_all(&stage);

    let accel = choose_accel(&qemu, o.accel);
    // (With auto, a KVM boot that shows no kernel banner soon falls back below.)
    let log = work.path().join("serial.log");
    let cmdline = format!(
        "root=/dev/vda rw console=ttyS0 panic=-1 systemd.unit=multi-user.target systemd.show_status=false {}",
        kargs.join(" ")
    );
    crate::errln!(
        "vm-test: booting ({accel}, timeout {} s): {cmdline}",
        o.timeout.as_secs()
    )?;
    // Enough CPUs for the profile's isolated and banned ones to exist, and at
    // least two packages: irqbalance quits on a single cache domain.
    let cpus = [&profile.kernel.isolate_cpus, &profile.irq.banned_cpus]
        .into_iter()
        .flatten()
        .filter_map(|l| crate::profile::grammar::cpu_list(l).ok())
        .flatten()
        .max()
        .map_or(2, |c| (c + 1).max(2));
    let mut outcome = boot(
        &qemu,
        accel,
        cpus,
        &guest,
        &disk,
        &cmdline,
        &log,
        o.timeout,
        accel == "kvm" && o.accel == Accel::Auto,
    )?;
    let mut accel = accel;
    if matches!(outcome, Boot::NoSignOfLife) {
        // KVM started but the guest kernel never spoke: nested KVM that hangs.
        crate::errln!(
            "vm-test: the guest made no progress under KVM within {} s; booting with TCG",
            SIGN_OF_LIFE.as_secs()
        )?;
        accel = "tcg";
        outcome = boot(
            &qemu, accel, cpus, &guest, &disk, &cmdline, &log, o.timeout, false,
        )?;
    }
    let kept = if o.keep {
        let dir = work.keep();
        crate::errln!("vm-test: kept {}", dir.display())?;
        dir
    } else {
        // The serial log outlives the work folder.
        let saved = std::env::temp_dir().join(format!(
            "rtaudio-tuning-vm-serial-{}.log",
            std::process::id()
        ));
        let _ = std::fs::copy(&log, &saved);
        saved
    };
    let log_shown = if o.keep {
        kept.join("serial.log")
    } else {
        kept
    };

    let (how, tail) = match outcome {
        Boot::Verdict(v) => (None, v),
        Boot::TimedOut(tail) => (
            Some(format!("timed out after {} s", o.timeout.as_secs())),
            serde_json::json!(tail),
        ),
        Boot::Ended(tail) => (
            Some("the guest stopped".to_string()),
            serde_json::json!(tail),
        ),
        Boot::NoSignOfLife => (
            Some("the guest made no progress".to_string()),
            serde_json::json!([]),
        ),
    };
    let agent = match how {
        None => tail,
        Some(how) => {
            crate::errln!(
                "vm-test: {how} without a verdict; the last lines of the serial console ({}):",
                log_shown.display()
            )?;
            let lines = tail.as_array().cloned().unwrap_or_default();
            if lines.is_empty() {
                crate::errln!("  | (the guest printed nothing)")?;
            }
            for l in lines {
                crate::errln!("  | {}", l.as_str().unwrap_or_default())?;
            }
            return Ok(exit::FAILED);
        }
    };
    let statuses =
        |run: &serde_json::Value| -> std::collections::BTreeMap<String, (String, String)> {
            run["checks"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|c| {
                            (
                                c["id"].as_str().unwrap_or("").to_string(),
                                (
                                    c["status"].as_str().unwrap_or("").to_string(),
                                    c["summary"].as_str().unwrap_or("").to_string(),
                                ),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
    let mut agent = agent;
    if let Some(dir) = o.capture {
        let text = std::fs::read_to_string(log.with_file_name(CAPTURE_PORT)).unwrap_or_default();
        let files = text
            .split_once(CAPTURE_BEGIN)
            .and_then(|(_, rest)| rest.split_once(CAPTURE_END))
            .map(|(json, _)| serde_json::from_str::<serde_json::Value>(json.trim()))
            .context("the agent sent no capture on the second serial port")?
            .context("the capture is not JSON")?;
        let n = write_capture(dir, &files, &guest, &agent, profile)?;
        agent["capture"] = serde_json::json!({ "folder": dir.display().to_string(), "files": n });
        crate::errln!(
            "vm-test: captured {n} files of the guest to {}",
            dir.display()
        )?;
    }
    let (as_user, as_root) = (statuses(&agent["check"]), statuses(&agent["check_root"]));
    // The audio server the agent started (none: the guest lacks it).
    let server = agent["audio"]["server"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let server = server.as_str();
    let mut rows: Vec<Row> = VERIFIED
        .iter()
        .chain(match server {
            "pipewire" => VERIFIED_PIPEWIRE,
            "jack" => VERIFIED_JACK,
            _ => &[],
        })
        .map(|v| {
            let source = if v.as_root { &as_root } else { &as_user };
            let mut ok = true;
            let mut checks = Vec::new();
            for id in v.ids {
                let (status, summary) = source
                    .get(*id)
                    .cloned()
                    .unwrap_or(("missing".into(), "the agent did not report it".into()));
                ok &= status == "pass" || (v.na_ok && status == "n/a");
                checks.push(format!("{id}: {status}: {summary}"));
            }
            Row {
                what: v.what,
                ok,
                checks,
            }
        })
        .collect();
    match server {
        "pipewire" => rows.extend(playback_rows(&agent["audio"], profile)),
        "jack" => {
            rows.push(tone_row(
                &agent["audio"],
                &[
                    ("jack_wait", &agent["audio"]["waited"]),
                    ("jack_simple_client", &agent["audio"]["played"]),
                ],
            ));
            rows.push(jack_row(&agent["audio"], profile));
        }
        _ => {}
    }
    let verdict = Verdict {
        ok: rows.iter().all(|r| r.ok),
        accel,
        seconds_to_verdict: started.elapsed().as_secs_f64(),
        serial_log: log_shown.display().to_string(),
        rows,
        latency: agent["latency"].clone(),
        agent: agent.clone(),
    };
    if o.json {
        crate::console::document("vm-test", 1, verdict.ok, &verdict)?;
    } else {
        print_verdict(&verdict)?;
    }
    Ok(if verdict.ok { exit::OK } else { exit::FAILED })
}

/// Write the agent's capture ({path: text}) to `dir`, a new folder, with a
/// SOURCE.md that says what it is; atomically: beside it first, then renamed.
/// Paths are the guest's, relative, and must stay inside the folder.
fn write_capture(
    dir: &Path,
    files: &serde_json::Value,
    guest: &Guest,
    agent: &serde_json::Value,
    profile: &crate::profile::Profile,
) -> anyhow::Result<usize> {
    let Some(files) = files.as_object() else {
        anyhow::bail!("the agent sent no capture");
    };
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let tmp = tempfile::Builder::new()
        .prefix(".rtaudio-tuning-capture-")
        .tempdir_in(parent)?;
    for (path, text) in files {
        let rel = Path::new(path);
        let inside = !path.is_empty()
            && rel
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        let Some(text) = text.as_str().filter(|_| inside) else {
            anyhow::bail!("the capture names a path that is not the guest's: {path:?}");
        };
        let dest = tmp.path().join(rel);
        std::fs::create_dir_all(dest.parent().expect("a file in a folder"))?;
        std::fs::write(&dest, text)?;
    }
    let source = format!(
        "# A vm-test guest, captured\n\nWritten by `rtaudio-tuning vm-test --capture` while the guest ran the profile \"{name}\"\n(audio server {server}), after the agent's checks, with the musician's audio session\nrunning.\n\n- kernel: `{kernel}`\n- kernel command line: `{cmdline}`\n- QEMU: `-device qemu-xhci -device intel-hda -device hda-duplex -device usb-audio`,\n  host side `-audiodev none`\n- what it holds: the files `check --root` reads (proc/, sys/, etc/, the PipeWire and\n  WirePlumber drop-ins, the musician's, the user manager's and RTKit's cmdline, limits\n  and thread stats, boot/config-RELEASE), text files only\n",
        name = profile.name,
        server = match profile.audio.server {
            crate::profile::AudioServer::Pipewire => "PipeWire",
            crate::profile::AudioServer::Jack => "JACK",
        },
        kernel = guest
            .kernel
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned()),
        cmdline = agent["cmdline"].as_str().unwrap_or_default(),
    );
    std::fs::write(tmp.path().join("SOURCE.md"), source)?;
    // An empty folder given as the target is replaced by the capture.
    if dir.exists() {
        std::fs::remove_dir(dir)
            .with_context(|| format!("{} is not an empty folder", dir.display()))?;
    }
    std::fs::rename(tmp.keep(), dir)
        .with_context(|| format!("moving the capture to {}", dir.display()))?;
    Ok(files.len())
}

/// The row jackd's card proves: a playback substream held open at the
/// profile's rate and period (`-r`, `-p`), as ALSA's hw_params shows it.
fn jack_row(audio: &serde_json::Value, profile: &crate::profile::Profile) -> Row {
    let a = &profile.audio;
    let mut checks = vec![
        format!(
            "jack_simple_client (libjack starting jackd): {}",
            audio["started"]["output"].as_str().unwrap_or_default()
        ),
        format!(
            "/etc/jackdrc: {}",
            audio["jackdrc"].as_str().unwrap_or_default().trim()
        ),
    ];
    let mut ok = false;
    for p in audio["hw_params"].as_array().into_iter().flatten() {
        let (Some(file), Some(text)) = (p[0].as_str(), p[1].as_str()) else {
            continue;
        };
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim_start_matches([' ', ':']).split_whitespace().next())
                .and_then(|v| v.parse::<u32>().ok())
        };
        let (rate, period) = (field("rate"), field("period_size"));
        if rate.is_some() || period.is_some() {
            ok |= rate == Some(a.rate) && period == Some(a.quantum);
            checks.push(format!(
                "{file}: rate {}, period_size {} (profile: {}, {})",
                rate.map_or("?".into(), |r| r.to_string()),
                period.map_or("?".into(), |r| r.to_string()),
                a.rate,
                a.quantum
            ));
        } else {
            checks.push(format!("{file}: {text}"));
        }
    }
    Row {
        what: "JACK on the sound card at the profile's rate and period",
        ok,
        checks,
    }
}

/// `hw_ptr` of a substream's status text, when it is running.
fn running_hw_ptr(status: &str) -> Option<u64> {
    if !status.lines().any(|l| l.trim() == "state: RUNNING") {
        return None;
    }
    status
        .lines()
        .find_map(|l| l.trim().strip_prefix("hw_ptr"))
        .and_then(|v| v.trim_start_matches([' ', ':']).trim().parse().ok())
}

/// The row the agent's playback proves: the tone reached the sound card (a
/// playback substream running in the agent's looks, its hardware pointer
/// moving). `commands` are what played it, with their outcome; each must
/// have succeeded.
fn tone_row(audio: &serde_json::Value, commands: &[(&str, &serde_json::Value)]) -> Row {
    let text = |v: &serde_json::Value| v["output"].as_str().unwrap_or_default().to_string();
    // Every snapshot's (file, status text).
    let snapshots: Vec<Vec<(String, String)>> = audio["pcm_status"]
        .as_array()
        .map(|shots| {
            shots
                .iter()
                .map(|shot| {
                    shot.as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|p| {
                                    Some((p[0].as_str()?.to_string(), p[1].as_str()?.to_string()))
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    // A substream whose hardware pointer moved between two looks in a row
    // in which it ran.
    let mut files: Vec<&str> = snapshots
        .iter()
        .flatten()
        .map(|(f, _)| f.as_str())
        .collect();
    files.sort_unstable();
    files.dedup();
    let moving: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let ptrs: Vec<u64> = snapshots
                .iter()
                .filter_map(|shot| {
                    shot.iter()
                        .find(|(f, _)| f == file)
                        .and_then(|(_, s)| running_hw_ptr(s))
                })
                .collect();
            // Moving between two looks in a row: a stream that an xrun
            // restarted begins again at 0.
            let (before, after) = ptrs
                .windows(2)
                .find(|w| w[1] > w[0])
                .map(|w| (w[0], w[1]))?;
            Some(format!(
                "{file}: RUNNING in {} of {} looks, hw_ptr {before} -> {after}",
                ptrs.len(),
                snapshots.len()
            ))
        })
        .collect();
    let then: Vec<(String, String)> = snapshots.last().cloned().unwrap_or_default();
    let mut checks = vec![format!(
        "user manager: {}{}",
        text(&audio["manager"]),
        audio["manager"]["journal"]
            .as_str()
            .map_or(String::new(), |j| format!("; its journal: {j}"))
    )];
    checks.extend(
        commands
            .iter()
            .map(|(what, v)| format!("{what}: {}", text(v))),
    );
    if moving.is_empty() {
        checks.push("no playback substream ran with a moving hardware pointer".into());
        checks.extend(
            then.iter()
                .map(|(f, s)| format!("{f}: {}", s.replace('\n', "; "))),
        );
        if audio["sink"].is_object() && audio["sink"]["ok"] != true {
            checks.push(format!("default sink: {}", text(&audio["sink"])));
        }
    }
    checks.extend(moving.iter().cloned());
    Row {
        what: "tone reaches the sound card",
        ok: commands.iter().all(|(_, v)| v["ok"] == true) && !moving.is_empty(),
        checks,
    }
}

/// The rows the agent's PipeWire playback proves: the tone reached the sound
/// card, and the graph that drove it ran at the profile's rate and quantum
/// (pw-top's driver line; its ERR column, the xruns, is reported and not
/// judged: under emulation it says little).
fn playback_rows(audio: &serde_json::Value, profile: &crate::profile::Profile) -> Vec<Row> {
    let text = |v: &serde_json::Value| v["output"].as_str().unwrap_or_default().to_string();
    let tone = tone_row(
        audio,
        &[
            ("services", &audio["services"]),
            ("pw-play", &audio["played"]),
        ],
    );
    // pw-top --batch-mode: S ID QUANT RATE WAIT BUSY W/Q B/Q ERR FORMAT NAME;
    // the driver is the ALSA sink's line, its followers are indented with +.
    let top = text(&audio["pw_top"]);
    let drivers: Vec<(u64, u64, String, String)> = top
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let name = *f.last()?;
            if f.first() != Some(&"R") || !name.starts_with("alsa_output") {
                return None;
            }
            Some((
                f.get(2)?.parse().ok()?,
                f.get(3)?.parse().ok()?,
                f.get(8)?.to_string(),
                name.to_string(),
            ))
        })
        .collect();
    let a = &profile.audio;
    let settings = text(&audio["settings"]);
    let setting = |key: &str| check::audio::pw_metadata(&settings, key);
    let in_force = [
        ("clock.rate", a.rate),
        ("clock.quantum", a.quantum),
        ("clock.min-quantum", a.min_quantum),
        ("clock.max-quantum", a.max_quantum),
    ];
    let settings_ok = in_force
        .iter()
        .all(|(k, want)| setting(k) == Some(want.to_string()));
    let graph_ok = settings_ok
        && !drivers.is_empty()
        && drivers
            .iter()
            .all(|(q, r, _, _)| *q == u64::from(a.quantum) && *r == u64::from(a.rate));
    let mut checks: Vec<String> = in_force
        .iter()
        .map(|(k, want)| {
            format!(
                "pw-metadata settings {k} = {} (profile: {want})",
                setting(k).unwrap_or_else(|| "not set".into())
            )
        })
        .collect();
    checks.extend(drivers.iter().map(|(q, r, err, name)| {
        format!(
            "{name}: quantum {q}, rate {r} (profile: {}, {}), xruns {err}",
            a.quantum, a.rate
        )
    }));
    if drivers.is_empty() {
        checks.push(format!(
            "pw-top showed no running ALSA sink: {}",
            top.lines().take(8).collect::<Vec<_>>().join("; ")
        ));
    }
    let graph = Row {
        what: "graph on the sound card at the profile's rate and quantum",
        ok: graph_ok,
        checks,
    };
    vec![tone, graph]
}

fn print_verdict(v: &Verdict) -> anyhow::Result<()> {
    crate::outln!(
        "vm-test verdict ({}, {:.0} s to verdict; serial log {}):",
        v.accel,
        v.seconds_to_verdict,
        v.serial_log
    )?;
    for r in &v.rows {
        crate::outln!("  {:<5} {}", if r.ok { "pass" } else { "FAIL" }, r.what)?;
        if !r.ok {
            for c in &r.checks {
                crate::outln!("          {c}")?;
            }
        }
    }
    if let Some(max) = v.latency["max_us"].as_f64() {
        crate::outln!(
            "  latency in the guest: max {max:.0} us, p99 {:.0} us over {} s ({}; under emulation these figures say little about real hardware)",
            v.latency["p99_us"].as_f64().unwrap_or(0.0),
            v.latency["duration_s"],
            if v.latency["realtime"] == true {
                "SCHED_FIFO, memory locked"
            } else {
                "not realtime"
            }
        )?;
    }
    crate::outln!(
        "{}",
        if v.ok {
            "every check passed"
        } else {
            "some checks failed"
        }
    )
}

/// The kernel arguments as the rendered artifacts carry them (bootc's kargs.d),
/// never from the profile directly; they must agree with the kickstart's.
fn kargs_from_tree(tree: &Path) -> anyhow::Result<Vec<String>> {
    let dir = tree.join("rootfs/usr/lib/bootc/kargs.d");
    let mut kargs = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    for f in files {
        let doc: toml::Table = std::fs::read_to_string(&f)?
            .parse()
            .with_context(|| format!("parsing {}", f.display()))?;
        for k in doc
            .get("kargs")
            .and_then(|k| k.as_array())
            .into_iter()
            .flatten()
        {
            kargs.push(k.as_str().unwrap_or_default().to_string());
        }
    }
    // The kickstart says the same; a disagreement is a broken tree.
    for ks in std::fs::read_dir(tree.join("kickstart"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let text = std::fs::read_to_string(ks.path()).unwrap_or_default();
        let name = ks.file_name().to_string_lossy().into_owned();
        if let Ok(theirs) = crate::validate::consistency::installed_kargs(&name, &text) {
            if theirs != kargs {
                anyhow::bail!(
                    "the rendered artifacts disagree on the kernel arguments: kargs.d has [{}], {} has [{}]",
                    kargs.join(" "),
                    ks.path().display(),
                    theirs.join(" ")
                );
            }
        }
    }
    Ok(kargs)
}

struct Guest {
    kernel: PathBuf,
    initrd: PathBuf,
    rootfs: PathBuf,
}

fn guest_parts(o: &Options, profile: &crate::profile::Profile) -> anyhow::Result<Guest> {
    if let (Some(kernel), Some(initrd), Some(rootfs)) = (o.kernel, o.initrd, o.rootfs) {
        for (what, p) in [("--kernel", kernel), ("--initrd", initrd)] {
            if !p.is_file() {
                return Err(UserError(format!("{what} {}: no such file", p.display())).into());
            }
        }
        if !rootfs.is_dir() {
            return Err(UserError(format!(
                "--rootfs {}: give the guest's root file system as a folder",
                rootfs.display()
            ))
            .into());
        }
        return Ok(Guest {
            kernel: kernel.to_path_buf(),
            initrd: initrd.to_path_buf(),
            rootfs: rootfs.to_path_buf(),
        });
    }
    if o.kernel.is_some() || o.initrd.is_some() || o.rootfs.is_some() {
        return Err(UserError("--kernel, --initrd and --rootfs go together: give all three, or none to build Debian's guest".into()).into());
    }
    let flavor = match profile.kernel.flavor {
        crate::profile::Flavor::Rt => "rt",
        crate::profile::Flavor::Stock => "stock",
    };
    crate::errln!(
        "vm-test: building or reusing the {flavor} guest (scripts/vm/build-guest; the first build takes minutes)"
    )?;
    let scripts = tempfile::Builder::new()
        .prefix("rtaudio-tuning-build-guest-")
        .tempdir()?;
    std::fs::write(scripts.path().join("build-guest"), BUILD_GUEST)?;
    std::fs::write(scripts.path().join("init"), GUEST_INIT)?;
    let out = Command::new("bash")
        .arg(scripts.path().join("build-guest"))
        .arg(flavor)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("running scripts/vm/build-guest")?;
    if out.status.code() == Some(3) {
        return Err(ToolMissing("the guest's tools (see the message above)".into()).into());
    }
    if !out.status.success() {
        anyhow::bail!("building the guest failed ({})", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let kv = crate::check::parse::key_values(&text);
    let get = |k: &str| {
        kv.get(k)
            .map(PathBuf::from)
            .with_context(|| format!("build-guest printed no {k}="))
    };
    Ok(Guest {
        kernel: get("KERNEL")?,
        initrd: get("INITRD")?,
        rootfs: get("ROOTFS")?,
    })
}

fn run_ok(cmd: &mut Command) -> anyhow::Result<()> {
    crate::cmd::run_checked(cmd)?;
    Ok(())
}

/// The guest's root file system: the base, then the artifacts applied the way
/// the RPM's scriptlets would (files, sysusers, users in the group, units),
/// and this binary as the agent.
fn assemble(
    base: &Path,
    stage: &Path,
    tree: &Path,
    profile_path: &Path,
    profile: &crate::profile::Profile,
    compiled: &crate::selinux::Compiled,
    capture: bool,
) -> anyhow::Result<()> {
    run_ok(Command::new("cp").arg("-a").arg(base).arg(stage))?;
    let rootfs = tree.join("rootfs");
    run_ok(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", rootfs.display()))
            .arg(stage),
    )?;
    run_ok(Command::new("systemd-sysusers").arg(format!("--root={}", stage.display())))?;

    let group = &profile.realtime.group;
    let mut users: Vec<(String, Vec<String>)> = profile
        .users
        .iter()
        .map(|u| (u.name.clone(), u.groups.clone()))
        .collect();
    if users.is_empty() {
        // A profile without musicians: the admin adds one to the group by hand.
        users.push(("musician".into(), vec!["audio".into(), group.clone()]));
    }
    for (name, groups) in &users {
        let existing: Vec<&String> = groups.iter().filter(|g| group_exists(stage, g)).collect();
        let mut c = Command::new("useradd");
        c.arg("--root").arg(stage).args(["-m", "-s", "/bin/bash"]);
        if !existing.is_empty() {
            c.arg("-G").arg(
                existing
                    .iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        run_ok(c.arg(name))?;
    }

    let plan = crate::render::plan(profile, compiled)?;
    for unit in &plan.enable_all {
        // A unit the guest's distribution does not ship (Fedora's cpupower.service
        // on Debian) is left out; the checks say what that means.
        let _ = crate::cmd::run(
            Command::new("systemctl")
                .arg(format!("--root={}", stage.display()))
                .arg("enable")
                .arg(unit),
        );
    }
    for unit in &plan.mask {
        run_ok(
            Command::new("systemctl")
                .arg(format!("--root={}", stage.display()))
                .arg("mask")
                .arg(unit),
        )?;
    }

    let agent_dir = stage.join("etc/rtaudio-tuning/vm-test");
    std::fs::create_dir_all(&agent_dir)?;
    std::fs::copy(
        profile_path,
        stage.join(GUEST_PROFILE.trim_start_matches('/')),
    )?;
    if let Some(src_dir) = profile_path.parent() {
        for m in &profile.selinux.module {
            for rel in std::iter::once(&m.file).chain(m.fc.iter()) {
                let dest = agent_dir.join(rel);
                std::fs::create_dir_all(dest.parent().unwrap_or(&agent_dir))?;
                std::fs::copy(src_dir.join(rel), dest)?;
            }
        }
    }
    // The running binary itself: /proc/self/exe still reads it when its file
    // was replaced meanwhile (an upgrade or a rebuild during a long boot).
    let bin = Path::new("/proc/self/exe");
    let bin = if bin.exists() {
        bin.to_path_buf()
    } else {
        std::env::current_exe().context("finding this binary")?
    };
    let dest = stage.join(GUEST_BIN.trim_start_matches('/'));
    std::fs::create_dir_all(dest.parent().expect("a folder"))?;
    std::fs::copy(&bin, &dest).with_context(|| format!("copying {}", bin.display()))?;
    let user = &users[0].0;
    // The musician's user manager starts at boot as at a login (through PAM's
    // systemd-user stack): lingering, as `loginctl enable-linger` records it.
    let linger = stage.join("var/lib/systemd/linger");
    std::fs::create_dir_all(&linger)?;
    std::fs::write(linger.join(user), "")?;
    // The audio session, where the guest has the profile's server.
    let server = match profile.audio.server {
        crate::profile::AudioServer::Pipewire if stage.join("usr/bin/pipewire").exists() => {
            " --server pipewire"
        }
        crate::profile::AudioServer::Jack if stage.join("usr/bin/jackd").exists() => {
            " --server jack"
        }
        _ => "",
    };
    std::fs::write(
        stage.join("etc/systemd/system/rtaudio-vm-agent.service"),
        format!(
            "[Unit]\nDescription=rtaudio-tuning vm-test agent\nAfter=multi-user.target systemd-logind.service\n\n[Service]\nType=oneshot\nExecStart={GUEST_BIN} vm-agent --user {user} --profile {GUEST_PROFILE}{}{}\nExecStopPost=/usr/bin/systemctl poweroff --no-block\n\n[Install]\nWantedBy=multi-user.target\n",
            server,
            if capture { " --capture" } else { "" }
        ),
    )?;
    run_ok(
        Command::new("systemctl")
            .arg(format!("--root={}", stage.display()))
            .args(["enable", "rtaudio-vm-agent.service"]),
    )?;
    Ok(())
}

fn group_exists(root: &Path, group: &str) -> bool {
    std::fs::read_to_string(root.join("etc/group"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(':').next() == Some(group))
}

fn make_disk(stage: &Path, disk: &Path) -> anyhow::Result<()> {
    let Some(mke2fs) = crate::cmd::find("mke2fs")
        .or_else(|| Some(PathBuf::from("/usr/sbin/mke2fs")).filter(|p| p.exists()))
    else {
        return Err(ToolMissing("e2fsprogs (mke2fs)".into()).into());
    };
    let du = crate::cmd::run_checked(Command::new("du").args(["-sm"]).arg(stage))?;
    let used: u64 = du
        .stdout
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1024);
    run_ok(
        Command::new(mke2fs)
            .args(["-q", "-F", "-t", "ext4", "-L", "root", "-d"])
            .arg(stage)
            .arg(disk)
            .arg(format!("{}M", used + 512)),
    )
}

/// `auto`: KVM when a QEMU with KVM starts and answers its monitor within five
/// seconds (nested KVM can hang forever), else TCG.
fn choose_accel(qemu: &Path, asked: Accel) -> &'static str {
    match asked {
        Accel::Tcg => "tcg",
        Accel::Kvm => "kvm",
        Accel::Auto => {
            if !Path::new("/dev/kvm").exists() {
                return "tcg";
            }
            let probe = Command::new(qemu)
                .args([
                    "-accel", "kvm", "-machine", "none", "-display", "none", "-monitor", "stdio",
                    "-S",
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let Ok(mut child) = probe else { return "tcg" };
            if let Some(mut stdin) = child.stdin.take() {
                use std::io::Write as _;
                let _ = stdin.write_all(b"quit\n");
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => return if status.success() { "kvm" } else { "tcg" },
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(100))
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return "tcg";
                    }
                }
            }
        }
    }
}

enum Boot {
    Verdict(serde_json::Value),
    Ended(Vec<String>),
    TimedOut(Vec<String>),
    /// No kernel banner within SIGN_OF_LIFE (only asked for when trying KVM).
    NoSignOfLife,
}

/// The file QEMU writes the guest's second serial port to, beside the log.
const CAPTURE_PORT: &str = "ttyS1.log";

/// How soon a KVM guest must print the kernel's banner before vm-test gives up
/// on KVM; under TCG the banner comes within about five seconds here.
const SIGN_OF_LIFE: Duration = Duration::from_secs(10);

#[allow(clippy::too_many_arguments)]
fn boot(
    qemu: &Path,
    accel: &str,
    cpus: u32,
    g: &Guest,
    disk: &Path,
    cmdline: &str,
    log: &Path,
    timeout: Duration,
    need_sign_of_life: bool,
) -> anyhow::Result<Boot> {
    use std::os::unix::process::CommandExt as _;
    let mut qemu_cmd = Command::new(qemu);
    // SAFETY: the closure runs in the forked child before exec and makes one
    // async-signal-safe system call: QEMU dies with vm-test, never outlives it.
    unsafe {
        qemu_cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    // A USB 3 controller: its IRQ thread is one the example profiles raise
    // (xhci_hcd), so the IRQ-priority unit is really exercised.
    let mut child = qemu_cmd
        .args([
            "-accel",
            accel,
            "-m",
            "1536",
            "-nographic",
            "-no-reboot",
            "-nic",
            "none",
            // The console, and a second port for the agent's capture.
            "-serial",
            "mon:stdio",
            "-serial",
        ])
        .arg(format!(
            "file:{}",
            log.with_file_name(CAPTURE_PORT).display()
        ))
        .args([
            "-device",
            "qemu-xhci,id=xhci",
            // A sound card (an HDA controller with a generic codec) and a
            // USB audio interface, both with a silent host side: what the
            // audio server, IRQ priorities and device power act on.
            "-audiodev",
            "none,id=hda",
            "-device",
            "intel-hda",
            "-device",
            "hda-duplex,audiodev=hda",
            "-audiodev",
            "none,id=usb",
            "-device",
            "usb-audio,audiodev=usb,bus=xhci.0",
        ])
        .arg("-smp")
        .arg(format!("{cpus},sockets={cpus},cores=1,threads=1"))
        .arg("-kernel")
        .arg(&g.kernel)
        .arg("-initrd")
        .arg(&g.initrd)
        .arg("-drive")
        .arg(format!("file={},format=raw,if=virtio", disk.display()))
        .arg("-append")
        .arg(cmdline)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting QEMU")?;
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
        text
    });
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut logf = std::fs::File::create(log)?;
    let started = Instant::now();
    let deadline = started + timeout;
    let mut alive = !need_sign_of_life;
    let mut lines: Vec<String> = Vec::new();
    let mut verdict: Option<String> = None;
    let mut inside = false;
    let mut json = String::new();
    loop {
        if !alive && started.elapsed() > SIGN_OF_LIFE {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Boot::NoSignOfLife);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Boot::TimedOut(tail(&lines)));
        }
        match rx.recv_timeout(left.min(Duration::from_millis(500))) {
            Ok(line) => {
                use std::io::Write as _;
                let clean = line.trim_end_matches('\r').to_string();
                let _ = writeln!(logf, "{clean}");
                alive |= clean.contains("Linux version");
                if clean.contains(BEGIN) {
                    inside = true;
                } else if clean.contains(END) && inside {
                    verdict = Some(std::mem::take(&mut json));
                    inside = false;
                } else if inside {
                    json.push_str(&clean);
                    json.push('\n');
                }
                lines.push(clean);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child.wait();
    let _ = reader.join();
    let qemu_errors = errors.join().unwrap_or_default();
    if status.is_ok_and(|s| !s.success()) && !qemu_errors.trim().is_empty() {
        for l in qemu_errors.lines() {
            lines.push(format!("qemu: {l}"));
        }
    }
    match verdict.map(|v| serde_json::from_str::<serde_json::Value>(&v)) {
        Some(Ok(v)) => Ok(Boot::Verdict(v)),
        Some(Err(e)) => {
            let mut t = tail(&lines);
            t.push(format!("(the verdict was not JSON: {e})"));
            Ok(Boot::Ended(t))
        }
        None => Ok(Boot::Ended(tail(&lines))),
    }
}

fn tail(lines: &[String]) -> Vec<String> {
    lines[lines.len().saturating_sub(30)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verified_id_is_a_check() {
        for v in VERIFIED {
            for id in v.ids {
                assert!(
                    check::CHECKS.iter().any(|c| c.id == *id),
                    "{}: {id} is not in check::CHECKS",
                    v.what
                );
            }
        }
    }
}
