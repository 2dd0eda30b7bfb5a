//! The only writer of artifact trees. A render goes to a sibling temporary
//! directory and is swapped in whole (renameat2 RENAME_EXCHANGE where the file
//! system has it), so a failed or killed render leaves the previous tree as it
//! was. A tree whose files no longer match its MANIFEST.sha256 (hand edits) is
//! not replaced without `force`.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest, Sha256};

use crate::render::{Artifact, Content};

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
    #[error("{dir} exists and is not a folder: choose another output folder")]
    NotADir { dir: String },
    #[error(
        "{dir} is a symbolic link: not following it; pass the folder it points to (realpath {dir}) as the output"
    )]
    Symlink { dir: String },
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    let mut s = String::with_capacity(digest.len() * 2);
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `sha256sum`-compatible lines for every artifact, sorted by path, from
/// their sha256 (in the artifacts' order).
pub fn manifest(artifacts: &[Artifact], hashes: &[String]) -> String {
    let mut lines: Vec<(&str, &str)> = artifacts
        .iter()
        .zip(hashes)
        .map(|(a, h)| (a.path.as_str(), h.as_str()))
        .collect();
    lines.sort_unstable();
    lines.iter().map(|(p, h)| format!("{h}  {p}\n")).collect()
}

/// Every folder the artifacts need, relative to the tree's root, parents
/// before children.
fn folders(artifacts: &[Artifact]) -> std::collections::BTreeSet<PathBuf> {
    artifacts
        .iter()
        .flat_map(|a| {
            Path::new(&a.path)
                .ancestors()
                .skip(1)
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .collect::<Vec<_>>()
        })
        .collect()
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
    let entries: Vec<(&String, &String)> = listed.iter().collect();
    let mut edits: Vec<String> =
        crate::jobs::par(&entries, |(path, hash)| match fs::read(dir.join(path)) {
            Ok(bytes) if sha256_hex(&bytes) == **hash => None,
            Ok(_) => Some(format!("  changed: {path}")),
            Err(_) => Some(format!("  missing: {path}")),
        })
        .into_iter()
        .flatten()
        .collect();
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

/// What a write changed, path by path, against the tree it replaced.
#[derive(Debug, Default)]
pub struct Changes {
    /// Paths whose bytes are new or differ from the previous tree's.
    pub written: Vec<String>,
    /// Paths of the previous tree that the new one no longer has.
    pub removed: Vec<String>,
    /// Files whose bytes did not change (kept as the same inode unless
    /// --force, a changed mode or another owner had them written anew).
    pub kept: usize,
}

/// The previous tree's files by path and sha256, from its manifest, when the
/// tree is intact (no hand edits) and so may lend its files to the next.
fn previous(dir: &Path) -> std::collections::HashMap<String, String> {
    let Ok(text) = fs::read_to_string(dir.join(MANIFEST)) else {
        return Default::default();
    };
    text.lines()
        .filter_map(|l| l.split_once("  "))
        .filter(|(h, p)| h.len() == 64 && inside(p))
        .map(|(h, p)| (p.to_string(), h.to_string()))
        .collect()
}

/// Write `artifacts` (plus MANIFEST.sha256) as the tree `dir`, atomically.
/// Files whose bytes are unchanged are hard links to the previous tree's, so
/// re-rendering an unchanged input rewrites nothing.
pub fn write_tree(dir: &Path, artifacts: &[Artifact], force: bool) -> anyhow::Result<Changes> {
    write_tree_hashed(dir, artifacts, &hash_all(artifacts), force)
}

/// [`write_tree`] with each artifact's sha256 already known (a fleet hashes
/// its files as it renders them, for its index).
pub fn write_tree_hashed(
    dir: &Path,
    artifacts: &[Artifact],
    hashes: &[String],
    force: bool,
) -> anyhow::Result<Changes> {
    debug_assert_eq!(artifacts.len(), hashes.len());
    // A symbolic link as the output folder is refused: swapping the tree in
    // would replace the link, and following it would write where the link
    // points, which someone else may have chosen. Checked again under the lock.
    let shown = dir.display().to_string();
    match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => return Err(Refusal::Symlink { dir: shown }.into()),
        Ok(m) if !m.is_dir() => return Err(Refusal::NotADir { dir: shown }.into()),
        _ => {}
    }
    // One writer at a time for this folder: two renders into the same output
    // would each trust the previous tree while the other replaces it. The
    // lock is a file of our own beside it (`.NAME.lock`), which only those who
    // may write there can hold.
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = dir
        .file_name()
        .map_or_else(|| "tree".into(), |n| n.to_string_lossy().into_owned());
    let (_lock, own_uid) = lock(&parent, &name)?;
    remove_leftovers(&parent, &name, own_uid);
    let existing = match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => return Err(Refusal::Symlink { dir: shown }.into()),
        Ok(m) if m.is_dir() => true,
        Ok(_) => return Err(Refusal::NotADir { dir: shown }.into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e).with_context(|| format!("inspecting {shown}")),
    };
    let manifest = manifest(artifacts, hashes);
    let folders = folders(artifacts);

    // Nothing changed: the tree stays as it is, not a file rewritten. The
    // manifests are equal, so a file is intact exactly when it holds the new
    // bytes: compared directly, without hashing the tree again.
    if existing && !force && fs::read(dir.join(MANIFEST)).is_ok_and(|m| m == manifest.as_bytes()) {
        let intact = crate::jobs::par(artifacts, |a| {
            fs::symlink_metadata(dir.join(&a.path))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o7777 == a.mode)
                && fs::read(dir.join(&a.path)).is_ok_and(|b| a.content.eq_bytes(&b))
        });
        // Every file and folder ours, every folder 0755, no other folder:
        // else the tree is written anew.
        let mut files = 0;
        let mut sound = true;
        for e in walkdir::WalkDir::new(dir) {
            let Ok(e) = e else {
                sound = false;
                break;
            };
            let Ok(m) = e.metadata() else {
                sound = false;
                break;
            };
            let rel = e.path().strip_prefix(dir).unwrap_or(e.path());
            if m.uid() != own_uid {
                sound = false;
            } else if m.is_dir() {
                sound &= (rel.as_os_str().is_empty() || folders.contains(rel))
                    && m.permissions().mode() & 0o7777 == 0o755;
            } else {
                files += 1;
            }
        }
        if sound && intact.iter().all(|x| *x) && files == artifacts.len() + 1 {
            return Ok(Changes {
                kept: artifacts.len(),
                ..Changes::default()
            });
        }
    }

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

    // The previous tree lends its unchanged files (same bytes and mode, ours)
    // only when it is intact: after --force, every file is written anew. What
    // it had still tells which of its files are gone.
    let before = if existing {
        previous(dir)
    } else {
        Default::default()
    };
    let lend = |a: &Artifact, hash: &String| {
        !force
            && before.get(&a.path) == Some(hash)
            && fs::symlink_metadata(dir.join(&a.path)).is_ok_and(|m| {
                m.is_file() && m.permissions().mode() & 0o7777 == a.mode && m.uid() == own_uid
            })
    };

    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.render-{}-", std::process::id()))
        .tempdir_in(&parent)
        .with_context(|| format!("creating a temporary folder in {}", parent.display()))?;

    // Folders are 0755 whatever the umask: a web server serves them.
    let umask = current_umask();
    for d in &folders {
        let d = tmp.path().join(d);
        fs::create_dir(&d).with_context(|| format!("creating {}", d.display()))?;
        if 0o777 & !umask != 0o755 {
            fs::set_permissions(&d, fs::Permissions::from_mode(0o755))
                .with_context(|| format!("setting permissions of {}", d.display()))?;
        }
    }
    // One thread creates the files: creating files in one folder from several
    // threads only makes them wait on the folder's lock (measured: slower).
    let results = artifacts.iter().zip(hashes).map(|(a, hash)| {
        let path = tmp.path().join(&a.path);
        if !(lend(a, hash) && fs::hard_link(dir.join(&a.path), &path).is_ok()) {
            write_file(&path, a.mode, &a.content, umask)?;
        }
        anyhow::Ok(())
    });
    let mut changes = Changes::default();
    // What changed is told by the bytes, not by whether a file was written
    // (under --force every file is).
    for ((a, hash), written) in artifacts.iter().zip(hashes).zip(results) {
        written?;
        if before.get(&a.path) == Some(hash) {
            changes.kept += 1;
        } else {
            changes.written.push(a.path.clone());
        }
    }
    let listed: std::collections::HashSet<&str> =
        artifacts.iter().map(|a| a.path.as_str()).collect();
    changes.removed = before
        .keys()
        .filter(|p| !listed.contains(p.as_str()))
        .cloned()
        .collect();
    changes.removed.sort();
    write_file(
        &tmp.path().join(MANIFEST),
        0o644,
        &Content::Bytes(manifest.into_bytes()),
        umask,
    )?;
    // One flush of the file system for the whole tree, before it is swapped
    // in: a crash afterwards finds every file on disk.
    let root =
        fs::File::open(tmp.path()).with_context(|| format!("opening {}", tmp.path().display()))?;
    rustix::fs::syncfs(&root).with_context(|| format!("flushing {}", tmp.path().display()))?;
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
    Ok(changes)
}

/// sha256 of every artifact, on every core when there are many.
fn hash_all(artifacts: &[Artifact]) -> Vec<String> {
    crate::jobs::par(artifacts, |a| a.content.sha256_hex())
}

/// The process's umask, from /proc/self/status (setting it to read it would
/// race with other threads). Unknown: every bit, so every file gets a chmod.
fn current_umask() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o7777)
}

/// Create a file with its mode (an extra chmod only where the umask takes
/// bits away).
fn write_file(path: &Path, mode: u32, content: &Content, umask: u32) -> anyhow::Result<()> {
    use std::io::IoSlice;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    // One writev for a file in pieces.
    let pieces = content.pieces();
    let mut slices: Vec<IoSlice> = pieces
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| IoSlice::new(p))
        .collect();
    let mut bufs = &mut slices[..];
    let mut result = Ok(());
    while !bufs.is_empty() {
        match f.write_vectored(bufs) {
            Ok(0) => {
                result = Err(std::io::Error::from(std::io::ErrorKind::WriteZero));
                break;
            }
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    result
        .and_then(|()| {
            if mode & umask != 0 {
                f.set_permissions(fs::Permissions::from_mode(mode))
            } else {
                Ok(())
            }
        })
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
            // Named so that a run killed before the new tree is in place
            // has the previous one put back, not cleaned up.
            let aside = tempfile::Builder::new()
                .prefix(&format!(".{name}.previous-{}-", std::process::id()))
                .tempdir_in(parent)?
                .keep();
            fs::rename(dir, &aside)?;
            fs::rename(new, dir)?;
            fs::rename(&aside, new)
        }
        Err(e) => Err(e.into()),
    }
}

/// `.NAME.lock` beside the output, held while a render writes; removed when
/// the render ends (a killed render leaves it, and the next one takes it).
struct Lock {
    /// Held open: the lock lasts as long as the descriptor.
    _file: fs::File,
    path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still held: whoever opened it meanwhile sees, once it
        // has the lock, that the path is no longer its file, and starts over.
        let _ = fs::remove_file(&self.path);
    }
}

/// Take the lock, waiting (and saying so) while another render holds it.
/// Returns it with our uid. A lock file another user owns, or a link in its
/// place, is refused; a file system without locks goes without.
fn lock(parent: &Path, name: &str) -> anyhow::Result<(Lock, u32)> {
    use rustix::fs::{FlockOperation, flock};
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = parent.join(format!(".{name}.lock"));
    let uid = rustix::process::geteuid().as_raw();
    let mut said = false;
    loop {
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .with_context(|| format!("opening the lock {}", path.display()))?;
        let meta = file
            .metadata()
            .with_context(|| format!("inspecting {}", path.display()))?;
        if meta.uid() != uid || !meta.is_file() {
            anyhow::bail!(crate::UserError(format!(
                "{} belongs to another user: remove it, or choose an output folder in a folder of your own",
                path.display()
            )));
        }
        // Locked at once, or a file system without locks: go on.
        if let Err(rustix::io::Errno::WOULDBLOCK) =
            flock(&file, FlockOperation::NonBlockingLockExclusive)
        {
            if !said {
                crate::errln!(
                    "waiting for another render into {} to finish ...",
                    parent.join(name).display()
                )?;
                said = true;
            }
            while let Err(rustix::io::Errno::INTR) = flock(&file, FlockOperation::LockExclusive) {}
        }
        // Still the file at the path (the holder before us may have removed
        // it): then it is ours.
        if fs::symlink_metadata(&path).is_ok_and(|m| m.ino() == meta.ino() && m.dev() == meta.dev())
        {
            return Ok((Lock { _file: file, path }, uid));
        }
    }
}

/// Clean up after killed renders beside `name` (their folder names carry the
/// render's process id, and that process is gone): a half-written tree is
/// removed; a previous tree moved aside is put back if the folder is missing.
fn remove_leftovers(parent: &Path, name: &str, own_uid: u32) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    let dir = parent.join(name);
    for e in entries.flatten() {
        let file_name = e.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let (rest, previous) = match (
            file_name.strip_prefix(&format!(".{name}.render-")),
            file_name.strip_prefix(&format!(".{name}.previous-")),
        ) {
            (Some(r), _) => (r, false),
            (_, Some(r)) => (r, true),
            _ => continue,
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        // Only folders of our own are touched.
        if !fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_dir() && m.uid() == own_uid) {
            continue;
        }
        if previous && fs::symlink_metadata(&dir).is_err() {
            let _ = fs::rename(e.path(), &dir);
        } else {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}
