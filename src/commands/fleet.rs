//! `fleet`: an inventory into the tree of a room.

use std::path::Path;

use serde::Serialize;

use super::refused;
use crate::{
    ToolMissing, cli, console, err, exit, fleet, noteln, outln, output, report, selinux, text,
};

/// `fleet --json`, schema 1 (README, "JSON documents").
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct FleetJson<'a> {
    inventory: &'a str,
    output: Option<String>,
    hosts: usize,
    variants: usize,
    files: usize,
    changed_hosts: Vec<&'a str>,
    /// With [rpm] repo_url: the room's repository, repo/ of the tree.
    #[serde(skip_serializing_if = "Option::is_none")]
    repo: Option<crate::repo::Published>,
    problems: Vec<report::JsonEntry<'a>>,
}

pub(super) fn fleet_cmd(
    path: &Path,
    out: &Path,
    changed_only: bool,
    bump_release: bool,
    cli::WriteOptions {
        force,
        strict,
        json,
    }: cli::WriteOptions,
) -> anyhow::Result<i32> {
    let progress = crate::progress::Progress::new("fleet", 0);
    progress.message(format!(
        "reading {}",
        text::one_line(&path.display().to_string())
    ));
    let mut loaded = fleet::load(path)?;
    // The base profile's SELinux modules are compiled once; hosts cannot
    // change them, so every variant renders the same compiled modules.
    let mut compiled = selinux::Compiled::default();
    if let Some(f) = loaded.fleet.as_mut() {
        let mut rep = report::Report::default();
        match selinux::compile(f.base(), &mut rep) {
            Ok(c) => compiled = c,
            Err(selinux::CompileError::Unavailable(what)) => {
                return Err(ToolMissing(format!("install {what}")).into());
            }
            Err(selinux::CompileError::Report) => loaded.fleet = None,
        }
        match loaded.profile.as_mut() {
            Some(p) => p.report.append(rep),
            None => loaded.report.append(rep),
        }
    }
    let fatal = loaded.is_fatal(strict) || loaded.fleet.is_none();
    let mut problems = Vec::new();
    let profile_source = loaded.profile.as_ref().map(|p| p.source());
    let inventory_source = loaded.source();
    if let (Some(p), Some(source)) = (&loaded.profile, &profile_source) {
        problems.extend(report::json_entries(&p.report, source));
        if !json && !p.report.entries.is_empty() {
            err!("{}", report::format_styled(&p.report, &p.source()))?;
        }
    }
    problems.extend(report::json_entries(&loaded.report, &inventory_source));
    if !json && !loaded.report.entries.is_empty() {
        err!(
            "{}",
            report::format_styled(&loaded.report, &loaded.source())
        )?;
    }
    let print_json = |ok: bool, hosts, variants, files, changed: Vec<&str>, repo| {
        let doc = FleetJson {
            inventory: &loaded.source_name,
            output: ok.then(|| out.display().to_string()),
            hosts,
            variants,
            files,
            changed_hosts: changed,
            repo,
            problems,
        };
        console::document("fleet", 1, ok, &doc)
    };
    let Some(f) = loaded.fleet.as_ref().filter(|_| !fatal) else {
        if json {
            print_json(false, 0, 0, 0, Vec::new(), None)?;
        } else {
            let mut reports = vec![&loaded.report];
            reports.extend(loaded.profile.as_ref().map(|p| &p.report));
            refused(&loaded.source_name, &reports, strict)?;
        }
        return Ok(exit::BAD_INPUT);
    };
    progress.done(format_args!(
        "read the inventory: {}, {}",
        text::count(f.hosts.len(), "host"),
        text::count(f.variants.len(), "variant")
    ));
    progress.message(format!("rendering {}", text::count(f.hosts.len(), "host")));
    let mut rendered = crate::render::fleet::render(f, &compiled)?;
    progress.done(format_args!("rendered {} files", rendered.artifacts.len()));
    // With [rpm] repo_url, the room's repository is part of the tree: repo/,
    // served with it, which the hosts' kickstarts install the package from.
    let published = match f.base().rpm.repo_url {
        Some(_) => {
            progress.message("building the package and repo/");
            let p = room_repository(out, &mut rendered, bump_release)?;
            progress.done("built the package and repo/");
            Some(p)
        }
        None => None,
    };
    progress.message(format!(
        "writing {}",
        text::one_line(&out.display().to_string())
    ));
    let changes = output::write_tree_hashed(out, &rendered.artifacts, &rendered.hashes, force)?;
    progress.done(format_args!(
        "wrote {} new or changed files, removed {}",
        changes.written.len(),
        changes.removed.len()
    ));
    progress.finish();
    let written: std::collections::HashSet<&str> = changes
        .written
        .iter()
        .chain(&changes.removed)
        .map(String::as_str)
        .collect();
    // Hosts whose kickstart was written anew, then hosts no longer in the
    // inventory (their kickstart was removed).
    let mut changed: Vec<&str> = f
        .hosts
        .iter()
        .filter(|h| written.contains(crate::render::fleet::kickstart_path(h).as_str()))
        .map(|h| h.name.as_str())
        .collect();
    changed.extend(
        changes
            .removed
            .iter()
            .filter_map(|p| p.strip_prefix("hosts/").and_then(|n| n.strip_suffix(".ks"))),
    );
    if json {
        print_json(
            true,
            f.hosts.len(),
            f.variants.len(),
            rendered.artifacts.len(),
            changed,
            published,
        )?;
    } else if changed_only {
        for h in &changed {
            outln!("{h}")?;
        }
    } else {
        noteln!(
            "rendered {} ({} of profile \"{}\", {} changed) as {} files to {}",
            text::count(f.hosts.len(), "host"),
            text::count(f.variants.len(), "variant"),
            f.base().name,
            changed.len(),
            rendered.artifacts.len(),
            text::one_line(&out.display().to_string())
        )?;
        if let (None, Some(pxe)) = (&published, &f.pxe) {
            noteln!(
                "note: the hosts' kickstarts write the profile's files in %post; to have them install the rtaudio-tuning package from this tree instead (dnf then updates it), set [rpm] repo_url = \"{}/repo/\" in the profile",
                text::one_line(pxe.url.trim_end_matches('/'))
            )?;
        }
        if let Some(p) = &published {
            let package = text::one_line(&p.package);
            match (&p.signed_by, p.unchanged) {
                (_, true) => noteln!("repo/: {package} is already there; nothing changed")?,
                (Some(fpr), false) => {
                    noteln!("repo/: added packages/{package}, signed by {fpr}")?;
                }
                (None, false) => noteln!(
                    "repo/: added packages/{package}, NOT SIGNED (the profile names no [rpm] gpg_key)"
                )?,
            }
            if p.bumped {
                noteln!(
                    "repo/: release raised to {} (--bump-release): set [rpm] release to it in the profile, or the next run is refused again",
                    text::one_line(&p.release)
                )?;
            }
        }
    }
    Ok(exit::OK)
}

/// The base profile's package in the room's repository (`repo/` of the
/// tree), built from the tree's own rpm/ folder: what `rpm --repo` makes,
/// added to the tree's files. The previous tree's repo/ gives the releases
/// it keeps.
fn room_repository(
    out: &Path,
    rendered: &mut crate::render::fleet::Rendered,
    bump: bool,
) -> anyhow::Result<crate::repo::Published> {
    let rpmbuild = crate::cmd::find("rpmbuild").ok_or_else(|| {
        ToolMissing(
            "install rpm (rpmbuild), for the room's repository ([rpm] repo_url): apt-get install rpm, or dnf install rpm-build".into(),
        )
    })?;
    let tmp = tempfile::Builder::new()
        .prefix("rtaudio-tuning-fleet-rpm-")
        .tempdir()?;
    for a in &rendered.artifacts {
        if a.path.starts_with("rpm/") || a.path.starts_with("rootfs/etc/") {
            let to = tmp.path().join(&a.path);
            std::fs::create_dir_all(to.parent().expect("a folder"))?;
            std::fs::write(&to, a.content.to_vec())?;
        }
    }
    let (files, published) = crate::repo::prepare(&rpmbuild, tmp.path(), &out.join("repo"), bump)?;
    for mut a in files {
        a.path = format!("repo/{}", a.path);
        rendered.hashes.push(a.content.sha256_hex());
        rendered.artifacts.push(a);
    }
    Ok(published)
}
