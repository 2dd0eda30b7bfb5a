//! `blueprint/NAME.toml`: an osbuild / image-builder blueprint.

use super::{Artifact, Plan, RenderBug, render_template};

pub fn render(plan: &Plan, tera: &tera::Tera) -> Result<Vec<Artifact>, RenderBug> {
    Ok(vec![Artifact::text(
        format!("blueprint/{}.toml", plan.profile.name),
        render_template(tera, "blueprint/blueprint.toml", plan)?,
    )])
}
