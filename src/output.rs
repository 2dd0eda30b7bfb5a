//! The only writer of artifact trees. A render goes to a sibling temporary
//! directory and is swapped in whole (renameat2 RENAME_EXCHANGE where the file
//! system has it), so a failed or killed render leaves the previous tree as it
//! was.
//!
//! Whose folder it is decides what may be replaced. A folder is a tree of ours
//! when its MANIFEST.sha256 is one this writer writes ([`read_manifest`]) and at
//! least one file it lists is there as listed; any other folder that is not
//! empty is someone else's and is never replaced, `force` or not. Inside a tree
//! of ours, whatever the manifest does not list is the user's: carried into the
//! new tree as it is (files hard-linked: the same file), never deleted. Files
//! the manifest lists that no longer match it (hand edits) are replaced only
//! with `force`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::Write as _;
use std::os::fd::{AsFd as _, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Component, Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest, Sha256};

use crate::artifact::{Artifact, Content, hex};
use crate::text::one_line;

pub const MANIFEST: &str = "MANIFEST.sha256";

/// The top-level entries of the trees we write: `render`'s (blueprint, bootc,
/// kickstart, rootfs, rpm, selinux) and `fleet`'s (the same without kickstart,
/// plus hosts, image-mode, pxe and index.json), so that either may replace the
/// other; whatever the new tree has at its top counts too. A manifest naming
/// anything else is not ours: `sha256sum * > MANIFEST.sha256` in a music
/// folder is a valid sha256sum file, and must not make the music ours to
/// remove.
pub const TOP_LEVEL: &[&str] = &[
    "blueprint",
    "bootc",
    "hosts",
    "image-mode",
    "index.json",
    "kickstart",
    // `rpm --repo`'s: the packages, dnf's metadata, the key, the .repo file.
    "packages",
    "repodata",
    "RPM-GPG-KEY-rtaudio-tuning",
    "rtaudio-tuning.repo",
    "pxe",
    // `fleet`'s room repository (with [rpm] repo_url).
    "repo",
    "rootfs",
    "rpm",
    "selinux",
];

/// The largest MANIFEST.sha256 read (8 MiB): a fleet of 4,000 hosts lists
/// about 8,000 files in under 1 MiB.
pub const MANIFEST_LIMIT: u64 = 8 << 20;

/// How many entries a refusal lists before "and N more".
const SHOWN: usize = 20;

/// Why a tree was not written: the user has to decide, so these exit 2.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(
        "{dir} has files that differ from its {MANIFEST} (edited by hand?):\n{list}\nnot overwriting them: move your changes into the profile, or re-run with --force to discard them (files and folders {MANIFEST} does not list are yours, and are kept either way)"
    )]
    HandEdited { dir: String, list: String },
    #[error(
        "{dir} is not empty and was not written by rtaudio-tuning ({why}); it holds:\n{list}\nnot replacing it, with or without --force: choose another output folder (a new or an empty one), or move these out of it first"
    )]
    NotOurs {
        dir: String,
        why: String,
        list: String,
    },
    #[error(
        "{dir} holds files or folders of yours (not in its {MANIFEST}) where the new tree puts its own:\n{list}\nnot replacing them, with or without --force: move them out of the tree, then render again"
    )]
    InTheWay { dir: String, list: String },
    #[error("{dir} exists and is not a folder: choose another output folder")]
    NotADir { dir: String },
    #[error(
        "{dir} is a symbolic link: not following it; pass the folder it points to (realpath {dir}) as the output"
    )]
    Symlink { dir: String },
    #[error(
        "\"{dir}\" cannot be an output folder: a tree is written beside its folder and swapped in, so it needs a folder of its own below another, e.g. -o out"
    )]
    NoFolder { dir: String },
    #[error(
        "cannot write beside {dir}: {parent} is not writable ({err}); a tree is written beside its folder and swapped in, so choose an output folder in a folder you can write to"
    )]
    ParentNotWritable {
        dir: String,
        parent: String,
        err: std::io::Error,
    },
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

/// Every folder the paths need, relative to the tree's root, parents before
/// children.
fn folders<'a>(paths: impl IntoIterator<Item = &'a str>) -> BTreeSet<PathBuf> {
    paths
        .into_iter()
        .flat_map(|p| {
            Path::new(p)
                .ancestors()
                .skip(1)
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A manifest path that stays inside the tree: relative, normalised (no empty,
/// `.` or `..` segment), no control character or line break.
fn inside(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path
            .chars()
            .any(|c| c.is_control() || crate::text::is_foreign_line_break(c))
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// The files a manifest lists, by path, with their sha256; `Err` says why the
/// text is not a manifest this writer writes: exactly [`manifest`]'s lines
/// (`SHA256  PATH`, lowercase hex, sorted, each path once, inside the tree,
/// beneath one of `top`, no path a folder of another), each ending in `\n`.
pub fn parse_manifest(
    text: &[u8],
    top: &HashSet<&str>,
) -> Result<BTreeMap<String, String>, String> {
    let text = std::str::from_utf8(text).map_err(|e| {
        format!(
            "{MANIFEST} is not UTF-8 (line {})",
            crate::text::line_of(
                std::str::from_utf8(&text[..e.valid_up_to()]).unwrap_or_default(),
                e.valid_up_to()
            )
        )
    })?;
    if text.is_empty() {
        return Err(format!("{MANIFEST} is empty"));
    }
    let mut listed = BTreeMap::new();
    let mut last: Option<&str> = None;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let n = i + 1;
        let bad = |what: &str| {
            let shown: String = line.chars().take(80).collect();
            format!(
                "{MANIFEST} itself is not as rtaudio-tuning writes it: line {n} {what}: \"{}\"",
                one_line(&shown)
            )
        };
        let Some(line) = line.strip_suffix('\n') else {
            return Err(bad("does not end in a newline"));
        };
        let Some((hash, path)) = line.split_once("  ") else {
            return Err(bad("is not `SHA256  PATH`"));
        };
        if hash.len() != 64 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad("does not start with a sha256 in lowercase hex"));
        }
        if !inside(path) {
            return Err(bad("names a path outside the folder"));
        }
        if !path.split('/').next().is_some_and(|t| top.contains(t)) {
            return Err(bad("names a file rtaudio-tuning does not write"));
        }
        if last.is_some_and(|l| l >= path) {
            return Err(bad("is out of order or repeats a path"));
        }
        last = Some(path);
        listed.insert(path.to_string(), hash.to_string());
    }
    for path in listed.keys() {
        if folders([path.as_str()])
            .iter()
            .any(|f| f.to_str().is_some_and(|f| listed.contains_key(f)))
        {
            return Err(format!(
                "{MANIFEST} itself is not as rtaudio-tuning writes it: it lists {} and files inside it",
                one_line(path)
            ));
        }
    }
    Ok(listed)
}

/// A path for a message: a user's file names may hold terminal escapes.
fn show(p: &Path) -> String {
    one_line(&p.to_string_lossy())
}

/// At most [`SHOWN`] lines, then how many more there are.
fn bounded(lines: impl Iterator<Item = String>) -> String {
    let mut shown = Vec::new();
    let mut more = 0usize;
    for l in lines {
        if shown.len() < SHOWN {
            shown.push(l);
        } else {
            more += 1;
        }
    }
    if more > 0 {
        shown.push(format!("  ... and {more} more"));
    }
    shown.join("\n")
}

/// The first [`SHOWN`] names in a folder, sorted (folders end in `/`), and
/// how many more: memory stays bounded however many there are.
fn contents(dir: &Path) -> anyhow::Result<String> {
    let mut first: BTreeSet<String> = BTreeSet::new();
    let mut total = 0usize;
    for e in fs::read_dir(dir).with_context(|| format!("listing {}", show(dir)))? {
        let e = e.with_context(|| format!("listing {}", show(dir)))?;
        total += 1;
        let slash = if e.file_type().is_ok_and(|t| t.is_dir()) {
            "/"
        } else {
            ""
        };
        first.insert(format!(
            "  {}{slash}",
            one_line(&e.file_name().to_string_lossy())
        ));
        if first.len() > SHOWN {
            first.pop_last();
        }
    }
    let mut list: Vec<String> = first.into_iter().collect();
    if total > list.len() {
        list.push(format!("  ... and {} more", total - list.len()));
    }
    Ok(list.join("\n"))
}

/// Where a tree goes: its folder's name and the folder it is written beside.
struct Place {
    parent: PathBuf,
    /// `parent/name`, the output folder without a trailing `/` or `.`, so that
    /// a link in its place is seen as one.
    path: PathBuf,
    /// The name as text, for the names of the lock and temporary folders.
    name: String,
    /// The path as the user gave it, escaped for a terminal.
    shown: String,
}

impl Place {
    /// `.`, `..` and `sub/..` name a folder only by where it is: it is found
    /// (realpath) so that the lock and the temporary tree go beside it, not
    /// into it. `/` and the empty path have no folder to be written beside.
    fn of(dir: &Path) -> anyhow::Result<Place> {
        let shown = show(dir);
        let found;
        let dir = match dir.components().next_back() {
            Some(Component::Normal(_)) => dir,
            Some(Component::CurDir | Component::ParentDir) => {
                found = fs::canonicalize(dir)
                    .map_err(|e| crate::UserError(format!("output folder {shown}: {e}")))?;
                &found
            }
            _ => return Err(Refusal::NoFolder { dir: shown }.into()),
        };
        let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
            return Err(Refusal::NoFolder { dir: shown }.into());
        };
        let parent = if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent.to_path_buf()
        };
        Ok(Place {
            path: parent.join(name),
            parent,
            name: name.to_string_lossy().into_owned(),
            shown,
        })
    }

    /// What is at the output path (never following a link there).
    fn existing(&self) -> anyhow::Result<bool> {
        let dir = self.shown.clone();
        match fs::symlink_metadata(&self.path) {
            Ok(m) if m.file_type().is_symlink() => Err(Refusal::Symlink { dir }.into()),
            Ok(m) if m.is_dir() => Ok(true),
            Ok(_) => Err(Refusal::NotADir { dir }.into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).with_context(|| format!("inspecting {dir}")),
        }
    }
}

/// A file the old manifest lists, as found.
#[derive(Clone, Copy)]
enum Listed {
    /// A regular file with the listed bytes.
    Intact {
        mode: u32,
        uid: u32,
    },
    /// Anything else at its path: other bytes, a link, a device.
    Changed(&'static str),
    Missing,
}

/// Something in a tree of ours that its manifest does not list.
struct Yours {
    rel: PathBuf,
    dir: bool,
    mode: u32,
    uid: u32,
    gid: u32,
}

/// A tree of ours, as found.
struct Tree {
    manifest: Vec<u8>,
    listed: BTreeMap<String, String>,
    found: HashMap<String, Listed>,
    /// Every folder of ours (the root too) is ours and 0755.
    folders_sound: bool,
    /// The user's, parents before children.
    yours: Vec<Yours>,
    /// Every file (not folder) the tree held: what may be removed with it.
    inodes: HashSet<(u64, u64)>,
}

impl Tree {
    /// Listed files that are not as listed, and the user's entries (kept).
    fn edits(&self) -> Vec<String> {
        let mut edits: Vec<String> = self
            .listed
            .keys()
            .filter_map(|p| match &self.found[p] {
                Listed::Intact { .. } => None,
                Listed::Changed(how) => Some(format!("  changed: {p}{how}")),
                Listed::Missing => Some(format!("  missing: {p}")),
            })
            .collect();
        if edits.is_empty() {
            return edits;
        }
        edits.extend(self.yours.iter().map(|y| {
            format!(
                "  added: {}{} (yours: kept)",
                one_line(&y.rel.to_string_lossy()),
                if y.dir { "/" } else { "" }
            )
        }));
        edits
    }
}

enum Existing {
    Empty,
    /// Someone else's, and why it is not ours.
    Foreign(String),
    Ours(Tree),
}

/// Why a path could not be opened, as a listed file's state.
fn unopened(e: rustix::io::Errno) -> Listed {
    match e {
        rustix::io::Errno::NOENT => Listed::Missing,
        rustix::io::Errno::NOTDIR | rustix::io::Errno::LOOP => {
            Listed::Changed(" (a folder on its path is not one)")
        }
        _ => Listed::Changed(" (not a file it can read)"),
    }
}

/// The folders the listed files are in, each opened once beneath its parent
/// without following a link (the tree may hold links a user made; a manifest
/// path must not lead out of it), by path; or why it could not be.
fn open_folders<'a>(
    root: &fs::File,
    paths: impl IntoIterator<Item = &'a str>,
) -> HashMap<String, Result<OwnedFd, Listed>> {
    use rustix::fs::{Mode, OFlags, openat};
    let mut open: HashMap<String, Result<OwnedFd, Listed>> = HashMap::new();
    // Parents before children.
    for d in folders(paths) {
        let d = d.to_string_lossy().into_owned();
        let (parent, name) = d.rsplit_once('/').unwrap_or(("", &d));
        let fd = match open.get(parent) {
            None => Ok(root.as_fd()),
            Some(Ok(p)) => Ok(p.as_fd()),
            Some(Err(e)) => Err(*e),
        }
        .and_then(|p| {
            openat(
                p,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(unopened)
        });
        open.insert(d, fd);
    }
    open
}

/// The regular file `name` in the folder `dir`, not through a link, opened
/// only once it is seen to be one, and non-blocking (never a FIFO or a
/// device).
fn open_file(dir: BorrowedFd, name: &str) -> Result<(fs::File, rustix::fs::Stat), Listed> {
    use rustix::fs::{AtFlags, FileType, Mode, OFlags, openat, statat};
    let st = statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(unopened)?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => {}
        FileType::Symlink => return Err(Listed::Changed(" (now a symbolic link)")),
        FileType::Directory => return Err(Listed::Changed(" (now a folder)")),
        _ => return Err(Listed::Changed(" (now not a file)")),
    }
    let fd = openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(unopened)?;
    let file = fs::File::from(fd);
    let now = rustix::fs::fstat(&file).map_err(unopened)?;
    if now.st_ino != st.st_ino || now.st_dev != st.st_dev {
        return Err(Listed::Changed(" (replaced while it was read)"));
    }
    Ok((file, now))
}

/// A listed file against its listed sha256. Where the new tree has the same
/// bytes there, they are compared directly (a re-render of an unchanged input
/// hashes nothing); else the file is hashed as it is read.
fn check_listed(
    root: &fs::File,
    open: &HashMap<String, Result<OwnedFd, Listed>>,
    rel: &str,
    hash: &str,
    new: Option<&Artifact>,
    new_hash: Option<&String>,
) -> Listed {
    use std::io::Read as _;
    let (dir, name) = match rel.rsplit_once('/') {
        Some((d, n)) => (open.get(d).map(|f| f.as_ref().map(|f| f.as_fd())), n),
        None => (None, rel),
    };
    let opened = match dir {
        None => open_file(root.as_fd(), name),
        Some(Ok(d)) => open_file(d, name),
        Some(Err(e)) => Err(*e),
    };
    let (mut file, st) = match opened {
        Ok(x) => x,
        Err(l) => return l,
    };
    let intact = match new.zip(new_hash) {
        Some((a, h)) if h == hash => {
            let len = a.content.len();
            let mut bytes = Vec::with_capacity(len);
            st.st_size as u64 == len as u64
                && (&mut file).take(len as u64).read_to_end(&mut bytes).is_ok()
                && a.content.eq_bytes(&bytes)
        }
        _ => {
            let mut h = Sha256::new();
            std::io::copy(&mut file, &mut h).is_ok() && hex(&h.finalize()) == hash
        }
    };
    if intact {
        Listed::Intact {
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
        }
    } else {
        Listed::Changed("")
    }
}

/// What the existing folder at `root` is, against the new tree's artifacts.
fn survey(
    root: &Path,
    own_uid: u32,
    new: &HashMap<&str, (&Artifact, &String)>,
) -> anyhow::Result<Existing> {
    let shown = show(root);
    if fs::read_dir(root)
        .with_context(|| format!("listing {shown}"))?
        .next()
        .is_none()
    {
        return Ok(Existing::Empty);
    }
    let dir = fs::File::open(root).with_context(|| format!("opening {shown}"))?;
    let text = match open_file(dir.as_fd(), MANIFEST) {
        Ok((f, _)) => {
            use std::io::Read as _;
            let mut text = Vec::new();
            f.take(MANIFEST_LIMIT + 1)
                .read_to_end(&mut text)
                .with_context(|| format!("reading {shown}/{MANIFEST}"))?;
            if text.len() as u64 > MANIFEST_LIMIT {
                return Ok(Existing::Foreign(format!(
                    "its {MANIFEST} is larger than the {} MiB rtaudio-tuning writes at most",
                    MANIFEST_LIMIT >> 20
                )));
            }
            text
        }
        Err(Listed::Missing) => return Ok(Existing::Foreign(format!("no {MANIFEST}"))),
        Err(_) => {
            return Ok(Existing::Foreign(format!(
                "its {MANIFEST} is not a file it can read: a link, a folder or a device?"
            )));
        }
    };
    let top: HashSet<&str> = TOP_LEVEL
        .iter()
        .copied()
        .chain(new.keys().filter_map(|p| p.split('/').next()))
        .collect();
    let listed = match parse_manifest(&text, &top) {
        Ok(l) => l,
        Err(why) => return Ok(Existing::Foreign(why)),
    };
    let paths: Vec<(&String, &String)> = listed.iter().collect();
    let open = open_folders(&dir, listed.keys().map(String::as_str));
    let checked = crate::jobs::par(&paths, |(p, h)| {
        let n = new.get(p.as_str());
        check_listed(&dir, &open, p, h, n.map(|n| n.0), n.map(|n| n.1))
    });
    if !checked.iter().any(|c| matches!(c, Listed::Intact { .. })) {
        return Ok(Existing::Foreign(format!(
            "none of the files its {MANIFEST} lists is here as listed"
        )));
    }
    let found: HashMap<String, Listed> = listed.keys().cloned().zip(checked).collect();

    // Everything else in the tree, never following a link: folders of ours
    // (those the listed files need) and the user's files and folders.
    let ours = folders(listed.keys().map(String::as_str));
    let meta = fs::symlink_metadata(root).with_context(|| format!("inspecting {shown}"))?;
    let mut folders_sound = meta.uid() == own_uid && meta.permissions().mode() & 0o7777 == 0o755;
    let mut yours = Vec::new();
    let mut inodes = HashSet::new();
    for e in walkdir::WalkDir::new(root).min_depth(1).sort_by_file_name() {
        let e = e.with_context(|| format!("listing {shown}"))?;
        let m = e
            .metadata()
            .with_context(|| format!("inspecting {}", show(e.path())))?;
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap_or(e.path())
            .to_path_buf();
        if m.is_dir() && ours.contains(&rel) {
            folders_sound &= m.uid() == own_uid && m.permissions().mode() & 0o7777 == 0o755;
            continue;
        }
        if !m.is_dir() {
            inodes.insert((m.dev(), m.ino()));
            if rel == Path::new(MANIFEST) || rel.to_str().is_some_and(|p| listed.contains_key(p)) {
                continue;
            }
        }
        yours.push(Yours {
            rel,
            dir: m.is_dir(),
            mode: m.permissions().mode() & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
        });
    }
    Ok(Existing::Ours(Tree {
        manifest: text,
        listed,
        found,
        folders_sound,
        yours,
        inodes,
    }))
}

/// The user's entries where the new tree puts a file or folder of its own: a
/// file of theirs at one of its paths, a folder of theirs where it writes a
/// file, or anything beneath a path that becomes a file.
fn in_the_way(yours: &[Yours], files: &HashSet<&str>, folders: &BTreeSet<PathBuf>) -> Vec<String> {
    let is_file =
        |p: &Path| p == Path::new(MANIFEST) || p.to_str().is_some_and(|p| files.contains(p));
    let mut shown: HashSet<&Path> = HashSet::new();
    let mut list = Vec::new();
    for y in yours {
        let clash = is_file(&y.rel)
            || (!y.dir && folders.contains(&y.rel))
            || y.rel.ancestors().skip(1).any(is_file);
        if clash && !y.rel.ancestors().skip(1).any(|a| shown.contains(a)) {
            shown.insert(&y.rel);
            list.push(format!(
                "  {}{}",
                one_line(&y.rel.to_string_lossy()),
                if y.dir { "/" } else { "" }
            ));
        }
    }
    list
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
    let place = Place::of(dir)?;
    // A symbolic link as the output folder is refused: swapping the tree in
    // would replace the link, and following it would write where the link
    // points, which someone else may have chosen. Checked again under the lock.
    place.existing()?;
    // One writer at a time for this folder: two renders into the same output
    // would each trust the previous tree while the other replaces it. The
    // lock is a file of our own beside it (`.NAME.lock`), which only those who
    // may write there can hold.
    let (parent, name, shown) = (&place.parent, place.name.as_str(), &place.shown);
    fs::create_dir_all(parent).with_context(|| format!("creating {}", show(parent)))?;
    let (_lock, own_uid) = lock(parent, name).map_err(|e| {
        match e.downcast_ref::<std::io::Error>().map(std::io::Error::kind) {
            Some(std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem) => {
                Refusal::ParentNotWritable {
                    dir: shown.clone(),
                    parent: show(parent),
                    err: e.downcast::<std::io::Error>().expect("an I/O error"),
                }
                .into()
            }
            _ => e,
        }
    })?;
    remove_leftovers(parent, name, own_uid);
    let dir = place.path.as_path();
    let existing = place.existing()?;
    let manifest = manifest(artifacts, hashes);
    let folders = folders(artifacts.iter().map(|a| a.path.as_str()));
    let new: HashMap<&str, (&Artifact, &String)> = artifacts
        .iter()
        .zip(hashes)
        .map(|(a, h)| (a.path.as_str(), (a, h)))
        .collect();

    let tree = if existing {
        match survey(dir, own_uid, &new)? {
            Existing::Empty => None,
            Existing::Foreign(why) => {
                return Err(Refusal::NotOurs {
                    dir: shown.clone(),
                    why,
                    list: contents(dir)?,
                }
                .into());
            }
            Existing::Ours(t) => Some(t),
        }
    } else {
        None
    };
    if let Some(t) = &tree {
        let files: HashSet<&str> = new.keys().copied().collect();
        let clashes = in_the_way(&t.yours, &files, &folders);
        if !clashes.is_empty() {
            return Err(Refusal::InTheWay {
                dir: shown.clone(),
                list: bounded(clashes.into_iter()),
            }
            .into());
        }
        let edits = t.edits();
        if !edits.is_empty() && !force {
            return Err(Refusal::HandEdited {
                dir: shown.clone(),
                list: bounded(edits.into_iter()),
            }
            .into());
        }
        // Nothing changed: the tree stays as it is, not a file rewritten (the
        // user's files and folders stay where they are). The manifests are
        // equal, so the tree lists exactly the new files.
        if !force
            && t.manifest == manifest.as_bytes()
            && t.folders_sound
            && artifacts.iter().all(|a| {
                matches!(t.found.get(&a.path), Some(Listed::Intact { mode, uid }) if *mode == a.mode && *uid == own_uid)
            })
        {
            return Ok(Changes {
                kept: artifacts.len(),
                ..Changes::default()
            });
        }
    }

    // The previous tree lends its unchanged files (same bytes and mode, ours)
    // only when it is intact: after --force, every file is written anew. What
    // it listed still tells which of its files are gone.
    let no_listing = BTreeMap::new();
    let before = tree.as_ref().map_or(&no_listing, |t| &t.listed);
    let lend = |a: &Artifact, hash: &String| {
        !force
            && before.get(&a.path) == Some(hash)
            && tree.as_ref().is_some_and(|t| {
                matches!(t.found.get(&a.path), Some(Listed::Intact { mode, uid }) if *mode == a.mode && *uid == own_uid)
            })
    };

    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.render-{}-", std::process::id()))
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary folder in {}", show(parent)))?;

    // Folders are 0755 whatever the umask: a web server serves them.
    let umask = current_umask();
    for d in &folders {
        make_folder(&tmp.path().join(d), umask)?;
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
    changes.removed = before
        .keys()
        .filter(|p| !new.contains_key(p.as_str()))
        .cloned()
        .collect();
    write_file(
        &tmp.path().join(MANIFEST),
        0o644,
        &Content::Bytes(manifest.into_bytes()),
        umask,
    )?;
    if let Some(t) = &tree {
        carry(&t.yours, dir, tmp.path(), umask)?;
    }
    // One flush of the file system for the whole tree, before it is swapped
    // in: a crash afterwards finds every file on disk.
    let root =
        fs::File::open(tmp.path()).with_context(|| format!("opening {}", show(tmp.path())))?;
    rustix::fs::syncfs(&root).with_context(|| format!("flushing {}", show(tmp.path())))?;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755))
        .with_context(|| format!("setting permissions of {}", show(tmp.path())))?;

    if existing {
        let here = fs::canonicalize(".")
            .ok()
            .zip(fs::canonicalize(dir).ok())
            .is_some_and(|(cwd, d)| cwd.starts_with(d));
        swap(tmp.path(), dir, parent, name).with_context(|| format!("replacing {shown}"))?;
        // `tmp` now holds the previous tree.
        let previous = tmp.keep();
        remove_previous(&previous, tree.as_ref().map(|t| &t.inodes), parent, name);
        if here {
            // The tree is in place: a closed standard error changes nothing.
            let _ = crate::noteln!(
                "note: {shown} is a new folder now; a shell that was in it is still in the old one (removed): `cd .` to see the new tree"
            );
        }
    } else {
        let path = tmp.keep();
        if let Err(e) = fs::rename(&path, dir) {
            let _ = fs::remove_dir_all(&path);
            return Err(e).with_context(|| format!("moving the rendered tree to {shown}"));
        }
    }
    if let Some(t) = tree.as_ref().filter(|t| !t.yours.is_empty()) {
        let _ = crate::noteln!(
            "kept {} files and folders of yours in {shown} (not in its {MANIFEST}) as they were",
            t.yours.len()
        );
    }
    Ok(changes)
}

/// A folder of ours, 0755 whatever the umask.
fn make_folder(d: &Path, umask: u32) -> anyhow::Result<()> {
    fs::create_dir(d).with_context(|| format!("creating {}", show(d)))?;
    if 0o777 & !umask != 0o755 {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("setting permissions of {}", show(d)))?;
    }
    Ok(())
}

/// The user's files and folders from the tree `from` into the new tree `to`:
/// a file (or link, or anything else that is not a folder) as a hard link to
/// the same inode, so its bytes, mode, owner and times are its own; a folder
/// made anew with its mode and owner. Folders of ours they sit in that the
/// new tree no longer has are made for them.
fn carry(yours: &[Yours], from: &Path, to: &Path, umask: u32) -> anyhow::Result<()> {
    for y in yours {
        let (src, dst) = (from.join(&y.rel), to.join(&y.rel));
        let what = || format!("keeping your {} in the new tree", show(&from.join(&y.rel)));
        for a in y
            .rel
            .ancestors()
            .skip(1)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            let a = to.join(a);
            if fs::symlink_metadata(&a).is_err() {
                make_folder(&a, umask)?;
            }
        }
        if !y.dir {
            fs::hard_link(&src, &dst).with_context(what)?;
        } else if fs::symlink_metadata(&dst).is_err() {
            fs::create_dir(&dst).with_context(what)?;
            let m = fs::symlink_metadata(&dst).with_context(what)?;
            if (m.uid(), m.gid()) != (y.uid, y.gid) {
                std::os::unix::fs::lchown(&dst, Some(y.uid), Some(y.gid)).with_context(what)?;
            }
            fs::set_permissions(&dst, fs::Permissions::from_mode(y.mode)).with_context(what)?;
        }
    }
    Ok(())
}

/// Remove the tree a swap put aside: only the files it held when it was
/// surveyed (`None`: it was empty), and then its folders, when empty. A file
/// that appeared in it while the new tree was written is not lost: what is
/// left is moved beside the output, and said.
fn remove_previous(
    previous: &Path,
    inodes: Option<&HashSet<(u64, u64)>>,
    parent: &Path,
    name: &str,
) {
    let none = HashSet::new();
    let inodes = inodes.unwrap_or(&none);
    for e in walkdir::WalkDir::new(previous)
        .contents_first(true)
        .into_iter()
        .flatten()
    {
        match e.metadata() {
            Ok(m) if m.is_dir() => {
                let _ = fs::remove_dir(e.path());
            }
            Ok(m) if inodes.contains(&(m.dev(), m.ino())) => {
                let _ = fs::remove_file(e.path());
            }
            _ => {}
        }
    }
    if fs::symlink_metadata(previous).is_err() {
        return;
    }
    // Out of the way of the next render's clean-up, which removes folders
    // named like `previous` is now.
    let kept = tempfile::Builder::new()
        .prefix(&format!("{name}.kept-"))
        .tempdir_in(parent)
        .map(tempfile::TempDir::keep)
        .ok()
        .filter(|kept| fs::rename(previous, kept).is_ok() || fs::remove_dir(kept).is_err());
    let _ = crate::noteln!(
        "note: files appeared in {} while it was rendered; they are in {} now",
        show(&parent.join(name)),
        show(kept.as_deref().unwrap_or(previous))
    );
}

/// sha256 of every artifact, on every core when there are many.
fn hash_all(artifacts: &[Artifact]) -> Vec<String> {
    crate::jobs::par(artifacts, |a| a.content.sha256_hex())
}

/// The process's umask, from /proc/self/status (setting it to read it would
/// race with other threads). Unknown: every bit, so every file gets a chmod.
pub(crate) fn current_umask() -> u32 {
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
        .with_context(|| format!("writing {}", show(path)))?;
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
        .with_context(|| format!("writing {}", show(path)))
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
            .with_context(|| format!("opening the lock {}", show(&path)))?;
        let meta = file
            .metadata()
            .with_context(|| format!("inspecting {}", show(&path)))?;
        if meta.uid() != uid || !meta.is_file() {
            anyhow::bail!(crate::UserError(format!(
                "{} belongs to another user: remove it, or choose an output folder in a folder of your own",
                show(&path)
            )));
        }
        // Locked at once, or a file system without locks: go on.
        if let Err(rustix::io::Errno::WOULDBLOCK) =
            flock(&file, FlockOperation::NonBlockingLockExclusive)
        {
            if !said {
                crate::noteln!(
                    "waiting for another render into {} to finish ...",
                    show(&parent.join(name))
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn top() -> HashSet<&'static str> {
        TOP_LEVEL.iter().copied().collect()
    }

    fn artifact(path: &str) -> Artifact {
        Artifact {
            path: path.into(),
            mode: 0o644,
            content: Content::Bytes(path.as_bytes().to_vec()),
        }
    }

    /// A path the writer could write: beneath a top-level entry, segments of
    /// file-name characters.
    fn path() -> impl Strategy<Value = String> {
        (
            proptest::sample::select(TOP_LEVEL),
            proptest::collection::vec("[a-zA-Z0-9_.-]{1,12}", 1..4),
        )
            .prop_filter_map("a normalised path", |(top, segs)| {
                let p = format!("{top}/{}", segs.join("/"));
                inside(&p).then_some(p)
            })
    }

    proptest! {
        /// What the writer writes, it reads back as its own, path for path.
        #[test]
        fn manifests_read_back(paths in proptest::collection::btree_set(path(), 1..30)) {
            // No path a folder of another: keep the leaves only.
            let leaves: Vec<&String> = paths
                .iter()
                .filter(|p| !paths.iter().any(|q| q.starts_with(&format!("{p}/"))))
                .collect();
            let artifacts: Vec<Artifact> = leaves.iter().map(|p| artifact(p)).collect();
            let text = manifest(&artifacts, &hash_all(&artifacts));
            let listed = parse_manifest(text.as_bytes(), &top()).unwrap();
            prop_assert_eq!(listed.len(), artifacts.len());
            for a in &artifacts {
                prop_assert_eq!(&listed[&a.path], &a.content.sha256_hex());
            }
        }

        /// A manifest line changed in any of the ways the writer never writes
        /// makes the whole manifest not ours.
        #[test]
        fn manifests_the_writer_never_writes_are_refused(
            paths in proptest::collection::btree_set(path(), 2..10),
            which in any::<prop::sample::Index>(),
            how in 0..9usize,
        ) {
            let artifacts: Vec<Artifact> = paths.iter().map(|p| artifact(p)).collect();
            let text = manifest(&artifacts, &hash_all(&artifacts));
            let mut lines: Vec<String> = text.lines().map(|l| format!("{l}\n")).collect();
            let i = which.index(lines.len());
            let (hash, p) = lines[i].trim_end().split_once("  ").unwrap();
            let (hash, p) = (hash.to_string(), p.to_string());
            match how {
                0 => lines[i] = format!("{hash}  ../{p}\n"),
                1 => lines[i] = format!("{hash}  /{p}\n"),
                2 => lines[i] = format!("{}  {p}\n", hash.to_uppercase().replace(|c: char| c.is_ascii_digit(), "A")),
                3 => lines[i] = format!("{hash}  {p}\r\n"),
                4 => lines[i] = format!("{hash}  music/{p}\n"),
                5 => { let l = lines[i].clone(); lines.insert(i, l); }
                6 => lines.swap(0, 1),
                7 => lines[i] = format!("{hash} *{p}\n"),
                _ => lines[i] = format!("{hash}  {}\u{2028}x\n", p),
            }
            let text = lines.concat();
            prop_assert!(parse_manifest(text.as_bytes(), &top()).is_err(), "{}", text);
        }
    }

    #[test]
    fn manifests_that_are_not_text_or_complete_are_refused() {
        let h = "0".repeat(64);
        for text in [
            &b""[..],
            b"\xff\xfe",
            format!("{h}  kickstart/a.ks").as_bytes(),
            format!("{h}  kickstart\n{h}  kickstart/a.ks\n").as_bytes(),
            format!("{h}  kickstart/./a.ks\n").as_bytes(),
            format!("{h}  kickstart//a.ks\n").as_bytes(),
        ] {
            assert!(parse_manifest(text, &top()).is_err(), "{text:?}");
        }
    }

    #[test]
    fn lists_are_bounded() {
        let list = bounded((0..SHOWN + 7).map(|i| format!("  {i}")));
        assert_eq!(list.lines().count(), SHOWN + 1);
        assert!(list.ends_with("  ... and 7 more"));
        assert_eq!(bounded(["  a".to_string()].into_iter()), "  a");
    }

    #[test]
    fn an_output_folder_is_named_beside_its_parent() {
        let p = Place::of(Path::new("out/")).unwrap();
        assert_eq!(
            (p.parent, p.path),
            (PathBuf::from("."), PathBuf::from("./out"))
        );
        let p = Place::of(Path::new("a/b/.")).unwrap();
        assert_eq!(p.path, PathBuf::from("a/b"));
        let cwd = std::env::current_dir().unwrap();
        let p = Place::of(Path::new(".")).unwrap();
        assert_eq!(p.path, cwd);
        assert_eq!(p.parent, cwd.parent().unwrap());
        let p = Place::of(Path::new("src/..")).unwrap();
        assert_eq!(p.path, cwd);
        for root in ["/", "", "/.", "/.."] {
            assert!(Place::of(Path::new(root)).is_err(), "{root:?}");
        }
    }
}
