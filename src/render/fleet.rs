//! The tree `fleet` writes: the base profile's shared artifacts once, a
//! kickstart per host (its variant's body and the host's own lines), image-mode
//! snippets, PXE menus and `index.json`.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::{self as render, Artifact, Content, Plan, RenderBug};
use crate::fleet::{Fleet, Host, Network, Pxe, netmask};
use crate::profile;
use crate::selinux::Compiled;

/// A variant rendered once: its kickstart around the host lines, and what a
/// host of it changes on top of the shared image.
struct VariantOut {
    /// The kickstart every host of the variant shares, and its sha256 state.
    body: Arc<[u8]>,
    body_sha: Sha256,
    /// The snippet and its path, `image-mode/SHA.sh`: one file per variant,
    /// named by its content so that it keeps its name across renders.
    image_mode: Option<(String, String)>,
}

/// The kickstart lines of one host: network (with its name) and install disk.
pub fn host_lines(h: &Host) -> String {
    let device = h.mac.as_deref().unwrap_or("link");
    let mut s = match &h.network {
        Network::Dhcp => format!("network --bootproto=dhcp --device={device} --activate"),
        Network::Static {
            address,
            prefix,
            gateway,
            dns,
        } => {
            let mask = Ipv4Addr::from(netmask(*prefix));
            let mut s = format!(
                "network --bootproto=static --device={device} --ip={address} --netmask={mask}"
            );
            if let Some(g) = gateway {
                let _ = write!(s, " --gateway={g}");
            }
            if !dns.is_empty() {
                let list: Vec<String> = dns.iter().map(Ipv4Addr::to_string).collect();
                let _ = write!(s, " --nameserver={}", list.join(","));
            }
            s.push_str(" --activate");
            s
        }
    };
    let _ = write!(s, " --hostname={}", h.name);
    if let Some(d) = &h.disk {
        let _ = write!(s, "\nignoredisk --only-use={d}");
    }
    s
}

#[derive(Serialize)]
struct ImageCtx<'a> {
    tool: &'static str,
    version: &'static str,
    base: &'a str,
    files: Vec<render::RootfsFile>,
    /// Units whose files this host changed: restarted if they run.
    restart: Vec<String>,
    skipped: Vec<&'a str>,
    users: Option<&'a [profile::User]>,
    /// The users' groups, each once.
    groups: Vec<&'a str>,
    /// Drop-ins under /etc the image has and this host must not.
    removed: Vec<String>,
    /// Files the image ships under /etc that this host has no use for and no
    /// unit reads: left as they are.
    kept: Vec<&'a str>,
    enable: Vec<&'a str>,
    disable: Vec<&'a str>,
    mask: Vec<&'a str>,
    unmask: Vec<&'a str>,
    heredoc: &'static str,
    kargs_add: Vec<&'a str>,
    kargs_remove: Vec<&'a str>,
    /// For a host's kickstart on top of the rtaudio-tuning package rather
    /// than for a bootc host: no accounts (the kickstart's commands make
    /// them), and the kernel arguments as the host's list in
    /// `host_kargs_file`, which the package's scriptlets keep.
    package: bool,
    host_kargs_dir: String,
    host_kargs_file: String,
    host_kargs: &'a str,
}

/// Where a host's own copy of a file of ours under /etc goes, and the
/// drop-in that points the unit reading it there.
const HOST_DIR: &str = "host";
const HOST_DROPIN: &str = "rtaudio-tuning.host.conf";

/// A host's version of a file the image ships under /etc, in a file the image
/// does not ship: ostree merges /etc three ways, so a host that rewrote the
/// image's file would keep its copy and never see the image's later changes
/// to it (ostree's deployment /etc merge keeps locally modified files). The
/// unit that reads the file (an `EnvironmentFile=` or `ExecStart=` of the
/// image's units and drop-ins naming it) is pointed at the host's copy by a
/// drop-in under /etc/systemd/system, named to sort after the image's own
/// (drop-ins apply in the order of their names, whatever their folder:
/// systemd.unit(5)). `None` for a file the image does not ship under /etc,
/// or that no unit reads: those are written where they go.
fn host_copy(
    base: &Plan,
    f: &render::RootfsFile,
) -> Option<(render::RootfsFile, Vec<render::RootfsFile>)> {
    let ours = format!("/etc/{}/", render::TOOL);
    let name = f.path.strip_prefix(&ours)?;
    let shipped = base.rootfs.iter().find(|b| b.path == f.path)?;
    let host_path = format!("{ours}{HOST_DIR}/{name}");
    let readers = readers(base, &f.path);
    let (_, first) = readers.first()?;
    let environment = first.starts_with("EnvironmentFile=");
    let content = if environment {
        // Read after the image's: the host's values win, and a variable the
        // image sets that this host does not is set empty (irqbalance and
        // systemd take an empty value as none).
        let assigned = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| !l.trim_start().starts_with(['#', ';']))
                .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
                .collect()
        };
        let mine = assigned(&f.content);
        let cleared: Vec<String> = assigned(&shipped.content)
            .into_iter()
            .filter(|k| !mine.contains(k))
            .collect();
        let mut content = f.content.clone();
        if !cleared.is_empty() {
            content.push_str("# Set by the image, not for this host:\n");
            for k in cleared {
                content.push_str(&format!("{k}=\n"));
            }
        }
        content
    } else {
        f.content.clone()
    };
    let host = render::RootfsFile {
        path: host_path.clone(),
        dir: format!("{ours}{HOST_DIR}"),
        etc_path: Some(host_path.clone()),
        content,
        ..f.clone()
    };
    // Every unit that reads the file gets the drop-in: a unit and its
    // per-device template both run the same script.
    let dropins = readers
        .into_iter()
        .map(|(unit, line)| {
            let service = if line.starts_with("EnvironmentFile=") {
                format!("EnvironmentFile={host_path}\n")
            } else {
                format!("ExecStart=\n{}\n", line.replace(&f.path, &host_path))
            };
            let dropin_dir = format!("/etc/systemd/system/{unit}.d");
            render::RootfsFile {
                path: format!("{dropin_dir}/{HOST_DROPIN}"),
                dir: dropin_dir.clone(),
                etc_path: Some(format!("{dropin_dir}/{HOST_DROPIN}")),
                mode: 0o644,
                mode_octal: "0644".into(),
                config: false,
                content: format!(
                    "# This host's {name}, over the shared {}: that file stays as the image\n# or the package ships it, so their later changes to it keep applying.\n[Service]\n{service}",
                    f.path
                ),
                ..f.clone()
            }
        })
        .collect();
    Some((host, dropins))
}

/// The units of the image that read `path` (an `EnvironmentFile=` or
/// `ExecStart=` of their unit files and drop-ins naming it), each with that
/// line, in the order of the rootfs files.
fn readers<'b>(base: &'b Plan, path: &str) -> Vec<(String, &'b str)> {
    base.rootfs
        .iter()
        .filter(|u| u.path.contains("/systemd/system/"))
        .filter_map(|u| {
            let line = u.content.lines().map(str::trim).find(|l| {
                (l.starts_with("EnvironmentFile=") || l.starts_with("ExecStart="))
                    && l.split(['=', ' '])
                        .any(|w| w.trim_start_matches('-') == path)
            })?;
            let (dir, file) = u.path.rsplit_once('/')?;
            let unit = match dir.rsplit_once('/') {
                Some((_, d)) if d.ends_with(".d") => d.trim_end_matches(".d").to_string(),
                _ => file.to_string(),
            };
            Some((unit, line))
        })
        .collect()
}

/// What a host of this variant changes on top of the image built from the
/// base profile: its drop-ins under /etc, its accounts and its kernel
/// arguments. `None` when nothing differs.
fn image_mode(base: &Plan, plan: &Plan) -> Result<Option<String>, RenderBug> {
    Ok(host_changes(base, plan, false)?.map(|(script, _)| script))
}

/// The script of a host's changes on top of the base profile's files, and
/// whether some could not be made (a file only the image or the package
/// may write).
fn host_changes(
    base: &Plan,
    plan: &Plan,
    package: bool,
) -> Result<Option<(String, bool)>, RenderBug> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let etc_target = |f: &render::RootfsFile| -> Option<String> {
        if f.path.starts_with("/etc/") {
            Some(f.path.clone())
        } else {
            f.etc_path.clone()
        }
    };
    let mut restart: Vec<String> = Vec::new();
    for f in &plan.rootfs {
        let same = base
            .rootfs
            .iter()
            .any(|b| b.path == f.path && b.content == f.content && b.mode == f.mode);
        // The kernel arguments are applied by rpm-ostree below, not by file.
        if same || f.path.contains("/bootc/kargs.d/") {
            continue;
        }
        if let Some((host, dropins)) = host_copy(base, f) {
            files.push(host);
            files.extend(dropins);
            continue;
        }
        match etc_target(f) {
            Some(path) => {
                let mut g = f.clone();
                g.dir = path
                    .rsplit_once('/')
                    .map_or("/etc".into(), |(d, _)| d.to_string());
                g.path = path;
                files.push(g);
            }
            None => skipped.push(f.path.as_str()),
        }
    }
    let users = (!package && plan.profile.users != base.profile.users)
        .then_some(plan.profile.users.as_slice());
    fn missing<'b>(from: &'b [String], in_: &[String]) -> Vec<&'b str> {
        from.iter()
            .filter(|a| !in_.contains(a))
            .map(String::as_str)
            .collect()
    }
    let kargs_add = missing(&plan.kargs, &base.kargs);
    let kargs_remove = missing(&base.kargs, &plan.kargs);
    let enable = missing(&plan.enable_all, &base.enable_all);
    let disable = missing(&base.enable_all, &plan.enable_all);
    let mut mask = missing(&plan.mask, &base.mask);
    let unmask = missing(&base.mask, &plan.mask);
    // What the image carries and this host does not: its /etc copies go; a
    // unit the host does not run is disabled above, whatever its place.
    // A file the image ships under /etc stays (removing it is a change
    // ostree keeps too): the unit that reads it is masked instead, as udev
    // may still start a disabled one (SYSTEMD_WANTS); a file no unit reads
    // is left with a note.
    let mut removed: Vec<String> = Vec::new();
    let mut kept: Vec<&str> = Vec::new();
    let mut idle: Vec<String> = Vec::new();
    for b in &base.rootfs {
        if plan.rootfs.iter().any(|f| f.path == b.path) || b.path.contains("/bootc/kargs.d/") {
            continue;
        }
        if !b.path.starts_with("/etc/") {
            removed.extend(etc_target(b));
        } else if let units @ [_, ..] = readers(base, &b.path).as_slice() {
            idle.extend(units.iter().map(|(unit, _)| unit.clone()));
        } else {
            kept.push(b.path.as_str());
        }
    }
    removed.sort();
    idle.sort();
    idle.dedup();
    mask.extend(
        idle.iter()
            .map(String::as_str)
            .filter(|u| !base.mask.iter().any(|m| m == u)),
    );
    mask.sort_unstable();
    mask.dedup();
    let mut groups: Vec<&str> = users
        .unwrap_or_default()
        .iter()
        .flat_map(|u| u.groups.iter().map(String::as_str))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    // A unit whose file or drop-in changed is restarted if it runs: it would
    // keep the image's settings until the next boot. A template has no run
    // of its own to restart (systemctl refuses its name): each instance that
    // starts from now on reads the new files.
    for f in &files {
        if let Some(rest) = f.path.strip_prefix("/etc/systemd/system/") {
            let unit = rest.split_once(".d/").map_or(rest, |(u, _)| u);
            if !unit.contains("@.") {
                restart.push(unit.to_string());
            }
        }
    }
    restart.sort();
    restart.dedup();
    if files.is_empty()
        && skipped.is_empty()
        && users.is_none()
        && removed.is_empty()
        && kept.is_empty()
        && enable.is_empty()
        && disable.is_empty()
        && mask.is_empty()
        && unmask.is_empty()
        && kargs_add.is_empty()
        && kargs_remove.is_empty()
    {
        return Ok(None);
    }
    let ctx = ImageCtx {
        tool: render::TOOL,
        version: env!("CARGO_PKG_VERSION"),
        base: &base.profile.name,
        files,
        restart,
        skipped,
        users,
        groups,
        removed,
        kept,
        enable,
        disable,
        mask,
        unmask,
        heredoc: plan.heredoc,
        kargs_add,
        kargs_remove,
        package,
        host_kargs_dir: format!("/etc/{}/{HOST_DIR}", render::TOOL),
        host_kargs_file: format!("/etc/{}/{HOST_DIR}/kargs", render::TOOL),
        host_kargs: &plan.kargs_line,
    };
    let skipped_any = !ctx.skipped.is_empty();
    let ctx = tera::Context::from_serialize(ctx).map_err(|e| RenderBug {
        artifact: "fleet/image-mode.sh".into(),
        detail: e.to_string(),
    })?;
    render::fleet_template("fleet/image-mode.sh", &ctx).map(|script| Some((script, skipped_any)))
}

/// A variant's kickstart body and image-mode snippet; `base` is `None` for
/// the base profile itself, which the shared image already is.
fn variant_out(
    plan: &Plan,
    base: Option<&Plan>,
    room_repo: Option<&str>,
) -> Result<VariantOut, RenderBug> {
    // The variant's kickstart without the network line; each host's own
    // lines go at its end (kickstart commands may follow the sections), so
    // that the body's sha256 state is computed once per variant.
    // With [rpm] repo_url, a host installs the profile's package from the
    // repository, then makes its own changes on top of it (its copies of
    // our files under /etc, its units, its kernel arguments in a file the
    // package's scriptlets read), as a bootc host does on top of the image.
    // A host that needs a file only the package may write writes all of its
    // files itself. Accounts are the kickstart's commands either way.
    let (install_package, host_post) = match base {
        _ if plan.package_repo.is_none() => (false, None),
        None => (true, None),
        Some(b) => match host_changes(b, plan, true)? {
            None => (true, None),
            Some((script, false)) => (true, Some(script)),
            Some((_, true)) => (false, None),
        },
    };
    let body = render::kickstart::install(
        plan,
        render::templates::engine(),
        "",
        room_repo,
        install_package,
        host_post.as_deref(),
    )?
    .into_bytes();
    let mut body_sha = Sha256::new();
    body_sha.update(&body);
    let image_mode = match base {
        None => None,
        Some(base) => image_mode(base, plan)?,
    }
    .map(|script| {
        let sha = crate::artifact::sha256_hex(script.as_bytes());
        (format!("image-mode/{}.sh", &sha[..16]), script)
    });
    Ok(VariantOut {
        body: Arc::from(body),
        body_sha,
        image_mode,
    })
}

#[derive(Serialize)]
struct IndexHost<'a> {
    name: &'a str,
    mac: Option<&'a str>,
    network: &'a Network,
    disk: Option<&'a str>,
    kickstart: IndexFile,
    /// What the host applies on top of the shared bootc image; `None`: nothing.
    image_mode: Option<&'a str>,
}

#[derive(Serialize)]
struct IndexFile {
    path: String,
    sha256: String,
}

#[derive(Serialize)]
struct Index<'a> {
    schema: u32,
    profile: &'a str,
    tool_version: &'static str,
    shared: Vec<IndexFile>,
    hosts: Vec<IndexHost<'a>>,
}

#[derive(Serialize)]
struct PxeCtx<'a> {
    tool: &'static str,
    version: &'static str,
    profile: &'a str,
    pxe: &'a Pxe,
    /// The installer's kernel and initrd as GRUB names files on an HTTP
    /// server, `(http,HOST)/PATH`.
    grub_kernel: Option<String>,
    grub_initrd: Option<String>,
    hosts: Vec<PxeHost<'a>>,
}

/// `http://HOST/PATH` as GRUB's `(http,HOST)/PATH`; GRUB has no HTTPS.
fn grub_http(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    Some(format!("(http,{host})/{path}"))
}

#[derive(Serialize)]
struct PxeHost<'a> {
    name: &'a str,
    mac: &'a str,
    /// The MAC as iPXE's `${netX/mac:hexhyp}` writes it: `52-54-00-12-34-56`.
    hyphens: String,
}

/// A host's installation kickstart, in the tree.
pub fn kickstart_path(h: &Host) -> String {
    format!("hosts/{}.ks", h.name)
}

/// Everything `fleet` writes: the base profile's shared artifacts (its
/// kickstarts excepted), one kickstart per host, image-mode snippets, the PXE
/// files and `index.json`, sorted by path, with their sha256.
pub struct Rendered {
    pub artifacts: Vec<Artifact>,
    pub hashes: Vec<String>,
}

pub fn render(fleet: &Fleet, compiled: &Compiled) -> Result<Rendered, RenderBug> {
    let base = fleet.base();
    let base_plan = render::plan(base, compiled)?;
    let mut shared: Vec<Artifact> = render::artifacts(&base_plan)?
        .into_iter()
        .filter(|a| !a.path.starts_with("kickstart/"))
        .collect();

    // One render per variant (the base's plan is the one above).
    // With a PXE room, its mirror is every host's install source.
    let room_repo = fleet.pxe.as_ref().map(|x| x.repo.as_str());
    let mut outs = Vec::with_capacity(fleet.variants.len());
    for p in &fleet.variants[1..] {
        outs.push(variant_out(
            &render::plan(p, compiled)?,
            Some(&base_plan),
            room_repo,
        )?);
    }
    outs.insert(0, variant_out(&base_plan, None, room_repo)?);

    // Hosts on every core: their own lines and hashes.
    let rendered: Vec<(Artifact, String)> =
        crate::jobs::par(&fleet.hosts, |h| host_kickstart(h, &outs[h.variant]));
    // Variants whose snippets are equal share the file (it is named by its
    // content).
    let mut snippets: Vec<&(String, String)> =
        outs.iter().filter_map(|o| o.image_mode.as_ref()).collect();
    snippets.sort();
    snippets.dedup();
    for (path, script) in snippets {
        shared.push(Artifact {
            path: path.clone(),
            mode: 0o755,
            content: Content::Bytes(script.clone().into_bytes()),
        });
    }

    if let Some(pxe) = &fleet.pxe {
        shared.extend(pxe_menus(fleet, pxe, &base.name)?);
    }

    let mut files: Vec<(Artifact, String)> = shared
        .into_iter()
        .map(|a| {
            let sha = a.content.sha256_hex();
            (a, sha)
        })
        .collect();
    let mut index = Index {
        schema: 1,
        profile: &base.name,
        tool_version: env!("CARGO_PKG_VERSION"),
        shared: files
            .iter()
            .map(|(a, sha256)| IndexFile {
                path: a.path.clone(),
                sha256: sha256.clone(),
            })
            .collect(),
        hosts: Vec::with_capacity(fleet.hosts.len()),
    };
    for (h, (ks, sha256)) in fleet.hosts.iter().zip(rendered) {
        index.hosts.push(IndexHost {
            name: &h.name,
            mac: h.mac.as_deref(),
            network: &h.network,
            disk: h.disk.as_deref(),
            kickstart: IndexFile {
                path: ks.path.clone(),
                sha256: sha256.clone(),
            },
            image_mode: outs[h.variant].image_mode.as_ref().map(|(p, _)| p.as_str()),
        });
        files.push((ks, sha256));
    }
    let mut json = serde_json::to_string_pretty(&index).map_err(|e| RenderBug {
        artifact: "index.json".into(),
        detail: e.to_string(),
    })?;
    json.push('\n');
    let json = json.into_bytes();
    let sha = crate::artifact::sha256_hex(&json);
    files.push((
        Artifact {
            path: "index.json".into(),
            mode: 0o644,
            content: Content::Bytes(json),
        },
        sha,
    ));
    files.sort_unstable_by(|a, b| a.0.path.cmp(&b.0.path));
    // crate::text's rule over every file; a host's kickstart shares its head
    // with its variant's, which is looked at once.
    for o in &outs {
        render::single_line_breaks("hosts/*.ks", &[&o.body])?;
    }
    for (a, _) in &files {
        match &a.content {
            Content::Shared { own, .. } => render::single_line_breaks(&a.path, &[own])?,
            Content::Bytes(b) => render::single_line_breaks(&a.path, &[b])?,
        }
    }
    let (artifacts, hashes) = files.into_iter().unzip();
    Ok(Rendered { artifacts, hashes })
}

/// The PXE menus of a room: iPXE's, and pxelinux's and GRUB's when the
/// installer is served over plain HTTP.
fn pxe_menus(fleet: &Fleet, pxe: &Pxe, profile: &str) -> Result<Vec<Artifact>, RenderBug> {
    let ctx = PxeCtx {
        tool: render::TOOL,
        version: env!("CARGO_PKG_VERSION"),
        profile,
        pxe,
        grub_kernel: grub_http(&pxe.kernel),
        grub_initrd: grub_http(&pxe.initrd),
        hosts: fleet
            .hosts
            .iter()
            .filter_map(|h| {
                h.mac.as_deref().map(|mac| PxeHost {
                    name: &h.name,
                    mac,
                    hyphens: mac.replace(':', "-"),
                })
            })
            .collect(),
    };
    let mut menus = vec![("fleet/boot.ipxe", "pxe/boot.ipxe")];
    // GRUB and lpxelinux fetch over plain HTTP only (lpxelinux's schemes are
    // tftp, http and ftp: syslinux core/fs/pxe/core.c, url_schemes[]); with
    // an https:// kernel or initrd only iPXE's script is written, and the
    // inventory's walker says so.
    if ctx.grub_kernel.is_some() && ctx.grub_initrd.is_some() {
        menus.push(("fleet/pxelinux.cfg", "pxe/pxelinux.menu"));
        menus.push(("fleet/grub.cfg", "pxe/grub.cfg"));
    }
    let ctx = tera::Context::from_serialize(ctx).map_err(|e| RenderBug {
        artifact: "fleet".into(),
        detail: e.to_string(),
    })?;
    menus
        .into_iter()
        .map(|(name, path)| {
            Ok(Artifact {
                path: path.into(),
                mode: 0o644,
                content: Content::Bytes(render::fleet_template(name, &ctx)?.into_bytes()),
            })
        })
        .collect()
}

fn host_kickstart(h: &Host, v: &VariantOut) -> (Artifact, String) {
    let own = format!(
        "\n# This machine: host \"{}\" of the fleet (its network and install disk).\n{}\n",
        h.name,
        host_lines(h)
    )
    .into_bytes();
    let mut sha = v.body_sha.clone();
    sha.update(&own);
    let sha = crate::artifact::hex(&sha.finalize());
    (
        Artifact {
            path: kickstart_path(h),
            mode: 0o644,
            content: Content::Shared {
                head: v.body.clone(),
                own,
            },
        },
        sha,
    )
}
