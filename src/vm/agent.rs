//! The agent vm-test installs in the guest (`vm-agent`, hidden): it runs the
//! phase of the host's plan that the boot's command line names (see
//! [`super::phase`]): commands as root (an RPM's install, upgrade and erase, a
//! fleet's snippet), snapshots of the machine's state and their comparison,
//! and the checks. A `Verify` step with the audio session first starts the
//! musician's server (PipeWire and WirePlumber as user services, or jackd as
//! a JACK program starts it) and plays a tone through the sound card; then it
//! runs `check` as the musician through PAM (`runuser`, so pam_limits
//! applies as at a login) and as root (what only root may read), and a short
//! `latency` run. The phase's outcome is one JSON line between markers on the
//! serial console, where the host reads it.

use std::io::Write as _;
use std::process::Command;

use super::{BEGIN, CAPTURE_BEGIN, CAPTURE_END, END, GUEST_BIN};

fn json_of(cmd: &mut Command) -> serde_json::Value {
    match crate::cmd::run(cmd) {
        Ok(o) => serde_json::from_str(&o.stdout).unwrap_or_else(|e| {
            serde_json::json!({ "error": format!("{}: not JSON ({e}): {}", crate::cmd::cmdline(cmd), o.text()) })
        }),
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    }
}

/// The longest any one command of the agent's sessions may take: a stuck
/// step ends there instead of holding the guest until vm-test's timeout.
const STEP_SECONDS: &str = "30";

/// A command as the musician, in their session, bounded by `timeout`
/// (`--foreground`: a JACK server a client starts outlives the client).
fn as_user(user: &str, uid: &str, secs: &str, args: &[&str]) -> Command {
    let mut c = Command::new("runuser");
    c.args([
        "-u",
        user,
        "--",
        "env",
        &format!("XDG_RUNTIME_DIR=/run/user/{uid}"),
        &format!("DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/{uid}/bus"),
        "timeout",
        "--foreground",
        secs,
    ])
    .args(args);
    c
}

/// The user's uid, from /etc/passwd as `check` reads it.
fn uid_of(user: &str) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    crate::check::parse::passwd_user(&passwd, user)
        .map_or(String::new(), |(uid, _)| uid.to_string())
}

/// A command's outcome as {ok, output}.
fn text_of(mut c: Command) -> serde_json::Value {
    match crate::cmd::run(&mut c) {
        Ok(o) => serde_json::json!({ "ok": o.success(), "output": o.text() }),
        Err(e) => serde_json::json!({ "ok": false, "output": e.to_string() }),
    }
}

/// Wait for a child at most `secs`, then kill it; its outcome as {ok, output}.
fn wait_bounded(child: std::io::Result<std::process::Child>, secs: u64) -> serde_json::Value {
    match super::wait_for(child, secs) {
        Ok(status) => serde_json::json!({ "ok": status.success(), "output": format!("{status}") }),
        Err(e) => serde_json::json!({ "ok": false, "output": e }),
    }
}

/// The user manager (lingering starts it at boot; start waits for it), with
/// its journal when it failed.
fn user_manager(uid: &str) -> serde_json::Value {
    let unit = format!("user@{uid}.service");
    let mut manager = text_of({
        let mut c = Command::new("timeout");
        c.args([STEP_SECONDS, "systemctl", "start", &unit]);
        c
    });
    if manager["ok"] != true {
        let journal = text_of({
            let mut c = Command::new("journalctl");
            c.args(["-b", "--no-pager", "-n", "30", "-u", &unit]);
            c
        });
        manager["journal"] = journal["output"].clone();
    }
    manager
}

/// The tone played: long enough to look at the device while it plays.
const TONE_SECONDS: u32 = 4;

/// A 440 Hz sine, 16-bit stereo WAV at `rate`.
fn tone_wav(rate: u32) -> Vec<u8> {
    let frames = rate * TONE_SECONDS;
    let data_len = frames * 4;
    let mut w = Vec::with_capacity(44 + data_len as usize);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&(rate * 4).to_le_bytes());
    w.extend_from_slice(&4u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..frames {
        let t = f64::from(i) / f64::from(rate);
        let v = ((t * 440.0 * std::f64::consts::TAU).sin() * 8000.0) as i16;
        w.extend_from_slice(&v.to_le_bytes());
        w.extend_from_slice(&v.to_le_bytes());
    }
    w
}

/// The playback substreams' state: (file, its text) of every
/// /proc/asound/cardN/pcmMp/sub0/status and hw_params.
fn pcm_files(name: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for card in std::fs::read_dir("/proc/asound")
        .into_iter()
        .flatten()
        .flatten()
    {
        let card = card.path();
        if !card
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("card"))
        {
            continue;
        }
        for pcm in std::fs::read_dir(&card).into_iter().flatten().flatten() {
            let pcm = pcm.path();
            if !pcm
                .file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with('p'))
            {
                continue;
            }
            let f = pcm.join("sub0").join(name);
            if let Ok(text) = std::fs::read_to_string(&f) {
                out.push((f.display().to_string(), text.trim().to_string()));
            }
        }
    }
    out
}

/// The musician's audio session as on a desktop: the user manager (linger
/// starts it at boot, through PAM's systemd-user stack), PipeWire and
/// WirePlumber started as its services, and a tone played through the
/// default sink while the device and the graph are looked at.
fn audio_session(user: &str, profile: &str) -> serde_json::Value {
    // The graph the profile asks for: the tone is played at its rate, its
    // client asking for the profile's quantum (pw-play's own default, 100 ms,
    // would set the graph's quantum instead).
    let (rate, quantum) = crate::profile::load(crate::profile::ProfileSource::File(
        std::path::Path::new(profile),
    ))
    .ok()
    .and_then(|l| l.profile)
    .map_or((48_000, 256), |p| (p.audio.rate, p.audio.quantum));
    let uid = uid_of(user);
    let as_user = |args: &[&str]| as_user(user, &uid, STEP_SECONDS, args);
    let manager = user_manager(&uid);
    let services = text_of(as_user(&[
        "systemctl",
        "--user",
        "start",
        "pipewire.service",
        "wireplumber.service",
    ]));
    // WirePlumber names a default sink once it has set up the ALSA device.
    let started = std::time::Instant::now();
    let mut sink = serde_json::json!({ "ok": false, "output": "no default sink within 60 s" });
    while started.elapsed() < std::time::Duration::from_secs(60) {
        let s = text_of(as_user(&["wpctl", "inspect", "@DEFAULT_AUDIO_SINK@"]));
        if s["ok"] == true {
            sink = s;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let wav = "/tmp/rtaudio-tuning-tone.wav";
    let written = std::fs::write(wav, tone_wav(rate));
    let latency = format!("--latency={quantum}");
    let playing = as_user(&["pw-play", &latency, wav])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    // Look while it plays: the playback substreams' state every half second
    // (the hardware pointer moves when samples reach the device; under
    // emulation the stream may take a moment to start), the graph with
    // pw-top and the settings in force once it runs.
    let mut pcm_status = Vec::new();
    let mut top = serde_json::Value::Null;
    let mut settings = serde_json::Value::Null;
    let mut hw_params = Vec::new();
    for i in 0..(TONE_SECONDS * 2 - 2) {
        std::thread::sleep(std::time::Duration::from_millis(500));
        pcm_status.push(pcm_files("status"));
        if i == 2 {
            hw_params = pcm_files("hw_params");
            top = text_of(as_user(&["pw-top", "--batch-mode", "--iterations", "2"]));
            // The settings in force (default.clock.* as PipeWire took them).
            settings = text_of(as_user(&["pw-metadata", "-n", "settings", "0"]));
        }
    }
    let played = wait_bounded(playing, u64::from(TONE_SECONDS) + 20);
    serde_json::json!({
        "server": "pipewire",
        "manager": manager,
        "services": services,
        "sink": sink,
        "tone": { "written": written.is_ok(), "seconds": TONE_SECONDS, "rate": rate, "latency": quantum },
        "settings": settings,
        "played": played,
        "pcm_status": pcm_status,
        "hw_params": hw_params,
        "pw_top": top,
    })
}

/// Files `check --root` reads, as the capture of a booted guest holds them
/// (scripts/capture/collect's set, and what the audio checks read).
const CAPTURE_FILES: &[&str] = &[
    "/proc/cmdline",
    "/proc/version",
    "/proc/interrupts",
    "/proc/mounts",
    "/proc/swaps",
    "/proc/asound/cards",
    "/proc/sys/vm/swappiness",
    "/proc/sys/kernel/sched_rt_runtime_us",
    "/proc/sys/kernel/osrelease",
    "/proc/sys/fs/inotify/max_user_watches",
    "/sys/kernel/realtime",
    "/sys/devices/system/cpu/online",
    "/sys/devices/system/cpu/possible",
    "/sys/devices/system/cpu/isolated",
    "/sys/devices/system/cpu/nohz_full",
    "/sys/devices/system/cpu/smt/control",
    "/sys/fs/selinux/enforce",
    "/etc/passwd",
    "/etc/group",
    "/etc/os-release",
    "/etc/security/limits.conf",
    "/usr/lib/pam.d/systemd-user",
    "/usr/share/pipewire/pipewire.conf",
];

/// Folders whose files are all captured.
const CAPTURE_DIRS: &[&str] = &[
    "/sys/devices/system/cpu/vulnerabilities",
    "/sys/module/snd_hda_intel/parameters",
    "/etc/security/limits.d",
    "/etc/pam.d",
    "/etc/rtaudio-tuning",
    "/etc/pipewire/pipewire.conf.d",
    "/usr/share/pipewire/pipewire.conf.d",
    "/usr/share/wireplumber/wireplumber.conf.d",
];

/// Folders whose files of ours (named for the tool, or in a drop-in folder
/// of a unit) are captured: the drop-ins `check --profile` compares with the
/// rendered bytes.
const CAPTURE_OURS: &[&str] = &[
    "/usr/lib/sysusers.d",
    "/usr/lib/sysctl.d",
    "/usr/lib/udev/rules.d",
    "/usr/lib/modprobe.d",
    "/usr/lib/systemd/system",
    "/usr/lib/bootc/kargs.d",
];

fn names(dir: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// The guest as `check --root` reads it, as {path: text}: the files above,
/// every process's comm, stat and status, and for the musician's processes,
/// their user manager and RTKit also cmdline, limits and every thread's
/// stat. Text files only, as the fixtures keep them.
fn capture(user: &str) -> serde_json::Value {
    use std::os::unix::fs::MetadataExt as _;
    let mut files = serde_json::Map::new();
    let mut add = |path: &str| {
        if let Ok(text) = std::fs::read_to_string(path) {
            files.insert(path.trim_start_matches('/').to_string(), text.into());
        }
    };
    for f in CAPTURE_FILES {
        add(f);
    }
    for d in CAPTURE_DIRS {
        for n in names(d) {
            add(&format!("{d}/{n}"));
        }
    }
    for d in CAPTURE_OURS {
        for n in names(d) {
            let path = format!("{d}/{n}");
            if std::path::Path::new(&path).is_dir() {
                // A unit's drop-in folder: our drop-ins in it.
                for m in names(&path) {
                    if n.contains("rtaudio") || m.contains("rtaudio") {
                        add(&format!("{path}/{m}"));
                    }
                }
            } else if n.contains("rtaudio") {
                add(&path);
            }
        }
    }
    for irq in names("/sys/kernel/irq") {
        add(&format!("/sys/kernel/irq/{irq}/actions"));
        add(&format!("/sys/kernel/irq/{irq}/chip_name"));
    }
    for cpu in names("/sys/devices/system/cpu")
        .into_iter()
        .filter(|c| c.starts_with("cpu"))
    {
        add(&format!(
            "/sys/devices/system/cpu/{cpu}/cpufreq/scaling_governor"
        ));
    }
    for dev in names("/sys/bus/usb/devices") {
        for f in ["bInterfaceClass", "product", "power/control"] {
            add(&format!("/sys/bus/usb/devices/{dev}/{f}"));
        }
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    add(&format!("/boot/config-{}", release.trim()));
    let uid = std::fs::metadata(format!("/home/{user}"))
        .map(|m| m.uid())
        .ok();
    for pid in names("/proc")
        .into_iter()
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        let d = format!("/proc/{pid}");
        for f in ["comm", "stat", "status"] {
            add(&format!("{d}/{f}"));
        }
        let comm = std::fs::read_to_string(format!("{d}/comm")).unwrap_or_default();
        let owner = std::fs::metadata(&d).map(|m| m.uid()).ok();
        if comm.trim() == "irqbalance" {
            add(&format!("{d}/environ"));
        }
        if owner.is_some() && owner == uid || comm.trim() == "rtkit-daemon" {
            add(&format!("{d}/cmdline"));
            add(&format!("{d}/limits"));
            for tid in names(&format!("{d}/task")) {
                add(&format!("{d}/task/{tid}/stat"));
            }
        }
    }
    // The node's mode, owner and group, which git keeps neither of.
    if let Ok(m) = std::fs::metadata("/dev/cpu_dma_latency") {
        files.insert("dev/cpu_dma_latency".into(), "".into());
        files.insert(
            "dev/cpu_dma_latency.stat".into(),
            format!("{:o} {} {}\n", m.mode() & 0o7777, m.uid(), m.gid()).into(),
        );
    }
    serde_json::Value::Object(files)
}

/// A JACK studio's server as a musician's JACK program starts it: a client
/// (jack_simple_client, which plays a sine) finds no server, and libjack
/// starts jackd with /etc/jackdrc's command line, in the user's session (its
/// bus, for the card's reservation, which WirePlumber gives up). Then the
/// card is looked at while jackd holds it.
fn jack_session(user: &str) -> (serde_json::Value, Vec<std::process::Child>) {
    let uid = uid_of(user);
    let manager = user_manager(&uid);
    // A JACK program starts the server as libjack does when it finds none
    // (jack_simple_client opens its client without JackNoStartServer, where
    // jack_lsp would not start one, and plays a sine). libjack starts it
    // temporary: it quits when its last client leaves, so the client stays
    // while the checks run. Under emulation jackd may come up after that
    // client gave up waiting for it: then the agent waits for the server and
    // a second client plays. Output goes to files: a pipe would stay open as
    // long as the server that inherits it runs.
    let logged = |name: &str, args: &[&str]| {
        let path = format!("/tmp/rtaudio-tuning-{name}.log");
        let child = std::fs::File::create(&path).and_then(|f| {
            let err = f.try_clone()?;
            as_user(user, &uid, "300", args)
                .stdout(f)
                .stderr(err)
                .spawn()
        });
        (path, child)
    };
    let log_of = |path: &str| -> serde_json::Value {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
            .into()
    };
    let (start_log, first) = logged("jack-start", &["jack_simple_client"]);
    let mut first = first.ok();
    // Has the first client given up (exited) within 20 s?
    let mut gave_up = false;
    for _ in 0..40 {
        std::thread::sleep(std::time::Duration::from_millis(500));
        if first
            .as_mut()
            .is_none_or(|c| c.try_wait().is_ok_and(|s| s.is_some()))
        {
            gave_up = true;
            break;
        }
        if pcm_files("status")
            .iter()
            .any(|(_, s)| s.contains("state: RUNNING"))
        {
            break;
        }
    }
    // Waits (50 looks of `jack_wait --check`, half a second apart) for a
    // server that runs to take clients; one that
    // quit (libjack starts it temporary) is not waited for: `jack_wait
    // --wait` would poll its dead socket to the timeout.
    let wait = || {
        let mut last = serde_json::json!({ "ok": false, "output": "no jackd runs" });
        for _ in 0..50 {
            if !wait_for_jackd(1) {
                break;
            }
            last = text_of(as_user(user, &uid, STEP_SECONDS, &["jack_wait", "--check"]));
            if last["ok"] == true {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        last
    };
    let waited = wait();
    // Every client after the first may not start a server of its own
    // (JACK_NO_START_SERVER): two clients starting one at once refuse each
    // other ("`default' server already active") and neither plays.
    let client =
        |name: &str, program: &str| logged(name, &["env", "JACK_NO_START_SERVER=1", program]);
    // Under emulation the server may miss a client's activation deadline,
    // throw it out and, temporary, quit with no client left. The checks
    // judge jackd's realtime thread: the agent then starts the server that
    // /etc/jackdrc describes itself, as the musician, to stay (libjack's
    // start of it is shown by the first client's log either way).
    let mut servers: Vec<std::process::Child> = Vec::new();
    let mut from_jackdrc = false;
    let mut ensure_server = |servers: &mut Vec<std::process::Child>| {
        if wait_for_jackd(1) {
            return;
        }
        let line = std::fs::read_to_string("/etc/jackdrc").unwrap_or_default();
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            return;
        }
        let (_, server) = logged(&format!("jackd-{}", servers.len()), &words);
        servers.extend(server.ok());
        from_jackdrc = true;
        let _ = wait();
    };
    // A client without a process callback keeps the temporary server up:
    // under emulation jackd may throw out a sine client that misses its
    // deadlines, and would then quit with no client left.
    ensure_server(&mut servers);
    let (_, keeper) = client("jack-keep", "jack_evmon");
    let mut keepers: Vec<std::process::Child> = keeper.ok().into_iter().collect();
    // Look while it plays, for up to 20 s (under emulation the stream may
    // start late, and an xrun restarts it): until it has run in four looks.
    let look = || {
        let mut pcm_status = Vec::new();
        let mut hw_params = Vec::new();
        let mut running = 0;
        for _ in 0..40 {
            std::thread::sleep(std::time::Duration::from_millis(500));
            let shot = pcm_files("status");
            if shot.iter().any(|(_, s)| s.contains("state: RUNNING")) {
                running += 1;
                if running == 2 {
                    hw_params = pcm_files("hw_params");
                }
            }
            pcm_status.push(shot);
            if running >= 4 {
                break;
            }
        }
        (pcm_status, hw_params, running)
    };
    let gone = |c: &mut Option<std::process::Child>| {
        c.as_mut()
            .is_none_or(|c| c.try_wait().is_ok_and(|s| s.is_some()))
    };
    // The player: the first client while it plays on, else a new one,
    // replaced (at most three times) when it gives up without playing.
    let mut play = |play_log: String,
                    mut player: Option<std::process::Child>,
                    tag: &str,
                    servers: &mut Vec<std::process::Child>| {
        let mut play_log = play_log;
        for attempt in 0..4 {
            if attempt > 0 {
                std::thread::sleep(std::time::Duration::from_secs(3));
            }
            if !gone(&mut player) {
                break;
            }
            ensure_server(servers);
            let (path, child) = client(&format!("jack-play-{tag}{attempt}"), "jack_simple_client");
            play_log = path;
            player = child.ok();
        }
        (play_log, player)
    };
    let first_playing = !gave_up && !gone(&mut first);
    let (mut play_log, mut player) = if first_playing {
        (start_log.clone(), first.take())
    } else {
        (start_log.clone(), None)
    };
    (play_log, player) = play(play_log, player, "", &mut servers);
    let (mut pcm_status, mut hw_params, running) = look();
    // The temporary server gone meanwhile (or never playing): once more,
    // with the server /etc/jackdrc describes started to stay.
    if servers.is_empty() && (running == 0 || !jackd_running()) {
        for c in keepers.iter_mut().chain(player.as_mut()) {
            let _ = c.kill();
            let _ = c.wait();
        }
        keepers.clear();
        player = None;
        // A temporary server quits once its clients are gone.
        for _ in 0..10 {
            if !jackd_running() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        (play_log, player) = play(play_log, player, "again", &mut servers);
        (pcm_status, hw_params, _) = look();
    }
    let played_log = log_of(&play_log);
    // It connected and played: under emulation it may be thrown out later
    // for a missed deadline, which says nothing about the machine.
    let played = serde_json::json!({
        "ok": player.is_some() && {
            // libjack's words for a client that never joined the graph.
            let log = played_log.as_str().unwrap_or_default();
            ["Unable to connect", "Failed to open server", "cannot activate client"]
                .iter()
                .all(|w| !log.contains(w))
        },
        "output": played_log,
    });
    let doc = serde_json::json!({
        "server": "jack",
        "manager": manager,
        "started": { "gave_up": gave_up, "output": log_of(&start_log) },
        "waited": waited,
        "played": played,
        "server_from_jackdrc": from_jackdrc,
        "jackdrc": std::fs::read_to_string("/etc/jackdrc").unwrap_or_default(),
        "hw_params": hw_params,
        "pcm_status": pcm_status,
    });
    (
        doc,
        first
            .into_iter()
            .chain(player)
            .chain(keepers)
            .chain(servers)
            .collect(),
    )
}

/// Whether a jackd process runs within `secs`.
fn wait_for_jackd(secs: u64) -> bool {
    for _ in 0..secs * 2 {
        if jackd_running() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    jackd_running()
}

/// Whether a jackd process runs.
fn jackd_running() -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "jackd"))
}

/// The checks of a `Verify` step, as one document: the audio session first
/// (programs that keep it going run until the checks are done), `check` as
/// the musician through PAM and as root, a short latency run with `audio`.
fn verify(
    user: &str,
    profile: &str,
    server: Option<&str>,
    audio: bool,
    capture_files: bool,
) -> anyhow::Result<serde_json::Value> {
    // As a musician logs in after the boot: every device handled (the IRQ
    // priority unit's instances run from udev rules), every job done.
    let settled = (
        text_of({
            let mut c = Command::new("udevadm");
            c.args(["settle", "--timeout=60"]);
            c
        }),
        jobs_done(60),
    );
    let clock = std::time::Instant::now();
    let mut timings = serde_json::Map::new();
    let lap = |what: &str, timings: &mut serde_json::Map<String, serde_json::Value>| {
        timings.insert(what.into(), clock.elapsed().as_secs_f64().into());
    };
    let (session, mut keep) = match server.filter(|_| audio) {
        Some("pipewire") => (audio_session(user, profile), Vec::new()),
        Some("jack") => jack_session(user),
        _ => (serde_json::Value::Null, Vec::new()),
    };
    lap("audio", &mut timings);
    // Both at once: each reads what it reads, and the guest has two CPUs.
    let (check, check_root) = std::thread::scope(|s| {
        let as_user = s.spawn(|| {
            json_of(Command::new("runuser").args([
                "-u",
                user,
                "--",
                GUEST_BIN,
                "check",
                "--json",
                "--profile",
                profile,
            ]))
        });
        let as_root = json_of(Command::new(GUEST_BIN).args([
            "check",
            "--json",
            "--user",
            user,
            "--profile",
            profile,
        ]));
        (
            as_user.join().unwrap_or_else(
                |_| serde_json::json!({ "error": "the check as the musician panicked" }),
            ),
            as_root,
        )
    });
    lap("checks", &mut timings);
    let latency = if audio {
        json_of(Command::new(GUEST_BIN).args(["latency", "--duration", "3", "--json"]))
    } else {
        serde_json::Value::Null
    };
    // Taken while the audio session still runs, and sent on the second
    // serial port, where no kernel message can fall into its long line.
    if capture_files {
        let line = format!(
            "\n{CAPTURE_BEGIN}\n{}\n{CAPTURE_END}\n",
            serde_json::to_string(&capture(user))?
        );
        let mut port = std::fs::OpenOptions::new().write(true).open("/dev/ttyS1")?;
        port.write_all(line.as_bytes())?;
        port.flush()?;
    }
    for c in &mut keep {
        let _ = c.kill();
        let _ = c.wait();
    }
    lap("latency", &mut timings);
    Ok(serde_json::json!({
        "settled": { "udevadm": settled.0, "system": settled.1 },
        "seconds_at": timings,
        "audio": session,
        "check": check,
        "check_root": check_root,
        "latency": latency,
        "profile": profile,
    }))
}

/// A command as root, bounded: its outcome and the last of its output.
fn run_bounded(argv: &[String], timeout: u64) -> serde_json::Value {
    let Some((program, args)) = argv.split_first() else {
        return serde_json::json!({ "ok": false, "output": "no command" });
    };
    let log = format!("{}/step.log", super::phase::STATE);
    let child = std::fs::File::create(&log).and_then(|f| {
        let err = f.try_clone()?;
        Command::new(program)
            .args(args)
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .stdin(std::process::Stdio::null())
            .stdout(f)
            .stderr(err)
            .spawn()
    });
    let mut outcome = wait_bounded(child, timeout);
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let lines: Vec<&str> = output.lines().collect();
    outcome["status"] = outcome["output"].clone();
    outcome["output"] = lines[lines.len().saturating_sub(40)..].join("\n").into();
    outcome
}

/// Wait, at most `secs`, until systemd has no job queued but this agent's
/// own (the boot is not over while it runs: `is-system-running --wait`
/// would wait for itself).
fn jobs_done(secs: u64) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let out = crate::cmd::run(Command::new("systemctl").args([
            "list-jobs",
            "--no-legend",
            "--plain",
        ]));
        let left: Vec<String> = out
            .map(|o| o.stdout)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.contains("rtaudio-vm-agent.service"))
            .map(String::from)
            .collect();
        if left.is_empty() {
            return serde_json::json!({ "ok": true, "output": "no job left" });
        }
        if std::time::Instant::now() > deadline {
            return serde_json::json!({ "ok": false, "output": left.join("; ") });
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// rpm goes on, and exits 0, when a %post, %preun, %postun or %posttrans
/// fails: it only warns. The line that says so, if any.
fn warned_failure(output: &str) -> Option<&str> {
    output
        .lines()
        .find(|l| l.starts_with("warning: %") && l.contains(" scriptlet failed"))
}

/// `systemctl is-enabled`'s word for a unit (`not-found` where it has none).
fn unit_state(unit: &str) -> String {
    let out = crate::cmd::run(Command::new("systemctl").args(["is-enabled", unit]));
    match out {
        Ok(o) => {
            let word = o
                .stdout
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            if word.is_empty() {
                "not-found".into()
            } else {
                word
            }
        }
        Err(e) => format!("unknown ({e})"),
    }
}

/// What a path is: absent, a folder, a link and its target, a file's mode,
/// owner and sha256.
fn describe(path: &std::path::Path) -> String {
    use sha2::Digest as _;
    use std::os::unix::fs::MetadataExt as _;
    let Ok(m) = std::fs::symlink_metadata(path) else {
        return "absent".into();
    };
    let owner = format!("{:o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid());
    if m.file_type().is_symlink() {
        let to = std::fs::read_link(path)
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        return format!("link -> {to}");
    }
    if m.is_dir() {
        return format!("folder {owner}");
    }
    if !m.is_file() {
        return format!("special {owner}");
    }
    match std::fs::read(path) {
        Ok(bytes) => format!("file {owner} sha256 {:x}", sha2::Sha256::digest(&bytes)),
        Err(e) => format!("unreadable: {e}"),
    }
}

fn snapshot(
    units: &[String],
    users: &[String],
    paths: &[String],
    trees: &[String],
) -> super::phase::Snapshot {
    let mut s = super::phase::Snapshot::default();
    for u in units {
        s.units.insert(u.clone(), unit_state(u));
    }
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    for user in users {
        let mut groups: Vec<&str> = group
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() == 4 && f[3].split(',').any(|m| m == user)).then_some(f[0])
            })
            .collect();
        groups.sort_unstable();
        s.groups.insert(user.clone(), groups.join(","));
    }
    for e in std::fs::read_dir("/boot/loader/entries")
        .into_iter()
        .flatten()
        .flatten()
    {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        let mut tokens: Vec<&str> = text
            .lines()
            .find_map(|l| l.strip_prefix("options "))
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        tokens.sort_unstable();
        s.boot.insert(
            e.file_name().to_string_lossy().into_owned(),
            tokens.join(" "),
        );
    }
    // The entry a boot loader boots (the saved one, else the first), not
    // the variable's text: a package that gives back the same default may
    // write it where there was none.
    let entries: Vec<(String, String)> = std::fs::read_dir("/boot/loader/entries")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap_or_default(),
            )
        })
        .collect();
    let saved = std::fs::read_to_string("/boot/grub2/grubenv")
        .ok()
        .and_then(|env| {
            env.lines()
                .find_map(|l| l.strip_prefix("saved_entry=").map(String::from))
        });
    if let Some((name, _)) = super::stage::default_entry(&entries, saved.as_deref()) {
        s.boot.insert("default entry".into(), name);
    }
    for p in paths {
        s.paths.insert(p.clone(), describe(std::path::Path::new(p)));
    }
    for t in trees {
        // Shadow's backups (group-, passwd-) and its lock file change each
        // time usermod runs, whatever it changes: not the system's state.
        let transient = |e: &walkdir::DirEntry| {
            let n = e.file_name().to_string_lossy();
            n.ends_with('-') || n == ".pwd.lock"
        };
        for e in walkdir::WalkDir::new(t)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| !transient(e))
            .flatten()
        {
            s.trees
                .insert(e.path().display().to_string(), describe(e.path()));
        }
    }
    s
}

fn state_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(super::phase::STATE).join(format!("{name}.json"))
}

fn load_state<T: serde::de::DeserializeOwned>(name: &str) -> Result<T, String> {
    let f = state_file(name);
    let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", f.display()))
}

fn run_step(step: &super::phase::Step, user: &str) -> anyhow::Result<serde_json::Value> {
    use super::phase::Step;
    Ok(match step {
        Step::Run {
            what,
            argv,
            timeout,
        } => {
            let mut r = run_bounded(argv, *timeout);
            let output = r["output"].as_str().unwrap_or_default().to_string();
            if let Some(line) = warned_failure(&output) {
                r["ok"] = false.into();
                r["status"] =
                    format!("{} (but: {line})", r["status"].as_str().unwrap_or_default()).into();
            }
            r["what"] = what.as_str().into();
            r["argv"] = serde_json::json!(argv);
            r
        }
        Step::Verify {
            profile,
            server,
            audio,
            capture,
        } => {
            let mut r = verify(user, profile, server.as_deref(), *audio, *capture)?;
            r["ok"] = true.into();
            r
        }
        Step::Snapshot {
            name,
            units,
            users,
            paths,
            trees,
        } => {
            let s = snapshot(units, users, paths, trees);
            let written = std::fs::write(state_file(name), serde_json::to_vec(&s)?);
            serde_json::json!({ "name": name, "ok": written.is_ok(), "snapshot": s,
                "output": written.err().map(|e| e.to_string()) })
        }
        Step::Compare {
            what,
            before,
            after,
        } => {
            match (
                load_state::<super::phase::Snapshot>(before),
                load_state::<super::phase::Snapshot>(after),
            ) {
                (Ok(a), Ok(b)) => {
                    let d = a.differences(&b);
                    serde_json::json!({ "what": what, "ok": d.is_empty(), "differences": d })
                }
                (a, b) => {
                    let errors: Vec<String> = [a.err(), b.err()].into_iter().flatten().collect();
                    serde_json::json!({ "what": what, "ok": false, "differences": errors })
                }
            }
        }
        Step::Owned { package, name } => {
            // Regular files only: a folder may have been there before.
            let out = crate::cmd::run(Command::new("rpm").args([
                "-q",
                "--qf",
                "[%{FILEMODES:perms} %{FILENAMES}\n]",
                package,
            ]));
            match out {
                Ok(o) if o.success() => {
                    let files: Vec<String> = o
                        .stdout
                        .lines()
                        .filter_map(|l| l.split_once(' '))
                        .filter(|(perms, _)| perms.starts_with('-'))
                        .map(|(_, f)| f.to_string())
                        .collect();
                    let written = std::fs::write(state_file(name), serde_json::to_vec(&files)?);
                    serde_json::json!({ "name": name, "ok": written.is_ok() && !files.is_empty(), "files": files })
                }
                Ok(o) => serde_json::json!({ "name": name, "ok": false, "output": o.text() }),
                Err(e) => serde_json::json!({ "name": name, "ok": false, "output": e.to_string() }),
            }
        }
        Step::Gone { what, name } => match load_state::<Vec<String>>(name) {
            Ok(files) => {
                let left: Vec<&String> = files
                    .iter()
                    .filter(|f| std::fs::symlink_metadata(f).is_ok())
                    .collect();
                serde_json::json!({ "what": what, "ok": left.is_empty(), "files": files.len(), "left": left })
            }
            Err(e) => serde_json::json!({ "what": what, "ok": false, "left": [e] }),
        },
    })
}

/// Run the phase this boot's command line names, from the host's plan, and
/// print its outcome on the console.
pub fn run(plan: &str) -> anyhow::Result<i32> {
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let started = std::time::Instant::now();
    let outcome = (|| -> anyhow::Result<serde_json::Value> {
        let plan: super::phase::Plan = serde_json::from_str(&std::fs::read_to_string(plan)?)?;
        let index = super::phase::phase_of(&cmdline).ok_or_else(|| {
            anyhow::anyhow!("no {}= on the kernel command line", super::phase::PHASE_ARG)
        })?;
        let phase = plan
            .phases
            .get(index)
            .ok_or_else(|| anyhow::anyhow!("the plan has no phase {index}"))?;
        std::fs::create_dir_all(super::phase::STATE)?;
        let mut steps = Vec::new();
        for step in &phase.steps {
            let at = started.elapsed().as_secs_f64();
            let mut r = run_step(step, &plan.user)?;
            r["kind"] = serde_json::to_value(step)?["kind"].clone();
            r["seconds"] = (started.elapsed().as_secs_f64() - at).into();
            let failed = r["ok"] != true && matches!(step, super::phase::Step::Run { .. });
            steps.push(r);
            if failed {
                break;
            }
        }
        Ok(serde_json::json!({ "phase": phase.name, "index": index, "steps": steps }))
    })();
    let mut doc = outcome.unwrap_or_else(|e| serde_json::json!({ "error": format!("{e:#}") }));
    doc["cmdline"] = cmdline.trim().into();
    doc["uptime"] = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|u| {
            u.split_whitespace()
                .next()
                .and_then(|s| s.parse::<f64>().ok())
        })
        .into();
    // One line, so kernel messages on the same console cannot split it.
    let line = format!("\n{BEGIN}\n{}\n{END}\n", serde_json::to_string(&doc)?);
    let mut console = std::fs::OpenOptions::new().write(true).open("/dev/ttyS0")?;
    console.write_all(line.as_bytes())?;
    console.flush()?;
    Ok(crate::exit::OK)
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_rpm_scriptlet_that_failed_fails_the_step() {
        let out = "broken\nwarning: %post(rtaudio-tuning-0.1.0-1.studio.noarch) scriptlet failed, exit status 1";
        assert!(super::warned_failure(out).is_some_and(|l| l.contains("%post(")));
        assert!(super::warned_failure("warning: something else").is_none());
    }
}
