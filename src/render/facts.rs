//! The facts every delivery path shares, derived once from the profile.

use serde::Serialize;

use super::{RenderBug, rootfs};
use crate::profile::{AudioServer, Conflicts, Distro, Flavor, Profile};
use crate::selinux::Compiled;

/// The package's and the files' name on the target.
pub const TOOL: &str = "rtaudio-tuning";

const HEREDOC: &str = "RTAUDIO_TUNING_EOF";

/// Our own repository id for the profile's kernel-rt repository: the EL
/// distributions' `rt` id is taken by their (disabled) .repo files.
const REPO_ID: &str = "rtaudio-tuning-kernel-rt";
/// Where the package's signing key is installed, as distributions keep theirs.
pub const PACKAGE_KEY_PATH: &str = "/etc/pki/rpm-gpg/RPM-GPG-KEY-rtaudio-tuning";

/// The id of the EL distributions' own RT repository, defined (disabled) by
/// their release packages: `[rt]` in CentOS Stream's centos-addons.repo
/// (centos-repos) and in AlmaLinux's almalinux-rt.repo (almalinux-repos).
pub const DISTRO_RT_ID: &str = "rt";

/// A file installed on the target, rendered once and carried by every path.
#[derive(Debug, Clone, Serialize)]
pub struct RootfsFile {
    /// Absolute path on the target.
    pub path: String,
    /// Unique flat name among the RPM's SOURCES.
    pub source: String,
    pub mode: u32,
    /// `0644`, as install(1), kickstart and blueprints write modes.
    pub mode_octal: String,
    /// A file an admin may edit: `%config(noreplace)` in the RPM.
    pub config: bool,
    /// Where a delivery path that cannot write `/usr` (osbuild blueprints) puts
    /// the same bytes: the admin directory systemd reads with the same meaning.
    /// `None`: the file has no such place and that path does without it.
    pub etc_path: Option<String>,
    /// Directory that holds the file, for `install -d` and `%dir`.
    pub dir: String,
    pub content: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Repo {
    pub id: String,
    pub name: String,
    pub url: String,
    /// `url` is a mirror list rather than a base URL.
    pub mirrorlist: bool,
    pub gpgkey: Option<String>,
    /// `url` with dnf's $releasever, $basearch and $arch filled in, for tools
    /// that do not expand them (image-builder's --extra-repo).
    pub url_expanded: String,
}

impl Repo {
    /// A repository by its base URL, with no signing key.
    pub fn new(id: &str, name: String, url: String) -> Self {
        Repo {
            id: id.into(),
            name,
            url,
            mirrorlist: false,
            gpgkey: None,
            url_expanded: String::new(),
        }
    }
}

/// The base URL of one of the distribution's own repositories (`BaseOS`,
/// `AppStream`, `RT`), for the EL distributions whose mirror is known.
pub fn distro_repo(p: &Profile, dir: &str) -> Option<String> {
    let release = p.target.release;
    let mirror = match p.target.distro {
        Distro::CentosStream => format!("https://mirror.stream.centos.org/{release}-stream"),
        Distro::Almalinux => format!("https://repo.almalinux.org/almalinux/{release}"),
        Distro::Fedora | Distro::Rhel => return None,
    };
    Some(format!("{mirror}/{dir}/{}/os/", p.target.arch.as_str()))
}

/// What every delivery path shares: the profile, the kernel argument list,
/// packages, units, repositories and the rootfs files with their bytes. Each
/// artifact's module derives its own view from these.
#[derive(Debug, Serialize)]
pub struct Plan<'a> {
    pub profile: &'a Profile,
    /// The profile's SELinux modules, compiled.
    #[serde(skip)]
    pub compiled: &'a Compiled,
    pub tool: &'static str,
    pub tool_version: &'static str,
    /// Human name of the target, e.g. "Fedora 44" or "CentOS Stream 10".
    pub target_label: String,
    pub arch: &'static str,
    pub kernel_rt: bool,
    /// realtime.memlock as limits.conf writes it.
    pub memlock: String,
    /// The kernel argument list: identical in every delivery path.
    pub kargs: Vec<String>,
    pub kargs_line: String,
    /// Where kernel-rt comes from, when the flavor is rt and one is known:
    /// the profile's `kernel.repo`, or the distribution's own RT repository.
    pub kernel_repo: Option<Repo>,
    /// `kernel_repo` is the distribution's own (id `rt`): the target already
    /// defines it, disabled, with its signing key, so the artifacts enable it
    /// (`dnf config-manager --set-enabled rt`) rather than ship a second
    /// definition; only a profile's own repository gets a .repo file.
    pub distro_rt: bool,
    /// Where this package is served (`[rpm] repo_url`), id `rtaudio-tuning`,
    /// with its signing key when the profile names one: the kickstarts
    /// install the package from it and the package carries its definition.
    pub package_repo: Option<Repo>,
    pub package_key_path: &'static str,
    /// Packages every path installs (kernel-rt excluded: each path swaps the
    /// kernel its own way), then package groups.
    pub packages: Vec<String>,
    pub package_groups: Vec<String>,
    pub remove: Vec<String>,
    /// Units shipped by packages that get enabled, and our own units.
    pub enable_packaged: Vec<String>,
    pub enable_ours: Vec<String>,
    /// Units the udev rule starts for each device that appears, `%k` being
    /// the device's kernel name: an instance per device, as a start of a
    /// running oneshot would merge into that run.
    pub device_units: Vec<String>,
    /// Both, packaged ones first.
    pub enable_all: Vec<String>,
    pub mask: Vec<String>,
    /// Banned CPUs for irqbalance: the profile's list plus isolated CPUs.
    pub irq_banned_cpus: Option<String>,
    pub rootfs: Vec<RootfsFile>,
    /// Delimiter of the here-documents that carry the rootfs files in shell
    /// scripts (the kickstarts' %post, the fleet's image-mode snippets).
    pub heredoc: &'static str,
    /// Directories of the rootfs files that are ours, not another package's:
    /// the RPM owns them, the kickstart relabels them.
    pub own_dirs: Vec<String>,
    /// Installed paths of the compiled SELinux modules.
    pub selinux_files: Vec<String>,
}

impl<'a> Plan<'a> {
    /// The facts, in one pass: those the rootfs templates read first, then the
    /// rootfs files and what follows from them.
    pub fn new(
        p: &'a Profile,
        compiled: &'a Compiled,
        tera: &tera::Tera,
    ) -> Result<Self, RenderBug> {
        if !compiled.matches(p) {
            return Err(RenderBug {
                artifact: "selinux/".into(),
                detail: "the compiled SELinux modules are not this profile's".into(),
            });
        }
        let kargs = p.kernel.command_line();
        let target_label = target_label(p);
        let (packages, package_groups) = packages(p);
        let (enable_packaged, enable_ours) = enabled(p);
        let mut plan = Plan {
            compiled,
            profile: p,
            tool: TOOL,
            tool_version: env!("CARGO_PKG_VERSION"),
            kernel_repo: kernel_repo(p, &target_label),
            package_key_path: PACKAGE_KEY_PATH,
            package_repo: p.rpm.repo_url.as_ref().map(|url| Repo {
                gpgkey: p
                    .rpm
                    .gpg_key
                    .as_ref()
                    .map(|_| format!("file://{PACKAGE_KEY_PATH}")),
                ..Repo::new(TOOL, format!("{TOOL} for profile {}", p.name), url.clone())
            }),
            distro_rt: p.kernel.flavor == Flavor::Rt
                && p.kernel.repo.is_none()
                && distro_repo(p, "RT").is_some(),
            target_label,
            arch: p.target.arch.as_str(),
            kernel_rt: p.kernel.flavor == Flavor::Rt,
            memlock: p.realtime.memlock.limits_value(),
            kargs_line: kargs.join(" "),
            kargs,
            packages,
            package_groups,
            remove: removed(p),
            enable_all: enable_packaged
                .iter()
                .chain(&enable_ours)
                .cloned()
                .collect(),
            enable_packaged,
            enable_ours,
            device_units: device_units(p),
            mask: masked(p),
            irq_banned_cpus: irq_banned_cpus(p),
            rootfs: Vec::new(),
            heredoc: HEREDOC,
            own_dirs: Vec::new(),
            selinux_files: Vec::new(),
        };
        plan.rootfs = rootfs::files(&plan, tera)?;
        travels_in_heredocs(&plan.rootfs)?;
        plan.own_dirs = own_dirs(&plan.rootfs);
        plan.selinux_files = plan
            .rootfs
            .iter()
            .filter(|f| f.path.starts_with(rootfs::SELINUX_DIR))
            .map(|f| f.path.clone())
            .collect();
        Ok(plan)
    }
}

/// Human name of the target, e.g. "Fedora 44" or "CentOS Stream 10".
fn target_label(p: &Profile) -> String {
    let release = p.target.release;
    match p.target.distro {
        Distro::Fedora => format!("Fedora {release}"),
        Distro::CentosStream => format!("CentOS Stream {release}"),
        Distro::Almalinux => format!("AlmaLinux {release}"),
        Distro::Rhel => format!("Red Hat Enterprise Linux {release}"),
    }
}

/// The profile's kernel-rt repository, else the distribution's own.
fn kernel_repo(p: &Profile, target_label: &str) -> Option<Repo> {
    if p.kernel.flavor != Flavor::Rt {
        return None;
    }
    let release = p.target.release;
    let arch = p.target.arch.as_str();
    let repo = if let Some(url) = &p.kernel.repo {
        Repo {
            gpgkey: p.kernel.gpgkey.clone(),
            ..Repo::new(
                REPO_ID,
                format!("kernel-rt for profile {}", p.name),
                url.clone(),
            )
        }
    } else {
        // The EL distributions' own RT repositories (repo id `rt`), disabled by
        // default in their .repo files; the installer reads it from their
        // mirror, and the installed system enables the definition it has.
        Repo::new(
            DISTRO_RT_ID,
            format!("{target_label} RT"),
            distro_repo(p, "RT")?,
        )
    };
    Some(Repo {
        url_expanded: repo
            .url
            .replace("$releasever", &release.to_string())
            .replace("$basearch", arch)
            .replace("$arch", arch),
        ..repo
    })
}

/// Packages every path installs (kernel-rt excluded), then package groups;
/// each once, in the profile's order.
fn packages(p: &Profile) -> (Vec<String>, Vec<String>) {
    let mut packages: Vec<String> = Vec::new();
    let mut package_groups: Vec<String> = Vec::new();
    let mut want = |name: &str| {
        let list = if name.starts_with('@') {
            &mut package_groups
        } else {
            &mut packages
        };
        if !list.iter().any(|x| x == name) {
            list.push(name.to_string());
        }
    };
    if p.irq.balance {
        want("irqbalance");
    }
    // cpupower and cpupower.service ship in kernel-tools on Fedora and EL.
    want("kernel-tools");
    // The server our files configure; PipeWire's packages own the folders
    // above our drop-ins (/usr/share/pipewire, /usr/share/wireplumber).
    for x in crate::profile::parse::server_packages(p.audio.server) {
        want(x);
    }
    for x in p.audio.packages.iter().chain(&p.packages.install) {
        want(x);
    }
    (packages, package_groups)
}

/// Units shipped by packages that get enabled, and our own units.
fn enabled(p: &Profile) -> (Vec<String>, Vec<String>) {
    let mut packaged = Vec::new();
    if p.irq.balance {
        packaged.push("irqbalance.service".to_string());
    }
    packaged.push("cpupower.service".to_string());
    let mut ours = Vec::new();
    if !p.irq.priority.is_empty() {
        ours.push(format!("{}.service", rootfs::IRQ_PRIORITY_UNIT));
        ours.push(format!("{}@resume.service", rootfs::IRQ_PRIORITY_UNIT));
    }
    (packaged, ours)
}

/// Packages every path removes: the profile's, and for a JACK studio
/// PipeWire's JACK libraries, which jackd would load instead of jack2's.
fn removed(p: &Profile) -> Vec<String> {
    let mut remove = p.packages.remove.clone();
    let pipewire_jack = crate::profile::parse::PIPEWIRE_JACK;
    if p.audio.server == AudioServer::Jack && !remove.iter().any(|r| r == pipewire_jack) {
        remove.push(pipewire_jack.to_string());
    }
    remove
}

/// Units the udev rule starts for each device that appears.
fn device_units(p: &Profile) -> Vec<String> {
    if p.irq.priority.is_empty() {
        return Vec::new();
    }
    vec![format!("{}@%k.service", rootfs::IRQ_PRIORITY_UNIT)]
}

/// Masked rather than disabled: tuned-ppd and power-profiles-daemon are D-Bus
/// activated, so disabling them does not keep them from changing the
/// governor; and a mask works whether or not the unit is installed, where
/// `systemctl disable` fails on a missing one (irqbalance off, base images).
fn masked(p: &Profile) -> Vec<String> {
    let mut mask = Vec::new();
    if !p.irq.balance {
        mask.push("irqbalance.service".to_string());
    }
    if p.cpu.conflicts == Conflicts::Disable {
        mask.extend(
            [
                "tuned.service",
                "tuned-ppd.service",
                "power-profiles-daemon.service",
            ]
            .map(String::from),
        );
    }
    mask
}

/// The profile's banned CPUs plus the isolated ones, as one CPU list.
fn irq_banned_cpus(p: &Profile) -> Option<String> {
    let mut cpus = Vec::new();
    for list in [&p.irq.banned_cpus, &p.kernel.isolate_cpus]
        .into_iter()
        .flatten()
    {
        cpus.extend(crate::profile::grammar::cpu_list(list).unwrap_or_default());
    }
    cpus.sort_unstable();
    cpus.dedup();
    (!cpus.is_empty()).then(|| crate::profile::grammar::cpu_list_string(&cpus))
}

/// A file carried in a here-document or a kickstart section must not contain
/// the delimiter or a line that ends the section: pykickstart takes a line for
/// a section's `%end` or an `%include` after stripping leading white space
/// (`line.lstrip().startswith("%")`, pykickstart/parser.py _readSection),
/// Unicode's included.
fn travels_in_heredocs(rootfs: &[RootfsFile]) -> Result<(), RenderBug> {
    for f in rootfs {
        if f.content
            .lines()
            .any(|l| l == HEREDOC || l.trim_start().starts_with('%'))
            || !f.content.ends_with('\n')
        {
            return Err(RenderBug {
                artifact: f.path.clone(),
                detail: "content cannot travel in a here-document".into(),
            });
        }
    }
    Ok(())
}

/// The rootfs files' directories that are ours, not another package's.
fn own_dirs(rootfs: &[RootfsFile]) -> Vec<String> {
    let dirs = rootfs::dirs(rootfs);
    let mut own: Vec<String> = dirs
        .iter()
        .filter(|d| {
            d.contains(TOOL)
                || d.ends_with(".service.d")
                || d.ends_with(".conf.d")
                || d.starts_with("/usr/lib/bootc")
        })
        .map(|d| d.to_string())
        .collect();
    if dirs.iter().any(|d| d.starts_with("/usr/lib/bootc/")) {
        own.push("/usr/lib/bootc".into());
    }
    own.sort();
    own
}
