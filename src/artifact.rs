//! What a render makes: files of an artifact tree, their bytes and their
//! sha256. A leaf: the renderers make these and the writer (`output.rs`)
//! writes them, neither depending on the other.

use std::fmt::Write as _;

use sha2::{Digest as _, Sha256};

/// One file of the artifact tree, relative to its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub path: String,
    pub mode: u32,
    pub content: Content,
}

/// A file's bytes: whole, or a head many files share followed by bytes of its
/// own (a fleet host's kickstart is its variant's kickstart, then the host's
/// lines), so that 10,000 of them are not 10,000 copies in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Bytes(Vec<u8>),
    Shared {
        head: std::sync::Arc<[u8]>,
        own: Vec<u8>,
    },
}

impl Content {
    /// The bytes in order, in two pieces.
    pub fn pieces(&self) -> [&[u8]; 2] {
        match self {
            Content::Bytes(b) => [b, &[]],
            Content::Shared { head, own } => [head, own],
        }
    }

    pub fn len(&self) -> usize {
        self.pieces().iter().map(|p| p.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `bytes` are exactly these bytes.
    pub fn eq_bytes(&self, bytes: &[u8]) -> bool {
        if bytes.len() != self.len() {
            return false;
        }
        let mut rest = bytes;
        self.pieces().iter().all(|p| {
            let (a, b) = rest.split_at(p.len());
            rest = b;
            a == *p
        })
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.pieces().concat()
    }

    /// sha256, hex, `sha256sum`'s form.
    pub fn sha256_hex(&self) -> String {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        for p in self.pieces() {
            h.update(p);
        }
        hex(&h.finalize())
    }
}

impl From<Vec<u8>> for Content {
    fn from(b: Vec<u8>) -> Self {
        Content::Bytes(b)
    }
}

impl Artifact {
    pub(crate) fn text(path: impl Into<String>, content: String) -> Self {
        Artifact {
            path: path.into(),
            mode: 0o644,
            content: content.into_bytes().into(),
        }
    }

    /// The file's text (tests and messages; lossy for bytes that are not UTF-8).
    pub fn text_lossy(&self) -> String {
        String::from_utf8_lossy(&self.content.to_vec()).into_owned()
    }
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
