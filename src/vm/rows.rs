//! The verdict's rows: what each phase of a delivery path proved, read from
//! the agent's documents.

use serde::Serialize;

use crate::check;

/// One line of the verdict: a phase's proof of one thing, with the evidence
/// shown when it failed.
#[derive(Serialize, Debug, schemars::JsonSchema)]
pub struct Row {
    pub phase: String,
    pub what: String,
    pub ok: bool,
    pub checks: Vec<String>,
}

impl Row {
    pub fn new(phase: &str, what: impl Into<String>, ok: bool, checks: Vec<String>) -> Row {
        Row {
            phase: phase.to_string(),
            what: what.into(),
            ok,
            checks,
        }
    }
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

/// The row jackd's card proves: a playback substream held open at the
/// profile's rate and period (`-r`, `-p`), as ALSA's hw_params shows it.
pub(super) fn jack_row(audio: &serde_json::Value, profile: &crate::profile::Profile) -> Row {
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
    Row::new(
        "",
        "JACK on the sound card at the profile's rate and period",
        ok,
        checks,
    )
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
/// moving). `commands` are what played it, with their outcome: the last must
/// have succeeded, and with `judged` every one (JACK's jack_wait is shown
/// only: under emulation a client name left behind may refuse it while the
/// server plays on).
pub(super) fn tone_row(
    audio: &serde_json::Value,
    commands: &[(&str, &serde_json::Value)],
    judged: bool,
) -> Row {
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
    Row::new(
        "",
        "tone reaches the sound card",
        commands
            .iter()
            .enumerate()
            .all(|(i, (_, v))| (!judged && i + 1 < commands.len()) || v["ok"] == true)
            && !moving.is_empty(),
        checks,
    )
}

/// The rows the agent's PipeWire playback proves: the tone reached the sound
/// card, and the graph that drove it ran at the profile's rate and quantum
/// (pw-top's driver line; its ERR column, the xruns, is reported and not
/// judged: under emulation it says little).
pub(super) fn playback_rows(
    audio: &serde_json::Value,
    profile: &crate::profile::Profile,
) -> Vec<Row> {
    let text = |v: &serde_json::Value| v["output"].as_str().unwrap_or_default().to_string();
    let tone = tone_row(
        audio,
        &[
            ("services", &audio["services"]),
            ("pw-play", &audio["played"]),
        ],
        true,
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
    let graph = Row::new(
        "",
        "graph on the sound card at the profile's rate and quantum",
        graph_ok,
        checks,
    );
    vec![tone, graph]
}

/// The rows of a `Verify` step's document against `profile`. `audio`: the
/// agent ran the musician's audio session, whose rows are judged too.
pub fn verify_rows(
    phase: &str,
    doc: &serde_json::Value,
    profile: &crate::profile::Profile,
    audio: bool,
) -> Vec<Row> {
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
    let (as_user, as_root) = (statuses(&doc["check"]), statuses(&doc["check_root"]));
    // The audio server the agent started (none: the guest lacks it).
    let server = if audio {
        doc["audio"]["server"].as_str().unwrap_or_default()
    } else {
        ""
    };
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
            if let Some(e) = doc["check"]["error"].as_str().filter(|_| !v.as_root) {
                checks.push(format!("check as the musician: {e}"));
            }
            Row::new(phase, v.what, ok, checks)
        })
        .collect();
    let audio_doc = &doc["audio"];
    match server {
        "pipewire" => rows.extend(playback_rows(audio_doc, profile)),
        "jack" => {
            rows.push(tone_row(
                audio_doc,
                &[
                    ("jack_wait", &audio_doc["waited"]),
                    ("jack_simple_client", &audio_doc["played"]),
                ],
                false,
            ));
            rows.push(jack_row(audio_doc, profile));
        }
        _ => {}
    }
    for r in &mut rows {
        r.phase = phase.to_string();
    }
    rows
}

/// The row of a step that is not a `Verify`: a command, a comparison, the
/// files a package left. None for what only records.
pub fn step_row(phase: &str, step: &serde_json::Value) -> Option<Row> {
    let ok = step["ok"] == true;
    let s = |k: &str| step[k].as_str().unwrap_or_default().to_string();
    let list = |k: &str| -> Vec<String> {
        step[k]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from))
            .collect()
    };
    match step["kind"].as_str().unwrap_or_default() {
        "run" => {
            let argv = list("argv").join(" ");
            let mut checks = vec![
                format!("command: {argv}"),
                format!("status: {}", s("status")),
            ];
            if !ok {
                checks.extend(s("output").lines().map(|l| format!("| {l}")));
            }
            Some(Row::new(phase, s("what"), ok, checks))
        }
        "compare" => Some(Row::new(phase, s("what"), ok, list("differences"))),
        "gone" => {
            let left = list("left");
            let mut checks = vec![format!(
                "{} files the package owned, {} left",
                step["files"].as_u64().unwrap_or(0),
                left.len()
            )];
            checks.extend(left.into_iter().map(|f| format!("left: {f}")));
            Some(Row::new(phase, s("what"), ok, checks))
        }
        _ if !ok => Some(Row::new(
            phase,
            format!("{} {}", s("kind"), s("name")),
            false,
            vec![s("output")],
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verified_id_is_a_check() {
        for v in VERIFIED
            .iter()
            .chain(VERIFIED_PIPEWIRE)
            .chain(VERIFIED_JACK)
        {
            for id in v.ids {
                assert!(
                    check::CHECKS.iter().any(|c| c.id == *id),
                    "{}: {id} is not in check::CHECKS",
                    v.what
                );
            }
        }
    }

    #[test]
    fn a_failed_command_shows_its_output() {
        let step = serde_json::json!({"kind": "run", "what": "rpm -i", "ok": false,
            "argv": ["rpm", "-i", "x.rpm"], "status": "exit status: 1", "output": "error: x\nmore"});
        let r = step_row("install", &step).unwrap();
        assert!(!r.ok);
        assert_eq!(
            r.checks,
            vec![
                "command: rpm -i x.rpm",
                "status: exit status: 1",
                "| error: x",
                "| more"
            ]
        );
        let snap = serde_json::json!({"kind": "snapshot", "name": "before", "ok": true});
        assert!(step_row("install", &snap).is_none());
    }
}
