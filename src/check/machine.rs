//! The machine a check reads: `/` (live), or a captured copy of one (`--root`).
//! Every path is resolved beneath the root ([`super::resolve`]), so a capture's
//! symbolic links, `..` and odd kernel release strings cannot read the host;
//! only regular files are read, each and all together within the bounds below.
//! Every read says why it failed; nothing here panics on odd content.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::Read as _;
use std::os::fd::{AsFd as _, OwnedFd};
use std::path::Path;

use rustix::fs::{FileType, OFlags, Stat};
use rustix::io::Errno;

use super::resolve;

/// The most one file may hold (a kernel's /boot/config is about 250 KB, a big
/// machine's /proc/interrupts some MB): a larger one is not read.
pub const FILE_MAX: u64 = 16 << 20;
/// The first line of a one-line file (/proc/PID/comm, a /sys attribute).
pub const LINE_MAX: usize = 4096;
/// The most `/proc/config.gz` may decompress to: a real configuration is about
/// 250 KB, so more is a gzip bomb and the configuration is not loaded.
pub const CONFIG_MAX: u64 = 16 << 20;
/// All the bytes one check reads, together: a capture of hard links or sparse
/// files could otherwise hand over terabytes in 16 MiB pieces.
pub const READ_BUDGET: u64 = 64 << 20;
/// Names read from one folder (/proc of a capture could hold millions).
pub const LIST_MAX: usize = 65_536;

/// Why a file could not be read. The path is in [`Unreadable`].
#[derive(Debug, thiserror::Error)]
pub enum Why {
    #[error("is missing")]
    Missing,
    #[error("is missing (a part of its path is not a folder)")]
    NotUnderFolder,
    #[error("is not readable here (permission denied)")]
    Denied,
    #[error("is {0}, not a regular file (not read)")]
    NotRegular(&'static str),
    #[error(
        "leads through a loop of symbolic links (more than 40) or a /proc magic link (not followed)"
    )]
    Loop,
    #[error("changed while it was opened (not read)")]
    Changed,
    #[error("is larger than {FILE_MAX} bytes (not read)")]
    TooLarge,
    #[error("has a first line longer than {LINE_MAX} bytes (not read)")]
    LongLine,
    #[error("was not read: this check has read its limit of {READ_BUDGET} bytes")]
    Budget,
    #[error(
        "decompresses to more than {CONFIG_MAX} bytes (a kernel configuration is about 250 KB): not loaded"
    )]
    Bomb,
    #[error("is not gzip data ({0}): not loaded")]
    NotGzip(std::io::Error),
    #[error("could not be read: {0}")]
    Io(std::io::Error),
}

impl From<Errno> for Why {
    fn from(e: Errno) -> Why {
        match e {
            Errno::NOENT => Why::Missing,
            Errno::NOTDIR => Why::NotUnderFolder,
            Errno::ACCESS | Errno::PERM => Why::Denied,
            Errno::LOOP => Why::Loop,
            Errno::AGAIN => Why::Changed,
            e => Why::Io(e.into()),
        }
    }
}

/// A file of the machine that could not be read, and why.
#[derive(Debug, thiserror::Error)]
#[error("{path} {why}")]
pub struct Unreadable {
    pub path: String,
    pub why: Why,
}

impl From<Unreadable> for String {
    fn from(u: Unreadable) -> String {
        u.to_string()
    }
}

pub struct Machine {
    /// The root folder, held open: every path is resolved beneath it.
    root: OwnedFd,
    /// Reading `/` itself: live probes (scheduling, mlock, systemctl) apply.
    pub live: bool,
    /// openat2 works here (false after ENOSYS or EPERM: resolve.rs walks).
    kernel: Cell<bool>,
    /// Bytes read so far, against [`READ_BUDGET`].
    spent: Cell<u64>,
    /// Bounds that were reached, for the report.
    notes: RefCell<Vec<String>>,
}

fn kind_name(mode: u32) -> &'static str {
    match FileType::from_raw_mode(mode) {
        FileType::Directory => "a folder",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Symlink => "a symbolic link",
        _ => "not a plain file",
    }
}

fn same_file(a: &Stat, b: &Stat) -> bool {
    (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
}

impl Machine {
    /// The machine at `root` (None or `/`: this one).
    pub fn new(root: Option<&Path>) -> std::io::Result<Machine> {
        let (path, live) = match root {
            Some(r) if r != Path::new("/") => (r, false),
            _ => (Path::new("/"), true),
        };
        let root = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        Ok(Machine {
            root,
            live,
            kernel: Cell::new(true),
            spent: Cell::new(0),
            notes: RefCell::new(Vec::new()),
        })
    }

    /// Bounds that were reached while reading (a folder listed in part, the
    /// read budget spent), once each.
    pub fn notes(&self) -> Vec<String> {
        self.notes.borrow().clone()
    }

    fn note(&self, n: String) {
        let mut notes = self.notes.borrow_mut();
        if !notes.contains(&n) {
            notes.push(n);
        }
    }

    /// Forget openat2, as on a kernel without it (the property tests compare
    /// both resolutions).
    #[cfg(test)]
    pub fn without_openat2(self) -> Machine {
        self.kernel.set(false);
        self
    }

    fn open(&self, p: &str, flags: OFlags) -> Result<OwnedFd, Why> {
        let mut kernel = self.kernel.get();
        let fd = resolve::open(self.root.as_fd(), p, flags, &mut kernel);
        self.kernel.set(kernel);
        Ok(fd?)
    }

    /// A regular file opened for reading. It is looked at first through an
    /// O_PATH descriptor, which opens nothing, so a FIFO, device or socket in
    /// a capture is never opened; the real open is non-blocking and must reach
    /// the same inode.
    fn file(&self, p: &str) -> Result<File, Why> {
        let node = rustix::fs::fstat(self.open(p, OFlags::PATH)?)?;
        if FileType::from_raw_mode(node.st_mode) != FileType::RegularFile {
            return Err(Why::NotRegular(kind_name(node.st_mode)));
        }
        let fd = self.open(p, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY)?;
        let opened = rustix::fs::fstat(&fd)?;
        if !same_file(&node, &opened)
            || FileType::from_raw_mode(opened.st_mode) != FileType::RegularFile
        {
            return Err(Why::Changed);
        }
        Ok(File::from(fd))
    }

    /// Up to `cap` bytes of `from`, charged to the read budget, and whether
    /// it holds more; `failed` names a read error.
    fn take(
        &self,
        from: impl std::io::Read,
        cap: u64,
        failed: fn(std::io::Error) -> Why,
    ) -> Result<(Vec<u8>, bool), Why> {
        let left = READ_BUDGET - self.spent.get();
        if left == 0 {
            self.note_budget();
            return Err(Why::Budget);
        }
        let limit = cap.min(left);
        let mut buf = Vec::new();
        from.take(limit + 1).read_to_end(&mut buf).map_err(failed)?;
        let more = buf.len() as u64 > limit;
        buf.truncate(limit as usize);
        self.spent.set(self.spent.get() + buf.len() as u64);
        if more && limit < cap {
            self.note_budget();
            return Err(Why::Budget);
        }
        Ok((buf, more))
    }

    /// Up to `cap` bytes of a file, and whether it holds more.
    fn read_up_to(&self, p: &str, cap: u64) -> Result<(Vec<u8>, bool), Why> {
        self.take(self.file(p)?, cap, Why::Io)
    }

    fn note_budget(&self) {
        self.note(format!(
            "reading stopped after {READ_BUDGET} bytes: files read later are reported unreadable"
        ));
    }

    fn unreadable(p: &str) -> impl FnOnce(Why) -> Unreadable + '_ {
        move |why| Unreadable {
            path: p.to_string(),
            why,
        }
    }

    /// A file's text (bytes that are not UTF-8 become U+FFFD).
    pub fn read(&self, p: &str) -> Result<String, Unreadable> {
        self.read_bytes(p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// A file's bytes, at most [`FILE_MAX`].
    pub fn read_bytes(&self, p: &str) -> Result<Vec<u8>, Unreadable> {
        match self.read_up_to(p, FILE_MAX) {
            Ok((_, true)) => Err(Why::TooLarge),
            Ok((b, false)) => Ok(b),
            Err(e) => Err(e),
        }
        .map_err(Self::unreadable(p))
    }

    /// The first line of a file, trimmed; it must end within [`LINE_MAX`] bytes.
    pub fn line(&self, p: &str) -> Result<String, Unreadable> {
        let (b, more) = self
            .read_up_to(p, LINE_MAX as u64)
            .map_err(Self::unreadable(p))?;
        let first = match b.iter().position(|&c| c == b'\n') {
            Some(end) => &b[..end],
            None if more => {
                return Err(Unreadable {
                    path: p.to_string(),
                    why: Why::LongLine,
                });
            }
            None => &b[..],
        };
        Ok(String::from_utf8_lossy(first).trim().to_string())
    }

    /// A gzip file's text, decompressed as it is read and never beyond
    /// [`CONFIG_MAX`] bytes (what it holds is charged to the read budget).
    pub fn read_gzip(&self, p: &str) -> Result<String, Unreadable> {
        let gunzip = || {
            let file = std::io::BufReader::new(self.file(p)?.take(FILE_MAX));
            match self.take(flate2::read::GzDecoder::new(file), CONFIG_MAX, Why::NotGzip)? {
                (_, true) => Err(Why::Bomb),
                (text, false) => Ok(String::from_utf8_lossy(&text).into_owned()),
            }
        };
        gunzip().map_err(Self::unreadable(p))
    }

    /// Names in a folder, sorted; empty when it cannot be listed. At most
    /// [`LIST_MAX`] names are read (a note says when there were more).
    pub fn list(&self, p: &str) -> Vec<String> {
        let Ok(fd) = self.open(p, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NONBLOCK) else {
            return Vec::new();
        };
        let Ok(dir) = rustix::fs::Dir::new(fd) else {
            return Vec::new();
        };
        let mut v = Vec::new();
        for entry in dir {
            let Ok(entry) = entry else { break };
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            if v.len() == LIST_MAX {
                self.note(format!(
                    "{p} holds more than {LIST_MAX} names: only the first {LIST_MAX} were read"
                ));
                break;
            }
            v.push(String::from_utf8_lossy(name).into_owned());
        }
        v.sort();
        v
    }

    /// The status of a path (any kind of file, a device node too: it is not
    /// opened); None when it cannot be reached.
    pub fn metadata(&self, p: &str) -> Option<Stat> {
        rustix::fs::fstat(self.open(p, OFlags::PATH).ok()?).ok()
    }
}
