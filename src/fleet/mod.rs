//! `fleet`: a room of studio machines from one inventory. The inventory names a
//! base profile and lists the hosts with what differs per machine; every host's
//! overrides are merged into the base profile's TOML and validated by the same
//! walker as a profile, so a host is held to exactly the profile's rules.
//!
//! Hosts whose overrides are equal share one validated profile (a variant) and
//! one rendered kickstart body: a host's kickstart is its variant's body
//! followed by the host's own lines (name, network, disk), so 10,000 hosts of
//! a few kinds of hardware cost a few renders, and the body is neither copied
//! nor hashed again per host.
//!
//! [`inventory`] holds the inventory's schema and its walker, [`merge`] the
//! merge of a host's overrides into the base profile; the tree a fleet
//! renders to is made by [`crate::render::fleet`].

mod inventory;
mod merge;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::profile::{self, Profile};
use crate::report::Report;

/// Inventories larger than this are refused before they are parsed.
pub const MAX_INVENTORY_BYTES: u64 = 32 * 1024 * 1024;
/// Fleets with more hosts than this are refused.
pub const MAX_HOSTS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Network {
    Dhcp,
    Static {
        address: Ipv4Addr,
        prefix: u8,
        gateway: Option<Ipv4Addr>,
        dns: Vec<Ipv4Addr>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Host {
    pub name: String,
    pub mac: Option<String>,
    pub disk: Option<String>,
    pub network: Network,
    /// Index into [`Fleet::variants`]; 0 is the base profile itself.
    #[serde(skip)]
    pub variant: usize,
}

/// Where the PXE files point: the URL this tree is served at, the installer's
/// kernel and initrd, and its install source.
#[derive(Debug, Clone, Serialize)]
pub struct Pxe {
    pub url: String,
    pub kernel: String,
    pub initrd: String,
    pub repo: String,
}

#[derive(Debug)]
pub struct Fleet {
    pub variants: Vec<Profile>,
    pub hosts: Vec<Host>,
    pub pxe: Option<Pxe>,
}

impl Fleet {
    pub fn base(&self) -> &Profile {
        &self.variants[0]
    }
}

/// A loaded inventory: its text (for error positions), the base profile when it
/// is a file of its own (with its own report), and the fleet when nothing is
/// wrong.
pub struct Loaded {
    pub source_name: String,
    pub text: String,
    pub report: Report,
    pub profile: Option<profile::Loaded>,
    pub fleet: Option<Fleet>,
}

impl Loaded {
    pub fn source(&self) -> crate::report::Source<'_> {
        crate::report::Source {
            name: &self.source_name,
            text: &self.text,
        }
    }

    /// Whether the inventory or its profile has an error (or, strict, a
    /// warning).
    pub fn is_fatal(&self, strict: bool) -> bool {
        self.report.is_fatal(strict)
            || self
                .profile
                .as_ref()
                .is_some_and(|p| p.report.is_fatal(strict))
    }
}

/// Read and validate an inventory file. What keeps it from being read (a
/// missing file, over the size limit, not UTF-8) is the user's to fix.
pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    let name = path.display().to_string();
    let f = std::fs::File::open(path)
        .map_err(|e| crate::UserError(format!("reading inventory {name}: {e}")))?;
    let text = profile::read_text(
        f,
        "inventory",
        &name,
        MAX_INVENTORY_BYTES,
        "split the room into several inventories",
    )
    .map_err(|e| crate::UserError(format!("{e:#}")))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(parse_text(name, text, Some(&dir)))
}

/// Parse and validate inventory text. `dir` is the inventory's folder, where a
/// `profile = "FILE"` is read from; without it only an inline `[profile]` is
/// accepted.
pub fn parse_text(source_name: String, text: String, dir: Option<&Path>) -> Loaded {
    let mut report = Report::default();
    let mut base_loaded = None;
    let fleet = inventory::walk(&text, dir, &mut report, &mut base_loaded);
    let fatal = report.has_errors()
        || base_loaded
            .as_ref()
            .is_some_and(|p: &profile::Loaded| p.report.has_errors());
    Loaded {
        source_name,
        text,
        report,
        profile: base_loaded,
        fleet: if fatal { None } else { fleet },
    }
}

/// The netmask of a prefix length (1 to 32).
pub(crate) fn netmask(prefix: u8) -> u32 {
    u32::MAX << (32 - u32::from(prefix))
}
