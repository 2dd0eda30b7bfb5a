//! A rendered artifact tree, read once and shared by every validator.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

pub struct Tree {
    pub root: PathBuf,
    /// Every file, by path relative to the root (`rootfs/etc/...`), sorted.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Tree {
    pub fn read(root: &Path) -> anyhow::Result<Tree> {
        let mut files = BTreeMap::new();
        for entry in walkdir::WalkDir::new(root).min_depth(1).sort_by_file_name() {
            let entry = entry.with_context(|| format!("listing {}", root.display()))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(root)
                .unwrap_or(entry.path())
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(entry.path())
                .with_context(|| format!("reading {}", entry.path().display()))?;
            files.insert(rel, bytes);
        }
        Ok(Tree {
            root: root.to_path_buf(),
            files,
        })
    }

    /// A tree held in memory (tests); `root` is only used in messages.
    pub fn from_files(root: &Path, files: BTreeMap<String, Vec<u8>>) -> Tree {
        Tree {
            root: root.to_path_buf(),
            files,
        }
    }

    /// A file's text, if it exists and is UTF-8.
    pub fn text(&self, rel: &str) -> Option<&str> {
        self.files
            .get(rel)
            .and_then(|b| std::str::from_utf8(b).ok())
    }

    /// A tree written by `fleet`: it has the fleet's index.
    pub fn is_fleet(&self) -> bool {
        self.files.contains_key("index.json")
    }

    /// Files whose relative path starts with `prefix`.
    pub fn under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        self.files
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The installed files: `rootfs/` paths as absolute target paths.
    pub fn rootfs(&self) -> BTreeMap<String, &[u8]> {
        self.under("rootfs/")
            .map(|(k, v)| (k["rootfs".len()..].to_string(), v))
            .collect()
    }
}
