//! `rpm`: build the package of a rendered tree or a profile.

use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

use super::validate::tree_dir;
use crate::{ToolMissing, UserError, cmd, console, exit, outln, repo, rpmbuild, text};

/// `rpm --json`, schema 1: the package built, and the profile's problems
/// when a profile was given.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct RpmJson {
    profile: String,
    package: Option<String>,
    /// With --repo: what the repository now holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    repo: Option<repo::Published>,
    /// The profile's problems (entries of the same shape as render's).
    #[schemars(with = "Vec<crate::report::JsonEntry<'static>>")]
    problems: Vec<serde_json::Value>,
}

pub(super) fn rpm_cmd(
    target: Option<&Path>,
    out: Option<&Path>,
    repo_dir: Option<&Path>,
    bump: bool,
    strict: bool,
    json: bool,
) -> anyhow::Result<i32> {
    let Some(rpmbuild_bin) = cmd::find("rpmbuild") else {
        return Err(ToolMissing(
            "install rpm (rpmbuild): apt-get install rpm, or dnf install rpm-build".into(),
        )
        .into());
    };
    let (tree_dir, problems) = tree_dir(target, strict, json)?;
    let print_json = |package: Option<String>, repo: Option<repo::Published>, problems| {
        let doc = RpmJson {
            profile: super::validate::shown(target),
            package,
            repo,
            problems,
        };
        console::document("rpm", 1, doc.package.is_some(), &doc)
    };
    let Some(tree_dir) = tree_dir else {
        if json {
            print_json(None, None, problems)?;
        }
        return Ok(exit::BAD_INPUT);
    };
    let rpm_dir = tree_dir.dir.join("rpm");
    if !rpm_dir.join("rtaudio-tuning.spec").is_file() {
        return Err(UserError(format!(
            "{} has no rpm/rtaudio-tuning.spec: give a folder written by `render`, or a profile",
            tree_dir.dir.display()
        ))
        .into());
    }
    if let Some(dir) = repo_dir {
        let published = repo::publish(&rpmbuild_bin, &tree_dir.dir, dir, bump)?;
        if json {
            let package = dir
                .join(repo::PACKAGES)
                .join(&published.package)
                .display()
                .to_string();
            print_json(Some(package), Some(published), problems)?;
        } else {
            print_published(&published)?;
        }
        return Ok(exit::OK);
    }
    let out = out.expect("clap requires -o without --repo");
    let top = tempfile::Builder::new()
        .prefix("rtaudio-tuning-rpmbuild-")
        .tempdir()?;
    let built = rpmbuild::build(&rpmbuild_bin, &rpm_dir, top.path())?;
    let name = built.file_name().expect("an rpm file name").to_owned();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let dest = out.join(&name);
    let staged = tempfile::NamedTempFile::new_in(out)
        .with_context(|| format!("writing into {}", out.display()))?;
    std::fs::copy(&built, staged.path()).with_context(|| format!("copying {}", built.display()))?;
    staged
        .persist(&dest)
        .with_context(|| format!("writing {}", dest.display()))?;
    if json {
        print_json(Some(dest.display().to_string()), None, problems)?;
    } else {
        outln!("{}", text::one_line(&dest.display().to_string()))?;
    }
    Ok(exit::OK)
}

/// The repository's new state, for a person.
fn print_published(p: &repo::Published) -> anyhow::Result<()> {
    let dir = text::one_line(&p.repo);
    if p.unchanged {
        outln!(
            "{dir}: {} is already there with the same content; nothing changed",
            text::one_line(&p.package)
        )?;
        return Ok(());
    }
    outln!(
        "{dir}: added {}/{}",
        repo::PACKAGES,
        text::one_line(&p.package)
    )?;
    if p.bumped {
        outln!(
            "  release raised to {} (--bump-release): set [rpm] release to it in the profile, or the next build is refused again",
            text::one_line(&p.release)
        )?;
    }
    for f in p.kept.iter().skip(1) {
        outln!(
            "  kept {} (dnf downgrade goes back to it)",
            text::one_line(f)
        )?;
    }
    for f in &p.pruned {
        outln!(
            "  removed {} (older than the two newest)",
            text::one_line(f)
        )?;
    }
    match &p.signed_by {
        Some(fpr) => outln!("  package and repodata/repomd.xml signed by {fpr}")?,
        None => outln!(
            "  NOT SIGNED: the profile names no [rpm] gpg_key, so machines cannot tell this package from one someone else serves"
        )?,
    }
    match &p.repo_file {
        Some(f) => {
            outln!("  clients: copy {dir}/{f} to /etc/yum.repos.d/ (the package carries it too)")?
        }
        None => outln!("  no .repo file for clients: set [rpm] repo_url to where {dir} is served")?,
    }
    Ok(())
}
