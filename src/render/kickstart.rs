//! `kickstart/NAME.ks` (installation: PXE, fleet, netinstall) and
//! `kickstart/NAME-live.ks` (livemedia-creator spin).

use serde::Serialize;

use super::facts::{Repo, distro_repo};
use super::{Artifact, Plan, RenderBug, render_view, rootfs};
use crate::profile::Distro;

/// The installation kickstart's network line when no machine is named.
pub const DHCP_NETWORK: &str = "network --bootproto=dhcp --device=link --activate";

/// What only the kickstarts need, under `ks` in their templates.
#[derive(Debug, Serialize)]
struct View<'a> {
    /// pykickstart handler for the target (`F44`, `RHEL10`).
    version: String,
    /// Install source lines (`url`, extra `repo`s).
    install_url: Option<String>,
    install_repos: Vec<Repo>,
    /// The install source is the room's mirror (a fleet's `[pxe].repo`).
    room_repo: bool,
    /// The comps environment a workstation starts from.
    base_environment: &'static str,
    /// Directories holding the rootfs files, for %post's `install -d`.
    dirs: Vec<&'a str>,
    /// The installation kickstart's lines that differ per machine: network
    /// (and, for a fleet host, its name and install disk). Empty in a fleet
    /// variant's kickstart body, where each host's lines go at the end.
    host_lines: &'a str,
    /// The live spin's first-boot unit that gives systems installed from it
    /// the kernel arguments.
    live_kargs_unit: &'static str,
    /// The kickstart installs our package from `[rpm] repo_url` rather than
    /// writing its files in %post: always when the profile names one, except
    /// for a fleet's hosts whose settings differ from the profile's.
    install_package: bool,
    /// A fleet host's changes on top of the package, for its %post.
    host_post: Option<&'a str>,
}

/// The live spin's first-boot unit (written by its `%post`).
pub const LIVE_KARGS_UNIT: &str = "rtaudio-live-kargs.service";

impl<'a> View<'a> {
    /// `room_repo`: a fleet's `[pxe].repo`, the install source of its hosts.
    fn new(
        plan: &'a Plan,
        host_lines: &'a str,
        room_repo: Option<&str>,
        install_package: bool,
        host_post: Option<&'a str>,
    ) -> Self {
        let p = plan.profile;
        let release = p.target.release;
        let arch = plan.arch;
        let (version, install_url, install_repos) = match p.target.distro {
            Distro::Fedora => (
                format!("F{release}"),
                Some(format!(
                    "--mirrorlist=\"https://mirrors.fedoraproject.org/mirrorlist?repo=fedora-{release}&arch={arch}\""
                )),
                vec![Repo {
                    mirrorlist: true,
                    ..Repo::new(
                        "updates",
                        format!("Fedora {release} updates"),
                        format!(
                            "https://mirrors.fedoraproject.org/mirrorlist?repo=updates-released-f{release}&arch={arch}"
                        ),
                    )
                }],
            ),
            Distro::CentosStream | Distro::Almalinux => (
                format!("RHEL{release}"),
                distro_repo(p, "BaseOS").map(|url| format!("--url=\"{url}\"")),
                distro_repo(p, "AppStream")
                    .map(|url| {
                        Repo::new("appstream", format!("{} AppStream", plan.target_label), url)
                    })
                    .into_iter()
                    .collect(),
            ),
            // RHEL's content needs a subscription: the install source comes from
            // the DVD or the `inst.repo=` boot option.
            Distro::Rhel => (format!("RHEL{release}"), None, Vec::new()),
        };
        // The room's mirror replaces the internet's: Anaconda uses the
        // kickstart's `url` rather than `inst.repo=`, so an air-gapped install
        // names the mirror here, and no other repository of the distribution
        // (the tree's .treeinfo names its variants, AppStream among them).
        let (install_url, install_repos) = match room_repo {
            Some(url) => (Some(format!("--url=\"{url}\"")), Vec::new()),
            None => (install_url, install_repos),
        };
        View {
            live_kargs_unit: LIVE_KARGS_UNIT,
            version,
            install_url,
            install_repos,
            room_repo: room_repo.is_some(),
            base_environment: "@^workstation-product-environment",
            dirs: rootfs::dirs(&plan.rootfs),
            host_lines,
            install_package: install_package && plan.package_repo.is_some(),
            host_post,
        }
    }
}

pub fn render(plan: &Plan, tera: &tera::Tera) -> Result<Vec<Artifact>, RenderBug> {
    let name = &plan.profile.name;
    let view = View::new(plan, DHCP_NETWORK, None, true, None);
    let mut out = vec![Artifact::text(
        format!("kickstart/{name}.ks"),
        render_view(tera, "kickstart/install.ks", plan, "ks", &view)?,
    )];
    if no_live_spin(plan.profile.target.distro).is_none() {
        out.push(Artifact::text(
            format!("kickstart/{name}-live.ks"),
            render_view(tera, "kickstart/live.ks", plan, "ks", &view)?,
        ));
    }
    Ok(out)
}

/// Why the target gets no live spin kickstart, or None when it gets one.
///
/// anaconda.spec builds `anaconda-live` only for Fedora and ELN
/// (`%bcond live %[%{defined fedora} || %{defined eln}]`), and livesys-scripts
/// is not in the EL base repositories: on EL, livemedia-creator cannot build
/// a live image that boots to a session and installs.
pub fn no_live_spin(distro: Distro) -> Option<&'static str> {
    match distro {
        Distro::Fedora => None,
        Distro::CentosStream | Distro::Almalinux | Distro::Rhel => Some(
            "no live spin kickstart: EL 10 has no anaconda-live and no livesys-scripts, so \
             livemedia-creator cannot build one; make an installer ISO that carries the \
             installation kickstart instead (lorax's mkksiso --ks kickstart/NAME.ks BOOT.iso \
             OUT.iso), or deploy the bootc image",
        ),
    }
}

/// The installation kickstart with these lines for the machine (empty for a
/// fleet variant's body, which each host's own lines follow), installing from
/// `room_repo` (a fleet's `[pxe].repo`) when one is given, and our package
/// from `[rpm] repo_url` when the profile names one and `install_package`,
/// with a fleet host's changes on top of it (`host_post`).
pub fn install(
    plan: &Plan,
    tera: &tera::Tera,
    host_lines: &str,
    room_repo: Option<&str>,
    install_package: bool,
    host_post: Option<&str>,
) -> Result<String, RenderBug> {
    let view = View::new(plan, host_lines, room_repo, install_package, host_post);
    render_view(tera, "kickstart/install.ks", plan, "ks", &view)
}
