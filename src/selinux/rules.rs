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
    /// The comment lines above the rule in a module being merged into, as
    /// they were written there.
    pub kept: Vec<String>,
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

/// Denials gathered into rules one at a time, so a long log needs memory for
/// its rules, not its lines.
#[derive(Default)]
pub struct Grouper {
    rules: BTreeMap<(String, String, String), Rule>,
}

impl Grouper {
    pub fn add(&mut self, d: &Denial) {
        let source = d.source_type();
        let target = if d.target_type() == source {
            "self"
        } else {
            d.target_type()
        };
        let key = (source.to_string(), target.to_string(), d.tclass.clone());
        let rule = self
            .rules
            .entry(key)
            .or_insert_with_key(|(s, t, c)| Rule::new(s.clone(), t.clone(), c.clone()));
        // Copies only what is new: a long log repeats the same denials.
        for p in &d.perms {
            if !rule.perms.contains(p) {
                rule.perms.insert(p.clone());
            }
        }
        rule.denials += 1;
        if let Some(c) = &d.comm {
            if !rule.comms.contains(c) {
                rule.comms.insert(c.clone());
            }
        }
        let su = d.scontext.split(':').next().unwrap_or("");
        let tu = d.tcontext.split(':').next().unwrap_or("");
        if su != tu && su != "system_u" && tu != "system_u" && !su.is_empty() && !tu.is_empty() {
            rule.cross_users.insert(format!("{su} -> {tu}"));
        }
    }

    pub fn rules(self) -> Vec<Rule> {
        self.rules.into_values().collect()
    }
}

impl Rule {
    fn new(source: String, target: String, class: String) -> Rule {
        Rule {
            source,
            target,
            class,
            perms: BTreeSet::new(),
            denials: 0,
            comms: BTreeSet::new(),
            cross_users: BTreeSet::new(),
            kept: Vec::new(),
        }
    }

    fn key(&self) -> (&str, &str, &str) {
        (&self.source, &self.target, &self.class)
    }
}

pub fn group(denials: &[Denial]) -> Vec<Rule> {
    let mut g = Grouper::default();
    for d in denials {
        g.add(d);
    }
    g.rules()
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

/// Why a name in a rule is not one concrete type, if it is not. A kernel's
/// denial names the types of the two contexts it compared, never an
/// attribute; so a rule may only use a name that is a type. With no policy to
/// ask, a type is known by the names both policies give: every type ends in
/// `_t` (refpolicy's and Fedora's naming convention) and is not one of their
/// attributes ([`super::attributes`]).
fn not_one_type(name: &str) -> Option<&'static str> {
    if super::attributes::is_attribute(name) {
        Some(
            "is an attribute, a set of types: the rule would cover every type in it, `shadow_t` and the SELinux policy's own files included",
        )
    } else if !name.ends_with("_t") {
        Some(
            "is not a type name (types end in `_t`): it may be an attribute, which covers many types",
        )
    } else {
        None
    }
}

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
    for (side, name) in [("source", &rule.source), ("target", &rule.target)] {
        if side == "target" && name == "self" {
            continue;
        }
        if let Some(why) = not_one_type(name) {
            return Some(format!("its {side} `{name}` {why}"));
        }
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

/// A module as from-audit writes it: `module NAME VERSION;`, comment lines
/// (its header), a `require {}` block, then the rules, sorted, each under its
/// comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The lines above `module NAME VERSION;` (comments, blank lines), as
    /// they were written.
    pub preamble: Vec<String>,
    pub name: String,
    pub version: String,
    pub header: Vec<String>,
    pub rules: Vec<Rule>,
}

impl Module {
    pub fn new(name: &str, header: &str, rules: Vec<Rule>) -> Module {
        Module {
            preamble: Vec::new(),
            name: name.into(),
            version: "1.0".into(),
            header: header.lines().map(String::from).collect(),
            rules,
        }
    }

    /// Read a module this command wrote (hand edits to comments and rules
    /// kept), to merge new rules into it. Anything it did not write is
    /// refused with its line: a merge must not drop a statement.
    pub fn parse(te: &str) -> Result<Module, (usize, String)> {
        let mut lines = te.lines().enumerate().map(|(i, l)| (i + 1, l));
        let (mut preamble, mut header) = (Vec::new(), Vec::new());
        let (name, version) = loop {
            let Some((n, line)) = lines.next() else {
                return Err((1, "the file has no `module NAME VERSION;` line".into()));
            };
            let code = line.trim();
            if code.is_empty() || code.starts_with('#') {
                preamble.push(line.to_string());
                continue;
            }
            match code
                .strip_suffix(';')
                .map(|c| c.split_whitespace().collect::<Vec<_>>())
            {
                Some(w) if w.len() == 3 && w[0] == "module" && version(w[2]) => {
                    break (w[1].to_string(), w[2].to_string());
                }
                _ => {
                    return Err((
                        n,
                        "expected `module NAME VERSION;`, VERSION numbers and dots (1.0)".into(),
                    ));
                }
            }
        };
        let mut rules: Vec<Rule> = Vec::new();
        let mut comments = Vec::new();
        let mut in_require = false;
        let mut seen_require = false;
        for (n, line) in lines {
            let code = line.trim();
            if in_require {
                match code {
                    "}" => in_require = false,
                    c if (c.starts_with("type ") || c.starts_with("class "))
                        && c.ends_with(';') => {}
                    _ => return Err((
                        n,
                        "expected `type NAME;`, `class NAME { ... };` or `}` in the require block"
                            .into(),
                    )),
                }
            } else if code.is_empty() {
                if rules.is_empty() && !seen_require {
                    header.append(&mut comments);
                }
            } else if code.starts_with('#') {
                comments.push(line.to_string());
            } else if code == "require {" && !seen_require {
                header.append(&mut comments);
                (in_require, seen_require) = (true, true);
            } else if let Some(mut rule) = parse_allow(code) {
                if rules.iter().any(|r| r.key() == rule.key()) {
                    return Err((
                        n,
                        "a second rule for the same source, target and class".into(),
                    ));
                }
                rule.kept = std::mem::take(&mut comments);
                rules.push(rule);
            } else {
                return Err((n, "not a statement from-audit writes (`allow SOURCE TARGET:CLASS PERMS;` on one line)".into()));
            }
        }
        if in_require {
            return Err((te.lines().count(), "the require block is not closed".into()));
        }
        if !comments.is_empty() {
            return Err((
                te.lines().count(),
                "comments after the last rule belong to no rule".into(),
            ));
        }
        Ok(Module {
            preamble,
            name,
            version,
            header,
            rules,
        })
    }

    /// The new rules merged in: permissions of the same source, target and
    /// class joined into one rule, other rules added, the version raised (so
    /// `semodule -i` replaces the installed one: `1.0` -> `1.1`).
    pub fn merge(&mut self, new: Vec<Rule>) {
        for rule in new {
            match self.rules.iter_mut().find(|r| r.key() == rule.key()) {
                Some(old) => {
                    old.perms.extend(rule.perms);
                    old.denials += rule.denials;
                    old.comms.extend(rule.comms);
                    old.cross_users.extend(rule.cross_users);
                }
                None => self.rules.push(rule),
            }
        }
        self.rules.sort_by(|a, b| a.key().cmp(&b.key()));
        self.version = next_version(&self.version);
    }

    /// The module's text.
    pub fn te(&self) -> String {
        let mut types = BTreeSet::new();
        let mut classes: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for r in &self.rules {
            types.insert(r.source.as_str());
            if r.target != "self" {
                types.insert(r.target.as_str());
            }
            classes
                .entry(r.class.as_str())
                .or_default()
                .extend(r.perms.iter().map(String::as_str));
        }
        let mut out = String::new();
        for p in &self.preamble {
            let _ = writeln!(out, "{p}");
        }
        let _ = write!(out, "module {} {};\n\n", self.name, self.version);
        for h in &self.header {
            let _ = writeln!(out, "{h}");
        }
        out.push_str("require {\n");
        for t in &types {
            let _ = writeln!(out, "\ttype {t};");
        }
        for (class, perms) in &classes {
            let perms: Vec<&str> = perms.iter().copied().collect();
            let _ = writeln!(out, "\tclass {class} {{ {} }};", perms.join(" "));
        }
        out.push_str("}\n");
        for r in &self.rules {
            out.push('\n');
            for k in &r.kept {
                let _ = writeln!(out, "{k}");
            }
            if r.denials > 0 {
                let comms: Vec<&str> = r.comms.iter().map(String::as_str).collect();
                let by = if comms.is_empty() {
                    String::new()
                } else {
                    format!(", by {}", comms.join(", "))
                };
                let _ = writeln!(
                    out,
                    "# {}{} denial{}{by}",
                    if r.kept.is_empty() { "" } else { "and " },
                    r.denials,
                    if r.denials == 1 { "" } else { "s" },
                );
            }
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
}

/// `allow SOURCE TARGET:CLASS PERM;` or `... { PERM ... };`, as
/// [`Rule::statement`] writes it, names as the AVC reader accepts them.
fn parse_allow(code: &str) -> Option<Rule> {
    let body = code.strip_prefix("allow ")?.strip_suffix(';')?;
    let (head, perms) = body.split_once(':')?;
    let mut sides = head.split_whitespace();
    let (source, target) = (sides.next()?, sides.next()?);
    if sides.next().is_some() {
        return None;
    }
    let (class, perms) = perms.trim().split_once(char::is_whitespace)?;
    let perms = perms.trim();
    let perms: BTreeSet<String> = match perms.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
        Some(list) => list.split_whitespace().map(String::from).collect(),
        None => BTreeSet::from([perms.to_string()]),
    };
    let name = super::audit::is_name;
    let ok = name(source)
        && (target == "self" || name(target))
        && name(class)
        && !perms.is_empty()
        && perms.iter().all(|p| name(p));
    ok.then(|| {
        let mut r = Rule::new(source.into(), target.into(), class.into());
        r.perms = perms;
        r
    })
}

/// A module version this command can raise: numbers joined by dots.
fn version(v: &str) -> bool {
    v.split('.')
        .all(|n| !n.is_empty() && n.len() < 10 && n.chars().all(|c| c.is_ascii_digit()))
}

/// The version after `v`: its last number raised (`1.0` -> `1.1`, `2` -> `3`,
/// `1.9` -> `1.10`), for a [`version`].
fn next_version(v: &str) -> String {
    let (head, last) = v.rsplit_once('.').map_or(("", v), |(h, l)| (h, l));
    let n: u64 = last.parse().unwrap_or(0) + 1;
    if head.is_empty() {
        n.to_string()
    } else {
        format!("{head}.{n}")
    }
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
        let te = Module::new("m", "", rules).te();
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
        let te = Module::new("jack_local", "", rules).te();
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
        let wide = danger(&rule(&["read", "write"], "file_type", "file")).unwrap();
        assert!(wide.contains("attribute"), "{wide}");
        let mut from_domain = rule(&["write"], "etc_t", "file");
        from_domain.source = "domain".into();
        assert!(danger(&from_domain).unwrap().contains("source `domain`"));
        assert!(
            danger(&rule(&["read"], "studio_things", "file"))
                .unwrap()
                .contains("_t")
        );
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

    #[test]
    fn a_module_merges_new_rules_and_keeps_its_comments() {
        let first = group(&[
            d(&["read"], "jackd", "jackd_t", "sound_device_t", "chr_file"),
            d(&["setsched"], "jackd", "jackd_t", "jackd_t", "process"),
        ]);
        let te = Module::new("jack_local", "# head\n", first).te();
        let edited = te.replace(
            "allow jackd_t self:process setsched;",
            "# mine: needed for the RT thread\nallow jackd_t self:process setsched;",
        );
        let mut m = Module::parse(&edited).unwrap();
        assert_eq!(m.version, "1.0");
        m.merge(group(&[
            d(
                &["write", "open"],
                "qjackctl",
                "jackd_t",
                "sound_device_t",
                "chr_file",
            ),
            d(&["ipc_lock"], "jackd", "jackd_t", "jackd_t", "capability"),
        ]));
        let merged = m.te();
        assert!(merged.starts_with("module jack_local 1.1;\n\n# head\nrequire {\n\ttype jackd_t;\n\ttype sound_device_t;\n\tclass capability { ipc_lock };\n\tclass chr_file { open read write };\n\tclass process { setsched };\n}\n"), "{merged}");
        assert!(merged.contains("# 1 denial, by jackd\n# and 1 denial, by qjackctl\nallow jackd_t sound_device_t:chr_file { open read write };\n"), "{merged}");
        assert!(
            merged.contains(
                "# mine: needed for the RT thread\nallow jackd_t self:process setsched;\n"
            ),
            "{merged}"
        );
        // Merging again reads what it wrote.
        let again = Module::parse(&merged).unwrap();
        assert_eq!(again.te(), merged);
    }

    #[test]
    fn a_merge_keeps_the_comments_above_the_module_line() {
        let first = group(&[d(
            &["read"],
            "jackd",
            "jackd_t",
            "sound_device_t",
            "chr_file",
        )]);
        let te = Module::new("jack_local", "# head\n", first).te();
        let preamble = "# Studio A: reviewed by the audio team\n\n# ticket 42\n";
        let mut m = Module::parse(&format!("{preamble}{te}")).unwrap();
        m.merge(group(&[d(
            &["ipc_lock"],
            "jackd",
            "jackd_t",
            "jackd_t",
            "capability",
        )]));
        let merged = m.te();
        assert!(
            merged.starts_with(&format!(
                "{preamble}module jack_local 1.1;\n\n# head\nrequire {{\n"
            )),
            "{merged}"
        );
        assert_eq!(Module::parse(&merged).unwrap().te(), merged);
    }

    #[test]
    fn a_merge_refuses_what_it_did_not_write() {
        for (te, line) in [
            ("module m 1.0;\ntype_transition a_t b_t:file c_t;\n", 2),
            ("module m 1.0;\nrequire {\n\ttype a_t;\n", 3),
            ("module m x1;\n", 1),
            (
                "module m 1.0;\nallow a_t b_t:file read;\nallow a_t b_t:file write;\n",
                3,
            ),
            ("module m 1.0;\nallow a_t\n b_t:file read;\n", 2),
        ] {
            assert_eq!(Module::parse(te).unwrap_err().0, line, "{te}");
        }
        assert_eq!(next_version("1.9"), "1.10");
        assert_eq!(next_version("2"), "3");
    }
}
