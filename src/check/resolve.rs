//! Opening a path beneath a root folder so that nothing in it can lead outside:
//! a captured machine is hostile, and `proc -> /proc` or `../../proc/kmsg` in it
//! must not read the host.
//!
//! The kernel does this with openat2(2)'s `RESOLVE_IN_ROOT` (every absolute
//! symlink and every `..` is resolved as if the root folder were `/`) and
//! `RESOLVE_NO_MAGICLINKS` (no /proc/PID/fd-style link that points at an open
//! object rather than a path). Where openat2 is missing (ENOSYS before Linux
//! 5.6) or filtered (EPERM under some seccomp policies), [`walk`] resolves the
//! path itself with the same rules; it never fails open to a plain `open`.

use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd as _, BorrowedFd, OwnedFd};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// How many symbolic links one resolution may follow: the kernel's MAXSYMLINKS
/// (include/linux/namei.h), after which it says ELOOP.
const MAX_LINKS: usize = 40;

/// How often a resolution that a concurrent rename or mount upset (openat2
/// says EAGAIN: openat2(2), "RESOLVE_IN_ROOT") is tried again.
const RACE_TRIES: usize = 4;

/// Open `path` (relative to `root`; a leading `/` means the root too; its
/// names are bytes, as the kernel's are) with `flags`. `kernel` is false once openat2 proved unavailable; this sets it so.
pub fn open(
    root: BorrowedFd<'_>,
    path: &[u8],
    flags: OFlags,
    kernel: &mut bool,
) -> Result<OwnedFd, Errno> {
    let start = path.iter().position(|&b| b != b'/').unwrap_or(path.len());
    let rel = match &path[start..] {
        [] => b".".as_slice(),
        rel => rel,
    };
    if *kernel {
        for _ in 0..RACE_TRIES {
            match rustix::fs::openat2(
                root,
                rel,
                flags | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            ) {
                Err(Errno::AGAIN) => continue,
                Err(Errno::NOSYS | Errno::PERM) => {
                    *kernel = false;
                    break;
                }
                done => return done,
            }
        }
        if *kernel {
            return Err(Errno::AGAIN);
        }
    }
    walk(root, rel, flags | OFlags::CLOEXEC)
}

/// Open the very inode an O_PATH descriptor holds, with `flags` (O_PATH
/// itself opens nothing): through its /proc/self/fd link, which the kernel
/// follows to the open file, not to a name that may lead elsewhere by now
/// (proc(5), /proc/pid/fd; open(2), O_PATH). ENOENT: /proc is not mounted.
pub fn reopen(node: &OwnedFd, flags: OFlags) -> Result<OwnedFd, Errno> {
    let link = format!("/proc/self/fd/{}", node.as_raw_fd());
    rustix::fs::open(link, flags | OFlags::CLOEXEC, Mode::empty())
}

/// `RESOLVE_IN_ROOT` done here, one component at a time: each is opened with
/// `O_PATH | O_NOFOLLOW` relative to the folder before it, a symbolic link is
/// read and its target spliced into the components still to go (an absolute
/// one starting again at the root), and `..` goes back to the folder held
/// before, so it stops at the root and no rename of a folder can lift the walk
/// above it (the kernel's `..` is never asked). A link's target is only ever a
/// path resolved again here, so a magic link is not followed either.
pub fn walk(root: BorrowedFd<'_>, path: &[u8], flags: OFlags) -> Result<OwnedFd, Errno> {
    let mut folders: Vec<OwnedFd> = Vec::new();
    let mut todo = components(path);
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name == b"." {
            continue;
        }
        if name == b".." {
            folders.pop();
            continue;
        }
        let dir = folders.last().map_or(root, AsFd::as_fd);
        let node = rustix::fs::openat(
            dir,
            name.as_slice(),
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let kind = FileType::from_raw_mode(rustix::fs::fstat(&node)?.st_mode);
        if kind == FileType::Symlink {
            links += 1;
            if links > MAX_LINKS {
                return Err(Errno::LOOP);
            }
            // readlinkat(2): an empty path reads the link an O_PATH descriptor
            // holds, so the link read is the one just checked.
            let target = rustix::fs::readlinkat(&node, c"", Vec::new())?;
            let target = target.as_bytes();
            if target.is_empty() {
                return Err(Errno::NOENT);
            }
            if target.starts_with(b"/") {
                folders.clear();
            }
            for c in components(target).into_iter().rev() {
                todo.push_front(c);
            }
        } else if todo.is_empty() {
            if flags.contains(OFlags::PATH) {
                return Ok(node);
            }
            // The real open, of the same name in the same folder; a link put
            // there since is refused (ELOOP). Only a folder is opened so
            // (O_DIRECTORY refuses anything else before it is opened): a file
            // is opened O_PATH and then reopened through its descriptor.
            return rustix::fs::openat(
                dir,
                name.as_slice(),
                flags | OFlags::NOFOLLOW,
                Mode::empty(),
            );
        } else if kind == FileType::Directory {
            folders.push(node);
        } else {
            return Err(Errno::NOTDIR);
        }
    }
    // The path ended at a folder (`.`, `..`, `dir/`).
    let dir = folders.last().map_or(root, AsFd::as_fd);
    rustix::fs::openat(dir, c".", flags, Mode::empty())
}

/// A path's components; a trailing `/` becomes a final `.`, so that what it
/// ends at must be a folder, as for the kernel.
fn components(path: &[u8]) -> VecDeque<Vec<u8>> {
    let mut v: VecDeque<Vec<u8>> = path
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    if path.ends_with(b"/") && !v.is_empty() {
        v.push_back(b".".to_vec());
    }
    v
}
