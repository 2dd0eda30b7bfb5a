//! The machine a check reads: `/` (live), or a captured copy of one (`--root`).
//! Every read says why it failed; nothing here panics on odd content.

use std::path::{Path, PathBuf};

/// Larger files are not read from a capture (its biggest, /proc/config.gz, is
/// some tens of KiB).
const CAPTURE_FILE_MAX: u64 = 16 << 20;

pub struct Machine {
    root: PathBuf,
    /// Reading `/` itself: live probes (scheduling, mlock, systemctl) apply.
    pub live: bool,
}

impl Machine {
    pub fn new(root: Option<&Path>) -> Machine {
        match root {
            Some(r) if r != Path::new("/") => Machine {
                root: r.to_path_buf(),
                live: false,
            },
            _ => Machine {
                root: PathBuf::from("/"),
                live: true,
            },
        }
    }

    /// A path on the machine (`/proc/cmdline`) as a path here.
    pub fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    /// A file's text (bytes that are not UTF-8 become U+FFFD); Err says why not.
    pub fn read(&self, p: &str) -> Result<String, String> {
        self.read_bytes(p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    pub fn read_bytes(&self, p: &str) -> Result<Vec<u8>, String> {
        let path = self.path(p);
        if !self.live {
            // A capture holds plain files: a symbolic link could read the host's
            // files, a FIFO would block, a device would never end.
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(format!(
                        "{p} is a symbolic link in the capture (not followed)"
                    ));
                }
                Ok(m) if !m.is_file() => {
                    return Err(format!("{p} is not a regular file in the capture"));
                }
                Ok(m) if m.len() > CAPTURE_FILE_MAX => {
                    return Err(format!("{p} is larger than {CAPTURE_FILE_MAX} bytes"));
                }
                _ => {}
            }
        }
        std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("{p} is missing"),
            std::io::ErrorKind::PermissionDenied => {
                format!("{p} is not readable here (permission denied)")
            }
            _ => format!("{p} could not be read: {e}"),
        })
    }

    /// The first line of a file, trimmed.
    pub fn line(&self, p: &str) -> Result<String, String> {
        self.read(p)
            .map(|t| t.lines().next().unwrap_or("").trim().to_string())
    }

    pub fn exists(&self, p: &str) -> bool {
        self.path(p).symlink_metadata().is_ok()
    }

    /// Names in a folder, sorted; empty when it cannot be listed.
    pub fn list(&self, p: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path(p))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    pub fn metadata(&self, p: &str) -> Option<std::fs::Metadata> {
        if self.live {
            std::fs::metadata(self.path(p)).ok()
        } else {
            std::fs::symlink_metadata(self.path(p))
                .ok()
                .filter(|m| !m.file_type().is_symlink())
        }
    }
}
