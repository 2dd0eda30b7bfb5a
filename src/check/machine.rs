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
    #[error("could not be opened through /proc/self/fd (is /proc mounted?): not read")]
    NoProc,
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

/// The regular file an O_PATH descriptor holds, opened for reading. It is
/// reopened through the descriptor ([`resolve::reopen`]), not by its name
/// again: whatever was put at the name since (a device, whose open alone can
/// act, or a FIFO) is never opened. Non-blocking and without a controlling
/// terminal all the same, and the inode opened is checked to be the one held.
fn regular_file(node: &OwnedFd) -> Result<File, Why> {
    let held = rustix::fs::fstat(node)?;
    if FileType::from_raw_mode(held.st_mode) != FileType::RegularFile {
        return Err(Why::NotRegular(kind_name(held.st_mode)));
    }
    let fd =
        resolve::reopen(node, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY).map_err(|e| {
            match e {
                Errno::NOENT => Why::NoProc,
                e => e.into(),
            }
        })?;
    let opened = rustix::fs::fstat(&fd)?;
    if !same_file(&held, &opened)
        || FileType::from_raw_mode(opened.st_mode) != FileType::RegularFile
    {
        return Err(Why::Changed);
    }
    Ok(File::from(fd))
}

/// A path of bytes as text: what is not UTF-8 shown as `\xNN`.
pub fn shown(p: &[u8]) -> String {
    let mut s = String::new();
    for chunk in p.utf8_chunks() {
        s.push_str(chunk.valid());
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
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

    fn open(&self, p: &[u8], flags: OFlags) -> Result<OwnedFd, Why> {
        let mut kernel = self.kernel.get();
        let fd = resolve::open(self.root.as_fd(), p, flags, &mut kernel);
        self.kernel.set(kernel);
        Ok(fd?)
    }

    /// A regular file opened for reading. It is looked at first through an
    /// O_PATH descriptor, which opens nothing, so a FIFO, device or socket in
    /// a capture is never opened; then that very inode is opened
    /// ([`regular_file`]).
    fn file(&self, p: &[u8]) -> Result<File, Why> {
        regular_file(&self.open(p, OFlags::PATH)?)
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
    fn read_up_to(&self, p: &[u8], cap: u64) -> Result<(Vec<u8>, bool), Why> {
        self.take(self.file(p)?, cap, Why::Io)
    }

    fn note_budget(&self) {
        self.note(format!(
            "reading stopped after {READ_BUDGET} bytes: files read later are reported unreadable"
        ));
    }

    fn unreadable(p: &[u8]) -> impl FnOnce(Why) -> Unreadable + '_ {
        move |why| Unreadable {
            path: shown(p),
            why,
        }
    }

    /// A file's text (bytes that are not UTF-8 become U+FFFD).
    pub fn read(&self, p: &str) -> Result<String, Unreadable> {
        self.read_path(p.as_bytes())
    }

    /// The text of a file whose path is bytes, as a folder's names are
    /// ([`Machine::names`]).
    pub fn read_path(&self, p: &[u8]) -> Result<String, Unreadable> {
        self.bytes_of(p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// A file's bytes, at most [`FILE_MAX`].
    pub fn read_bytes(&self, p: &str) -> Result<Vec<u8>, Unreadable> {
        self.bytes_of(p.as_bytes())
    }

    fn bytes_of(&self, p: &[u8]) -> Result<Vec<u8>, Unreadable> {
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
            .read_up_to(p.as_bytes(), LINE_MAX as u64)
            .map_err(Self::unreadable(p.as_bytes()))?;
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
            let file = std::io::BufReader::new(self.file(p.as_bytes())?.take(FILE_MAX));
            match self.take(flate2::read::GzDecoder::new(file), CONFIG_MAX, Why::NotGzip)? {
                (_, true) => Err(Why::Bomb),
                (text, false) => Ok(String::from_utf8_lossy(&text).into_owned()),
            }
        };
        gunzip().map_err(Self::unreadable(p.as_bytes()))
    }

    /// Names in a folder, sorted; empty when it cannot be listed. At most
    /// [`LIST_MAX`] names are read (a note says when there were more); a name
    /// that is not UTF-8 is shown with U+FFFD, so it names no file: read such
    /// folders with [`Machine::names`].
    pub fn list(&self, p: &str) -> Vec<String> {
        self.names_at_most(p, LIST_MAX).map_or_else(
            |_| Vec::new(),
            |(names, _)| {
                names
                    .iter()
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .collect()
            },
        )
    }

    /// The names in a folder as the kernel gives them (bytes), in byte order
    /// (C's strcmp, glob's sort), at most [`LIST_MAX`] of them; and whether
    /// that is all of them (a note says when not).
    pub fn names(&self, p: &str) -> Result<(Vec<Vec<u8>>, bool), Unreadable> {
        self.names_at_most(p, LIST_MAX)
    }

    fn names_at_most(&self, p: &str, max: usize) -> Result<(Vec<Vec<u8>>, bool), Unreadable> {
        let folder = || -> Result<rustix::fs::Dir, Why> {
            let fd = self.open(
                p.as_bytes(),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NONBLOCK,
            )?;
            Ok(rustix::fs::Dir::new(fd)?)
        };
        let dir = folder().map_err(Self::unreadable(p.as_bytes()))?;
        let mut v = Vec::new();
        let mut complete = true;
        for entry in dir {
            let Ok(entry) = entry else { break };
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            if v.len() == max {
                self.note(format!(
                    "{p} holds more than {max} names: only the first {max} were read"
                ));
                complete = false;
                break;
            }
            v.push(name.to_vec());
        }
        v.sort();
        Ok((v, complete))
    }

    /// The status of a path (any kind of file, a device node too: it is not
    /// opened); None when it cannot be reached.
    pub fn metadata(&self, p: &str) -> Option<Stat> {
        rustix::fs::fstat(self.open(p.as_bytes(), OFlags::PATH).ok()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use std::os::unix::fs::MetadataExt as _;

    /// Names of the capture's folders, files and links; the folder around the
    /// capture holds the same names (so an escape finds something to read),
    /// each file saying OUTSIDE, and names of its own.
    const NAMES: &[&str] = &["a", "b", "c", "l0", "l1", "l2", "l3"];
    const LINK_HOMES: &[&str] = &["", "a", "a/b", "b"];

    fn component() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            4 => proptest::sample::select(NAMES),
            1 => Just(".."),
            1 => Just("."),
        ]
    }

    /// A path of capture names and `..`, relative or absolute, with or
    /// without a trailing slash.
    fn path() -> impl Strategy<Value = String> {
        (
            any::<bool>(),
            proptest::collection::vec(component(), 1..5),
            any::<bool>(),
        )
            .prop_map(|(absolute, parts, slash)| {
                format!(
                    "{}{}{}",
                    if absolute { "/" } else { "" },
                    parts.join("/"),
                    if slash { "/" } else { "" }
                )
            })
    }

    /// A link target: a capture path, the folder around the capture by its
    /// absolute path (`@` stands for it), or a host file.
    fn target() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => path(),
            1 => Just("@/c".to_string()),
            1 => Just("@/a/b/c".to_string()),
            1 => Just("@/only-outside".to_string()),
            1 => Just("../../../../only-outside".to_string()),
            1 => Just("/etc/hostname".to_string()),
            1 => Just("/proc/self/status".to_string()),
            1 => Just("/proc/self/fd/0".to_string()),
            1 => Just(String::new()),
        ]
    }

    fn links() -> impl Strategy<Value = Vec<(&'static str, &'static str, String)>> {
        proptest::collection::vec(
            (
                proptest::sample::select(LINK_HOMES),
                proptest::sample::select(&NAMES[3..]),
                target(),
            ),
            1..8,
        )
    }

    /// What a read gave, comparable across the two resolutions.
    fn outcome<T: std::fmt::Debug>(r: &Result<T, Unreadable>) -> String {
        match r {
            Ok(v) => format!("ok {v:?}"),
            Err(e) => format!("err {}", e.why),
        }
    }

    fn capture() -> (tempfile::TempDir, Machine) {
        let t = tempfile::tempdir().unwrap();
        let m = Machine::new(Some(t.path())).unwrap();
        (t, m)
    }

    #[test]
    fn only_regular_files_are_read_and_a_fifo_does_not_block() {
        let (t, m) = capture();
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            t.path().join("fifo"),
            rustix::fs::Mode::RUSR,
        )
        .unwrap();
        std::os::unix::fs::symlink("fifo", t.path().join("to-fifo")).unwrap();
        std::fs::create_dir(t.path().join("dir")).unwrap();
        for m in [&m, &Machine::new(Some(t.path())).unwrap().without_openat2()] {
            for (p, kind) in [
                ("fifo", "a FIFO"),
                ("/to-fifo", "a FIFO"),
                ("dir", "a folder"),
            ] {
                let e = m.read(p).unwrap_err();
                assert!(matches!(e.why, Why::NotRegular(k) if k == kind), "{e}");
                assert!(matches!(m.line(p).unwrap_err().why, Why::NotRegular(_)));
            }
            assert!(
                m.metadata("fifo").is_some(),
                "a node's status needs no open"
            );
        }
    }

    #[test]
    fn the_file_looked_at_is_the_file_opened() {
        use std::io::Read as _;
        let (t, m) = capture();
        let walked = Machine::new(Some(t.path())).unwrap().without_openat2();
        let (name, aside) = (t.path().join("f"), t.path().join("aside"));
        for m in [&m, &walked] {
            std::fs::write(&name, "looked at\n").unwrap();
            let node = m.open(b"f", OFlags::PATH).unwrap();
            // Between the look and the open, the name goes to a FIFO (a device
            // would do as well): what is opened is still the file looked at.
            std::fs::rename(&name, &aside).unwrap();
            rustix::fs::mkfifoat(rustix::fs::CWD, &name, rustix::fs::Mode::RUSR).unwrap();
            let mut text = String::new();
            regular_file(&node)
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            assert_eq!(text, "looked at\n");
            assert!(matches!(
                m.read("f").unwrap_err().why,
                Why::NotRegular("a FIFO")
            ));
            std::fs::remove_file(&name).unwrap();
        }
    }

    #[test]
    fn files_lines_and_all_reads_are_bounded() {
        let (t, m) = capture();
        let big = t.path().join("big");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(FILE_MAX + 1)
            .unwrap();
        assert!(matches!(
            m.read_bytes("big").unwrap_err().why,
            Why::TooLarge
        ));
        // A one-line file whose line does not end in time; the first line of
        // a long file is still read.
        std::fs::write(t.path().join("long"), vec![b'x'; LINE_MAX + 1]).unwrap();
        assert!(matches!(m.line("long").unwrap_err().why, Why::LongLine));
        std::fs::write(
            t.path().join("lines"),
            format!("first\n{}", "y".repeat(LINE_MAX * 2)),
        )
        .unwrap();
        assert_eq!(m.line("lines").unwrap(), "first");
        // Hard links of one sparse file: each is within the file bound, all of
        // them together are not read.
        let full = t.path().join("full");
        std::fs::File::create(&full)
            .unwrap()
            .set_len(FILE_MAX)
            .unwrap();
        let (t, m) = capture();
        let n = READ_BUDGET / FILE_MAX + 1;
        for i in 0..n {
            std::fs::hard_link(&full, t.path().join(format!("l{i}"))).unwrap();
        }
        for i in 0..n - 1 {
            assert_eq!(
                m.read_bytes(&format!("l{i}")).unwrap().len() as u64,
                FILE_MAX
            );
        }
        assert!(matches!(
            m.read_bytes(&format!("l{}", n - 1)).unwrap_err().why,
            Why::Budget
        ));
        assert!(matches!(m.line("l0").unwrap_err().why, Why::Budget));
        assert_eq!(m.notes().len(), 1, "{:?}", m.notes());
    }

    #[test]
    fn gzip_is_read_within_its_bound() {
        use std::io::Write as _;
        let (t, m) = capture();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"CONFIG_PREEMPT_RT=y\n").unwrap();
        std::fs::write(t.path().join("config.gz"), gz.finish().unwrap()).unwrap();
        assert_eq!(m.read_gzip("config.gz").unwrap(), "CONFIG_PREEMPT_RT=y\n");
        std::fs::write(t.path().join("plain"), "CONFIG_PREEMPT_RT=y\n").unwrap();
        assert!(matches!(
            m.read_gzip("plain").unwrap_err().why,
            Why::NotGzip(_)
        ));
    }

    #[test]
    fn a_listing_stops_at_its_bound() {
        let (t, m) = capture();
        let dir = t.path().join("proc");
        std::fs::create_dir(&dir).unwrap();
        for i in 0..13 {
            std::fs::File::create(dir.join(i.to_string())).unwrap();
        }
        assert_eq!(m.list("/proc").len(), 13);
        assert!(m.notes().is_empty());
        let (first, complete) = m.names_at_most("/proc", 10).unwrap();
        assert_eq!((first.len(), complete), (10, false));
        assert_eq!(
            m.notes(),
            ["/proc holds more than 10 names: only the first 10 were read"]
        );
        assert_eq!(
            m.list("/proc/0"),
            Vec::<String>::new(),
            "a file lists nothing"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Whatever links a capture holds, a read, listing or status beneath
        /// it reaches only what lies inside it, and openat2 and the walk that
        /// stands in for it agree on every answer.
        #[test]
        fn no_read_leaves_the_capture(links in links(), queries in proptest::collection::vec(path(), 1..16)) {
            let t = tempfile::tempdir().unwrap();
            let around = t.path();
            let root = around.join("capture");
            for (top, says) in [(around.to_path_buf(), "OUTSIDE"), (root.clone(), "inside")] {
                std::fs::create_dir_all(top.join("a/b")).unwrap();
                std::fs::create_dir_all(top.join("b")).unwrap();
                for f in ["c", "a/c", "a/b/c"] {
                    std::fs::write(top.join(f), format!("{says} {f}\n")).unwrap();
                }
            }
            std::fs::write(around.join("only-outside"), "OUTSIDE\n").unwrap();
            for (home, name, target) in &links {
                let target = target.replace('@', &around.to_string_lossy());
                // A name drawn twice keeps its first link.
                let _ = std::os::unix::fs::symlink(&target, root.join(home).join(name));
            }
            let inside: BTreeSet<(u64, u64)> = walkdir::WalkDir::new(&root)
                .into_iter()
                .map(|e| {
                    let m = e.unwrap().metadata().unwrap();
                    (m.dev(), m.ino())
                })
                .collect();
            let kernel = Machine::new(Some(&root)).unwrap();
            let walked = Machine::new(Some(&root)).unwrap().without_openat2();
            for q in &queries {
                for m in [&kernel, &walked] {
                    if let Ok(text) = m.read(q) {
                        prop_assert!(text.starts_with("inside"), "{q} read {text:?}");
                    }
                    for name in m.list(q) {
                        prop_assert!(NAMES.contains(&name.as_str()), "{q} listed {name}");
                    }
                    if let Some(st) = m.metadata(q) {
                        prop_assert!(inside.contains(&(st.st_dev, st.st_ino)), "{q} reached a node outside");
                    }
                }
                prop_assert_eq!(outcome(&kernel.read(q)), outcome(&walked.read(q)), "read {}", q);
                prop_assert_eq!(kernel.list(q), walked.list(q), "list {}", q);
                prop_assert_eq!(
                    kernel.metadata(q).map(|s| s.st_ino),
                    walked.metadata(q).map(|s| s.st_ino),
                    "status {}", q
                );
            }
            prop_assert!(kernel.kernel.get(), "openat2 is available to the tests");
        }
    }
}
