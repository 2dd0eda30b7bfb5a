//! `blueprint/NAME.toml`: an osbuild / image-builder blueprint.

use serde::Serialize;

use super::{Artifact, Plan, RenderBug, TOOL, render_view, rootfs};
use crate::profile::Distro;

/// The blueprint's first-boot unit that installs the SELinux modules.
const SELINUX_UNIT: &str = "rtaudio-selinux-modules";

/// What only the blueprint needs, under `bp` in its templates.
#[derive(Debug, Serialize)]
struct View {
    /// osbuild distro name, when it is known from the profile alone.
    distro: Option<String>,
    /// Directories the blueprint creates for its files: ours, under /etc.
    dirs: Vec<String>,
    /// Units the blueprint enables: every path's and, with SELinux modules,
    /// the first-boot unit that installs them.
    enable: Vec<String>,
    /// The modules' copies under /etc (blueprints cannot write /usr), and the
    /// first-boot unit that installs them, with its name.
    selinux_etc_files: Vec<String>,
    selinux_unit: Option<String>,
    selinux_unit_name: &'static str,
}

impl View {
    fn new(plan: &Plan, tera: &tera::Tera) -> Result<Self, RenderBug> {
        let release = plan.profile.target.release;
        let distro = match plan.profile.target.distro {
            Distro::Fedora => Some(format!("fedora-{release}")),
            Distro::CentosStream => Some(format!("centos-{release}")),
            Distro::Almalinux | Distro::Rhel => None,
        };
        let mut dirs: Vec<String> = plan
            .rootfs
            .iter()
            .filter_map(|f| {
                f.etc_path
                    .as_deref()?
                    .rsplit_once('/')
                    .map(|(d, _)| d.to_string())
            })
            // Folders no package of the image has: ours, unit drop-in
            // folders, PipeWire's and WirePlumber's /etc drop-in folders.
            .filter(|d| d.contains(TOOL) || d.ends_with(".service.d") || d.ends_with(".conf.d"))
            .collect();
        dirs.sort();
        dirs.dedup();
        let mut view = View {
            distro,
            dirs,
            enable: plan.enable_all.clone(),
            selinux_etc_files: plan
                .rootfs
                .iter()
                .filter(|f| f.path.starts_with(rootfs::SELINUX_DIR))
                .filter_map(|f| f.etc_path.clone())
                .collect(),
            selinux_unit: None,
            selinux_unit_name: SELINUX_UNIT,
        };
        if !plan.selinux_files.is_empty() {
            let unit = "blueprint/selinux-modules.service";
            view.selinux_unit = Some(render_view(tera, unit, plan, "bp", &view)?);
            view.enable.push(format!("{SELINUX_UNIT}.service"));
        }
        Ok(view)
    }
}

pub fn render(plan: &Plan, tera: &tera::Tera) -> Result<Vec<Artifact>, RenderBug> {
    let view = View::new(plan, tera)?;
    Ok(vec![Artifact::text(
        format!("blueprint/{}.toml", plan.profile.name),
        render_view(tera, "blueprint/blueprint.toml", plan, "bp", &view)?,
    )])
}
