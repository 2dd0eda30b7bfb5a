//! `kickstart/NAME.ks` (installation: PXE, fleet, netinstall) and
//! `kickstart/NAME-live.ks` (livemedia-creator spin).

use super::{Artifact, Plan, RenderBug, render_template};

pub fn render(plan: &Plan, tera: &tera::Tera) -> Result<Vec<Artifact>, RenderBug> {
    let name = &plan.profile.name;
    Ok(vec![
        Artifact::text(
            format!("kickstart/{name}.ks"),
            render_template(tera, "kickstart/install.ks", plan)?,
        ),
        Artifact::text(
            format!("kickstart/{name}-live.ks"),
            render_template(tera, "kickstart/live.ks", plan)?,
        ),
    ])
}
