//! `vm-test`: boot the rendered artifacts in a QEMU guest, delivered the way
//! a studio delivers them, and let this same binary, inside, judge them
//! (`check` as the musician through PAM, the audio server playing a tone, a
//! short `latency` run), reading its verdict off the serial console.
//!
//! Each delivery path ([`Via`]) is its own guest and a list of boots
//! ([`phase`]): the RPM installed, upgraded and erased with rpm in the booted
//! guest; the installation kickstart applied as Anaconda applies it; a fleet
//! host's image-mode snippet run twice; the drop-ins copied in. Kernel
//! arguments reach each boot as they would on a machine: from the rendered
//! files, or from the boot entry a scriptlet or snippet edited.
//!
//! The guest is Debian (the only distribution this machine's package mirrors
//! reach): a PREEMPT_RT or stock kernel and a debootstrap root file system,
//! built and cached by scripts/vm/build-guest, which is embedded here, as a
//! read-only image under each path's own overlay. On a Fedora host,
//! `--kernel`, `--initrd` and `--rootfs` point at Fedora's instead.

mod agent;
mod kickstart;
mod paths;
pub mod phase;
mod qemu;
mod rows;
mod stage;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

pub use agent::run as agent_run;

use crate::{ToolMissing, UserError, exit};

/// scripts/vm/, embedded so that an installed binary can build its guest.
const BUILD_GUEST: &str = include_str!("../../scripts/vm/build-guest");
const GUEST_INIT: &str = include_str!("../../scripts/vm/init");
pub const BEGIN: &str = "RTAUDIO-TUNING-VERDICT-BEGIN";
pub const END: &str = "RTAUDIO-TUNING-VERDICT-END";
/// Around the capture (`--capture`) on the guest's second serial port.
pub const CAPTURE_BEGIN: &str = "RTAUDIO-TUNING-CAPTURE-BEGIN";
pub const CAPTURE_END: &str = "RTAUDIO-TUNING-CAPTURE-END";
/// Where the guest finds the profile it judges against: beside the plan and
/// the state, away from the folders the package owns.
pub const GUEST_PROFILE: &str = "/var/lib/rtaudio-vm/profile.toml";
pub const GUEST_BIN: &str = "/usr/local/bin/rtaudio-tuning";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Accel {
    Tcg,
    Kvm,
    Auto,
}

/// A delivery path vm-test proves.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    clap::ValueEnum,
    Serialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    Rpm,
    Kickstart,
    ImageMode,
    Rootfs,
}

impl Via {
    pub fn name(self) -> &'static str {
        match self {
            Via::Rpm => "rpm",
            Via::Kickstart => "kickstart",
            Via::ImageMode => "image-mode",
            Via::Rootfs => "rootfs",
        }
    }
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
    /// The longest one boot may take.
    pub timeout: Duration,
    pub keep: bool,
    pub json: bool,
    /// Write the booted guest, as `check --root` reads it, to this new folder.
    pub capture: Option<&'a Path>,
    /// The paths to prove; empty: every one.
    pub via: Vec<Via>,
}

/// The JSON Schema of `vm-test --json` (schema 2).
pub fn verdict_schema() -> serde_json::Value {
    crate::console::document_schema::<Verdict>("vm-test", 2)
}

#[derive(Serialize, schemars::JsonSchema)]
struct Verdict {
    /// The envelope's `ok`.
    #[serde(skip)]
    ok: bool,
    accel: String,
    /// Rendering, building packages and the guest, before the first path.
    seconds_preparing: f64,
    /// Where the serial logs are.
    logs: String,
    paths: Vec<paths::PathVerdict>,
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
    let work_path = work.path().to_path_buf();

    // The artifacts: the given tree, or the profile rendered now. The
    // profile is loaded and its modules compiled as `render` does it, either
    // way: the guest is set up from its plan.
    let (loaded, compiled, fatal) =
        crate::load::load_and_compile(Some(o.profile), false, o.json, true)?;
    let Some(profile) = loaded.profile.as_ref().filter(|_| !fatal) else {
        if o.json {
            let source = loaded.source();
            let problems = crate::report::json_entries(&loaded.report, &source);
            crate::console::document("vm-test", 2, false, &crate::console::Refusal { problems })?;
        }
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
    let mut via = o.via.clone();
    if via.is_empty() {
        via = vec![Via::Rpm, Via::Kickstart, Via::ImageMode, Via::Rootfs];
    }
    via.sort_unstable();
    via.dedup();
    stage::mke2fs()?;
    if via.contains(&Via::Rpm) && crate::cmd::find("rpmbuild").is_none() {
        return Err(ToolMissing(
            "install rpm (rpmbuild) to prove the rpm path (apt-get install rpm; dnf install rpm-build), or leave it out with --via".into(),
        )
        .into());
    }

    let guest = guest_parts(o, profile)?;
    crate::noteln!("vm-test: guest kernel {}", guest.kernel.display())?;
    let accel = qemu::choose_accel(&qemu, o.accel);
    let ctx = paths::Ctx {
        qemu: &qemu,
        accel: std::cell::Cell::new(accel),
        auto: o.accel == Accel::Auto,
        guest: &guest,
        work: &work_path,
        timeout: o.timeout,
        profile_path: o.profile,
        profile,
        compiled: &compiled,
        tree: &tree,
    };
    let prepared = started.elapsed().as_secs_f64();
    let mut results = Vec::new();
    let mut capture_text = None;
    for (i, v) in via.iter().enumerate() {
        // The capture is of the first path's guest.
        let capture = o.capture.is_some() && i == 0;
        let r = paths::run(&ctx, *v, capture)?;
        if capture {
            capture_text = r.capture.clone();
        }
        results.push(r);
    }
    let logs = if o.keep {
        let dir = work.keep();
        crate::noteln!("vm-test: kept {}", dir.display())?;
        dir
    } else {
        // The serial logs outlive the work folder.
        let saved =
            std::env::temp_dir().join(format!("rtaudio-tuning-vm-logs-{}", std::process::id()));
        std::fs::create_dir_all(&saved)?;
        for r in &mut results {
            for log in &mut r.serial_logs {
                let name = Path::new(log.as_str())
                    .strip_prefix(work.path())
                    .map(|p| p.to_string_lossy().replace('/', "-"))
                    .unwrap_or_else(|_| log.clone());
                let to = saved.join(&name);
                let _ = std::fs::copy(log.as_str(), &to);
                *log = to.display().to_string();
            }
        }
        saved
    };
    if let (Some(dir), Some((files, cmdline))) = (o.capture, capture_text) {
        let n = write_capture(dir, &files, &guest, &cmdline, profile)?;
        crate::noteln!(
            "vm-test: captured {n} files of the guest to {}",
            dir.display()
        )?;
    } else if let Some(dir) = o.capture {
        crate::errln!(
            "vm-test: no capture was written to {}: the guest sent none",
            dir.display()
        )?;
    }
    let verdict = Verdict {
        ok: results.iter().all(|r| r.ok),
        accel: ctx.accel.get().to_string(),
        seconds_preparing: prepared,
        logs: logs.display().to_string(),
        paths: results,
    };
    if o.json {
        crate::console::document("vm-test", 2, verdict.ok, &verdict)?;
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
    cmdline: &str,
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
        cmdline = cmdline,
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

fn print_verdict(v: &Verdict) -> anyhow::Result<()> {
    crate::outln!(
        "vm-test verdict ({}; {:.0} s preparing; serial logs in {}):",
        v.accel,
        v.seconds_preparing,
        v.logs
    )?;
    for p in &v.paths {
        crate::outln!(
            "{} ({} boot{}, {:.0} s to verdict): {}",
            p.via.name(),
            p.boots,
            if p.boots == 1 { "" } else { "s" },
            p.seconds_to_verdict,
            if p.ok { "pass" } else { "FAIL" }
        )?;
        for r in &p.rows {
            crate::outln!(
                "  {:<5} {}: {}",
                if r.ok { "pass" } else { "FAIL" },
                r.phase,
                r.what
            )?;
            if !r.ok {
                for c in &r.checks {
                    crate::outln!("          {}", crate::text::for_terminal(c))?;
                }
            }
        }
        for n in &p.notes {
            crate::outln!("  note: {n}")?;
        }
        if let Some(max) = p.latency["max_us"].as_f64() {
            crate::outln!(
                "  latency in the guest: max {max:.0} us, p99 {:.0} us over {} s ({}; under emulation these figures say little about real hardware)",
                p.latency["p99_us"].as_f64().unwrap_or(0.0),
                p.latency["duration_s"],
                if p.latency["realtime"] == true {
                    "SCHED_FIFO, memory locked"
                } else {
                    "not realtime"
                }
            )?;
        }
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

/// Wait for a child at most `secs`, then kill it.
fn wait_for(
    child: std::io::Result<std::process::Child>,
    secs: u64,
) -> Result<std::process::ExitStatus, String> {
    let mut child = child.map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Ok(s),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("still running after {secs} s: killed"));
            }
        }
    }
}

pub struct Guest {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// The root file system as a folder: the lower layer of the host's
    /// overlay mounts.
    pub rootfs: PathBuf,
    /// The same as an ext4 image, the guest's read-only lower layer; None
    /// for a guest of the admin's own, whose initramfs knows no overlay.
    pub image: Option<PathBuf>,
    pub release: String,
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
        // A guest of the admin's own (Fedora's kernel and initramfs) knows
        // nothing of vm-test's overlay: each path gets a whole disk.
        let release = kernel
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .trim_start_matches("vmlinuz-")
                    .to_string()
            })
            .unwrap_or_default();
        return Ok(Guest {
            kernel: kernel.to_path_buf(),
            initrd: initrd.to_path_buf(),
            rootfs: rootfs.to_path_buf(),
            image: None,
            release,
        });
    }
    if o.kernel.is_some() || o.initrd.is_some() || o.rootfs.is_some() {
        return Err(UserError("--kernel, --initrd and --rootfs go together: give all three, or none to build Debian's guest".into()).into());
    }
    let flavor = match profile.kernel.flavor {
        crate::profile::Flavor::Rt => "rt",
        crate::profile::Flavor::Stock => "stock",
    };
    crate::noteln!(
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
        image: Some(get("IMAGE")?),
        release: kv.get("KERNEL_RELEASE").cloned().unwrap_or_default(),
    })
}
