//! `rpm`: build the package of a rendered tree or a profile.

use std::path::Path;

use anyhow::Context as _;

use super::validate::tree_dir;
use crate::{ToolMissing, UserError, cmd, exit, outln, rpmbuild, text};

pub(super) fn rpm_cmd(target: &Path, out: &Path, strict: bool) -> anyhow::Result<i32> {
    let Some(rpmbuild_bin) = cmd::find("rpmbuild") else {
        return Err(ToolMissing(
            "install rpm (rpmbuild): apt-get install rpm, or dnf install rpm-build".into(),
        )
        .into());
    };
    let tree_dir = match tree_dir(target, strict, false)? {
        Ok(t) => t,
        Err(code) => return Ok(code),
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
    outln!("{}", text::one_line(&dest.display().to_string()))?;
    Ok(exit::OK)
}
