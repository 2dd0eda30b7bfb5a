//! Property tests over the profile schema, through the real binary, real bash
//! and real ksvalidator: profiles are generated with valid values and hostile
//! strings in every string field.
//!
//! - A profile the validator accepts renders shell bodies that `bash -n`
//!   accepts (kickstart %pre/%post, RPM scriptlets, Containerfile RUNs, rootfs
//!   scripts) and TOML files that parse back with the values put in.
//! - A value its grammar rejects makes the render exit 2 with an error naming
//!   its key and line:column, and nothing is written; so no rendered line ever
//!   carries a rejected value. Values with shell, quoting or control
//!   characters are rejected in every field (an oracle independent of the
//!   grammar module).
//! - For a few accepted profiles, both kickstarts pass ksvalidator.

mod common;

use std::cell::Cell;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rtaudio_tuning::profile::grammar::{self, Check};

use common::*;

/// Marks every hostile payload: an accepted profile must never render it.
const MARK: &str = "PWNED";

/// Payloads aimed at each place a value lands: a shell (`;`, `$()`, backticks,
/// quotes, newlines), a kickstart (`%end` / `%post`), a Containerfile (`RUN`),
/// an RPM spec (`%(...)` macros), a here-document (our delimiter), TOML and
/// option parsing. Each has a character no grammar allows.
const PAYLOADS: &[&str] = &[
    "x;touch /tmp/PWNED",
    "$(touch /tmp/PWNED)",
    "`touch /tmp/PWNED`",
    "x\ntouch /tmp/PWNED",
    "x\r\ntouch /tmp/PWNED",
    "x\n%end\n%post\ntouch /tmp/PWNED\n%end",
    "x\nRUN touch /tmp/PWNED",
    "x\\\nRUN touch /tmp/PWNED",
    "x\" && touch /tmp/PWNED && \"",
    "x' ; touch /tmp/PWNED ; '",
    "%(touch /tmp/PWNED)",
    "%{lua: os.execute('PWNED')}",
    "x\nRTAUDIO_TUNING_EOF\ntouch /tmp/PWNED",
    "x\"\n[[customizations.user]]\nname = \"PWNED",
    "x|PWNED",
    "x&&PWNED",
    "x>/etc/PWNED",
    "{{ PWNED }}",
    "x\0PWNED",
    "x\tPWNED",
    "caf\u{e9}PWNED",
    "x\u{2028}PWNED",
    "\u{1b}[2JPWNED",
];

/// A value with a character that must be refused in every field, whatever its
/// grammar: control characters, quotes, shell and template syntax, non-ASCII.
fn never_allowed(v: &str) -> bool {
    v.contains("$(")
        || v.chars().any(|c| {
            c.is_control()
                || !c.is_ascii()
                || matches!(
                    c,
                    '"' | '\'' | '`' | '\\' | ';' | '|' | '<' | '>' | '(' | ')' | '{' | '}'
                )
        })
}

fn hostile() -> BoxedStrategy<String> {
    prop_oneof![
        4 => proptest::sample::select(PAYLOADS).prop_map(str::to_string),
        // A payload behind a plausible value.
        2 => ("[a-z0-9._-]{1,8}", proptest::sample::select(PAYLOADS))
            .prop_map(|(a, b)| format!("{a}{b}")),
        // Oversize values.
        1 => (200usize..3000).prop_map(|n| format!("{}{MARK};", "a".repeat(n))),
        // Anything printable: often valid for one field and not another.
        2 => "\\PC{0,16}",
        1 => "[ -~]{0,16}",
    ]
    .boxed()
}

/// One string field: its valid candidate, a hostile one, and which is used
/// (unless the whole case is valid).
#[derive(Debug, Clone)]
struct Choice {
    good: String,
    bad: String,
    hostile: bool,
}

fn choice(good: impl Strategy<Value = String> + 'static) -> BoxedStrategy<Choice> {
    (good, hostile(), prop::bool::weighted(0.12))
        .prop_map(|(good, bad, hostile)| Choice { good, bad, hostile })
        .boxed()
}

fn list(good: &'static str, max: usize) -> BoxedStrategy<Vec<Choice>> {
    prop::collection::vec(choice(good), 0..=max).boxed()
}

#[derive(Debug, Clone)]
struct UserGen {
    name: Choice,
    groups: Option<Vec<Choice>>,
    hash: Option<Choice>,
    keys: Vec<Choice>,
}

#[derive(Debug, Clone)]
struct Gen {
    all_valid: bool,
    target: (&'static str, u32, &'static str),
    flavor: &'static str,
    name: Option<Choice>,
    repo: Option<(Choice, Option<Choice>)>,
    args: Option<Vec<Choice>>,
    isolate: Option<Choice>,
    group: Option<(Choice, u32)>,
    users: Vec<UserGen>,
    banned_cpus: Option<Choice>,
    priority: Vec<(Choice, u32)>,
    sysctl: Vec<(Choice, Choice)>,
    audio: Option<Vec<Choice>>,
    install: Vec<Choice>,
    remove: Vec<Choice>,
    module: Option<(Choice, Choice)>,
}

const TARGETS: &[(&str, u32, &str)] = &[
    ("fedora", 42, "x86_64"),
    ("fedora", 44, "x86_64"),
    ("fedora", 46, "aarch64"),
    ("centos-stream", 10, "x86_64"),
    ("almalinux", 10, "aarch64"),
    ("rhel", 10, "x86_64"),
];

fn cpu_list_good() -> BoxedStrategy<String> {
    prop_oneof![
        (1u32..64).prop_map(|c| c.to_string()),
        (1u32..64, 0u32..8).prop_map(|(lo, n)| format!("{lo}-{}", lo + n)),
        (1u32..8, 9u32..16).prop_map(|(a, b)| format!("{a},{b}")),
    ]
    .boxed()
}

fn user() -> BoxedStrategy<UserGen> {
    (
        choice("mus[a-z0-9_-]{0,10}"),
        prop::option::of(list("g[a-z0-9_-]{0,10}", 3)),
        prop::option::of(choice(
            "\\$6\\$[a-zA-Z0-9./]{8,16}\\$[a-zA-Z0-9./]{86}|\\$y\\$j9T\\$[a-zA-Z0-9./]{22}\\$[a-zA-Z0-9./]{43}",
        )),
        prop::collection::vec(
            choice(
                (
                    proptest::sample::select(grammar::SSH_KEY_TYPES),
                    prop::collection::vec(1u8.., 1..40),
                    "( [a-z0-9@._:+-]{1,12}){0,2}",
                )
                    .prop_map(|(ty, seed, comment)| {
                        format!("{ty} {}{comment}", base64(&ssh_blob(ty, &seed)))
                    }),
            ),
            0..=2,
        ),
    )
        .prop_map(|(name, groups, hash, keys)| UserGen {
            name,
            groups,
            hash,
            keys,
        })
        .boxed()
}

fn profiles(modules: bool) -> BoxedStrategy<Gen> {
    let kernel = (
        proptest::sample::select(TARGETS),
        proptest::sample::select(&["rt", "stock"][..]),
        choice("[a-z][a-z0-9-]{0,20}"),
        prop::option::of((
            choice(
                "(https|http|ftp)://[a-z0-9]{1,10}\\.example\\.org(/[a-zA-Z0-9._~%+@&?=-]{1,10}){0,3}(/\\$releasever-\\$basearch)?/?|file:///srv/[a-z]{1,8}",
            ),
            prop::option::of(choice(
                "https://[a-z0-9]{1,10}\\.example\\.org/[a-z]{1,8}\\.gpg",
            )),
        )),
        // Kernel arguments get an index prefix below, so their keys differ.
        prop::option::of(list("[a-z0-9_.-]{0,8}(=[A-Za-z0-9_.,:/=+@-]{1,12})?", 3)),
        prop::option::of(choice(cpu_list_good())),
    );
    let rest = (
        prop::option::of((choice("rt[a-z0-9_-]{0,10}"), 900u32..65000)),
        prop::collection::vec(user(), 0..=2),
        prop::option::of(choice(cpu_list_good())),
        prop::collection::vec((choice("[a-z0-9_.:-]{1,12}"), 1u32..=99), 0..=2),
        prop::collection::vec(
            (
                choice("(vm|kernel|fs|net/ipv4/conf/eth0\\.100|net\\.core)[./][a-z_]{1,12}"),
                choice("-?[0-9]{1,6}|[0-9]{1,3}( [0-9]{1,3}){1,3}|[a-z_]{1,8}"),
            ),
            0..=3,
        ),
    );
    let packages = (
        prop::option::of(list("a[a-z0-9._+-]{0,12}", 2)),
        list("(@|@\\^)?p[a-z0-9._+-]{0,12}", 3),
        list("r[a-z0-9._+-]{0,12}", 2),
        if modules {
            prop::option::of((
                choice("[a-z][a-z0-9_]{0,10}"),
                choice("selinux/[a-z0-9_]{1,8}\\.te"),
            ))
            .boxed()
        } else {
            Just(None).boxed()
        },
    );
    (prop::bool::weighted(0.4), kernel, rest, packages)
        .prop_map(
            |(
                all_valid,
                (target, flavor, name, repo, args, isolate),
                (group, users, banned_cpus, priority, sysctl),
                (audio, install, remove, module),
            )| Gen {
                all_valid,
                target,
                flavor,
                name: Some(name),
                repo,
                args,
                isolate,
                group,
                users,
                banned_cpus,
                priority,
                sysctl,
                audio,
                install,
                remove,
                module,
            },
        )
        .boxed()
}

/// A grammar check of the library, by field.
type Grammar = fn(&str) -> Check;

/// Where a string value sits in the generated profile, and its grammar.
#[derive(Debug)]
struct Placed {
    key: String,
    line: usize,
    col: usize,
    value: String,
    grammar: Grammar,
}

/// The profile text, written key by key, remembering where each value is.
#[derive(Default)]
struct Text {
    text: String,
    placed: Vec<Placed>,
}

/// A TOML basic string: every control character escaped, the rest verbatim.
fn quoted(v: &str) -> String {
    let mut s = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(s, "\\u{:04X}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

impl Text {
    fn line(&self) -> usize {
        self.text.matches('\n').count() + 1
    }

    fn raw(&mut self, s: &str) {
        self.text.push_str(s);
        self.text.push('\n');
    }

    /// `name = "value"` with its key path; returns the value used.
    fn string(&mut self, path: &str, name: &str, value: &str, grammar: Grammar) {
        self.placed.push(Placed {
            key: path.to_string(),
            line: self.line(),
            col: name.chars().count() + 4,
            value: value.to_string(),
            grammar,
        });
        let _ = writeln!(self.text, "{name} = {}", quoted(value));
    }

    /// `name = [ ... ]`, one element per line.
    fn strings(&mut self, path: &str, name: &str, values: &[String], grammar: Grammar) {
        let _ = writeln!(self.text, "{name} = [");
        for (i, v) in values.iter().enumerate() {
            self.placed.push(Placed {
                key: format!("{path}[{i}]"),
                line: self.line(),
                col: 5,
                value: v.clone(),
                grammar,
            });
            let _ = writeln!(self.text, "    {},", quoted(v));
        }
        self.raw("]");
    }
}

fn user_grammar(v: &str) -> Check {
    grammar::account_name(v, "user")
}
fn group_grammar(v: &str) -> Check {
    grammar::account_name(v, "group")
}
fn realtime_group_grammar(v: &str) -> Check {
    grammar::account_name(v, "group").and_then(|()| grammar::unprivileged_group(v))
}
fn cpu_list_grammar(v: &str) -> Check {
    grammar::cpu_list(v).map(|_| ())
}
fn te_grammar(v: &str) -> Check {
    grammar::relative_path(v, ".te")
}

/// The profile's key path of a sysctl key, as the walker spells it.
fn sysctl_path(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        format!("sysctl.{key}")
    } else {
        format!("sysctl.{key:?}")
    }
}

type BuiltUser = (String, Vec<String>, Option<String>, Vec<String>);

/// What a generated profile holds, as used (valid or hostile per field).
struct Built {
    text: Text,
    name: String,
    args: Vec<String>,
    group: String,
    gid: Option<u32>,
    /// Name, every group (the realtime one included), password hash, keys.
    users: Vec<BuiltUser>,
    packages: Vec<String>,
    module: Option<(String, String)>,
}

fn build(g: &Gen) -> Built {
    let pick = |c: &Choice| {
        if c.hostile && !g.all_valid {
            c.bad.clone()
        } else {
            c.good.clone()
        }
    };
    // Drop repeated valid values: duplicates are reported, but not what is tested here.
    let picks = |cs: &[Choice]| {
        let mut out: Vec<String> = Vec::new();
        for c in cs {
            let v = pick(c);
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out
    };
    let mut t = Text::default();
    t.raw("version = 1");
    let name = g.name.as_ref().map_or("studio".to_string(), pick);
    t.string("name", "name", &name, grammar::profile_name);
    let (distro, release, arch) = g.target;
    t.raw(&format!(
        "[target]\ndistro = \"{distro}\"\nrelease = {release}\narch = \"{arch}\""
    ));

    t.raw(&format!("[kernel]\nflavor = \"{}\"", g.flavor));
    if let Some((repo, gpgkey)) = &g.repo {
        t.string("kernel.repo", "repo", &pick(repo), grammar::kernel_repo_url);
        if let Some(k) = gpgkey {
            t.string("kernel.gpgkey", "gpgkey", &pick(k), grammar::gpgkey_url);
        }
    }
    let args: Vec<String> = match &g.args {
        Some(list) => {
            let args: Vec<String> = list
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if c.hostile && !g.all_valid {
                        c.bad.clone()
                    } else {
                        format!("k{i}{}", c.good)
                    }
                })
                .collect();
            t.strings("kernel.args", "args", &args, grammar::karg);
            args
        }
        None => vec!["threadirqs".into()],
    };
    if let Some(c) = &g.isolate {
        t.string(
            "kernel.isolate_cpus",
            "isolate_cpus",
            &pick(c),
            cpu_list_grammar,
        );
    }

    t.raw("[realtime]");
    let (group, gid) = match &g.group {
        Some((c, gid)) => {
            let v = pick(c);
            t.string("realtime.group", "group", &v, realtime_group_grammar);
            t.raw(&format!("gid = {gid}"));
            (v, Some(*gid))
        }
        None => ("realtime".to_string(), Some(71)),
    };

    let mut users = Vec::new();
    let mut user_names: Vec<String> = Vec::new();
    for u in &g.users {
        let name = pick(&u.name);
        if user_names.contains(&name) {
            continue;
        }
        user_names.push(name.clone());
        let i = users.len();
        let path = format!("users[{i}]");
        t.raw("[[users]]");
        let before = t.placed.len();
        t.string(&format!("{path}.name"), "name", &name, user_grammar);
        let groups = u.groups.as_ref().map(|gs| {
            let v = picks(gs);
            t.strings(&format!("{path}.groups"), "groups", &v, group_grammar);
            v
        });
        let hash = u.hash.as_ref().map(|h| {
            let v = pick(h);
            t.string(
                &format!("{path}.password_hash"),
                "password_hash",
                &v,
                grammar::password_hash,
            );
            v
        });
        let keys = picks(&u.keys);
        if !keys.is_empty() {
            t.strings(
                &format!("{path}.ssh_keys"),
                "ssh_keys",
                &keys,
                grammar::ssh_key,
            );
        }
        // A user whose name is refused is skipped: nothing else of it is checked.
        if user_grammar(&name).is_err() {
            t.placed.truncate(before + 1);
        }
        let mut all_groups = groups.unwrap_or_else(|| vec!["audio".into()]);
        all_groups.push(group.clone());
        users.push((name, all_groups, hash, keys));
    }

    t.raw("[irq]");
    if let Some(c) = &g.banned_cpus {
        t.string("irq.banned_cpus", "banned_cpus", &pick(c), cpu_list_grammar);
    }
    let mut matches: Vec<String> = Vec::new();
    for (c, prio) in &g.priority {
        let m = pick(c);
        if matches.contains(&m) {
            continue;
        }
        let i = matches.len();
        matches.push(m.clone());
        t.raw("[[irq.priority]]");
        t.string(
            &format!("irq.priority[{i}].match"),
            "match",
            &m,
            grammar::irq_match,
        );
        t.raw(&format!("prio = {prio}"));
    }

    t.raw("[sysctl]");
    let mut keys: Vec<String> = Vec::new();
    for (k, v) in &g.sysctl {
        let key = pick(k);
        if keys
            .iter()
            .any(|x| grammar::sysctl_path(x) == grammar::sysctl_path(&key))
        {
            continue;
        }
        keys.push(key.clone());
        let value = pick(v);
        let path = sysctl_path(&key);
        let qkey = quoted(&key);
        if grammar::sysctl_key(&key).is_err() {
            t.placed.push(Placed {
                key: path.clone(),
                line: t.line(),
                col: 1,
                value: key.clone(),
                grammar: grammar::sysctl_key,
            });
            let _ = writeln!(t.text, "{qkey} = {}", quoted(&value));
        } else {
            t.string(&path, &qkey, &value, grammar::sysctl_value);
        }
    }

    let mut packages = Vec::new();
    t.raw("[audio]");
    if let Some(list) = &g.audio {
        let v = picks(list);
        t.strings("audio.packages", "packages", &v, grammar::package_or_group);
        packages.extend(v);
    }
    t.raw("[packages]");
    let install = picks(&g.install);
    t.strings(
        "packages.install",
        "install",
        &install,
        grammar::package_or_group,
    );
    packages.extend(install);
    let remove = picks(&g.remove);
    t.strings("packages.remove", "remove", &remove, grammar::package_name);

    let module = g.module.as_ref().map(|(n, f)| {
        let (n, f) = (pick(n), pick(f));
        t.raw("[[selinux.module]]");
        t.string(
            "selinux.module[0].name",
            "name",
            &n,
            grammar::selinux_module_name,
        );
        t.string("selinux.module[0].file", "file", &f, te_grammar);
        (n, f)
    });
    Built {
        text: t,
        name,
        args,
        group,
        gid,
        users,
        packages,
        module,
    }
}

/// Shell bodies of a rendered tree: kickstart %pre/%post, RPM scriptlets,
/// Containerfile RUN lines and the scripts under rootfs/.
fn shell_bodies(tree: &[(String, Vec<u8>)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, bytes) in tree {
        let text = String::from_utf8_lossy(bytes);
        if path.ends_with(".ks") {
            let mut cur: Option<String> = None;
            for line in text.lines() {
                let word = line.split_whitespace().next().unwrap_or("");
                if line.trim() == "%end" {
                    if let Some(body) = cur.take() {
                        out.push((format!("{path} {}", out.len()), body));
                    }
                } else if matches!(word, "%pre" | "%post" | "%pre-install") {
                    cur = Some(String::new());
                } else if let Some(b) = cur.as_mut() {
                    b.push_str(line);
                    b.push('\n');
                }
            }
            assert!(cur.is_none(), "{path}: a %post without %end");
        } else if path.ends_with(".spec") {
            let mut cur: Option<(String, String)> = None;
            for line in text.lines() {
                let word = line.split_whitespace().next().unwrap_or("");
                if word.len() > 1
                    && word.starts_with('%')
                    && word[1..].chars().all(|c| c.is_ascii_lowercase())
                {
                    out.extend(cur.take());
                    if matches!(
                        word,
                        "%pre" | "%post" | "%preun" | "%postun" | "%pretrans" | "%posttrans"
                    ) {
                        cur = Some((format!("{path} {word}"), String::new()));
                    }
                } else if let Some((_, b)) = cur.as_mut() {
                    b.push_str(line);
                    b.push('\n');
                }
            }
            out.extend(cur);
        } else if path.ends_with("Containerfile") {
            let mut full = String::new();
            for line in text.lines() {
                full.push_str(line);
                if full.ends_with('\\') {
                    full.pop();
                    continue;
                }
                if let Some(run) = full.strip_prefix("RUN ") {
                    out.push((format!("{path} RUN"), format!("{run}\n")));
                }
                full.clear();
            }
        } else if path.starts_with("rootfs/") && text.starts_with("#!/bin/") {
            out.push((path.clone(), text.into_owned()));
        }
    }
    out
}

/// `bash -n` on every body at once, each wrapped in a function of its own:
/// one bash process per case. Warnings (an unterminated here-document) count.
fn bash_n(bodies: &[(String, String)]) -> Result<(), String> {
    let mut script = String::new();
    let mut starts = Vec::new();
    for (i, (_, body)) in bodies.iter().enumerate() {
        starts.push(script.matches('\n').count() + 1);
        let _ = write!(script, "__body_{i}() {{\n:\n{body}\n}}\n");
    }
    let mut child = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running bash");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), script.as_bytes()).unwrap();
    drop(child.stdin.take());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    if o.status.success() && err.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = bodies
        .iter()
        .zip(&starts)
        .map(|((n, _), s)| format!("  line {s}: {n}"))
        .collect();
    Err(format!(
        "bash -n: {err}\nbodies start at:\n{}",
        names.join("\n")
    ))
}

fn toml_str(v: &toml::Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The TOML outputs parse and carry the profile's values.
fn toml_round_trip(b: &Built, tree: &[(String, Vec<u8>)]) -> Result<(), String> {
    let mut blueprint = None;
    let mut bootc = None;
    let mut kargs_files = 0;
    for (path, bytes) in tree {
        if !path.ends_with(".toml") {
            continue;
        }
        let text = std::str::from_utf8(bytes).map_err(|e| format!("{path}: {e}"))?;
        let doc: toml::Table = toml::from_str(text).map_err(|e| format!("{path}: {e}"))?;
        if path.contains("/kargs.d/") {
            kargs_files += 1;
            let kargs: Vec<&str> = doc["kargs"]
                .as_array()
                .ok_or(format!("{path}: no kargs"))?
                .iter()
                .map(toml_str)
                .collect();
            for a in &b.args {
                if !kargs.contains(&a.as_str()) {
                    return Err(format!("{path}: {a:?} missing from {kargs:?}"));
                }
            }
        }
        if *path == format!("blueprint/{}.toml", b.name) {
            blueprint = Some(doc);
        } else if path == "bootc/config.toml" {
            bootc = Some(doc);
        }
    }
    if kargs_files == 0 {
        return Err("no kargs.d file".into());
    }
    let bp = blueprint.ok_or("no blueprint")?;
    if toml_str(&bp["name"]) != b.name {
        return Err(format!("blueprint name {:?}", bp["name"]));
    }
    let names = |key: &str| -> Vec<String> {
        bp.get(key)
            .and_then(toml::Value::as_array)
            .map(|a| a.iter().map(|p| toml_str(&p["name"]).to_string()).collect())
            .unwrap_or_default()
    };
    let (pkgs, groups) = (names("packages"), names("groups"));
    for p in &b.packages {
        let found = match p.strip_prefix('@') {
            Some(env) if env.starts_with('^') => true,
            Some(g) => groups.contains(&g.to_string()),
            None => pkgs.contains(p),
        };
        if !found {
            return Err(format!("blueprint: package {p:?} missing"));
        }
    }
    let custom = &bp["customizations"];
    let append = custom
        .get("kernel")
        .and_then(|k| k.get("append"))
        .map_or("", toml_str);
    for a in &b.args {
        if !append.split(' ').any(|x| x == a) {
            return Err(format!("blueprint: kernel arg {a:?} not in {append:?}"));
        }
    }
    let group = &custom["group"][0];
    if toml_str(&group["name"]) != b.group
        || group.get("gid").and_then(toml::Value::as_integer) != b.gid.map(i64::from)
    {
        return Err(format!("blueprint: group {group:?}"));
    }
    let mut docs = vec![("blueprint", &bp)];
    if !b.users.is_empty() {
        docs.push((
            "bootc/config.toml",
            bootc.as_ref().ok_or("no bootc/config.toml")?,
        ));
    }
    for (what, doc) in docs {
        let users = doc["customizations"]
            .get("user")
            .and_then(toml::Value::as_array)
            .cloned()
            .unwrap_or_default();
        if users.len() != b.users.len() {
            return Err(format!("{what}: {} users", users.len()));
        }
        for (u, (name, groups, hash, keys)) in users.iter().zip(&b.users) {
            let got: Vec<&str> = u["groups"]
                .as_array()
                .map(|a| a.iter().map(toml_str).collect())
                .unwrap_or_default();
            let ok = toml_str(&u["name"]) == name
                && groups.iter().all(|g| got.contains(&g.as_str()))
                && u.get("password").map(toml_str) == hash.as_deref()
                && u.get("key")
                    .map_or(String::new(), |k| toml_str(k).to_string())
                    == keys.join("\n");
            if !ok {
                return Err(format!("{what}: user {u:?} is not {name} {groups:?}"));
            }
        }
    }
    Ok(())
}

/// The error block for `key`: `error: KEY: ...` followed by `--> FILE:L:C`.
fn names_key_at(stderr: &str, key: &str, line: usize, col: usize) -> bool {
    // A report clips a long key to its head and tail.
    let key = rtaudio_tuning::text::clip(key, rtaudio_tuning::report::KEY_CHARS);
    let head = format!("error: {key}: ");
    let at = format!("p.toml:{line}:{col}");
    let lines: Vec<&str> = stderr.lines().collect();
    lines.windows(2).any(|w| {
        w[0].starts_with(&head) && w[1].trim_start().starts_with("--> ") && w[1].ends_with(&at)
    })
}

#[derive(Default)]
struct Counts {
    accepted: Cell<u32>,
    refused_by_grammar: Cell<u32>,
    refused_otherwise: Cell<u32>,
}

/// Render one generated profile through the binary and check every property.
fn check_case(g: &Gen, counts: &Counts, ksvalidator: Option<&Path>) -> Result<(), TestCaseError> {
    let b = build(g);
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("p.toml");
    fs::write(&p, &b.text.text).unwrap();
    if let Some((name, file)) = &b.module
        && te_grammar(file).is_ok()
    {
        let f = t.path().join(file);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(
                &f,
                format!("module {name} 1.0;\nrequire {{ type init_t; type device_t; class chr_file {{ open }}; }}\nallow init_t device_t:chr_file open;\n"),
            )
            .unwrap();
    }
    let before: Vec<_> = fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let out = t.path().join("out");
    let o = run(bin().arg("render").arg(&p).arg("-o").arg(&out));
    let err = stderr(&o);
    let ctx = || format!("profile:\n{}\nstderr:\n{err}", b.text.text);
    let refused: Vec<&Placed> = b
        .text
        .placed
        .iter()
        .filter(|v| (v.grammar)(&v.value).is_err())
        .collect();
    for v in &b.text.placed {
        prop_assert!(
            !never_allowed(&v.value) || (v.grammar)(&v.value).is_err(),
            "{} accepts {:?}",
            v.key,
            v.value
        );
    }
    match o.status.code() {
        Some(2) => {
            prop_assert!(
                !out.exists(),
                "refused, yet {} exists\n{}",
                out.display(),
                ctx()
            );
            let after: Vec<_> = fs::read_dir(t.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            prop_assert_eq!(
                &after,
                &before,
                "refused, yet something was written\n{}",
                ctx()
            );
            prop_assert!(err.contains("nothing was written"), "{}", ctx());
            for v in &refused {
                prop_assert!(
                    names_key_at(&err, &v.key, v.line, v.col),
                    "{:?} in {} (line {}:{}) refused without naming the key and place\n{}",
                    v.value,
                    v.key,
                    v.line,
                    v.col,
                    ctx()
                );
            }
            if refused.is_empty() {
                counts
                    .refused_otherwise
                    .set(counts.refused_otherwise.get() + 1);
            } else {
                counts
                    .refused_by_grammar
                    .set(counts.refused_by_grammar.get() + 1);
            }
        }
        Some(0) => {
            prop_assert!(
                refused.is_empty(),
                "rendered with refused values {:?}\n{}",
                refused,
                ctx()
            );
            counts.accepted.set(counts.accepted.get() + 1);
            let tree = tree(&out);
            for (path, bytes) in &tree {
                prop_assert!(
                    !String::from_utf8_lossy(bytes).contains(MARK),
                    "{path} carries a hostile payload\n{}",
                    ctx()
                );
            }
            let bodies = shell_bodies(&tree);
            prop_assert!(
                bodies.len() >= 6,
                "only {} shell bodies found",
                bodies.len()
            );
            bash_n(&bodies).map_err(|e| TestCaseError::fail(format!("{e}\n{}", ctx())))?;
            toml_round_trip(&b, &tree)
                .map_err(|e| TestCaseError::fail(format!("{e}\n{}", ctx())))?;
            if let Some(ksvalidator) = ksvalidator {
                for (path, bytes) in tree.iter().filter(|(p, _)| p.ends_with(".ks")) {
                    let text = String::from_utf8_lossy(bytes);
                    let version = text
                        .lines()
                        .find_map(|l| l.strip_prefix("#version="))
                        .unwrap_or("DEVEL");
                    let v = run(Command::new(ksvalidator)
                        .args(["-v", version])
                        .arg(out.join(path)));
                    prop_assert!(
                        v.status.success(),
                        "ksvalidator {path}: {}{}\n{}",
                        stdout(&v),
                        stderr(&v),
                        ctx()
                    );
                }
            }
        }
        code => prop_assert!(false, "render exited {code:?}\n{}", ctx()),
    }
    Ok(())
}

/// `cases` per run; PROPTEST_CASES raises it for a long hunt.
fn runner(cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    })
}

#[test]
fn generated_profiles_render_safely_or_are_refused_with_key_and_place() {
    let counts = Counts::default();
    // About 28% of generated profiles are accepted (225 of 800 in a sample):
    // 240 cases give some 67, and fewer than 30 is a five-sigma event, where
    // 160 cases failed a clean CI run with 29.
    runner(240)
        .run(&profiles(false), |g| check_case(&g, &counts, None))
        .unwrap();
    let (a, r, x) = (
        counts.accepted.get(),
        counts.refused_by_grammar.get(),
        counts.refused_otherwise.get(),
    );
    // Both halves of the property were exercised, not just one.
    assert!(
        a >= 30 && r >= 30,
        "accepted {a}, refused by a grammar {r}, otherwise {x}"
    );
}

#[test]
fn generated_profiles_with_selinux_modules() {
    let counts = Counts::default();
    // About a quarter of the generated profiles are accepted (24 of 96 in a
    // sample): 48 cases leave a run with fewer than 2 of them at odds of about
    // 1 in 60,000.
    runner(48)
        .run(&profiles(true), |g| check_case(&g, &counts, None))
        .unwrap();
    assert!(
        counts.accepted.get() >= 2,
        "accepted {}",
        counts.accepted.get()
    );
}

#[test]
fn sampled_accepted_profiles_pass_ksvalidator() {
    let ksvalidator = tool(
        "ksvalidator",
        "pykickstart (scripts/test installs it in .venv/)",
    );
    let counts = Counts::default();
    let valid = profiles(false).prop_map(|mut g| {
        g.all_valid = true;
        g
    });
    // About half of the generated profiles are accepted (their generated
    // values still meet the grammars by chance): 24 cases leave a run with
    // none of them at odds of about 1 in 16 million.
    runner(24)
        .run(&valid, |g| check_case(&g, &counts, Some(&ksvalidator)))
        .unwrap();
    assert!(counts.accepted.get() >= 1, "no profile was accepted");
}

// ------------------------------------------------ policies (issue 12, classes 2 and 7)

/// Run `command` (`render` or `fleet`) on `text` as `p.toml`: exit 2, an error
/// for `key` at `line:col`, and nothing written. Returns stderr.
fn refused_at(
    command: &str,
    text: &str,
    key: &str,
    line: usize,
    col: usize,
) -> Result<String, TestCaseError> {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("p.toml");
    fs::write(&p, text).unwrap();
    let out = t.path().join("out");
    let o = run(bin().arg(command).arg(&p).arg("-o").arg(&out));
    let err = stderr(&o);
    prop_assert_eq!(o.status.code(), Some(2), "{}\n{}", text, err);
    prop_assert!(
        names_key_at(&err, key, line, col),
        "no error for {} at {}:{}\n{}\n{}",
        key,
        line,
        col,
        text,
        err
    );
    prop_assert!(!out.exists(), "refused, yet written\n{}", text);
    Ok(err)
}

/// Kernel and systemd switches that boot into a shell, run a command, change
/// the target or lift a protection, in their canonical spelling.
const REFUSED_KARGS: &[&str] = &[
    "init",
    "rdinit",
    "single",
    "emergency",
    "rescue",
    "s",
    "S",
    "1",
    "3",
    "5",
    "systemd.unit",
    "systemd.wants",
    "systemd.mask",
    "systemd.debug_shell",
    "systemd.run",
    "systemd.run_success_action",
    "systemd.confirm_spawn",
    "systemd.setenv",
    "systemd.crash_shell",
    "systemd.set_credential",
    "rd.shell",
    "rd.break",
    "rd.emergency",
    "rd.debug",
    "selinux",
    "enforcing",
    "security",
    "lsm",
    "apparmor",
    "audit",
    "module.sig_enforce",
    "lockdown",
    "ima_appraise",
    "ima_policy",
    "efi",
    "nokaslr",
    "sysrq_always_enabled",
    "kgdboc",
    "kgdbwait",
];

/// A refused argument in any spelling its readers take as the same: `-` or
/// `_` at each separator, an `rd.` prefix, letters in either case, with or
/// without a value.
fn refused_karg() -> BoxedStrategy<String> {
    (
        proptest::sample::select(REFUSED_KARGS),
        prop::collection::vec(any::<bool>(), 32),
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::option::of("[a-z0-9./:-]{0,12}"),
    )
        .prop_map(|(name, flips, rd, upper, value)| {
            let mut s = String::new();
            if rd && !name.starts_with("rd.") {
                s.push_str("rd.");
            }
            for (i, c) in name.chars().enumerate() {
                s.push(match c {
                    '_' | '-' if flips[i % 32] => '-',
                    '_' | '-' => '_',
                    c if upper && flips[(i + 7) % 32] => c.to_ascii_uppercase(),
                    c => c,
                });
            }
            if let Some(v) = value {
                s.push('=');
                s.push_str(&v);
            }
            s
        })
        .boxed()
}

#[test]
fn kernel_arguments_that_hand_out_root_are_refused_in_every_spelling() {
    runner(96)
        .run(&(refused_karg(), any::<bool>()), |(arg, fleet)| {
            prop_assert!(grammar::karg(&arg).is_ok(), "{arg}: a valid token");
            let err = if fleet {
                refused_at(
                    "fleet",
                    &format!("version = 1\n[profile]\nversion = 1\n[[host]]\nname = \"h1\"\n[host.kernel]\nargs = [\"{arg}\"]\n"),
                    "host.h1.kernel.args[0]",
                    7,
                    9,
                )?
            } else {
                refused_at(
                    "render",
                    &format!("version = 1\n[kernel]\nargs = [\"{arg}\"]\n"),
                    "kernel.args[0]",
                    3,
                    9,
                )?
            };
            // Refused by the policy, not by the token grammar.
            prop_assert!(!err.contains("is not a valid kernel argument"), "{err}");
            Ok(())
        })
        .unwrap();
}

/// A sysctl's /proc/sys path, in its two sysctl.d(5) spellings: with `/`
/// separators (dots inside names), and with `.` separators (slashes inside).
fn sysctl_spellings() -> BoxedStrategy<(String, String)> {
    (
        proptest::sample::select(&["vm", "kernel", "net", "fs", "dev"][..]),
        prop::collection::vec("[a-z_]{1,8}(\\.[0-9]{1,3})?", 1..4),
    )
        .prop_map(|(root, names)| {
            let path = format!("{root}/{}", names.join("/"));
            let dotted: String = path
                .chars()
                .map(|c| match c {
                    '/' => '.',
                    '.' => '/',
                    c => c,
                })
                .collect();
            (path, dotted)
        })
        .boxed()
}

#[test]
fn a_sysctl_spelled_two_ways_is_set_twice() {
    runner(64)
        .run(
            &(sysctl_spellings(), any::<bool>()),
            |((path, dotted), first_path)| {
                let norm = grammar::sysctl_normalize(&path);
                prop_assume!(grammar::forbidden_sysctl(&norm).is_none());
                prop_assert_eq!(&norm, &grammar::sysctl_normalize(&dotted));
                prop_assert_eq!(grammar::sysctl_path(&dotted), path.clone());
                let (a, b) = if first_path {
                    (&path, &dotted)
                } else {
                    (&dotted, &path)
                };
                let err = refused_at(
                    "render",
                    &format!("version = 1\n[sysctl]\n\"{a}\" = 1\n\"{b}\" = 2\n"),
                    &format!("sysctl.{b:?}"),
                    4,
                    1,
                )?;
                prop_assert!(err.contains("set twice"), "{err}");
                Ok(())
            },
        )
        .unwrap();
}

/// Standard base64 with padding (RFC 4648 4), as ssh-keygen writes it.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for chunk in bytes.chunks(3) {
        let mut n = [0u8; 3];
        n[..chunk.len()].copy_from_slice(chunk);
        let n = u32::from_be_bytes([0, n[0], n[1], n[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// An SSH public key blob of `ty` (the SSH wire format: strings of a u32
/// length and bytes), its key material from `seed`.
fn ssh_blob(ty: &str, seed: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    let string = |b: &mut Vec<u8>, s: &[u8]| {
        b.extend_from_slice(&(s.len() as u32).to_be_bytes());
        b.extend_from_slice(s);
    };
    let bytes = |n: usize| -> Vec<u8> { seed.iter().copied().cycle().take(n).collect() };
    string(&mut b, ty.as_bytes());
    // A point must be on its curve: these are of real ssh-keygen keys.
    let point = |curve: &str| {
        let hex = match curve {
            "nistp256" => {
                "048feab27025f582332c727fbfda003368de01b9a8c6fd1e02e827104a4c59517c3b543e3e35bec1d7c79286f9aebb37f8124c5e865d4494043ae5dcc37faf275c"
            }
            "nistp384" => {
                "04ff79ce13a61f036764c0ed3ba462d972e932ed04fe00e07dff6f1bc5373b8cb7def14a73c9eed0c2566c95ad4a0cb9f7d9241298bcb2c6b4fc4c3eee34b92d8dc0bb8c29573df7f12d6b042228deb4547fcf1063b5b70d45da851ca8b4143f54"
            }
            _ => {
                "04018d1f709d9988179167b6a49c48f547e6569ac9f7556311771eb89833fa7b830af3aa6a346e5fd83bf753d575fd237a38d409ad745fb757c9c19dcb62d19c0594b8007f48255b3392aefcf826b112eaa0a32e71d413596a129ee198dc7695a4f3d5be9a7b6fa11482446f6310bc0478118a2646cd6fe4a90c7e630b9d909e24608bdb0b"
            }
        };
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
    };
    match ty {
        "ssh-ed25519" => string(&mut b, &bytes(32)),
        "sk-ssh-ed25519@openssh.com" => {
            string(&mut b, &bytes(32));
            string(&mut b, b"ssh:");
        }
        "ssh-rsa" => {
            string(&mut b, &[1, 0, 1]);
            let mut n = vec![0];
            n.extend(bytes(256));
            n[1] |= 0x80;
            n[256] |= 1;
            string(&mut b, &n);
        }
        "sk-ecdsa-sha2-nistp256@openssh.com" => {
            string(&mut b, b"nistp256");
            string(&mut b, &point("nistp256"));
            string(&mut b, b"ssh:");
        }
        _ => {
            let curve = ty.trim_start_matches("ecdsa-sha2-");
            string(&mut b, curve.as_bytes());
            string(&mut b, &point(curve));
        }
    }
    b
}

#[test]
fn ssh_keys_whose_data_is_another_type_or_cut_short_are_refused() {
    let types = || proptest::sample::select(grammar::SSH_KEY_TYPES);
    runner(64)
        .run(
            &(
                types(),
                types(),
                prop::collection::vec(1u8.., 1..40),
                0usize..3,
            ),
            |(stated, embedded, seed, cut)| {
                let blob = base64(&ssh_blob(embedded, &seed));
                let line = format!("{stated} {blob} me@studio");
                if stated == embedded && cut == 0 {
                    prop_assert!(grammar::ssh_key(&line).is_ok(), "{line}");
                    return Ok(());
                }
                // Mismatched, or the last base64 group (or two) missing.
                let blob = &blob[..blob.len() - 4 * cut];
                let line = format!("{stated} {blob} me@studio");
                prop_assert!(grammar::ssh_key(&line).is_err(), "{line}");
                refused_at(
                    "render",
                    &format!(
                        "version = 1\n[[users]]\nname = \"musician\"\nssh_keys = [\"{line}\"]\n"
                    ),
                    "users[0].ssh_keys[0]",
                    4,
                    13,
                )?;
                Ok(())
            },
        )
        .unwrap();
}

/// An IPv4 address no machine is reached at: this network, loopback,
/// link-local, multicast, reserved, the limited broadcast.
fn unusable_address() -> BoxedStrategy<String> {
    let any = || 0u8..=255;
    prop_oneof![
        (any(), any(), any()).prop_map(|(b, c, d)| format!("0.{b}.{c}.{d}")),
        (any(), any(), any()).prop_map(|(b, c, d)| format!("127.{b}.{c}.{d}")),
        (any(), any()).prop_map(|(c, d)| format!("169.254.{c}.{d}")),
        (224u8..=239, any(), any(), any()).prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        (240u8..=255, any(), any(), any()).prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        Just("255.255.255.255".to_string()),
    ]
    .boxed()
}

#[test]
fn inventory_addresses_from_refused_ranges_are_refused() {
    runner(64)
        .run(&(unusable_address(), 0usize..3), |(bad, field)| {
            let (address, gateway, dns) = match field {
                0 => (format!("{bad}/24"), "10.0.0.1".to_string(), "10.0.0.1".to_string()),
                1 => ("10.0.0.5/24".into(), bad.clone(), "10.0.0.1".into()),
                _ => ("10.0.0.5/24".into(), "10.0.0.1".into(), bad.clone()),
            };
            let (key, line, col) = [
                ("host.h1.network.address", 7, 11),
                ("host.h1.network.gateway", 8, 11),
                ("host.h1.network.dns[0]", 9, 8),
            ][field];
            refused_at(
                "fleet",
                &format!("version = 1\n[profile]\nversion = 1\n[[host]]\nname = \"h1\"\n[host.network]\naddress = \"{address}\"\ngateway = \"{gateway}\"\ndns = [\"{dns}\"]\n"),
                key,
                line,
                col,
            )?;
            Ok(())
        })
        .unwrap();
}
