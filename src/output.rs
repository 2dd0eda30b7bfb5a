//! The only writer of artifact trees. A render goes to a sibling temporary
//! directory and is swapped in whole (renameat2 RENAME_EXCHANGE where the file
//! system has it), so a failed or killed render leaves the previous tree as it
//! was. A tree whose files no longer match its MANIFEST.sha256 (hand edits) is
//! not replaced without `force`.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest, Sha256};

use crate::render::Artifact;

pub const MANIFEST: &str = "MANIFEST.sha256";

/// Why a tree was not written: the user has to decide, so these exit 2.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(
        "{dir} has files that differ from its {MANIFEST} (edited by hand?):\n{list}\nnot overwriting them: move your changes into the profile, or re-run with --force to discard them"
    )]
    HandEdited { dir: String, list: String },
    #[error(
        "{dir} exists, is not empty and was not written by rtaudio-tuning (no {MANIFEST}): choose another output folder, or re-run with --force to replace it"
    )]
    NotOurs { dir: String },
    #[error("{dir} exists and is not a folder")]
    NotADir { dir: String },
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `sha256sum`-compatible lines for every artifact, sorted by path.
pub fn manifest(artifacts: &[Artifact]) -> String {
    let mut lines: Vec<(String, String)> = artifacts
        .iter()
        .map(|a| (a.path.clone(), sha256_hex(&a.content)))
        .collect();
    lines.sort();
    lines.iter().map(|(p, h)| format!("{h}  {p}\n")).collect()
}

/// Files of an existing tree that differ from its manifest: changed, missing,
/// or not listed. `None` when the tree has no manifest.
pub fn hand_edits(dir: &Path) -> anyhow::Result<Option<Vec<String>>> {
    let mpath = dir.join(MANIFEST);
    let text = match fs::read_to_string(&mpath) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", mpath.display())),
    };
    let mut listed = std::collections::BTreeMap::new();
    for line in text.lines() {
        match line.split_once("  ") {
            Some((hash, path)) if hash.len() == 64 && inside(path) => {
                listed.insert(path.to_string(), hash.to_string());
            }
            _ => {
                return Ok(Some(vec![format!(
                    "  changed: {MANIFEST} itself (line {line:?})"
                )]));
            }
        }
    }
    let mut edits = Vec::new();
    for (path, hash) in &listed {
        match fs::read(dir.join(path)) {
            Ok(bytes) if sha256_hex(&bytes) == *hash => {}
            Ok(_) => edits.push(format!("  changed: {path}")),
            Err(_) => edits.push(format!("  missing: {path}")),
        }
    }
    for entry in walkdir::WalkDir::new(dir).min_depth(1).sort_by_file_name() {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        if entry.file_type().is_dir() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .unwrap_or(entry.path())
            .to_string_lossy()
            .into_owned();
        if rel != MANIFEST && !listed.contains_key(&rel) {
            edits.push(format!("  added: {rel}"));
        }
    }
    Ok(Some(edits))
}

/// A manifest path that stays inside the tree: relative, no `..`, no control
/// characters. Anything else makes the manifest untrustworthy.
fn inside(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.chars().any(char::is_control)
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// Write `artifacts` (plus MANIFEST.sha256) as the tree `dir`, atomically.
pub fn write_tree(dir: &Path, artifacts: &[Artifact], force: bool) -> anyhow::Result<()> {
    // An output folder that is a symbolic link to a folder (a studio's `out` ->
    // /srv/...) is replaced where it points; the link stays.
    let resolved;
    let dir = match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() && dir.is_dir() => {
            resolved =
                fs::canonicalize(dir).with_context(|| format!("resolving {}", dir.display()))?;
            resolved.as_path()
        }
        _ => dir,
    };
    let shown = dir.display().to_string();
    let existing = match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => true,
        Ok(_) => return Err(Refusal::NotADir { dir: shown }.into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e).with_context(|| format!("inspecting {shown}")),
    };
    if existing && !force {
        match hand_edits(dir)? {
            Some(edits) if edits.is_empty() => {}
            Some(edits) => {
                return Err(Refusal::HandEdited {
                    dir: shown,
                    list: edits.join("\n"),
                }
                .into());
            }
            None => {
                let empty = fs::read_dir(dir)
                    .with_context(|| format!("listing {shown}"))?
                    .next()
                    .is_none();
                if !empty {
                    return Err(Refusal::NotOurs { dir: shown }.into());
                }
            }
        }
    }

    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = dir
        .file_name()
        .map_or_else(|| "tree".into(), |n| n.to_string_lossy().into_owned());
    remove_leftovers(&parent, &name);
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.render-{}-", std::process::id()))
        .tempdir_in(&parent)
        .with_context(|| format!("creating a temporary folder in {}", parent.display()))?;

    for a in artifacts {
        write_file(tmp.path(), &a.path, a.mode, &a.content)?;
    }
    write_file(tmp.path(), MANIFEST, 0o644, manifest(artifacts).as_bytes())?;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755))
        .with_context(|| format!("setting permissions of {}", tmp.path().display()))?;

    if existing {
        swap(tmp.path(), dir, &parent, &name).with_context(|| format!("replacing {shown}"))?;
        // `tmp` now holds the previous tree and is removed when dropped.
        drop(tmp);
    } else {
        let path = tmp.keep();
        if let Err(e) = fs::rename(&path, dir) {
            let _ = fs::remove_dir_all(&path);
            return Err(e).with_context(|| format!("moving the rendered tree to {shown}"));
        }
    }
    Ok(())
}

fn write_file(root: &Path, rel: &str, mode: u32, content: &[u8]) -> anyhow::Result<()> {
    let path = root.join(rel);
    if let Some(d) = path.parent() {
        fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let mut f = fs::File::create(&path).with_context(|| format!("writing {}", path.display()))?;
    f.write_all(content)
        .and_then(|()| f.set_permissions(fs::Permissions::from_mode(mode)))
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Exchange two directories atomically; where the file system cannot, move the
/// old one aside first (a kill in between leaves it beside `dir`, not lost).
/// Afterwards `new` holds the previous tree.
fn swap(new: &Path, dir: &Path, parent: &Path, name: &str) -> std::io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, new, CWD, dir, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
            // An empty folder of our own to rename the old tree onto.
            let aside = tempfile::Builder::new()
                .prefix(&format!(".{name}.render-{}-", std::process::id()))
                .tempdir_in(parent)?
                .keep();
            fs::rename(dir, &aside)?;
            fs::rename(new, dir)?;
            fs::rename(&aside, new)
        }
        Err(e) => Err(e.into()),
    }
}

/// Remove temporary folders that killed renders left beside `name`: their
/// names carry the render's process id, and that process is gone.
fn remove_leftovers(parent: &Path, name: &str) {
    let prefix = format!(".{name}.render-");
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let file_name = e.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}
