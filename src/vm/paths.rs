//! The delivery paths, each run for real in its own guest: what the host
//! lays out, the phases the guest runs, and what the host reads between
//! boots (the boot entry, as a BLS boot loader reads it).

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use super::phase::{PHASE_ARG, Phase, Plan, STATE, Step};
use super::qemu::{self, Boot, BootSpec};
use super::rows::{self, Row};
use super::stage::{self, GuestProfile, Stage};
use super::{GUEST_PROFILE, Guest, Via};
use crate::profile::{AudioServer, CpuVendor, Profile};
use crate::selinux::Compiled;

/// The stand-ins of Fedora tools the Debian guest lacks; each says so.
const GRUBBY: &str = include_str!("../../scripts/vm/standins/grubby");
const RPM_OSTREE: &str = include_str!("../../scripts/vm/standins/rpm-ostree");
const SEMODULE: &str = include_str!("../../scripts/vm/standins/semodule");

/// The profile the package is upgraded to, and the fleet host's.
const UPGRADED_PROFILE: &str = "/var/lib/rtaudio-vm/upgraded.toml";
const HOST_PROFILE: &str = "/var/lib/rtaudio-vm/host.toml";

/// What the admin had on the kernel command line before anything of ours:
/// an argument of their own, and one the profiles may change (the package
/// must give it back on erase).
const ADMIN_KARGS: &[&str] = &["quiet", "amd_pstate=active"];

/// Drivers of the emulated PC's built-in devices the checks never look at
/// (the IDE controller, PS/2 mouse, SMBus, nested KVM): not loading them
/// saves seconds of each boot under TCG.
const UNUSED_MODULES: &[&str] = &[
    "ata_piix",
    "ata_generic",
    "pata_acpi",
    "i2c_piix4",
    "psmouse",
    "serio_raw",
    "pcspkr",
    "floppy",
    "parport_pc",
    "ppdev",
    "kvm",
    "kvm_amd",
    "kvm_intel",
];

/// The demonstration host of the image-mode path.
pub const DEMO_HOST: &str = "vm-host";
const DEMO_USER: &str = "engineer";

pub struct Ctx<'a> {
    pub qemu: &'a Path,
    pub accel: Cell<&'static str>,
    pub auto: bool,
    pub guest: &'a Guest,
    pub work: &'a Path,
    pub timeout: Duration,
    pub profile_path: &'a Path,
    pub profile: &'a Profile,
    pub compiled: &'a Compiled,
    pub tree: &'a Path,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct PathVerdict {
    pub via: Via,
    pub ok: bool,
    /// From the path's first step on the host to its last verdict.
    pub seconds_to_verdict: f64,
    pub boots: usize,
    pub serial_logs: Vec<String>,
    pub rows: Vec<Row>,
    /// What happened that is not a verdict (a boot done again).
    pub notes: Vec<String>,
    /// The latency run of its first full verification.
    pub latency: serde_json::Value,
    /// Each boot's document from the agent.
    pub phases: Vec<serde_json::Value>,
    /// The capture (files, kernel command line), when asked for.
    #[serde(skip)]
    pub capture: Option<(serde_json::Value, String)>,
}

/// A profile vm-test derived from the admin's (the package's next version,
/// the fleet host's).
struct Derived {
    path: PathBuf,
    profile: Profile,
    compiled: Compiled,
    changes: Vec<String>,
}

fn table<'t>(t: &'t mut toml::Table, key: &str) -> &'t mut toml::Table {
    let v = t
        .entry(key)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if !v.is_table() {
        *v = toml::Value::Table(toml::Table::new());
    }
    v.as_table_mut().expect("a table")
}

fn rotated(cpu: CpuVendor) -> &'static str {
    match cpu {
        CpuVendor::Generic | CpuVendor::Intel => "amd",
        CpuVendor::Amd => "intel",
    }
}

/// The kernel keys both derived profiles change: the first of kernel.args
/// removed, kernel.cpu rotated (its pstate argument changes), isolate_cpus
/// without its first CPU.
fn edit_kernel(t: &mut toml::Table, p: &Profile, changes: &mut Vec<String>) {
    let k = table(t, "kernel");
    if let Some((first, rest)) = p.kernel.args.split_first() {
        k.insert(
            "args".into(),
            toml::Value::Array(rest.iter().map(|a| a.as_str().into()).collect()),
        );
        changes.push(format!("kernel.args without {first}"));
    }
    k.insert("cpu".into(), rotated(p.kernel.cpu).into());
    changes.push(format!("kernel.cpu = \"{}\"", rotated(p.kernel.cpu)));
    if let Some(list) = &p.kernel.isolate_cpus
        && let Ok(cpus) = crate::profile::grammar::cpu_list(list)
        && cpus.len() > 1
    {
        let rest = crate::profile::grammar::cpu_list_string(&cpus[1..]);
        k.insert("isolate_cpus".into(), rest.as_str().into());
        changes.push(format!("kernel.isolate_cpus = \"{rest}\""));
    }
}

fn derive(
    ctx: &Ctx,
    dir: &Path,
    name: &str,
    edit: impl FnOnce(&mut toml::Table, &Profile) -> Vec<String>,
) -> anyhow::Result<Derived> {
    let text = std::fs::read_to_string(ctx.profile_path)?;
    let mut t: toml::Table = text
        .parse()
        .with_context(|| format!("reading {}", ctx.profile_path.display()))?;
    let changes = edit(&mut t, ctx.profile);
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml::to_string(&t)?)?;
    // Its SELinux modules and key, beside it as beside the admin's.
    stage::copy_companions(ctx.profile, ctx.profile_path, dir)?;
    let (loaded, compiled, fatal) = crate::load::load_and_compile(Some(&path), false, true, true)?;
    match loaded.profile.clone().filter(|_| !fatal) {
        Some(profile) => Ok(Derived {
            path,
            profile,
            compiled,
            changes,
        }),
        None => anyhow::bail!(
            "the {name} profile vm-test derived from {} was refused:\n{}",
            ctx.profile_path.display(),
            crate::report::format(&loaded.report, &loaded.source())
        ),
    }
}

/// The package's next version: a kernel argument removed and one changed
/// (kernel.cpu, isolate_cpus), the rtprio limit lowered, the release raised.
fn upgraded(ctx: &Ctx, dir: &Path) -> anyhow::Result<Derived> {
    derive(ctx, dir, "upgraded", |t, p| {
        let mut changes = Vec::new();
        edit_kernel(t, p, &mut changes);
        let rtprio = if p.realtime.rtprio > 1 {
            p.realtime.rtprio - 1
        } else {
            2
        };
        table(t, "realtime").insert("rtprio".into(), i64::from(rtprio).into());
        changes.push(format!("realtime.rtprio = {rtprio}"));
        if p.audio.rt_priority > rtprio {
            table(t, "audio").insert("rt_priority".into(), i64::from(rtprio).into());
            changes.push(format!("audio.rt_priority = {rtprio}"));
        }
        let release = p.rpm.release + 1;
        table(t, "rpm").insert("release".into(), i64::from(release).into());
        changes.push(format!("rpm.release = {release}"));
        changes
    })
}

/// The demonstration host's own profile, what the fleet merges for it: the
/// kernel keys changed and its own musician.
fn host_profile(ctx: &Ctx, dir: &Path) -> anyhow::Result<Derived> {
    derive(ctx, dir, "host", |t, p| {
        let mut changes = Vec::new();
        edit_kernel(t, p, &mut changes);
        let mut user = toml::Table::new();
        user.insert("name".into(), DEMO_USER.into());
        user.insert("groups".into(), toml::Value::Array(vec!["audio".into()]));
        t.insert("users".into(), toml::Value::Array(vec![user.into()]));
        changes.push(format!("users = [{DEMO_USER}]"));
        changes
    })
}

/// The inventory of a room with the demonstration host, whose overrides
/// are the host profile's changes.
fn demo_inventory(ctx: &Ctx, dir: &Path, host: &Profile) -> anyhow::Result<PathBuf> {
    let mut inv = toml::Table::new();
    inv.insert("version".into(), 1.into());
    // An inventory names its base profile inside its own folder: the
    // admin's, copied beside it (its SELinux modules are there already).
    std::fs::copy(ctx.profile_path, dir.join("base.toml"))?;
    inv.insert("profile".into(), "base.toml".into());
    let mut h = toml::Table::new();
    h.insert("name".into(), DEMO_HOST.into());
    let mut kernel = toml::Table::new();
    kernel.insert("cpu".into(), rotated(ctx.profile.kernel.cpu).into());
    kernel.insert(
        "args".into(),
        toml::Value::Array(host.kernel.args.iter().map(|a| a.as_str().into()).collect()),
    );
    if host.kernel.isolate_cpus != ctx.profile.kernel.isolate_cpus
        && let Some(c) = &host.kernel.isolate_cpus
    {
        kernel.insert("isolate_cpus".into(), c.as_str().into());
    }
    h.insert("kernel".into(), kernel.into());
    let mut user = toml::Table::new();
    user.insert("name".into(), DEMO_USER.into());
    user.insert("groups".into(), toml::Value::Array(vec!["audio".into()]));
    h.insert("users".into(), toml::Value::Array(vec![user.into()]));
    inv.insert("host".into(), toml::Value::Array(vec![h.into()]));
    let path = dir.join("inventory.toml");
    std::fs::write(&path, toml::to_string(&inv)?)?;
    Ok(path)
}

/// The image-mode snippet of the demonstration host, rendered by `fleet`
/// (or given in the tree, as `image-mode/vm-host.sh`).
fn demo_snippet(ctx: &Ctx, inventory: &Path) -> anyhow::Result<String> {
    let given = ctx.tree.join("image-mode").join(format!("{DEMO_HOST}.sh"));
    if given.is_file() {
        return Ok(std::fs::read_to_string(&given)?);
    }
    let loaded = crate::fleet::load(inventory)?;
    let Some(fleet) = loaded.fleet.as_ref().filter(|_| !loaded.is_fatal(false)) else {
        anyhow::bail!(
            "the inventory vm-test wrote for its demonstration host was refused:\n{}",
            crate::report::format(&loaded.report, &loaded.source())
        );
    };
    let rendered = crate::render::fleet::render(fleet, ctx.compiled)?;
    let snippets: Vec<_> = rendered
        .artifacts
        .iter()
        .filter(|a| a.path.starts_with("image-mode/"))
        .collect();
    let [one] = snippets.as_slice() else {
        anyhow::bail!(
            "the demonstration host has {} image-mode snippets, not one",
            snippets.len()
        );
    };
    let bytes: Vec<u8> = one.content.pieces().concat();
    Ok(String::from_utf8(bytes)?)
}

/// The kernel arguments `args` applied to `options` as grubby-bls applies
/// them (a `key=value` replaces the key's token, a flag is added once).
fn with_kargs(options: &[String], args: &[String]) -> Vec<String> {
    let mut out: Vec<String> = options.to_vec();
    for a in args {
        let key = a.split('=').next().unwrap_or(a);
        let at = out
            .iter()
            .position(|t| t == key || t.strip_prefix(key).is_some_and(|r| r.starts_with('=')));
        match at {
            Some(i) => out[i] = a.clone(),
            None => out.push(a.clone()),
        }
    }
    out
}

fn sorted(tokens: &[String]) -> Vec<String> {
    let mut t = tokens.to_vec();
    t.sort();
    t
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

/// One path's guest: its disk, its plan, and the verdict as it grows.
struct Run<'a> {
    ctx: &'a Ctx<'a>,
    dir: PathBuf,
    disk: PathBuf,
    whole: bool,
    plan: Plan,
    /// Guest path of each profile a Verify step names, and the profile.
    profiles: Vec<(String, Profile)>,
    cpus: u32,
    v: PathVerdict,
}

impl Run<'_> {
    fn harness_cmdline(&self) -> String {
        format!(
            "root=/dev/vda{} rw console=ttyS0 panic=-1 systemd.unit=multi-user.target systemd.show_status=false module_blacklist={}",
            if self.whole { "" } else { " vm.upper=/dev/vdb" },
            UNUSED_MODULES.join(",")
        )
    }

    /// The guest's boot entry, its options the harness's and `kargs`; they
    /// are returned.
    fn boot_entry(&self, root: &Path, kargs: &[String]) -> anyhow::Result<Vec<String>> {
        let options: Vec<String> = words(&self.harness_cmdline())
            .into_iter()
            .chain(kargs.iter().cloned())
            .collect();
        stage::boot_entry(
            root,
            &self.ctx.guest.kernel,
            &self.ctx.guest.release,
            &options.join(" "),
        )?;
        Ok(options)
    }

    /// How soon a boot must show a sign of life: KVM tried by `auto` is
    /// given up soon; under TCG a guest stuck before its initramfs is booted
    /// again. A guest of the admin's own may say nothing that early.
    fn sign_of_life(&self, accel: &str) -> Option<Duration> {
        match accel {
            "kvm" if self.ctx.auto => Some(qemu::SIGN_OF_LIFE),
            "tcg" if self.ctx.guest.image.is_some() => Some(qemu::TCG_SIGN_OF_LIFE),
            _ => None,
        }
    }

    fn fail(&mut self, phase: &str, what: impl Into<String>, checks: Vec<String>) {
        self.v.rows.push(Row::new(phase, what, false, checks));
    }

    /// Boot phase `index` with `kargs` on the kernel command line; judge its
    /// steps. False when the path cannot go on (no verdict, a command failed).
    fn boot(&mut self, index: usize, kargs: &str, capture: bool) -> anyhow::Result<bool> {
        let name = self.plan.phases[index].name.clone();
        let log = self
            .dir
            .join(format!("boot{index}-{}.log", name.replace(' ', "-")));
        let cmdline = format!("{kargs} {PHASE_ARG}={index}");
        crate::noteln!(
            "vm-test: {}: booting phase {index} ({name}, {}): {cmdline}",
            self.v.via.name(),
            self.ctx.accel.get()
        )?;
        let mut spec = BootSpec {
            qemu: self.ctx.qemu,
            accel: self.ctx.accel.get(),
            cpus: self.cpus,
            guest: self.ctx.guest,
            upper: &self.disk,
            whole: self.whole,
            cmdline: &cmdline,
            log: &log,
            timeout: self.ctx.timeout,
            sign_of_life: self.sign_of_life(self.ctx.accel.get()),
            stop_at_verdict: index + 1 == self.plan.phases.len(),
        };
        let mut outcome = qemu::boot(&spec)?;
        if matches!(outcome, Boot::NoSignOfLife) && spec.accel == "kvm" {
            // KVM started but the guest kernel never spoke: nested KVM that hangs.
            crate::errln!(
                "vm-test: the guest made no progress under KVM within {} s; booting with TCG (and remembering it)",
                qemu::SIGN_OF_LIFE.as_secs()
            )?;
            qemu::remember_kvm_hang(self.ctx.qemu);
            self.ctx.accel.set("tcg");
            spec.accel = "tcg";
            spec.sign_of_life = self.sign_of_life("tcg");
            outcome = qemu::boot(&spec)?;
        }
        if matches!(outcome, Boot::NoSignOfLife) {
            // The disk is as it was: the guest never reached its initramfs.
            let note = format!(
                "phase {index} ({name}): the emulated guest had not reached its initramfs after {} s; booted it again",
                qemu::TCG_SIGN_OF_LIFE.as_secs()
            );
            crate::errln!("vm-test: {}: {note}", self.v.via.name())?;
            self.v.notes.push(note);
            outcome = qemu::boot(&spec)?;
        }
        self.v.boots += 1;
        self.v.serial_logs.push(log.display().to_string());
        let (how, tail) = match outcome {
            Boot::Verdict(doc) => return self.judge(index, &name, doc, &log, capture),
            Boot::TimedOut(tail) => (
                format!("timed out after {} s", self.ctx.timeout.as_secs()),
                tail,
            ),
            Boot::Ended(tail) => ("the guest stopped".to_string(), tail),
            Boot::NoSignOfLife => ("the guest made no progress".to_string(), Vec::new()),
        };
        let mut checks = vec![format!(
            "the last lines of the serial console ({}):",
            log.display()
        )];
        if tail.is_empty() {
            checks.push("| (the guest printed nothing)".into());
        }
        checks.extend(tail.into_iter().map(|l| format!("| {l}")));
        self.fail(&name, format!("{how} without a verdict"), checks);
        Ok(false)
    }

    fn judge(
        &mut self,
        index: usize,
        name: &str,
        doc: serde_json::Value,
        log: &Path,
        capture: bool,
    ) -> anyhow::Result<bool> {
        if let Some(e) = doc["error"].as_str() {
            self.fail(name, "the agent ran the phase", vec![e.to_string()]);
            self.v.phases.push(doc);
            return Ok(false);
        }
        let planned = self.plan.phases[index].steps.clone();
        let done = doc["steps"].as_array().cloned().unwrap_or_default();
        let mut go_on = true;
        for (i, result) in done.iter().enumerate() {
            match planned.get(i) {
                Some(Step::Verify { profile, audio, .. }) => {
                    let p = self
                        .profiles
                        .iter()
                        .find(|(g, _)| g == profile)
                        .map(|(_, p)| p)
                        .unwrap_or(self.ctx.profile);
                    self.v
                        .rows
                        .extend(rows::verify_rows(name, result, p, *audio));
                    if *audio && self.v.latency.is_null() {
                        self.v.latency = result["latency"].clone();
                    }
                }
                _ => {
                    if let Some(r) = rows::step_row(name, result) {
                        go_on &= r.ok || result["kind"] != "run";
                        self.v.rows.push(r);
                    }
                }
            }
        }
        if go_on && done.len() < planned.len() {
            self.fail(
                name,
                "the agent ran every step",
                vec![format!(
                    "{} of {} steps reported",
                    done.len(),
                    planned.len()
                )],
            );
            go_on = false;
        }
        if capture {
            let text =
                std::fs::read_to_string(log.with_file_name(qemu::CAPTURE_PORT)).unwrap_or_default();
            let files = text
                .split_once(super::CAPTURE_BEGIN)
                .and_then(|(_, rest)| rest.split_once(super::CAPTURE_END))
                .and_then(|(json, _)| serde_json::from_str::<serde_json::Value>(json.trim()).ok());
            if let Some(files) = files {
                let cmdline = doc["cmdline"].as_str().unwrap_or_default().to_string();
                self.v.capture = Some((files, cmdline));
            }
        }
        self.v.phases.push(doc);
        Ok(go_on)
    }

    /// The default boot entry's options, as a BLS boot loader reads them,
    /// with a row saying whether they are `want` (in any order).
    fn entry_kargs(
        &mut self,
        phase: &str,
        what: &str,
        want: &[String],
    ) -> anyhow::Result<Option<String>> {
        let (entries, saved) =
            stage::boot_entries(&self.disk, if self.whole { "" } else { "/upper" })?;
        let Some((file, text)) = stage::default_entry(&entries, saved.as_deref()) else {
            self.fail(phase, what, vec!["the disk has no boot entry".into()]);
            return Ok(None);
        };
        let linux = stage::entry_field(&text, "linux");
        if linux != format!("/vmlinuz-{}", self.ctx.guest.release) {
            self.fail(
                phase,
                what,
                vec![format!(
                    "the default entry {file} boots {linux}; vm-test has only the kernel {}",
                    self.ctx.guest.release
                )],
            );
            return Ok(None);
        }
        let options = stage::entry_field(&text, "options");
        let have = sorted(&words(&options));
        let want = sorted(want);
        let missing: Vec<&String> = want.iter().filter(|w| !have.contains(w)).collect();
        let extra: Vec<&String> = have.iter().filter(|h| !want.contains(h)).collect();
        let mut checks = vec![format!("{file}: options {options}")];
        if !missing.is_empty() {
            checks.push(format!(
                "missing: {}",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        if !extra.is_empty() {
            checks.push(format!(
                "not expected: {}",
                extra
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        self.v.rows.push(Row::new(
            phase,
            what,
            missing.is_empty() && extra.is_empty(),
            checks,
        ));
        Ok(Some(options))
    }
}

/// The units two versions enable or mask, whose states a snapshot records.
fn units_of(plans: &[&crate::render::Plan]) -> Vec<String> {
    let mut units: Vec<String> = plans
        .iter()
        .flat_map(|p| p.enable_all.iter().chain(&p.mask))
        .cloned()
        .collect();
    units.sort();
    units.dedup();
    units
}

/// The audio server the guest can run for the profile.
fn server_of(ctx: &Ctx, profile: &Profile) -> Option<String> {
    let has = |p: &str| ctx.guest.rootfs.join(p).exists();
    match profile.audio.server {
        AudioServer::Pipewire if has("usr/bin/pipewire") => Some("pipewire".into()),
        AudioServer::Jack if has("usr/bin/jackd") => Some("jack".into()),
        _ => None,
    }
}

fn verify(ctx: &Ctx, guest_path: &str, profile: &Profile, audio: bool, capture: bool) -> Step {
    Step::Verify {
        profile: guest_path.into(),
        server: server_of(ctx, profile),
        audio,
        capture,
    }
}

/// Enough CPUs for the profile's isolated and banned ones to exist, and at
/// least two packages: irqbalance quits on a single cache domain.
fn cpus_for(profile: &Profile) -> u32 {
    [&profile.kernel.isolate_cpus, &profile.irq.banned_cpus]
        .into_iter()
        .flatten()
        .filter_map(|l| crate::profile::grammar::cpu_list(l).ok())
        .flatten()
        .max()
        .map_or(2, |c| (c + 1).max(2))
}

/// The path's verdict, every phase run or the reason it stopped.
pub fn run(ctx: &Ctx, via: Via, capture: bool) -> anyhow::Result<PathVerdict> {
    let started = Instant::now();
    let dir = ctx.work.join(via.name());
    std::fs::create_dir_all(&dir)?;
    let mut r = Run {
        ctx,
        dir: dir.clone(),
        disk: PathBuf::new(),
        whole: ctx.guest.image.is_none(),
        plan: Plan {
            user: String::new(),
            phases: Vec::new(),
        },
        profiles: vec![(GUEST_PROFILE.into(), ctx.profile.clone())],
        cpus: cpus_for(ctx.profile),
        v: PathVerdict {
            via,
            ok: false,
            seconds_to_verdict: 0.0,
            boots: 0,
            serial_logs: Vec::new(),
            rows: Vec::new(),
            notes: Vec::new(),
            latency: serde_json::Value::Null,
            phases: Vec::new(),
            capture: None,
        },
    };
    let outcome = match via {
        Via::Rootfs => rootfs(&mut r, capture),
        Via::Kickstart => kickstart(&mut r, capture),
        Via::Rpm => rpm(&mut r, capture),
        Via::ImageMode => image_mode(&mut r, capture),
    };
    if let Err(e) = outcome {
        r.fail("prepare", "vm-test set the path up", vec![format!("{e:#}")]);
    }
    r.v.ok = !r.v.rows.is_empty() && r.v.rows.iter().all(|row| row.ok);
    r.v.seconds_to_verdict = started.elapsed().as_secs_f64();
    Ok(r.v)
}

fn main_user(p: &Profile) -> String {
    stage::musicians(p)[0].0.clone()
}

/// The drop-ins copied in and applied from outside, the way the package's
/// scriptlets would; one boot with the kernel arguments of bootc's kargs.d.
fn rootfs(r: &mut Run, capture: bool) -> anyhow::Result<()> {
    let ctx = r.ctx;
    let kargs = stage::kargs_from_tree(ctx.tree)?;
    let st = Stage::new(&r.dir, &ctx.guest.rootfs)?;
    stage::apply_rootfs(&st.merged, ctx.tree, ctx.profile, ctx.compiled)?;
    r.plan = Plan {
        user: main_user(ctx.profile),
        phases: vec![Phase {
            name: "applied".into(),
            steps: vec![verify(ctx, GUEST_PROFILE, ctx.profile, true, capture)],
        }],
    };
    stage::install_harness(&st.merged, &r.plan, &[guest_profile(ctx)])?;
    r.disk = st.finish(r.whole)?;
    let cmdline = format!("{} {}", r.harness_cmdline(), kargs.join(" "));
    r.boot(0, &cmdline, capture)?;
    Ok(())
}

fn guest_profile<'a>(ctx: &'a Ctx) -> GuestProfile<'a> {
    GuestProfile {
        guest_path: GUEST_PROFILE,
        file: ctx.profile_path,
        profile: ctx.profile,
    }
}

/// Anaconda's payload step for our package: `rpm --root TARGET -i` of the
/// tree's package (`--nodeps`: its dependencies are Fedora's names).
fn payload(ctx: &Ctx, dir: &Path, target: &Path, phase: &str) -> anyhow::Result<Row> {
    let rpmbuild = crate::cmd::find("rpmbuild").context("rpmbuild is missing")?;
    let rpm = crate::cmd::find("rpm").context("rpm is missing")?;
    let built = crate::rpmbuild::build(&rpmbuild, &ctx.tree.join("rpm"), &dir.join("built"))
        .map_err(|e| anyhow::anyhow!("building the package of the tree: {e}"))?;
    let mut c = std::process::Command::new(rpm);
    c.arg("--root")
        .arg(target)
        .args(["-i", "--nodeps"])
        .arg(&built);
    let what = "%packages: rtaudio-tuning from the kickstart's repository, its scriptlets in the target (rpm --root -i --nodeps)";
    Ok(match crate::cmd::run(&mut c) {
        Ok(o) if o.success() && !o.text().contains("scriptlet failed") => {
            Row::new(phase, what, true, Vec::new())
        }
        Ok(o) => Row::new(
            phase,
            what,
            false,
            vec![
                format!("command: {}", crate::cmd::cmdline(&c)),
                format!("| {}", o.text().trim()),
            ],
        ),
        Err(e) => Row::new(phase, what, false, vec![e.to_string()]),
    })
}

/// The installation kickstart applied as Anaconda applies it, then one boot
/// with its `bootloader --append`.
fn kickstart(r: &mut Run, capture: bool) -> anyhow::Result<()> {
    let ctx = r.ctx;
    let phase = "installed";
    let file = std::fs::read_dir(ctx.tree.join("kickstart"))
        .context("the tree has no kickstart folder")?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "ks") && !p.to_string_lossy().ends_with("-live.ks")
        })
        .context("the tree has no installation kickstart")?;
    let text = std::fs::read_to_string(&file)?;
    let ks = match super::kickstart::parse(&text) {
        Ok(ks) => ks,
        Err(e) => {
            r.fail(
                phase,
                format!("{} read as Anaconda reads it", file.display()),
                vec![e],
            );
            return Ok(());
        }
    };
    let mut st = Stage::new(&r.dir, &ctx.guest.rootfs)?;
    // Tools the kickstart runs that Fedora has and the Debian guest lacks.
    if !st.merged.join("usr/sbin/semodule").exists() {
        stage::install_standin(&st.merged, "/usr/sbin/semodule", SEMODULE)?;
    }
    if !st.merged.join("usr/sbin/grubby").exists() {
        stage::install_standin(&st.merged, "/usr/sbin/grubby", GRUBBY)?;
    }
    st.bind_system()?;
    // A kickstart that installs our package ([rpm] repo_url): Anaconda's
    // payload runs before the accounts and %post, rpm's transaction in the
    // target root with the package's scriptlets chrooted there. The package
    // is the tree's, as the repository would serve it.
    if crate::validate::consistency::installs_package(&text) {
        let row = payload(ctx, &r.dir, &st.merged, phase)?;
        let ok = row.ok;
        r.v.rows.push(row);
        if !ok {
            st.finish(r.whole)?;
            return Ok(());
        }
    }
    let rows = super::kickstart::apply(&st.merged, &ks, phase)?;
    let failed = rows.iter().any(|x| !x.ok);
    r.v.rows.extend(rows);
    if failed {
        st.finish(r.whole)?;
        return Ok(());
    }
    // A profile without musicians: the admin adds one by hand after the install.
    let user = main_user(ctx.profile);
    if ctx.profile.users.is_empty() {
        let groups = ["audio", ctx.profile.realtime.group.as_str()].join(",");
        stage::run_ok(
            std::process::Command::new("useradd")
                .arg("--root")
                .arg(&st.merged)
                .args(["-m", "-s", "/bin/bash", "-G", &groups, &user]),
        )?;
    }
    r.plan = Plan {
        user,
        phases: vec![Phase {
            name: phase.into(),
            steps: vec![verify(ctx, GUEST_PROFILE, ctx.profile, true, capture)],
        }],
    };
    stage::install_harness(&st.merged, &r.plan, &[guest_profile(ctx)])?;
    r.disk = st.finish(r.whole)?;
    let cmdline = format!("{} {}", r.harness_cmdline(), ks.kargs.join(" "));
    r.boot(0, &cmdline, capture)?;
    Ok(())
}

/// The package built from the tree, installed with rpm in the booted guest
/// (its scriptlets under systemd, grubby's stand-in editing the boot entry),
/// the next boot from that entry; then upgraded to a changed profile's
/// package, and erased, each judged.
fn rpm(r: &mut Run, capture: bool) -> anyhow::Result<()> {
    let ctx = r.ctx;
    let rpmbuild = crate::cmd::find("rpmbuild").context("rpmbuild is missing")?;
    let built = r.dir.join("built");
    let first = crate::rpmbuild::build(&rpmbuild, &ctx.tree.join("rpm"), &built.join("first"))
        .map_err(|e| anyhow::anyhow!("building the package of the tree: {e}"))?;
    let next = upgraded(ctx, &r.dir.join("upgraded"))?;
    let next_compiled = &next.compiled;
    let next_tree = r.dir.join("upgraded/tree");
    crate::output::write_tree(
        &next_tree,
        &crate::render::render_all(&next.profile, next_compiled)?,
        false,
    )?;
    let second = crate::rpmbuild::build(&rpmbuild, &next_tree.join("rpm"), &built.join("second"))
        .map_err(|e| anyhow::anyhow!("building the upgrade's package: {e}"))?;

    let st = Stage::new(&r.dir, &ctx.guest.rootfs)?;
    stage::install_standin(&st.merged, "/usr/sbin/grubby", GRUBBY)?;
    let admin: Vec<String> = ADMIN_KARGS.iter().map(|s| s.to_string()).collect();
    let initial = r.boot_entry(&st.merged, &admin)?;
    let packages = st
        .merged
        .join(STATE.trim_start_matches('/'))
        .join("packages");
    std::fs::create_dir_all(&packages)?;
    std::fs::copy(&first, packages.join("first.rpm"))?;
    std::fs::copy(&second, packages.join("second.rpm"))?;
    // The workstation's musicians exist before the package arrives, in
    // their usual groups only.
    for (name, groups) in stage::musicians(ctx.profile) {
        let groups: Vec<&str> = groups
            .iter()
            .map(String::as_str)
            .filter(|g| *g != ctx.profile.realtime.group)
            .collect();
        let mut c = std::process::Command::new("useradd");
        c.arg("--root")
            .arg(&st.merged)
            .args(["-m", "-s", "/bin/bash"]);
        if !groups.is_empty() {
            c.arg("-G").arg(groups.join(","));
        }
        stage::run_ok(c.arg(name))?;
    }
    let plan = crate::render::plan(ctx.profile, ctx.compiled)?;
    let next_plan = crate::render::plan(&next.profile, next_compiled)?;
    let units = units_of(&[&plan, &next_plan]);
    let users: Vec<String> = ctx.profile.users.iter().map(|u| u.name.clone()).collect();
    let mut paths: Vec<String> = plan.own_dirs.clone();
    paths.push("/var/lib/rtaudio-tuning".into());
    let snapshot = |name: &str| Step::Snapshot {
        name: name.into(),
        units: units.clone(),
        users: users.clone(),
        paths: paths.clone(),
        trees: Vec::new(),
    };
    let pkg = |f: &str| format!("{STATE}/packages/{f}");
    let run = |what: &str, argv: &[&str]| Step::Run {
        what: what.into(),
        argv: argv.iter().map(|s| s.to_string()).collect(),
        timeout: 300,
    };
    let mut install = vec![
        snapshot("before"),
        run(
            "rpm -i: the package's %pre, %post and %posttrans under systemd (--nodeps: its dependencies are Fedora's names)",
            &["rpm", "-i", "--nodeps", &pkg("first.rpm")],
        ),
    ];
    if ctx.profile.users.is_empty() {
        install.push(run(
            "the admin adds the musician to the group (the profile names none)",
            &[
                "usermod",
                "-a",
                "-G",
                &ctx.profile.realtime.group,
                "musician",
            ],
        ));
    }
    r.plan = Plan {
        user: main_user(ctx.profile),
        phases: vec![
            Phase {
                name: "install".into(),
                steps: install,
            },
            Phase {
                name: "installed".into(),
                steps: vec![
                    verify(ctx, GUEST_PROFILE, ctx.profile, true, capture),
                    run(
                        &format!("rpm -U to release {} ({})", next.profile.rpm.release, next.changes.join(", ")),
                        &["rpm", "-U", "--nodeps", &pkg("second.rpm")],
                    ),
                ],
            },
            Phase {
                name: "upgraded".into(),
                steps: vec![
                    verify(ctx, UPGRADED_PROFILE, &next.profile, false, false),
                    Step::Owned {
                        package: "rtaudio-tuning".into(),
                        name: "owned".into(),
                    },
                    run("rpm -e: the package's %preun and %postun", &["rpm", "-e", "--nodeps", "rtaudio-tuning"]),
                    snapshot("after"),
                    Step::Compare {
                        what: "erase gives back the units, the group memberships, the boot entries and the folders as before the install".into(),
                        before: "before".into(),
                        after: "after".into(),
                    },
                    Step::Gone {
                        what: "erase removes every file the package installed".into(),
                        name: "owned".into(),
                    },
                ],
            },
        ],
    };
    r.profiles
        .push((UPGRADED_PROFILE.into(), next.profile.clone()));
    stage::install_harness(
        &st.merged,
        &r.plan,
        &[
            guest_profile(ctx),
            GuestProfile {
                guest_path: UPGRADED_PROFILE,
                file: &next.path,
                profile: &next.profile,
            },
        ],
    )?;
    r.disk = st.finish(r.whole)?;
    if !r.boot(0, &initial.join(" "), false)? {
        return Ok(());
    }
    let want = with_kargs(&initial, &plan.kargs);
    let Some(options) = r.entry_kargs(
        "install",
        "the boot entry carries the profile's kernel arguments and keeps the admin's",
        &want,
    )?
    else {
        return Ok(());
    };
    if !r.boot(1, &options, capture)? {
        return Ok(());
    }
    let want = with_kargs(&initial, &next_plan.kargs);
    let Some(options) = r.entry_kargs(
        "installed",
        "after the upgrade the boot entry carries the new release's kernel arguments, the old ones undone",
        &want,
    )?
    else {
        return Ok(());
    };
    r.boot(2, &options, false)?;
    Ok(())
}

/// A fleet host's image-mode snippet, run twice on a guest that has the
/// image's files (the shared tree, with kargs.d's arguments in its boot
/// entry); then a boot from the entry the snippet changed, judged against
/// the host's profile.
fn image_mode(r: &mut Run, capture: bool) -> anyhow::Result<()> {
    let ctx = r.ctx;
    let inputs = r.dir.join("host");
    let host = host_profile(ctx, &inputs)?;
    let inventory = demo_inventory(ctx, &inputs, &host.profile)?;
    let snippet = demo_snippet(ctx, &inventory)?;
    let host_compiled = &host.compiled;
    let host_plan = crate::render::plan(&host.profile, host_compiled)?;
    let base_plan = crate::render::plan(ctx.profile, ctx.compiled)?;
    let image_kargs = stage::kargs_from_tree(ctx.tree)?;

    let st = Stage::new(&r.dir, &ctx.guest.rootfs)?;
    stage::apply_rootfs(&st.merged, ctx.tree, ctx.profile, ctx.compiled)?;
    stage::install_standin(&st.merged, "/usr/bin/rpm-ostree", RPM_OSTREE)?;
    let initial = r.boot_entry(&st.merged, &image_kargs)?;
    let script = format!("{STATE}/image-mode.sh");
    let at = st.merged.join(script.trim_start_matches('/'));
    std::fs::create_dir_all(at.parent().expect("a folder"))?;
    std::fs::write(&at, &snippet)?;
    let units = units_of(&[&base_plan, &host_plan]);
    let mut users = vec![DEMO_USER.to_string()];
    users.extend(stage::musicians(ctx.profile).into_iter().map(|(n, _)| n));
    // What the snippet may touch. Shadow's backups (group-, passwd-) and its
    // lock file change each time usermod runs, whatever it changes.
    let snapshot = |name: &str| Step::Snapshot {
        name: name.into(),
        units: units.clone(),
        users: users.clone(),
        paths: Vec::new(),
        trees: vec![
            "/etc".into(),
            "/boot/loader".into(),
            format!("/home/{DEMO_USER}"),
        ],
    };
    let run = |what: &str| Step::Run {
        what: what.into(),
        argv: vec!["bash".into(), script.clone()],
        timeout: 300,
    };
    r.plan = Plan {
        user: DEMO_USER.into(),
        phases: vec![
            Phase {
                name: "host snippet".into(),
                steps: vec![
                    run(&format!(
                        "the host's snippet on the image's files ({})",
                        host.changes.join(", ")
                    )),
                    snapshot("once"),
                    run("the host's snippet again"),
                    snapshot("twice"),
                    Step::Compare {
                        what: "a second run changes nothing".into(),
                        before: "once".into(),
                        after: "twice".into(),
                    },
                ],
            },
            Phase {
                name: "host".into(),
                steps: vec![verify(ctx, HOST_PROFILE, &host.profile, true, capture)],
            },
        ],
    };
    r.profiles = vec![(HOST_PROFILE.into(), host.profile.clone())];
    r.cpus = r.cpus.max(cpus_for(&host.profile));
    stage::install_harness(
        &st.merged,
        &r.plan,
        &[GuestProfile {
            guest_path: HOST_PROFILE,
            file: &host.path,
            profile: &host.profile,
        }],
    )?;
    r.disk = st.finish(r.whole)?;
    if !r.boot(0, &initial.join(" "), false)? {
        return Ok(());
    }
    let want: Vec<String> = words(&r.harness_cmdline())
        .into_iter()
        .chain(host_plan.kargs.iter().cloned())
        .collect();
    let Some(options) = r.entry_kargs(
        "host snippet",
        "the boot entry carries the host's kernel arguments",
        &want,
    )?
    else {
        return Ok(());
    };
    r.boot(1, &options, capture)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        words(s)
    }

    #[test]
    fn kernel_arguments_apply_as_grubby_applies_them() {
        let out = with_kargs(
            &w("root=/dev/vda quiet amd_pstate=active"),
            &w("amd_pstate=passive threadirqs"),
        );
        assert_eq!(out, w("root=/dev/vda quiet amd_pstate=passive threadirqs"));
        assert_eq!(with_kargs(&w("a b"), &w("b")), w("a b"));
    }
}
