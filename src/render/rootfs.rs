//! The drop-ins, exactly as installed on the target. Rendered once; every
//! delivery path carries these bytes.

use super::facts::{Plan, RootfsFile, TOOL};
use super::{RenderBug, render_template};

/// Our IRQ-thread priority unit (rtirq's job).
pub const IRQ_PRIORITY_UNIT: &str = "rtaudio-irq-priority";

/// Where the compiled SELinux modules (CIL) are installed, as Fedora packages
/// keep theirs under /usr/share/selinux/packages; and their place for
/// blueprints, which cannot write /usr.
pub const SELINUX_DIR: &str = "/usr/share/selinux/packages/rtaudio-tuning";
pub const SELINUX_ETC_DIR: &str = "/etc/rtaudio-tuning/selinux";

struct Spec {
    template: &'static str,
    path: String,
    source: &'static str,
    mode: u32,
    config: bool,
    etc_path: Option<String>,
}

pub fn files(plan: &Plan, tera: &tera::Tera) -> Result<Vec<RootfsFile>, RenderBug> {
    let p = plan.profile;
    let unit_dropin = |unit: &str| -> (String, Option<String>) {
        (
            format!("/usr/lib/systemd/system/{unit}.d/{TOOL}.conf"),
            Some(format!("/etc/systemd/system/{unit}.d/{TOOL}.conf")),
        )
    };
    let mut specs = vec![Spec {
        // limits.d exists only under /etc; pam_limits reads it in C-locale order.
        template: "rootfs/limits.conf",
        path: format!("/etc/security/limits.d/{TOOL}.conf"),
        source: "limits.conf",
        mode: 0o644,
        config: true,
        etc_path: Some(format!("/etc/security/limits.d/{TOOL}.conf")),
    }];
    specs.push(Spec {
        template: "rootfs/sysusers.conf",
        path: format!("/usr/lib/sysusers.d/{TOOL}.conf"),
        source: "sysusers.conf",
        mode: 0o644,
        config: false,
        etc_path: Some(format!("/etc/sysusers.d/{TOOL}.conf")),
    });
    if p.irq.balance {
        specs.push(Spec {
            template: "rootfs/irqbalance.env",
            path: format!("/etc/{TOOL}/irqbalance.env"),
            source: "irqbalance.env",
            mode: 0o644,
            config: true,
            etc_path: Some(format!("/etc/{TOOL}/irqbalance.env")),
        });
        let (path, etc_path) = unit_dropin("irqbalance.service");
        specs.push(Spec {
            template: "rootfs/irqbalance-dropin.conf",
            path,
            source: "irqbalance-dropin.conf",
            mode: 0o644,
            config: false,
            etc_path,
        });
    }
    specs.push(Spec {
        template: "rootfs/cpupower.env",
        path: format!("/etc/{TOOL}/cpupower.env"),
        source: "cpupower.env",
        mode: 0o644,
        config: true,
        etc_path: Some(format!("/etc/{TOOL}/cpupower.env")),
    });
    let (path, etc_path) = unit_dropin("cpupower.service");
    specs.push(Spec {
        template: "rootfs/cpupower-dropin.conf",
        path,
        source: "cpupower-dropin.conf",
        mode: 0o644,
        config: false,
        etc_path,
    });
    if !p.sysctl.is_empty() {
        specs.push(Spec {
            template: "rootfs/sysctl.conf",
            path: format!("/usr/lib/sysctl.d/90-{TOOL}.conf"),
            source: "sysctl.conf",
            mode: 0o644,
            config: false,
            etc_path: Some(format!("/etc/sysctl.d/90-{TOOL}.conf")),
        });
    }
    specs.push(Spec {
        template: "rootfs/udev.rules",
        path: format!("/usr/lib/udev/rules.d/70-{TOOL}.rules"),
        source: "udev.rules",
        mode: 0o644,
        config: false,
        etc_path: Some(format!("/etc/udev/rules.d/70-{TOOL}.rules")),
    });
    if !p.irq.priority.is_empty() {
        specs.push(Spec {
            // Under /etc, run by /bin/sh: the priority table is the admin's to
            // adjust, and osbuild blueprints cannot write /usr.
            template: "rootfs/irq-priority.sh",
            path: format!("/etc/{TOOL}/irq-priority.sh"),
            source: "irq-priority.sh",
            mode: 0o644,
            config: true,
            etc_path: Some(format!("/etc/{TOOL}/irq-priority.sh")),
        });
        specs.push(Spec {
            template: "rootfs/irq-priority.service",
            path: format!("/usr/lib/systemd/system/{IRQ_PRIORITY_UNIT}.service"),
            source: "rtaudio-irq-priority.service",
            mode: 0o644,
            config: false,
            etc_path: Some(format!("/etc/systemd/system/{IRQ_PRIORITY_UNIT}.service")),
        });
    }
    if let Some(repo) = &plan.kernel_repo {
        specs.push(Spec {
            // Keeps kernel-rt updating after the install, with its signing key.
            template: "rootfs/kernel-rt.repo",
            path: format!("/etc/yum.repos.d/{}.repo", repo.id),
            source: "kernel-rt.repo",
            mode: 0o644,
            config: true,
            etc_path: Some(format!("/etc/yum.repos.d/{}.repo", repo.id)),
        });
    }
    let mut modules = Vec::new();
    for m in &p.selinux.module {
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
    specs.push(Spec {
        // Read by bootc only; inert on package-mode systems, and what makes the
        // RPM's kernel arguments work when it is installed into a bootc image.
        template: "rootfs/kargs.toml",
        path: format!("/usr/lib/bootc/kargs.d/50-{TOOL}.toml"),
        source: "kargs.toml",
        mode: 0o644,
        config: false,
        etc_path: None,
    });

    let rendered: Result<Vec<RootfsFile>, RenderBug> = specs
        .into_iter()
        .map(|s| {
            let content = render_template(tera, s.template, plan)?;
            let dir = s.path.rsplit_once('/').map_or("/", |(d, _)| d).to_string();
            Ok(RootfsFile {
                path: s.path,
                source: s.source.to_string(),
                mode: s.mode,
                mode_octal: format!("{:04o}", s.mode),
                config: s.config,
                etc_path: s.etc_path,
                dir,
                content,
            })
        })
        .collect();
    let mut files = rendered?;
    files.extend(modules);
    Ok(files)
}

/// The directories holding the files, sorted, each once.
pub fn dirs(files: &[RootfsFile]) -> Vec<&str> {
    let mut dirs: Vec<&str> = files.iter().map(|f| f.dir.as_str()).collect();
    dirs.sort_unstable();
    dirs.dedup();
    dirs
}
