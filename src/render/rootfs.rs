//! The drop-ins, exactly as installed on the target. Rendered once; every
//! delivery path carries these bytes.

use super::facts::{PACKAGE_KEY_PATH, Plan, RootfsFile, TOOL};
use super::{RenderBug, render_template};
use crate::profile::AudioServer;

/// Our IRQ-thread priority unit (rtirq's job).
pub const IRQ_PRIORITY_UNIT: &str = "rtaudio-irq-priority";

/// Where the compiled SELinux modules (CIL) are installed, as Fedora packages
/// keep theirs under /usr/share/selinux/packages; and their place for
/// blueprints, which cannot write /usr.
pub const SELINUX_DIR: &str = "/usr/share/selinux/packages/rtaudio-tuning";
pub const SELINUX_ETC_DIR: &str = "/etc/rtaudio-tuning/selinux";

/// A rootfs file to render from a template.
struct Spec {
    template: &'static str,
    path: String,
    source: &'static str,
    config: bool,
    etc_path: Option<String>,
}

impl Spec {
    /// The admin's file under /etc: `%config(noreplace)`, at the same path in
    /// every delivery path.
    fn config(template: &'static str, source: &'static str, path: String) -> Self {
        Spec {
            template,
            etc_path: Some(path.clone()),
            path,
            source,
            config: true,
        }
    }

    /// The vendor's file at `/usr/lib/REST`; `/etc/REST` has the same meaning
    /// for the paths that cannot write /usr.
    fn vendor(template: &'static str, source: &'static str, rest: &str) -> Self {
        Spec {
            path: format!("/usr/lib/{rest}"),
            ..Self::shared(template, source, rest)
        }
    }

    /// The vendor's file at `/usr/share/REST` (PipeWire's and WirePlumber's
    /// data folder); `/etc/REST` has the same meaning for the paths that
    /// cannot write /usr.
    fn shared(template: &'static str, source: &'static str, rest: &str) -> Self {
        Spec {
            template,
            path: format!("/usr/share/{rest}"),
            source,
            config: false,
            etc_path: Some(format!("/etc/{rest}")),
        }
    }

    fn render(self, plan: &Plan, tera: &tera::Tera) -> Result<RootfsFile, RenderBug> {
        let content = render_template(tera, self.template, plan)?;
        let dir = self
            .path
            .rsplit_once('/')
            .map_or("/", |(d, _)| d)
            .to_string();
        Ok(RootfsFile {
            path: self.path,
            source: self.source.to_string(),
            mode: 0o644,
            mode_octal: "0644".into(),
            config: self.config,
            etc_path: self.etc_path,
            dir,
            content,
        })
    }
}

/// The files, in the order every delivery path carries them.
pub fn files(plan: &Plan, tera: &tera::Tera) -> Result<Vec<RootfsFile>, RenderBug> {
    let mut files = specs(plan)
        .into_iter()
        .map(|s| s.render(plan, tera))
        .collect::<Result<Vec<_>, _>>()?;
    files.extend(selinux_modules(plan)?);
    if let Some(key) = &plan.profile.rpm.gpg_key_text {
        // The public key dnf checks the package and its repository with.
        files.push(RootfsFile {
            path: PACKAGE_KEY_PATH.into(),
            source: "RPM-GPG-KEY-rtaudio-tuning".into(),
            mode: 0o644,
            mode_octal: "0644".into(),
            config: false,
            etc_path: Some(PACKAGE_KEY_PATH.into()),
            dir: "/etc/pki/rpm-gpg".into(),
            content: key.clone(),
        });
    }
    Ok(files)
}

fn specs(plan: &Plan) -> Vec<Spec> {
    let p = plan.profile;
    let dropin = |unit: &str| format!("systemd/system/{unit}.d/{TOOL}.conf");
    let mut specs = vec![
        // limits.d exists only under /etc; pam_limits reads it in C-locale order.
        Spec::config(
            "rootfs/limits.conf",
            "limits.conf",
            format!("/etc/security/limits.d/{TOOL}.conf"),
        ),
        Spec::vendor(
            "rootfs/sysusers.conf",
            "sysusers.conf",
            &format!("sysusers.d/{TOOL}.conf"),
        ),
    ];
    if p.irq.balance {
        specs.push(Spec::config(
            "rootfs/irqbalance.env",
            "irqbalance.env",
            format!("/etc/{TOOL}/irqbalance.env"),
        ));
        specs.push(Spec::vendor(
            "rootfs/irqbalance-dropin.conf",
            "irqbalance-dropin.conf",
            &dropin("irqbalance.service"),
        ));
    }
    specs.push(Spec::config(
        "rootfs/cpupower.env",
        "cpupower.env",
        format!("/etc/{TOOL}/cpupower.env"),
    ));
    specs.push(Spec::vendor(
        "rootfs/cpupower-dropin.conf",
        "cpupower-dropin.conf",
        &dropin("cpupower.service"),
    ));
    if !p.sysctl.is_empty() {
        specs.push(Spec::vendor(
            "rootfs/sysctl.conf",
            "sysctl.conf",
            &format!("sysctl.d/90-{TOOL}.conf"),
        ));
    }
    if p.audio.server == AudioServer::Pipewire {
        // Unique names: PipeWire 1.2 to 1.4 skip a drop-in whose name a
        // /usr/share one already has (src/pipewire/conf.c).
        specs.push(Spec::shared(
            "rootfs/pipewire.conf",
            "pipewire.conf",
            &format!("pipewire/pipewire.conf.d/60-{TOOL}.conf"),
        ));
        specs.push(Spec::shared(
            "rootfs/wireplumber.conf",
            "wireplumber.conf",
            &format!("wireplumber/wireplumber.conf.d/60-{TOOL}.conf"),
        ));
    }
    if p.audio.server == AudioServer::Jack {
        // The command line libjack starts jackd with when a client finds no
        // server (jack2 posix/JackPosixServerLaunch.cpp: ~/.jackdrc, then
        // /etc/jackdrc, read word by word with fscanf, so no comment fits in
        // it: a musician's own ~/.jackdrc, as QjackCtl writes it, wins).
        specs.push(Spec::config(
            "rootfs/jackdrc",
            "jackdrc",
            "/etc/jackdrc".into(),
        ));
    }
    if !p.audio.hda_power_save {
        specs.push(Spec::vendor(
            "rootfs/modprobe.conf",
            "modprobe.conf",
            &format!("modprobe.d/{TOOL}.conf"),
        ));
    }
    specs.push(Spec::vendor(
        "rootfs/udev.rules",
        "udev.rules",
        &format!("udev/rules.d/70-{TOOL}.rules"),
    ));
    if !p.irq.priority.is_empty() {
        // Under /etc, run by /bin/sh: the priority table is the admin's to
        // adjust, and osbuild blueprints cannot write /usr.
        specs.push(Spec::config(
            "rootfs/irq-priority.sh",
            "irq-priority.sh",
            format!("/etc/{TOOL}/irq-priority.sh"),
        ));
        specs.push(Spec::vendor(
            "rootfs/irq-priority.service",
            "rtaudio-irq-priority.service",
            &format!("systemd/system/{IRQ_PRIORITY_UNIT}.service"),
        ));
        specs.push(Spec::vendor(
            "rootfs/irq-priority@.service",
            "rtaudio-irq-priority@.service",
            &format!("systemd/system/{IRQ_PRIORITY_UNIT}@.service"),
        ));
    }
    if let Some(repo) = plan.kernel_repo.as_ref().filter(|_| !plan.distro_rt) {
        // Keeps kernel-rt updating after the install, with its signing key;
        // the distribution's own RT repository is enabled, not copied.
        specs.push(Spec::config(
            "rootfs/kernel-rt.repo",
            "kernel-rt.repo",
            format!("/etc/yum.repos.d/{}.repo", repo.id),
        ));
    }
    if plan.package_repo.is_some() {
        // The package's own repository, for the updates after the install
        // (a kickstart's `repo --install` would write no signing key:
        // pyanaconda writes name, baseurl and enabled only).
        specs.push(Spec::config(
            "rootfs/package.repo",
            "package.repo",
            format!("/etc/yum.repos.d/{TOOL}.repo"),
        ));
    }
    specs.push(Spec {
        // Read by bootc only; inert on package-mode systems, and what makes the
        // RPM's kernel arguments work when it is installed into a bootc image.
        etc_path: None,
        ..Spec::vendor(
            "rootfs/kargs.toml",
            "kargs.toml",
            &format!("bootc/kargs.d/50-{TOOL}.toml"),
        )
    });
    specs
}

/// The profile's compiled SELinux modules (CIL).
fn selinux_modules(plan: &Plan) -> Result<Vec<RootfsFile>, RenderBug> {
    let mut modules = Vec::new();
    for m in &plan.profile.selinux.module {
        let Some(cil) = plan.compiled.cil(&m.name) else {
            return Err(RenderBug {
                artifact: format!("selinux/{}.cil", m.name),
                detail: "the module was not compiled before rendering".into(),
            });
        };
        modules.push(RootfsFile {
            path: format!("{SELINUX_DIR}/{}.cil", m.name),
            source: format!("selinux-{}.cil", m.name),
            mode: 0o644,
            mode_octal: "0644".into(),
            config: false,
            etc_path: Some(format!("{SELINUX_ETC_DIR}/{}.cil", m.name)),
            dir: SELINUX_DIR.into(),
            content: cil.to_string(),
        });
    }
    Ok(modules)
}

/// The directories holding the files, sorted, each once.
pub fn dirs(files: &[RootfsFile]) -> Vec<&str> {
    let mut dirs: Vec<&str> = files.iter().map(|f| f.dir.as_str()).collect();
    dirs.sort_unstable();
    dirs.dedup();
    dirs
}
