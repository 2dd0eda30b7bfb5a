//! QEMU: the accelerator, and one boot of a guest read off its serial console.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::{Accel, BEGIN, END, Guest};

/// `auto`: KVM when a QEMU with KVM starts and answers its monitor within five
/// seconds (nested KVM can hang forever), else TCG.
pub fn choose_accel(qemu: &Path, asked: Accel) -> &'static str {
    match asked {
        Accel::Tcg => "tcg",
        Accel::Kvm => "kvm",
        Accel::Auto => {
            if !Path::new("/dev/kvm").exists() {
                return "tcg";
            }
            if let Some(note) = kvm_hung_before(qemu) {
                let _ = crate::errln!("{note}");
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

pub enum Boot {
    Verdict(serde_json::Value),
    Ended(Vec<String>),
    TimedOut(Vec<String>),
    /// No sign of life (the kernel's banner, or vm-test's initramfs speaking)
    /// within the boot's `sign_of_life`.
    NoSignOfLife,
}

/// The file QEMU writes the guest's second serial port to, beside the log.
pub const CAPTURE_PORT: &str = "ttyS1.log";

/// How soon a KVM guest must print the kernel's banner before vm-test gives up
/// on KVM; under TCG the banner comes within about five seconds here.
pub const SIGN_OF_LIFE: Duration = Duration::from_secs(10);

/// Under TCG, how long a guest may take to reach its initramfs: about 6 s
/// here, a minute on a loaded host. Now and then an emulated kernel-rt with
/// four CPUs spins before it (seen here with isolcpus and nohz_full).
pub const TCG_SIGN_OF_LIFE: Duration = Duration::from_secs(90);

/// One boot: the guest's kernel with `cmdline`, the shared read-only image
/// as its first disk and the path's own disk (the overlay's upper layer) as
/// its second.
pub struct BootSpec<'a> {
    pub qemu: &'a Path,
    pub accel: &'a str,
    pub cpus: u32,
    pub guest: &'a Guest,
    pub upper: &'a Path,
    /// The path's disk is a whole root (a guest without vm-test's overlay).
    pub whole: bool,
    pub cmdline: &'a str,
    pub log: &'a Path,
    pub timeout: Duration,
    /// Give up on a guest that shows no sign of life this soon.
    pub sign_of_life: Option<Duration>,
    /// The path's last boot: QEMU is stopped as soon as the verdict is read.
    pub stop_at_verdict: bool,
}

pub fn boot(b: &BootSpec) -> anyhow::Result<Boot> {
    let BootSpec {
        qemu,
        accel,
        cpus,
        guest: g,
        upper,
        whole,
        cmdline,
        log,
        timeout,
        sign_of_life,
        stop_at_verdict,
    } = *b;
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
            // No floppy, CD-ROM, parallel port or VGA: udev would spend
            // seconds of emulated time loading their drivers at each boot.
            "-nodefaults",
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
        .args(match (&g.image, whole) {
            (Some(image), false) => vec![
                "-drive".to_string(),
                format!("file={},format=raw,if=virtio,readonly=on", image.display()),
            ],
            _ => Vec::new(),
        })
        .arg("-drive")
        .arg(format!("file={},format=raw,if=virtio", upper.display()))
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
    let mut alive = sign_of_life.is_none();
    let sign_of_life = sign_of_life.unwrap_or(Duration::MAX);
    let mut lines: Vec<String> = Vec::new();
    let mut verdict: Option<String> = None;
    let mut inside = false;
    let mut json = String::new();
    loop {
        if !alive && started.elapsed() > sign_of_life {
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
                // `quiet` hides the banner; vm-test's initramfs always speaks.
                alive |= clean.contains("Linux version") || clean.contains("vm-guest:");
                if clean.contains(BEGIN) {
                    inside = true;
                } else if clean.contains(END) && inside {
                    verdict = Some(std::mem::take(&mut json));
                    inside = false;
                    if stop_at_verdict {
                        // Nothing of this guest is read after its verdict:
                        // its shutdown is not waited for.
                        let _ = child.kill();
                    }
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

pub fn tail(lines: &[String]) -> Vec<String> {
    lines[lines.len().saturating_sub(30)..].to_vec()
}

/// Where a KVM guest that never spoke is remembered: a nested KVM that hangs
/// keeps hanging, and each run would wait SIGN_OF_LIFE for it again.
fn kvm_memory() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("rtaudio-tuning/vm/kvm-hangs"))
}

/// What identifies this host's KVM: QEMU's binary and the host kernel.
fn kvm_identity(qemu: &Path) -> String {
    use std::os::unix::fs::MetadataExt as _;
    let q = std::fs::metadata(qemu).map_or(0, |m| m.mtime());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{} {q} {}", qemu.display(), kernel.trim())
}

fn kvm_hung_before(qemu: &Path) -> Option<String> {
    let f = kvm_memory()?;
    let text = std::fs::read_to_string(&f).ok()?;
    (text.trim() == kvm_identity(qemu)).then(|| {
        format!(
            "vm-test: a KVM guest made no progress on this host before; using TCG (remove {} to try KVM again, or give --accel kvm)",
            f.display()
        )
    })
}

/// Remember that KVM hung with this QEMU and host kernel.
pub fn remember_kvm_hang(qemu: &Path) {
    if let Some(f) = kvm_memory() {
        if let Some(dir) = f.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&f, format!("{}\n", kvm_identity(qemu)));
    }
}
