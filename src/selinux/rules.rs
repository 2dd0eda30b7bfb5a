//! Denials grouped into allow rules as audit2allow groups them (by source type,
//! target type, `self` when both are equal, and class, merging permissions),
//! rules that would open security-critical access refused with a reason, and
//! the module written as a standalone .te.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::audit::Denial;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub source: String,
    /// The target type, or `self` when it is the source type.
    pub target: String,
    pub class: String,
    pub perms: BTreeSet<String>,
    /// How many denials the rule answers, and which commands caused them.
    pub denials: usize,
    pub comms: BTreeSet<String>,
    /// `source_user -> target_user` where a denial crossed SELinux users
    /// (neither `system_u`): refpolicy's UBAC constraint may be what denied it.
    pub cross_users: BTreeSet<String>,
}

impl Rule {
    pub fn statement(&self) -> String {
        let perms: Vec<&str> = self.perms.iter().map(String::as_str).collect();
        let perms = if perms.len() == 1 {
            perms[0].to_string()
        } else {
            format!("{{ {} }}", perms.join(" "))
        };
        format!(
            "allow {} {}:{} {perms};",
            self.source, self.target, self.class
        )
    }
}

pub fn group(denials: &[Denial]) -> Vec<Rule> {
    let mut rules: BTreeMap<(String, String, String), Rule> = BTreeMap::new();
    for d in denials {
        let source = d.source_type().to_string();
        let target = if d.target_type() == source {
            "self".to_string()
        } else {
            d.target_type().to_string()
        };
        let rule = rules
            .entry((source.clone(), target.clone(), d.tclass.clone()))
            .or_insert_with(|| Rule {
                source,
                target,
                class: d.tclass.clone(),
                perms: BTreeSet::new(),
                denials: 0,
                comms: BTreeSet::new(),
                cross_users: BTreeSet::new(),
            });
        rule.perms.extend(d.perms.iter().cloned());
        rule.denials += 1;
        rule.comms.extend(d.comm.iter().cloned());
        let user = |c: &str| c.split(':').next().unwrap_or("").to_string();
        let (su, tu) = (user(&d.scontext), user(&d.tcontext));
        if su != tu && su != "system_u" && tu != "system_u" && !su.is_empty() && !tu.is_empty() {
            rule.cross_users.insert(format!("{su} -> {tu}"));
        }
    }
    rules.into_values().collect()
}

/// Types whose access is a security boundary: passwords, and the SELinux
/// policy, its store and its settings.
const CRITICAL_TYPES: &[(&str, &str)] = &[
    ("shadow_t", "holds the password hashes"),
    (
        "security_t",
        "is the SELinux policy interface (/sys/fs/selinux)",
    ),
    ("selinux_config_t", "holds the SELinux configuration"),
    ("policy_config_t", "holds the SELinux policy"),
    ("default_context_t", "holds SELinux default contexts"),
    ("file_context_t", "holds SELinux file contexts"),
    ("semanage_store_t", "is the SELinux policy store"),
    (
        "load_policy_exec_t",
        "is the program that loads SELinux policy",
    ),
    ("setfiles_exec_t", "is the program that relabels files"),
    ("kernel_t", "is the kernel's own domain"),
];

/// Domains that run without SELinux confinement: entering them escapes it.
const UNCONFINED: &[&str] = &[
    "unconfined_t",
    "unconfined_service_t",
    "initrc_t",
    "kernel_t",
    "init_t",
];

/// Why a rule must not be written without `--allow-dangerous`, if it must not.
pub fn danger(rule: &Rule) -> Option<String> {
    let has = |p: &str| rule.perms.contains(p);
    if rule.target == "domain" {
        return Some("its target is `domain`, every process type".into());
    }
    if let Some((_, why)) = CRITICAL_TYPES.iter().find(|(t, _)| *t == rule.target) {
        return Some(format!("{} {why}", rule.target));
    }
    if rule.class == "security" || has("load_policy") || has("setenforce") || has("setbool") {
        return Some(
            "it changes the SELinux policy or its mode (load_policy, setenforce, setbool)".into(),
        );
    }
    if rule.class == "process"
        && (has("transition") || has("dyntransition"))
        && UNCONFINED.contains(&rule.target.as_str())
    {
        return Some(format!(
            "it lets {} move into {}, which is unconfined",
            rule.source, rule.target
        ));
    }
    if rule.target.ends_with("_exec_t")
        && (has("execute_no_trans") || has("write") || has("append"))
    {
        return Some(format!(
            "it lets {} run or change {}'s program without a domain transition",
            rule.source, rule.target
        ));
    }
    if has("entrypoint") {
        return Some("it makes files an entry point into a domain".into());
    }
    if matches!(rule.class.as_str(), "capability" | "capability2")
        && (has("sys_module") || has("mac_admin") || has("mac_override"))
    {
        return Some(
            "the capability lets the process load kernel modules or override SELinux".into(),
        );
    }
    None
}

/// The module as a standalone .te: a `require {}` block, then the rules,
/// sorted, each under a comment with its denials and commands.
pub fn write_te(name: &str, rules: &[Rule], header: &str) -> String {
    let mut types = BTreeSet::new();
    let mut classes: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in rules {
        types.insert(r.source.as_str());
        if r.target != "self" {
            types.insert(r.target.as_str());
        }
        classes
            .entry(r.class.as_str())
            .or_default()
            .extend(r.perms.iter().map(String::as_str));
    }
    let mut out = format!("module {name} 1.0;\n\n{header}");
    out.push_str("require {\n");
    for t in &types {
        let _ = writeln!(out, "\ttype {t};");
    }
    for (class, perms) in &classes {
        let perms: Vec<&str> = perms.iter().copied().collect();
        let _ = writeln!(out, "\tclass {class} {{ {} }};", perms.join(" "));
    }
    out.push_str("}\n");
    for r in rules {
        let comms: Vec<&str> = r.comms.iter().map(String::as_str).collect();
        let by = if comms.is_empty() {
            String::new()
        } else {
            format!(", by {}", comms.join(", "))
        };
        let _ = write!(
            out,
            "\n# {} denial{}{by}\n",
            r.denials,
            if r.denials == 1 { "" } else { "s" },
        );
        if !r.cross_users.is_empty() {
            let users: Vec<&str> = r.cross_users.iter().map(String::as_str).collect();
            let _ = write!(
                out,
                "# note: across SELinux users ({}): the policy's user-based constraint (UBAC)\n\
                 # may be what denied this, and an allow rule does not lift a constraint;\n\
                 # `audit2why` on the policy tells. If so, run both sides as one SELinux user.\n",
                users.join(", ")
            );
        }
        let _ = writeln!(out, "{}", r.statement());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(perms: &[&str], comm: &str, s: &str, t: &str, class: &str) -> Denial {
        Denial {
            perms: perms.iter().map(|p| p.to_string()).collect(),
            comm: Some(comm.into()),
            scontext: format!("system_u:system_r:{s}:s0"),
            tcontext: format!("system_u:object_r:{t}:s0"),
            tclass: class.into(),
            permissive: false,
        }
    }

    #[test]
    fn denials_across_selinux_users_get_a_note() {
        let mut a = d(&["read"], "jackd", "staff_t", "user_tmpfs_t", "file");
        a.scontext = "staff_u:staff_r:staff_t:s0".into();
        a.tcontext = "user_u:object_r:user_tmpfs_t:s0".into();
        let b = d(&["read"], "jackd", "staff_t", "device_t", "chr_file");
        let rules = group(&[a, b]);
        let te = write_te("m", &rules, "");
        assert_eq!(
            te.matches("note: across SELinux users (staff_u -> user_u)")
                .count(),
            1,
            "{te}"
        );
        let note = te.find("note:").unwrap();
        assert!(
            te[note..].starts_with("note: across")
                && te[note..].contains("allow staff_t user_tmpfs_t:file read;")
        );
        assert!(
            te.find("allow staff_t device_t:chr_file read;").unwrap() < note,
            "{te}"
        );
    }

    #[test]
    fn groups_like_audit2allow() {
        let rules = group(&[
            d(&["read"], "jackd", "jackd_t", "device_t", "chr_file"),
            d(
                &["write", "read"],
                "jackd",
                "jackd_t",
                "device_t",
                "chr_file",
            ),
            d(&["open"], "qjackctl", "jackd_t", "device_t", "chr_file"),
            d(&["setsched"], "jackd", "jackd_t", "jackd_t", "process"),
        ]);
        assert_eq!(rules.len(), 2);
        assert_eq!(
            rules[0].statement(),
            "allow jackd_t device_t:chr_file { open read write };"
        );
        assert_eq!(rules[0].denials, 3);
        assert_eq!(rules[1].statement(), "allow jackd_t self:process setsched;");
        let te = write_te("jack_local", &rules, "");
        assert!(te.starts_with("module jack_local 1.0;\n\nrequire {\n\ttype device_t;\n\ttype jackd_t;\n\tclass chr_file { open read write };\n\tclass process { setsched };\n}\n"), "{te}");
        assert!(te.contains("\n# 3 denials, by jackd, qjackctl\nallow jackd_t device_t:chr_file { open read write };\n"), "{te}");
    }

    #[test]
    fn refuses_security_critical_rules() {
        let rule = |perms: &[&str], t: &str, class: &str| {
            group(&[d(perms, "x", "jackd_t", t, class)]).remove(0)
        };
        assert!(
            danger(&rule(&["read"], "shadow_t", "file"))
                .unwrap()
                .contains("password")
        );
        assert!(danger(&rule(&["setenforce"], "security_t", "security")).is_some());
        assert!(
            danger(&rule(&["transition"], "unconfined_t", "process"))
                .unwrap()
                .contains("unconfined")
        );
        assert!(danger(&rule(&["execute_no_trans"], "bin_exec_t", "file")).is_some());
        assert!(danger(&rule(&["read"], "domain", "file")).is_some());
        assert!(danger(&rule(&["sys_module"], "jackd_t", "capability")).is_some());
        assert!(
            danger(&rule(
                &["read", "write", "open"],
                "sound_device_t",
                "chr_file"
            ))
            .is_none()
        );
        assert!(danger(&rule(&["sys_nice"], "jackd_t", "capability")).is_none());
    }
}
