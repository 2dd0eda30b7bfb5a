//! Renderers: pure functions from a validated profile to artifact files. Nothing
//! here touches the file system; `output.rs` writes what these return.
//!
//! One source of truth: [`Plan`] derives every fact the delivery paths share (the
//! kernel argument list, the rootfs drop-ins and their bytes, packages, units)
//! once; each path's template only arranges those facts in its own format.

mod blueprint;
mod bootc;
mod kickstart;
mod plan;
mod rootfs;
mod rpm;
mod templates;

use serde::Serialize;

pub use plan::{Plan, RootfsFile};

use crate::profile::Profile;

/// One file of the artifact tree, relative to its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub path: String,
    pub mode: u32,
    pub content: Vec<u8>,
}

impl Artifact {
    fn text(path: impl Into<String>, content: String) -> Self {
        Artifact {
            path: path.into(),
            mode: 0o644,
            content: content.into_bytes(),
        }
    }
}

/// A failure of our own templates: a bug, never a user error.
#[derive(Debug, thiserror::Error)]
#[error(
    "internal error rendering {artifact}: {detail} (this is a bug in rtaudio-tuning; please report it with your profile)"
)]
pub struct RenderBug {
    pub artifact: String,
    pub detail: String,
}

/// Everything `render` writes, sorted by path (MANIFEST.sha256 comes from the
/// output writer).
pub fn render_all(profile: &Profile) -> Result<Vec<Artifact>, RenderBug> {
    let tera = templates::engine();
    let plan = Plan::new(profile, &tera)?;
    let mut out = Vec::new();
    for f in &plan.rootfs {
        out.push(Artifact {
            path: format!("rootfs{}", f.path),
            mode: f.mode,
            content: f.content.clone().into_bytes(),
        });
    }
    out.extend(kickstart::render(&plan, &tera)?);
    out.extend(rpm::render(&plan, &tera)?);
    out.extend(blueprint::render(&plan, &tera)?);
    out.extend(bootc::render(&plan, &tera)?);
    for m in &profile.selinux.module {
        out.push(Artifact::text(
            format!("selinux/{}.te", m.name),
            m.te_text.clone(),
        ));
        if let Some(fc) = &m.fc_text {
            out.push(Artifact::text(format!("selinux/{}.fc", m.name), fc.clone()));
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    if let Some(w) = out.windows(2).find(|w| w[0].path == w[1].path) {
        return Err(RenderBug {
            artifact: w[0].path.clone(),
            detail: "two artifacts with the same path".into(),
        });
    }
    Ok(out)
}

/// The context every template sees: the plan, under `p`.
#[derive(Serialize)]
struct Ctx<'a> {
    p: &'a Plan<'a>,
}

fn render_template(tera: &tera::Tera, name: &str, plan: &Plan) -> Result<String, RenderBug> {
    let ctx = tera::Context::from_serialize(Ctx { p: plan }).map_err(|e| RenderBug {
        artifact: name.into(),
        detail: e.to_string(),
    })?;
    tera.render(name, &ctx).map_err(|e| {
        let mut detail = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            src = s.source();
        }
        RenderBug {
            artifact: name.into(),
            detail,
        }
    })
}
