//! Renderers: pure functions from a validated profile to artifact files. Nothing
//! here touches the file system; `output.rs` writes what these return.
//!
//! One source of truth: [`Plan`] (`facts.rs`) derives every fact the delivery
//! paths share (the kernel argument list, the rootfs drop-ins and their bytes,
//! packages, units) once. Each artifact's module derives its own view, what only
//! it needs, and its templates read both: the facts under `p`, the view under
//! `ks`, `rpm`, `bp` or `bootc`.

mod blueprint;
mod bootc;
mod facts;
pub mod fleet;
mod kickstart;
mod rootfs;
mod rpm;
mod templates;

use serde::Serialize;

pub use crate::artifact::{Artifact, Content};
pub use facts::{Plan, RootfsFile, TOOL};
pub use kickstart::{DHCP_NETWORK, no_live_spin};

use crate::profile::Profile;
use crate::selinux::Compiled;

/// A failure of our own templates: a bug, never a user error.
#[derive(Debug, thiserror::Error)]
#[error(
    "internal error rendering {artifact}: {detail} (this is a bug in rtaudio-tuning; please report it with your profile)"
)]
pub struct RenderBug {
    pub artifact: String,
    pub detail: String,
}

/// The shared facts of a profile (kernel arguments, the rootfs files, ...),
/// for those who judge a machine against it.
pub fn plan<'a>(profile: &'a Profile, compiled: &'a Compiled) -> Result<Plan<'a>, RenderBug> {
    Plan::new(profile, compiled, templates::engine())
}

/// Everything `render` writes, sorted by path (MANIFEST.sha256 comes from the
/// output writer).
pub fn render_all(profile: &Profile, compiled: &Compiled) -> Result<Vec<Artifact>, RenderBug> {
    artifacts(&plan(profile, compiled)?)
}

/// [`render_all`] from a plan already made.
pub fn artifacts(plan: &Plan) -> Result<Vec<Artifact>, RenderBug> {
    let tera = templates::engine();
    let profile = plan.profile;
    let mut out = Vec::new();
    for f in &plan.rootfs {
        out.push(Artifact {
            path: format!("rootfs{}", f.path),
            mode: f.mode,
            content: f.content.clone().into_bytes().into(),
        });
    }
    out.extend(kickstart::render(plan, tera)?);
    out.extend(rpm::render(plan, tera)?);
    out.extend(blueprint::render(plan, tera)?);
    out.extend(bootc::render(plan, tera)?);
    for m in &profile.selinux.module {
        out.push(Artifact::text(
            format!("selinux/{}.te", m.name),
            m.te_text.clone(),
        ));
        if let Some(fc) = &m.fc_text {
            out.push(Artifact::text(format!("selinux/{}.fc", m.name), fc.clone()));
        }
        let cil = plan.compiled.cil(&m.name).ok_or_else(|| RenderBug {
            artifact: format!("selinux/{}.cil", m.name),
            detail: "the module was not compiled before rendering".into(),
        })?;
        out.push(Artifact::text(
            format!("selinux/{}.cil", m.name),
            cil.to_string(),
        ));
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    for a in &out {
        single_line_breaks(&a.path, &a.content.pieces())?;
    }
    if let Some(w) = out.windows(2).find(|w| w[0].path == w[1].path) {
        return Err(RenderBug {
            artifact: w[0].path.clone(),
            detail: "two artifacts with the same path".into(),
        });
    }
    Ok(out)
}

/// The last line of defence of [`crate::text`]'s rule: no rendered file holds a
/// character that one of its readers would take as a line break and another not.
/// The profile's grammars and the SELinux module checks refuse such input with
/// its key and line; reaching this is a bug.
pub fn single_line_breaks(path: &str, pieces: &[&[u8]]) -> Result<(), RenderBug> {
    let mut offset = 0;
    for piece in pieces {
        if let Some((at, c)) = crate::text::foreign_line_break_bytes(piece) {
            return Err(RenderBug {
                artifact: path.into(),
                detail: format!(
                    "a {} at byte {}, which some readers of the file take as a line break",
                    crate::text::char_name(c),
                    offset + at
                ),
            });
        }
        offset += piece.len();
    }
    Ok(())
}

/// The installation kickstart of a plan (`kickstart/NAME.ks`).
pub fn install_kickstart(plan: &Plan) -> Result<String, RenderBug> {
    kickstart::install(plan, templates::engine(), DHCP_NETWORK, None, true, None)
}

/// A fleet's template for its own files (iPXE script, PXE menus, first-boot
/// snippet) with the given context.
pub fn fleet_template(name: &str, ctx: &tera::Context) -> Result<String, RenderBug> {
    templates::engine()
        .render(name, ctx)
        .map_err(|e| RenderBug {
            artifact: name.into(),
            detail: e.to_string(),
        })
}

/// The context every template sees: the shared facts, under `p`.
#[derive(Serialize)]
struct Ctx<'a> {
    p: &'a Plan<'a>,
}

fn context(name: &str, plan: &Plan) -> Result<tera::Context, RenderBug> {
    tera::Context::from_serialize(Ctx { p: plan }).map_err(|e| RenderBug {
        artifact: name.into(),
        detail: e.to_string(),
    })
}

/// A template that reads the shared facts only (the rootfs drop-ins).
fn render_template(tera: &tera::Tera, name: &str, plan: &Plan) -> Result<String, RenderBug> {
    render_context(tera, name, context(name, plan)?)
}

/// An artifact's template: the shared facts under `p`, and the artifact's own
/// view under `key` (`ks`, `rpm`, `bp`, `bootc`).
fn render_view<V: Serialize>(
    tera: &tera::Tera,
    name: &str,
    plan: &Plan,
    key: &str,
    view: &V,
) -> Result<String, RenderBug> {
    let mut ctx = context(name, plan)?;
    ctx.try_insert(key, view).map_err(|e| RenderBug {
        artifact: name.into(),
        detail: e.to_string(),
    })?;
    render_context(tera, name, ctx)
}

fn render_context(tera: &tera::Tera, name: &str, ctx: tera::Context) -> Result<String, RenderBug> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::parse_text;

    fn render_text(text: &str) -> Vec<Artifact> {
        let loaded = parse_text("t.toml".into(), text.into(), None);
        assert!(!loaded.report.has_errors(), "{:?}", loaded.report);
        let p = loaded.profile.as_ref().unwrap();
        render_all(p, &Compiled::without_modules(p).unwrap()).unwrap()
    }

    #[test]
    fn every_target_renders() {
        let targets = [
            ("fedora", 42),
            ("fedora", 43),
            ("fedora", 44),
            ("fedora", 45),
            ("fedora", 46),
            ("centos-stream", 10),
            ("almalinux", 10),
            ("rhel", 10),
        ];
        for (distro, release) in targets {
            for arch in ["x86_64", "aarch64"] {
                for flavor in ["rt", "stock"] {
                    let text = format!(
                        "version = 1\n[target]\ndistro = \"{distro}\"\nrelease = {release}\narch = \"{arch}\"\n[kernel]\nflavor = \"{flavor}\"\n"
                    );
                    let out = render_text(&text);
                    let ks = out
                        .iter()
                        .find(|a| a.path == "kickstart/studio.ks")
                        .unwrap();
                    let ks = ks.text_lossy();
                    assert_eq!(ks.contains("\nkernel-rt\n"), flavor == "rt", "{text}");
                    let bootc = out
                        .iter()
                        .find(|a| a.path == "bootc/Containerfile")
                        .unwrap();
                    let bootc = bootc.text_lossy();
                    assert!(
                        bootc.trim_end().ends_with("RUN bootc container lint"),
                        "{text}"
                    );
                    let cpupower = out
                        .iter()
                        .find(|a| a.path == "rootfs/etc/rtaudio-tuning/cpupower.env")
                        .unwrap();
                    let cpupower = cpupower.text_lossy();
                    assert!(cpupower.contains("GOVERNOR=performance"));
                    assert!(
                        cpupower.contains("CPUPOWER_START_OPTS=\"frequency-set -g performance\"")
                    );
                }
            }
        }
    }

    #[test]
    fn templates_parse_and_cli_is_consistent() {
        let _ = templates::engine();
        use clap::CommandFactory as _;
        crate::cli::Cli::command().debug_assert();
    }

    #[test]
    fn isolated_cpus_reach_irqbalance_and_the_kernel() {
        let out = render_text(
            "version = 1\n[kernel]\nisolate_cpus = \"4-7,2\"\n[irq]\nbanned_cpus = \"1\"\nban = [16, 17]\n",
        );
        let env = out
            .iter()
            .find(|a| a.path == "rootfs/etc/rtaudio-tuning/irqbalance.env")
            .unwrap();
        let env = env.text_lossy();
        assert!(
            env.contains("\nIRQBALANCE_BANNED_CPULIST=1-2,4-7\n"),
            "{env}"
        );
        assert!(
            env.contains("\nIRQBALANCE_ARGS=\"--banirq=16 --banirq=17\"\n"),
            "{env}"
        );
        let kargs = out
            .iter()
            .find(|a| a.path.ends_with("kargs.d/50-rtaudio-tuning.toml"))
            .unwrap();
        let kargs = kargs.text_lossy();
        assert!(
            kargs.contains(
                "\"isolcpus=managed_irq,domain,2,4-7\", \"nohz_full=2,4-7\", \"rcu_nocbs=2,4-7\""
            ),
            "{kargs}"
        );
    }

    #[test]
    fn irqbalance_off_means_masked_and_no_dropin() {
        let out = render_text("version = 1\n[irq]\nbalance = false\n");
        assert!(!out.iter().any(|a| a.path.contains("irqbalance")));
        let ks = out
            .iter()
            .find(|a| a.path == "kickstart/studio.ks")
            .unwrap();
        let ks = ks.text_lossy();
        assert!(ks.contains("services --enabled=cpupower.service\n"), "{ks}");
        assert!(
            ks.contains("systemctl mask irqbalance.service tuned.service"),
            "{ks}"
        );
    }
}
