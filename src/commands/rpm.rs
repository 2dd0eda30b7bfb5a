//! `rpm`: build the package of a rendered tree or a profile.

use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

use super::validate::tree_dir;
use crate::{ToolMissing, UserError, cmd, console, exit, outln, rpmbuild, text};

/// `rpm --json`, schema 1: the package built, and the profile's problems
/// when a profile was given.
#[derive(Serialize)]
struct RpmJson {
    profile: String,
    package: Option<String>,
    problems: Vec<serde_json::Value>,
}

pub(super) fn rpm_cmd(target: &Path, out: &Path, strict: bool, json: bool) -> anyhow::Result<i32> {
    let Some(rpmbuild_bin) = cmd::find("rpmbuild") else {
        return Err(ToolMissing(
            "install rpm (rpmbuild): apt-get install rpm, or dnf install rpm-build".into(),
        )
        .into());
    };
    let (tree_dir, problems) = tree_dir(target, strict, json)?;
    let print_json = |package: Option<String>, problems| {
        let doc = RpmJson {
            profile: target.display().to_string(),
            package,
            problems,
        };
        console::document("rpm", 1, doc.package.is_some(), &doc)
    };
    let Some(tree_dir) = tree_dir else {
        if json {
            print_json(None, problems)?;
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
        print_json(Some(dest.display().to_string()), problems)?;
    } else {
        outln!("{}", text::one_line(&dest.display().to_string()))?;
    }
    Ok(exit::OK)
}
