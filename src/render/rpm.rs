//! `rpm/rtaudio-tuning.spec` and its SOURCES: the rootfs files under flat names.

use super::{Artifact, Plan, RenderBug, render_template};

pub fn render(plan: &Plan, tera: &tera::Tera) -> Result<Vec<Artifact>, RenderBug> {
    let mut out = vec![Artifact::text(
        format!("rpm/{}.spec", plan.tool),
        render_template(tera, "rpm/rtaudio-tuning.spec", plan)?,
    )];
    for f in &plan.rootfs {
        out.push(Artifact {
            path: format!("rpm/{}", f.source),
            mode: f.mode,
            content: f.content.clone().into_bytes().into(),
        });
    }
    Ok(out)
}
