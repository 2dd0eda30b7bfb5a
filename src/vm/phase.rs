//! What the host asks of each boot of a guest, and what the guest answers.
//!
//! A delivery path is a list of phases, one per boot. The host writes the
//! list into the guest (`PLAN`) and names the phase to run on the kernel
//! command line (`rtaudio.vm.phase=N`); the agent runs its steps in order as
//! root, stops at the first command that fails, and prints one JSON line
//! between markers on the serial console. State a later boot compares with
//! (snapshots, the files a package owned) is kept in `STATE` on the guest's
//! disk.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The phases of this guest, written by the host.
pub const PLAN: &str = "/var/lib/rtaudio-vm/phases.json";
/// What one boot of the guest keeps for the next.
pub const STATE: &str = "/var/lib/rtaudio-vm";
/// The kernel argument that names the phase a boot runs.
pub const PHASE_ARG: &str = "rtaudio.vm.phase";

#[derive(Serialize, Deserialize, Debug, Clone, schemars::JsonSchema)]
pub struct Plan {
    /// The musician the checks run as.
    pub user: String,
    pub phases: Vec<Phase>,
}

#[derive(Serialize, Deserialize, Debug, Clone, schemars::JsonSchema)]
pub struct Phase {
    /// Shown in the verdict: "installed", "upgraded", ...
    pub name: String,
    pub steps: Vec<Step>,
}

#[derive(Serialize, Deserialize, Debug, Clone, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// A command as root, bounded by `timeout` seconds; its failure ends the
    /// phase (the steps after it are not run).
    Run {
        what: String,
        argv: Vec<String>,
        timeout: u64,
    },
    /// The checks against a profile: `check` as the musician (through PAM)
    /// and as root; with `audio`, the musician's audio session and a tone
    /// first and a short latency run after.
    Verify {
        profile: String,
        server: Option<String>,
        audio: bool,
        capture: bool,
    },
    /// Record the machine's state under `name`, kept across boots.
    Snapshot {
        name: String,
        #[serde(default)]
        units: Vec<String>,
        #[serde(default)]
        users: Vec<String>,
        /// Paths whose kind and content are recorded (absent too).
        #[serde(default)]
        paths: Vec<String>,
        /// Folders recorded whole: every file's mode, owner and content.
        #[serde(default)]
        trees: Vec<String>,
    },
    /// Two snapshots compared; passes when they are equal.
    Compare {
        what: String,
        before: String,
        after: String,
    },
    /// The files an installed package owns, recorded under `name`.
    Owned { package: String, name: String },
    /// None of the files recorded under `name` is left.
    Gone { what: String, name: String },
}

/// A snapshot: each section maps a name to what it was.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq, schemars::JsonSchema)]
pub struct Snapshot {
    /// `systemctl is-enabled UNIT`.
    pub units: BTreeMap<String, String>,
    /// A user's supplementary groups, sorted, from /etc/group.
    pub groups: BTreeMap<String, String>,
    /// Every boot entry's options (as a sorted set of tokens: a boot loader
    /// reads them in any order) and the saved default.
    pub boot: BTreeMap<String, String>,
    pub paths: BTreeMap<String, String>,
    pub trees: BTreeMap<String, String>,
}

impl Snapshot {
    /// What differs, as "section NAME: BEFORE -> AFTER" lines.
    pub fn differences(&self, after: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        let sections = [
            ("unit", &self.units, &after.units),
            ("groups of", &self.groups, &after.groups),
            ("boot", &self.boot, &after.boot),
            ("path", &self.paths, &after.paths),
            ("file", &self.trees, &after.trees),
        ];
        for (what, a, b) in sections {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let (x, y) = (a.get(k), b.get(k));
                if x != y {
                    out.push(format!(
                        "{what} {k}: {} -> {}",
                        x.map_or("(none)", |s| s.as_str()),
                        y.map_or("(none)", |s| s.as_str())
                    ));
                }
            }
        }
        out
    }
}

/// The phase a boot runs, from its kernel command line.
pub fn phase_of(cmdline: &str) -> Option<usize> {
    cmdline
        .split_whitespace()
        .find_map(|a| a.strip_prefix(PHASE_ARG)?.strip_prefix('=')?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_phase_comes_from_the_command_line() {
        assert_eq!(phase_of("root=/dev/vda rtaudio.vm.phase=2 quiet"), Some(2));
        assert_eq!(phase_of("root=/dev/vda rtaudio.vm.phases=2"), None);
        assert_eq!(phase_of("quiet"), None);
    }

    #[test]
    fn snapshots_name_what_changed() {
        let mut a = Snapshot::default();
        a.units.insert("tuned.service".into(), "enabled".into());
        a.groups.insert("musician".into(), "audio".into());
        let mut b = a.clone();
        assert!(a.differences(&b).is_empty());
        b.units.insert("tuned.service".into(), "masked".into());
        b.groups.remove("musician");
        assert_eq!(
            a.differences(&b),
            vec![
                "unit tuned.service: enabled -> masked",
                "groups of musician: audio -> (none)"
            ]
        );
    }
}
