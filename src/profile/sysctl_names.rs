//! The sysctl names of the target kernels, to catch a misspelt `[sysctl]`
//! key: systemd-sysctl skips a key the kernel lacks with only a line in its
//! log, so `"vm.swapiness" = 10` would render, install and do nothing.
//!
//! The names are in `sysctl-names.txt` beside this file, which says where
//! they come from and how to make it again. A name missing from it is a
//! warning, never an error: a target kernel can have a sysctl the list lacks
//! (a newer kernel, a module's).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use super::grammar;

const LIST: &str = include_str!("sysctl-names.txt");

/// At most this many names are compared with an unknown key for a "did you
/// mean": the comparison costs a few microseconds a name, and a profile may
/// hold thousands of keys.
const MAX_CANDIDATES: usize = 1000;

struct Names {
    /// Whole names, and names with one `*` segment (`net.ipv4.conf.*.rp_filter`).
    names: HashSet<&'static str>,
    /// The folders written `FOLDER.**`: every name under them is known.
    folders: HashSet<&'static str>,
    /// The last segment of each name, by the rest (`vm` → `swappiness`, ...;
    /// `net.ipv4.conf.*` → `rp_filter`, ...): a typo is most often in the
    /// last segment, and these are the names to compare it with.
    by_parent: HashMap<&'static str, Vec<&'static str>>,
    /// Each name by its first segment and its number of segments: the names
    /// to compare with when no name shares the key's folder.
    by_shape: HashMap<(&'static str, usize), Vec<&'static str>>,
}

static NAMES: LazyLock<Names> = LazyLock::new(|| {
    let mut n = Names {
        names: HashSet::new(),
        folders: HashSet::new(),
        by_parent: HashMap::new(),
        by_shape: HashMap::new(),
    };
    for line in LIST.lines() {
        let name = line.trim();
        if name.is_empty() || name.starts_with('#') {
            continue;
        }
        if let Some(folder) = name.strip_suffix(".**") {
            n.folders.insert(folder);
            continue;
        }
        n.names.insert(name);
        if let Some((parent, last)) = name.rsplit_once('.') {
            n.by_parent.entry(parent).or_default().push(last);
        }
        let root = name.split('.').next().unwrap_or(name);
        n.by_shape
            .entry((root, name.split('.').count()))
            .or_default()
            .push(name);
    }
    n
});

/// The key as the list spells it: sysctl.d(5)'s dots between names
/// ([`grammar::sysctl_normalize`]: `vm/swappiness` is `vm.swappiness`), and
/// without the `-` by which sysctl.d marks a key whose failure to apply is
/// ignored (the profile's grammar refuses that prefix, but a caller need not
/// know).
fn normalize(key: &str) -> String {
    grammar::sysctl_normalize(key.strip_prefix('-').unwrap_or(key))
}

/// Whether `key` (either sysctl.d spelling) names a sysctl of the target
/// kernels, as far as the list knows.
pub(crate) fn is_known(key: &str) -> bool {
    let key = normalize(key);
    let n = &*NAMES;
    if n.names.contains(key.as_str()) {
        return true;
    }
    // A folder taken whole: any `.` boundary of the key.
    if key
        .match_indices('.')
        .any(|(i, _)| n.folders.contains(&key[..i]))
    {
        return true;
    }
    // A name with one `*`: the key with each of its segments in turn
    // replaced by `*`. Keys have few segments (128 characters at most).
    let segs: Vec<&str> = key.split('.').collect();
    (0..segs.len()).any(|i| {
        let mut s = segs.clone();
        s[i] = "*";
        n.names.contains(s.join(".").as_str())
    })
}

/// The known name nearest to an unknown `key`, spelt with dots, when one is
/// near enough to be what was meant (`vm.swapiness` → `vm.swappiness`).
/// Compares the key's last segment with the last segments of the names in
/// its folder; when the list has no name in that folder (a typo in a folder,
/// `fs.inotfy.max_user_watches`), the whole key with the names that differ
/// from it in one segment. A `*` in a name takes the key's segment there.
pub(crate) fn nearest(key: &str) -> Option<String> {
    let key = normalize(key);
    let n = &*NAMES;
    let segs: Vec<&str> = key.split('.').collect();
    let (parent, last) = key.rsplit_once('.')?;

    // The key's folder, and the same with each segment in turn as `*`.
    let pseg = &segs[..segs.len() - 1];
    let mut leaves: Vec<&'static str> = Vec::new();
    for i in std::iter::once(None).chain((0..pseg.len()).map(Some)) {
        let p = match i {
            None => parent.to_string(),
            Some(i) => {
                let mut s = pseg.to_vec();
                s[i] = "*";
                s.join(".")
            }
        };
        if let Some(v) = n.by_parent.get(p.as_str()) {
            leaves.extend(v.iter().copied());
        }
    }
    if !leaves.is_empty() {
        let near = crate::text::nearest(last, candidates(last, leaves.into_iter()))?;
        return Some(format!("{parent}.{near}"));
    }

    // No name in the key's folder: compare the whole key with the names that
    // differ from it in one segment (a typo in one name of the path), each
    // name's `*` filled with the key's segment at that place.
    let shape = n.by_shape.get(&(segs[0], segs.len()))?;
    let filled: Vec<String> = shape
        .iter()
        .filter(|name| {
            name.split('.')
                .zip(&segs)
                .filter(|(a, b)| *a != "*" && a != *b)
                .count()
                == 1
        })
        .map(|name| {
            name.split('.')
                .zip(&segs)
                .map(|(a, b)| if a == "*" { *b } else { a })
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect();
    crate::text::nearest(&key, candidates(&key, filled.iter().map(String::as_str)))
        .map(str::to_string)
}

/// The names worth comparing with `name`: [`crate::text::nearest`] wants a
/// similarity of 0.6, one minus the edit distance over the longer length, and
/// the distance is at least the difference in length, so a name much longer
/// or shorter cannot reach it. At most [`MAX_CANDIDATES`].
fn candidates<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let len = name.chars().count();
    known
        .filter(|k| {
            let klen = k.chars().count();
            let longer = len.max(klen);
            len.abs_diff(klen) * 10 <= longer * 4
        })
        .take(MAX_CANDIDATES)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuning_sysctls_are_known() {
        for key in [
            "vm.swappiness",
            "vm/swappiness",
            "kernel.sched_rt_runtime_us",
            "kernel/sched_rt_period_us",
            "kernel.timer_migration",
            "fs.inotify.max_user_watches",
            "net.core.rmem_max",
            "dev.hpet.max-user-freq",
            "kernel.random.uuid",
            "-vm.swappiness",
        ] {
            assert!(is_known(key), "{key}");
        }
    }

    #[test]
    fn any_interface_and_module_folder_is_known() {
        for key in [
            "net.ipv4.conf.enp3s0.rp_filter",
            "net/ipv4/conf/enp3s0/rp_filter",
            "net.ipv4.conf.all.rp_filter",
            "net.ipv4.conf.eth0/100.rp_filter",
            "net/ipv4/conf/eth0.100/rp_filter",
            "net.ipv6.conf.wlp2s0.disable_ipv6",
            "net.ipv6.neigh.default.gc_thresh3",
            "net.netfilter.nf_conntrack_max",
            "net.netfilter.nf_log.2",
            "dev.raid.speed_limit_min",
            "dev.cdrom.autoclose",
            "sunrpc.nfs_debug",
            "kernel.sched_domain.cpu0.domain0.max_interval",
            "fs.binfmt_misc.status",
        ] {
            assert!(is_known(key), "{key}");
        }
        // A folder's own name, or an interface's folder, is no sysctl.
        for key in [
            "net.ipv4.conf.enp3s0",
            "kernel.random",
            "net.ipv4.conf.enp3s0.rp_filtr",
        ] {
            assert!(!is_known(key), "{key}");
        }
    }

    #[test]
    fn unknown_names_get_the_name_meant() {
        assert!(!is_known("vm.swapiness"));
        assert_eq!(nearest("vm.swapiness").as_deref(), Some("vm.swappiness"));
        assert_eq!(nearest("vm/swapiness").as_deref(), Some("vm.swappiness"));
        assert!(!is_known("kernel.nonexistent_knob"));
        assert_eq!(nearest("kernel.nonexistent_knob"), None);
        assert_eq!(
            nearest("kernel.sched_rt_runtime").as_deref(),
            Some("kernel.sched_rt_runtime_us")
        );
        // The interface is the user's, the name the list's.
        assert_eq!(
            nearest("net.ipv4.conf.enp3s0.rp_filtr").as_deref(),
            Some("net.ipv4.conf.enp3s0.rp_filter")
        );
        // A typo in a folder.
        assert_eq!(
            nearest("fs.inotfy.max_user_watches").as_deref(),
            Some("fs.inotify.max_user_watches")
        );
    }

    #[test]
    fn the_list_is_well_formed() {
        let n = &*NAMES;
        assert!(n.names.len() > 600, "{} names", n.names.len());
        for name in &n.names {
            assert!(
                grammar::sysctl_key(name).is_ok() || name.contains('*'),
                "{name} is not a sysctl key"
            );
            assert!(name.matches('*').count() <= 1, "{name}: one `*` at most");
            assert!(
                !n.names.iter().any(|m| m.starts_with(&format!("{name}."))),
                "{name} is a folder"
            );
        }
        assert!(n.folders.contains("net.netfilter") && n.folders.contains("dev"));
    }
}
