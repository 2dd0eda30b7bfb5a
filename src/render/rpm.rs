//! `rpm/rtaudio-tuning.spec` and its SOURCES: the rootfs files under flat names.

use serde::Serialize;

use super::{Artifact, Plan, RenderBug, render_view};

/// The date of this tool version, for the RPM %changelog.
const CHANGELOG_DATE: &str = "Tue Nov 24 2026";

/// What only the RPM needs, under `rpm` in its template.
#[derive(Debug, Serialize)]
struct View<'a> {
    /// Packages the drop-ins cannot work without, and the others the profile
    /// installs (the package does not pull a desktop in).
    requires: Vec<String>,
    recommends: Vec<String>,
    /// Packages that undo the tuning when installed beside it: PipeWire's
    /// JACK libraries on a JACK studio (jackd would load them, and
    /// pipewire's weak Supplements would bring them back).
    conflicts: Vec<String>,
    /// The package's Release: the profile's rpm.release and its name, so two
    /// profiles' packages never share a version-release.
    release: String,
    /// Date of the package's %changelog entry: fixed per tool version, so that
    /// builds are reproducible (rpm can take SOURCE_DATE_EPOCH from it).
    changelog_date: &'static str,
    /// The sysusers.d file, which %pre feeds to systemd-sysusers.
    sysusers_path: &'a str,
    sysusers_content: &'a str,
    /// The sysctl.d file, when the profile sets sysctls (%post applies it).
    sysctl_path: Option<&'a str>,
    /// The SELinux modules' names (%post removes those an earlier version
    /// shipped and this one does not).
    selinux_names: Vec<&'a str>,
}

impl<'a> View<'a> {
    fn new(plan: &'a Plan) -> Result<Self, RenderBug> {
        let p = plan.profile;
        let mut requires = Vec::new();
        if plan.kernel_rt {
            requires.push("kernel-rt".to_string());
        }
        requires.extend(
            plan.packages
                .iter()
                .filter(|x| {
                    ["irqbalance", "kernel-tools"].contains(&x.as_str())
                        || crate::profile::parse::server_packages(p.audio.server)
                            .contains(&x.as_str())
                })
                .cloned(),
        );
        if !p.irq.priority.is_empty() {
            // chrt
            requires.push("util-linux".to_string());
        }
        let recommends = plan
            .packages
            .iter()
            .filter(|x| !requires.contains(x))
            .cloned()
            .collect();
        let sysusers = plan
            .rootfs
            .iter()
            .find(|f| f.path.starts_with("/usr/lib/sysusers.d/"))
            .ok_or_else(|| RenderBug {
                artifact: "rootfs".into(),
                detail: "no sysusers.d file".into(),
            })?;
        let conflicts = match p.audio.server {
            crate::profile::AudioServer::Jack => {
                vec![crate::profile::parse::PIPEWIRE_JACK.to_string()]
            }
            crate::profile::AudioServer::Pipewire => Vec::new(),
        };
        Ok(View {
            requires,
            recommends,
            conflicts,
            release: format!("{}.{}", p.rpm.release, p.name.replace('-', "_")),
            changelog_date: CHANGELOG_DATE,
            sysusers_path: &sysusers.path,
            sysusers_content: &sysusers.content,
            sysctl_path: plan
                .rootfs
                .iter()
                .find(|f| f.path.contains("/sysctl.d/"))
                .map(|f| f.path.as_str()),
            selinux_names: p.selinux.module.iter().map(|m| m.name.as_str()).collect(),
        })
    }
}

pub fn render(plan: &Plan, tera: &tera::Tera) -> Result<Vec<Artifact>, RenderBug> {
    let view = View::new(plan)?;
    let mut out = vec![Artifact::text(
        format!("rpm/{}.spec", plan.tool),
        render_view(tera, "rpm/rtaudio-tuning.spec", plan, "rpm", &view)?,
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
