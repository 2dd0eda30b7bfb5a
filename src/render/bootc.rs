//! `bootc/`: a self-contained build context, the Containerfile, a copy of the
//! rootfs (kargs.d and the kernel-rt repository included) and the
//! bootc-image-builder config with the profile's users.

use super::{Artifact, Plan, RenderBug, render_template};

pub fn render(plan: &Plan, tera: &tera::Tera) -> Result<Vec<Artifact>, RenderBug> {
    let mut out = vec![Artifact::text(
        "bootc/Containerfile",
        render_template(tera, "bootc/Containerfile", plan)?,
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
