//! `bootc/`: a self-contained build context, the Containerfile, a copy of the
//! rootfs (kargs.d and the kernel-rt repository included) and the
//! bootc-image-builder config with the profile's users.

use serde::Serialize;

use super::{Artifact, Plan, RenderBug, render_template, render_view};
use crate::profile::Distro;

/// What only the bootc image needs, under `bootc` in its templates.
#[derive(Debug, Serialize)]
struct View {
    /// The image the Containerfile starts from.
    base: String,
}

impl View {
    fn new(plan: &Plan) -> Self {
        let release = plan.profile.target.release;
        let base = match plan.profile.target.distro {
            Distro::Fedora => format!("quay.io/fedora/fedora-bootc:{release}"),
            Distro::CentosStream => format!("quay.io/centos-bootc/centos-bootc:stream{release}"),
            Distro::Almalinux => format!("quay.io/almalinuxorg/almalinux-bootc:{release}"),
            Distro::Rhel => format!("registry.redhat.io/rhel{release}/rhel-bootc:latest"),
        };
        View { base }
    }
}

pub fn render(plan: &Plan, tera: &tera::Tera) -> Result<Vec<Artifact>, RenderBug> {
    let view = View::new(plan);
    let mut out = vec![Artifact::text(
        "bootc/Containerfile",
        render_view(tera, "bootc/Containerfile", plan, "bootc", &view)?,
    )];
    for f in &plan.rootfs {
        out.push(Artifact {
            path: format!("bootc/rootfs{}", f.path),
            mode: f.mode,
            content: f.content.clone().into_bytes().into(),
        });
    }
    if !plan.profile.users.is_empty() {
        out.push(Artifact::text(
            "bootc/config.toml",
            render_template(tera, "bootc/config.toml", plan)?,
        ));
    }
    Ok(out)
}
