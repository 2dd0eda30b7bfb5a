//! Profile v1: the schema, its defaults, and loading with a full report.

pub mod grammar;
pub mod input;
pub(crate) mod parse;
mod sysctl_names;
pub(crate) mod walk;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::report::Report;

/// The default profile, with a comment on every key (`init` writes it).
pub const DEFAULT_PROFILE: &str = include_str!("../../examples/studio.toml");
pub const DEFAULT_PROFILE_NAME: &str = "studio.toml (embedded default)";

#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub version: u32,
    pub name: String,
    pub target: Target,
    pub kernel: Kernel,
    pub realtime: Realtime,
    pub users: Vec<User>,
    pub cpu: Cpu,
    pub irq: Irq,
    pub sysctl: BTreeMap<String, String>,
    pub audio: Audio,
    pub packages: Packages,
    pub selinux: Selinux,
    pub rpm: Rpm,
}

impl Profile {
    /// The files the profile names, relative to its folder: its SELinux
    /// modules' sources and the package's signing key. A copy of the profile
    /// elsewhere needs them beside it.
    pub fn companion_files(&self) -> Vec<&str> {
        let mut files: Vec<&str> = Vec::new();
        for m in &self.selinux.module {
            files.push(&m.file);
            files.extend(m.fc.as_deref());
        }
        files.extend(self.rpm.gpg_key.as_deref());
        files
    }
}

/// The rtaudio-tuning package built from this profile.
#[derive(Debug, Clone, Serialize)]
pub struct Rpm {
    /// Bumped by the admin whenever the profile changes, so that `dnf upgrade`
    /// sees a newer package; the version is the tool's.
    pub release: u32,
    /// Where the package's dnf repository is served (`rpm --repo`, `fleet`):
    /// the kickstarts then install the package from it, and the package
    /// carries the repository's definition for updates.
    pub repo_url: Option<String>,
    /// The armored public key of the admin's key that signs the package and
    /// the repository, as written (relative to the profile's folder).
    pub gpg_key: Option<String>,
    /// Its text, read at load time.
    #[serde(skip)]
    pub gpg_key_text: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Distro {
    Fedora,
    CentosStream,
    Almalinux,
    Rhel,
}

impl Distro {
    pub fn is_el(self) -> bool {
        self != Distro::Fedora
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub distro: Distro,
    pub release: u32,
    pub arch: Arch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    Rt,
    Stock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CpuVendor {
    Amd,
    Intel,
    Generic,
}

#[derive(Debug, Clone, Serialize)]
pub struct Kernel {
    pub flavor: Flavor,
    pub repo: Option<String>,
    /// Signing key of `repo` (URL); without it the repository is used unsigned.
    pub gpgkey: Option<String>,
    pub cpu: CpuVendor,
    pub args: Vec<String>,
    /// Canonical cpu list (`2-3`), if any.
    pub isolate_cpus: Option<String>,
}

impl Kernel {
    /// The kernel arguments every delivery path adds, in order, each once: the
    /// flavor's and the CPU driver's, the profile's own, and CPU isolation as
    /// tuned's realtime profile does it.
    pub fn command_line(&self) -> Vec<String> {
        let mut kargs: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut add = |a: String| {
            if seen.insert(a.clone()) {
                kargs.push(a);
            }
        };
        if self.flavor == Flavor::Stock {
            // Fedora's stock kernel is PREEMPT_DYNAMIC: preempt=full selects full preemption.
            add("preempt=full".into());
        }
        match self.cpu {
            CpuVendor::Amd => add("amd_pstate=passive".into()),
            CpuVendor::Intel => add("intel_pstate=disable".into()),
            CpuVendor::Generic => {}
        }
        for a in &self.args {
            add(a.clone());
        }
        if let Some(cpus) = &self.isolate_cpus {
            add(format!("isolcpus=managed_irq,domain,{cpus}"));
            add(format!("nohz_full={cpus}"));
            add(format!("rcu_nocbs={cpus}"));
        }
        kargs
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Memlock {
    Unlimited,
    KiB(u64),
}

impl Memlock {
    /// The value as limits.conf writes it.
    pub fn limits_value(&self) -> String {
        match self {
            Memlock::Unlimited => "unlimited".to_string(),
            Memlock::KiB(k) => k.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Realtime {
    pub group: String,
    pub gid: Option<u32>,
    pub rtprio: u32,
    pub memlock: Memlock,
    pub nice: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub name: String,
    /// Supplementary groups, the realtime group included, without duplicates.
    pub groups: Vec<String>,
    pub password_hash: Option<String>,
    pub ssh_keys: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Conflicts {
    Disable,
    Keep,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cpu {
    pub governor: String,
    pub conflicts: Conflicts,
}

#[derive(Debug, Clone, Serialize)]
pub struct IrqPriority {
    #[serde(rename = "match")]
    pub pattern: String,
    pub prio: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Irq {
    pub balance: bool,
    pub ban: Vec<u32>,
    /// Canonical cpu list, if any.
    pub banned_cpus: Option<String>,
    pub priority: Vec<IrqPriority>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioServer {
    Pipewire,
    Jack,
}

#[derive(Debug, Clone, Serialize)]
pub struct Audio {
    pub server: AudioServer,
    pub packages: Vec<String>,
    /// PipeWire's graph: `default.clock.rate`, `.allowed-rates`, `.quantum`,
    /// `.min-quantum`, `.max-quantum` (frames, powers of two).
    pub rate: u32,
    pub allowed_rates: Vec<u32>,
    pub quantum: u32,
    pub min_quantum: u32,
    pub max_quantum: u32,
    /// PipeWire's module-rt: the data thread's SCHED_FIFO priority
    /// (`rt.prio`) and the server's nice level (`nice.level`).
    pub rt_priority: u32,
    pub nice: i32,
    /// Let snd_hda_intel power the codec and controller down when idle
    /// (`power_save`, `power_save_controller`); off: no clicks as it wakes.
    pub hda_power_save: bool,
    /// Let USB audio devices autosuspend; off: `power/control` stays `on`.
    pub usb_autosuspend: bool,
    /// JACK's ALSA device (`jackd -d alsa -d DEVICE`) and its number of
    /// periods (`-n`); the period is `quantum` frames.
    pub device: String,
    pub periods: u32,
    /// WirePlumber's settings for matching ALSA nodes (`[[audio.alsa]]`).
    pub alsa: Vec<AlsaNode>,
}

/// ALSA settings WirePlumber gives the nodes whose name matches.
#[derive(Debug, Clone, Serialize)]
pub struct AlsaNode {
    /// The node name with `*` for any text, as `pw-cli ls Node` and
    /// `wpctl inspect` show it (`alsa_output.usb-*`).
    pub node: String,
    /// The same, as WirePlumber's regular expression (`~^...$`).
    pub node_regex: String,
    pub period_size: Option<u32>,
    pub headroom: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Packages {
    pub install: Vec<String>,
    pub remove: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SelinuxModule {
    pub name: String,
    /// As written in the profile, relative to the profile's folder.
    pub file: String,
    pub fc: Option<String>,
    /// The module's source text, read at load time.
    #[serde(skip)]
    pub te_text: String,
    #[serde(skip)]
    pub fc_text: Option<String>,
    /// Where `file` is in the profile, for the compiler's errors.
    #[serde(skip)]
    pub file_span: Span,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Selinux {
    pub module: Vec<SelinuxModule>,
}

/// A loaded profile: its text (for error positions), the typed profile when it
/// has no errors, and every problem found.
pub struct Loaded {
    pub source_name: String,
    pub text: String,
    pub profile: Option<Profile>,
    pub report: Report,
}

impl Loaded {
    pub fn source(&self) -> crate::report::Source<'_> {
        crate::report::Source {
            name: &self.source_name,
            text: &self.text,
        }
    }
}

/// Where a profile comes from.
pub enum ProfileSource<'a> {
    Embedded,
    /// A file, or standard input when the path is `-`.
    File(&'a Path),
}

/// The largest profile read (1 MiB). Real profiles are a few KiB; the limit keeps a
/// mistaken or hostile input (a disk image, `/dev/zero`, megabytes of nested
/// tables) from reaching the TOML parser at all. Checked while reading, so a
/// pipe or a device is never read past it.
pub const MAX_PROFILE_BYTES: u64 = 1 << 20;

/// A TOML file's text: at most `limit` bytes read from `r` (more is an error
/// naming `what` and `name`, with `fix`), and UTF-8 (else an error with the
/// first bad byte's line:column).
pub(crate) fn read_text(
    r: impl std::io::Read,
    what: &str,
    name: &str,
    limit: u64,
    fix: &str,
) -> anyhow::Result<String> {
    use anyhow::Context as _;
    use std::io::Read as _;
    let mut bytes = Vec::new();
    r.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {what} {name}"))?;
    if bytes.len() as u64 > limit {
        anyhow::bail!(
            "{what} {name} is larger than {} MiB ({limit} bytes), the limit for a {what}: it was not read further nor parsed; {fix}",
            limit >> 20
        );
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line_start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        anyhow::anyhow!(
            "{what} {name} is not UTF-8: invalid byte at {name}:{}:{} (offset {}): TOML files must be UTF-8; convert it, e.g. iconv -f latin1 -t utf-8",
            good.iter().filter(|b| **b == b'\n').count() + 1,
            String::from_utf8_lossy(&good[line_start..]).chars().count() + 1,
            good.len()
        )
    })
}

/// Load and validate a profile. I/O failures are errors; everything wrong with
/// the profile's content is in the report, all at once.
pub fn load(src: ProfileSource) -> anyhow::Result<Loaded> {
    use anyhow::Context as _;
    let (name, text, dir): (String, String, Option<PathBuf>) = match src {
        ProfileSource::Embedded => (DEFAULT_PROFILE_NAME.into(), DEFAULT_PROFILE.into(), None),
        ProfileSource::File(p) => {
            let stdin = p.as_os_str() == "-";
            let name = if stdin {
                "<stdin>".to_string()
            } else {
                p.display().to_string()
            };
            let fix = "a profile is a short TOML file (is this the right file?)";
            let text = if stdin {
                read_text(
                    std::io::stdin().lock(),
                    "profile",
                    &name,
                    MAX_PROFILE_BYTES,
                    fix,
                )?
            } else {
                let f =
                    std::fs::File::open(p).with_context(|| format!("reading profile {name}"))?;
                read_text(f, "profile", &name, MAX_PROFILE_BYTES, fix)?
            };
            // Files a profile names are relative to its folder, the real
            // file's through a symlink; for standard input, to the current
            // folder.
            let real = if stdin { None } else { p.canonicalize().ok() };
            let dir = match real.as_deref().unwrap_or(p).parent() {
                _ if stdin => Path::new("."),
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            (name, text, Some(dir.to_path_buf()))
        }
    };
    Ok(parse_text(name, text, dir.as_deref()))
}

/// Parse and validate profile text. `dir` is the profile's folder, for the files
/// it names; `None` (the embedded default) allows no such files.
pub fn parse_text(source_name: String, text: String, dir: Option<&Path>) -> Loaded {
    let mut report = Report::default();
    let profile = parse::parse(&text, dir, &mut report);
    let profile = if report.has_errors() { None } else { profile };
    Loaded {
        source_name,
        text,
        profile,
        report,
    }
}

/// Byte span of a key or value in the profile text.
pub type Span = Range<usize>;
