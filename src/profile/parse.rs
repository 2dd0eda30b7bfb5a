//! The profile's schema, read with the spanned walker of [`super::walk`]: every
//! key is checked against the schema and every value against its grammar, and
//! all problems are reported at once with their key path and span. serde's
//! derive stops at the first error; a profile with five mistakes should get
//! five messages.

use std::collections::BTreeMap;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use super::grammar::{self, shown};
use super::walk::{Cx, Section, document, int_value, join, type_name};
use super::*;
use crate::report::Report;

const TOP_KEYS: &[&str] = &[
    "version", "name", "target", "kernel", "realtime", "users", "cpu", "irq", "sysctl", "audio",
    "packages", "selinux", "rpm",
];

/// Packages the rendered artifacts rely on; removing them breaks the tuning.
/// PipeWire's JACK libraries: with them installed every JACK program, jackd
/// itself included, loads PipeWire's libjack and libjackserver (Fedora's
/// pipewire.spec writes their folder into /etc/ld.so.conf.d); a JACK studio
/// removes them.
pub const PIPEWIRE_JACK: &str = "pipewire-jack-audio-connection-kit";

/// The packages of the server the profile's files configure: PipeWire and
/// its session manager, or jack2.
pub fn server_packages(server: AudioServer) -> &'static [&'static str] {
    match server {
        AudioServer::Pipewire => &["pipewire", "wireplumber"],
        AudioServer::Jack => &["jack-audio-connection-kit"],
    }
}

const REQUIRED_PACKAGES: &[&str] = &[
    "irqbalance",
    "kernel-tools",
    "grubby",
    "systemd",
    "util-linux",
];

pub(super) fn parse(text: &str, dir: Option<&Path>, rep: &mut Report) -> Option<Profile> {
    let doc = document(text, rep)?;
    parse_table(doc.get_ref(), String::new(), 0..0, dir, rep)
}

/// The profile held by a TOML table: a document's root, or a table inside
/// another document (a fleet inventory's inline `[profile]`, or a base profile
/// with a host's overrides merged in). `path` prefixes every key in the report.
pub(crate) fn parse_table(
    table: &DeTable,
    path: String,
    span: Span,
    dir: Option<&Path>,
    rep: &mut Report,
) -> Option<Profile> {
    let root = Section { path, table, span };
    let mut cx = Cx { rep };
    cx.check_keys(&root, TOP_KEYS);

    // version: the only key without a default.
    let version = match root.get("version") {
        None => {
            cx.rep.error(
                "version",
                Some(0..0),
                "the profile has no `version` key",
                "add `version = 1` as the first line",
            );
            1
        }
        Some(_) => cx
            .int(
                &root,
                "version",
                1..=1,
                "this tool reads profile version 1: write `version = 1`",
            )
            .map_or(1, |(v, _)| v as u32),
    };
    let name = cx.string(&root, "name", "studio", grammar::profile_name);

    let target = target(&mut cx, &root);
    let kernel = kernel(&mut cx, &root, &target);
    let realtime = realtime(&mut cx, &root);
    let users = users(&mut cx, &root, &realtime);
    let cpu = cpu(&mut cx, &root);
    let irq = irq(&mut cx, &root);
    let sysctl = sysctl(&mut cx, &root);
    let audio = audio(&mut cx, &root, &realtime);
    let packages = packages(&mut cx, &root, &audio, irq.balance);
    let selinux = selinux(&mut cx, &root, dir);
    let rpm = rpm(&mut cx, &root, dir);

    Some(Profile {
        version,
        name,
        target,
        kernel,
        realtime,
        users,
        cpu,
        irq,
        sysctl,
        audio,
        packages,
        selinux,
        rpm,
    })
}

fn rpm(cx: &mut Cx, root: &Section, dir: Option<&Path>) -> Rpm {
    let Some(s) = cx.table(root, "rpm") else {
        return Rpm {
            release: 1,
            repo_url: None,
            gpg_key: None,
            gpg_key_text: None,
        };
    };
    cx.check_keys(&s, &["release", "repo_url", "gpg_key"]);
    let release = cx
        .int(
            &s,
            "release",
            1..=999_999,
            "use a whole number from 1, and raise it each time the profile changes",
        )
        .map_or(1, |(v, _)| v as u32);
    let repo_url = cx.string_with(&s, "repo_url", grammar::repo_url);
    let key = cx
        .string_with(&s, "gpg_key", |v| grammar::relative_path(v, ".asc"))
        .and_then(|(f, span)| {
            let text = read_inside(cx, dir, &s.key("gpg_key"), &f, span.clone())?;
            match grammar::armored_public_key(&text) {
                Ok(()) => Some((f, text)),
                Err(p) => {
                    cx.rep.error(s.key("gpg_key"), Some(span), p.message, p.fix);
                    None
                }
            }
        });
    if let Some((url, span)) = repo_url.as_ref().filter(|(u, _)| u.starts_with("file:///")) {
        cx.rep.warning(
            s.key("repo_url"),
            Some(span.clone()),
            format!("{url} is read on each machine itself: the package's .repo file names it, so machines installed from it look for the repository in their own file system"),
            "serve the repository over https:// for the machines; a file:/// URL suits a live spin built on the host that holds the repository",
        );
    }
    if let Some((url, span)) = &repo_url {
        // Anaconda installs without checking signatures (see
        // grammar::kernel_repo_url); after the install dnf checks them when
        // the package carries a key.
        let plain = !(url.starts_with("https://") || url.starts_with("file:///"));
        if plain && key.is_none() {
            cx.rep.warning(
                s.key("repo_url"),
                Some(span.clone()),
                "the package's repository is served without TLS and the package is not signed: whoever answers on the network can install anything as root, at the install and at each update",
                "sign it: gpg_key = \"keys/studio.asc\" (the public half of a key in your keyring), and serve the repository over https://",
            );
        }
    }
    let (gpg_key, gpg_key_text) = key.map_or((None, None), |(f, t)| (Some(f), Some(t)));
    Rpm {
        release,
        repo_url: repo_url.map(|(u, _)| u),
        gpg_key,
        gpg_key_text,
    }
}

fn target(cx: &mut Cx, root: &Section) -> Target {
    let Some(s) = cx.table(root, "target") else {
        return Target {
            distro: Distro::Fedora,
            release: 44,
            arch: Arch::X86_64,
        };
    };
    cx.check_keys(&s, &["distro", "release", "arch"]);
    let distro = cx.choice(
        &s,
        "distro",
        Distro::Fedora,
        &[
            ("fedora", Distro::Fedora),
            ("centos-stream", Distro::CentosStream),
            ("almalinux", Distro::Almalinux),
            ("rhel", Distro::Rhel),
        ],
    );
    let (range, fix, default) = if distro.is_el() {
        (
            10..=10,
            "EL targets are release 10: write `release = 10`",
            10,
        )
    } else {
        (
            42..=46,
            "Fedora releases 42 to 46 are supported: e.g. `release = 44`",
            44,
        )
    };
    let release = cx
        .int(&s, "release", range, fix)
        .map_or(default, |(v, _)| v as u32);
    let arch = cx.choice(
        &s,
        "arch",
        Arch::X86_64,
        &[("x86_64", Arch::X86_64), ("aarch64", Arch::Aarch64)],
    );
    Target {
        distro,
        release,
        arch,
    }
}

fn kernel(cx: &mut Cx, root: &Section, target: &Target) -> Kernel {
    let empty = DeTable::new();
    let s = cx.table(root, "kernel").unwrap_or(Section {
        path: "kernel".into(),
        table: &empty,
        span: 0..0,
    });
    cx.check_keys(
        &s,
        &["flavor", "repo", "gpgkey", "cpu", "args", "isolate_cpus"],
    );
    let flavor = cx.choice(
        &s,
        "flavor",
        Flavor::Stock,
        &[("rt", Flavor::Rt), ("stock", Flavor::Stock)],
    );
    let repo = cx
        .string_with(&s, "repo", grammar::kernel_repo_url)
        .map(|(v, _)| v);
    let gpgkey = cx.string_with(&s, "gpgkey", grammar::gpgkey_url);
    if let (Some((_, span)), None) = (&gpgkey, &repo) {
        cx.rep.error(
            s.key("gpgkey"),
            Some(span.clone()),
            "kernel.gpgkey names the signing key of kernel.repo, which is not set",
            "set kernel.repo too, or remove kernel.gpgkey",
        );
    }
    let cpu_vendor = cx.choice(
        &s,
        "cpu",
        CpuVendor::Generic,
        &[
            ("amd", CpuVendor::Amd),
            ("intel", CpuVendor::Intel),
            ("generic", CpuVendor::Generic),
        ],
    );
    if cpu_vendor != CpuVendor::Generic && target.arch != Arch::X86_64 {
        let span = s.get("cpu").map(|v| v.span());
        cx.rep.error(
            s.key("cpu"),
            span,
            "amd_pstate and intel_pstate exist only on x86_64",
            "use cpu = \"generic\" for aarch64",
        );
    }
    let args = cx
        .strings(&s, "args", grammar::karg)
        .unwrap_or_else(|| vec![("threadirqs".to_string(), 0..0)]);
    // Two args with the same key and different values: the kernel would take the
    // last one, and grubby would replace one with the other. (The first of each
    // key, looked up by key: a list of 100,000 arguments is not compared
    // pairwise.)
    let mut first: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for (i, (a, span)) in args.iter().enumerate() {
        if let Some(b) = first.get(&grammar::karg_key(a)) {
            let b = *b;
            cx.rep.error(
                format!("{}[{i}]", s.key("args")),
                Some(span.clone()),
                format!("{} repeats the kernel argument {}", shown(a), shown(b)),
                "keep one entry per kernel argument",
            );
        } else {
            first.insert(grammar::karg_key(a), a);
        }
    }
    let managed: &[(&str, &str)] = &[
        ("isolcpus", "kernel.isolate_cpus"),
        ("nohz_full", "kernel.isolate_cpus"),
        ("rcu_nocbs", "kernel.isolate_cpus"),
        ("amd_pstate", "kernel.cpu"),
        ("intel_pstate", "kernel.cpu"),
    ];
    for (i, (a, span)) in args.iter().enumerate() {
        let key = grammar::karg_key(a);
        if let Some((_, by)) = managed.iter().find(|(k, _)| *k == key) {
            cx.rep.error(
                format!("{}[{i}]", s.key("args")),
                Some(span.clone()),
                format!("{key} is set by `{by}`, not by kernel.args"),
                format!(
                    "remove {} from kernel.args and set `{by}` instead",
                    shown(a)
                ),
            );
        }
        if let Some(why) = grammar::forbidden_karg(a) {
            cx.rep.error(
                format!("{}[{i}]", s.key("args")),
                Some(span.clone()),
                format!("{} {why}", shown(a)),
                grammar::forbidden_karg_fix(a),
            );
        } else if let Some(why) = grammar::weakening_karg(a) {
            cx.rep.warning(
                format!("{}[{i}]", s.key("args")),
                Some(span.clone()),
                format!("{} {why}", shown(a)),
                "keep it only on machines that run trusted software, or remove it",
            );
        }
        if key == "preempt" && flavor == Flavor::Stock && a != "preempt=full" {
            cx.rep.error(
                format!("{}[{i}]", s.key("args")),
                Some(span.clone()),
                format!(
                    "{} contradicts flavor \"stock\", which boots with preempt=full",
                    shown(a)
                ),
                "remove it: the stock flavor adds preempt=full itself",
            );
        }
    }
    let isolate = cx.string_with(&s, "isolate_cpus", |v| grammar::cpu_list(v).map(|_| ()));
    let isolate_cpus = isolate.map(|(v, span)| {
        let cpus = grammar::cpu_list(&v).unwrap_or_default();
        if cpus.first() == Some(&0) {
            cx.rep.warning(
                s.key("isolate_cpus"),
                Some(span),
                "CPU 0 is isolated: it usually handles housekeeping and unmanaged IRQs",
                "isolate higher-numbered CPUs and leave CPU 0 to the system",
            );
        }
        grammar::cpu_list_string(&cpus)
    });
    let repo_absent = s.get("repo").is_none();
    if flavor == Flavor::Rt && repo_absent && target.distro == Distro::Fedora {
        let span = s.get("flavor").map(|v| v.span());
        cx.rep.warning(
            s.key("repo"),
            span,
            "Fedora's repositories have no kernel-rt: without `kernel.repo` the install fails with \"No match for argument: kernel-rt\"",
            "set kernel.repo to the repository (COPR, local mirror) that carries kernel-rt for this release, or use flavor = \"stock\"",
        );
    }
    if flavor == Flavor::Rt && repo_absent && target.distro == Distro::Rhel {
        let span = s.get("flavor").map(|v| v.span());
        cx.rep.warning(
            s.key("repo"),
            span,
            "RHEL's kernel-rt comes from the subscription repository rhel-10-for-ARCH-rt-rpms, which a kickstart cannot name by URL",
            "set kernel.repo to a mirror of the RT repository, or enable it on the machines with subscription-manager",
        );
    }
    let kernel = Kernel {
        flavor,
        repo,
        gpgkey: gpgkey.map(|(v, _)| v),
        cpu: cpu_vendor,
        args: args.into_iter().map(|(a, _)| a).collect(),
        isolate_cpus,
    };
    if let Err(p) = grammar::command_line(&kernel.command_line()) {
        // Named by the list that makes the line, or by the CPU list when the
        // profile has none.
        let key = ["args", "isolate_cpus"]
            .into_iter()
            .find(|k| s.get(k).is_some())
            .unwrap_or("args");
        cx.rep
            .error(s.key(key), s.get(key).map(|v| v.span()), p.message, p.fix);
    }
    kernel
}

fn realtime(cx: &mut Cx, root: &Section) -> Realtime {
    let empty = DeTable::new();
    let s = cx.table(root, "realtime").unwrap_or(Section {
        path: "realtime".into(),
        table: &empty,
        span: 0..0,
    });
    cx.check_keys(&s, &["group", "gid", "rtprio", "memlock", "nice"]);
    let group = cx.string(&s, "group", "realtime", |v| {
        grammar::account_name(v, "group").and_then(|()| grammar::unprivileged_group(v))
    });
    let gid = cx
        .int(&s, "gid", 1..=65533, "use a free group id from 1 to 65533 (system groups: below 1000); realtime-setup uses 71")
        .map(|(v, _)| v as u32)
        // realtime-setup (EL's kernel-rt dependency) creates `realtime` as GID 71:
        // creating the same group with another id would make the two disagree.
        .or(if s.get("gid").is_none() && group == "realtime" { Some(71) } else { None });
    if gid.is_none() && s.get("gid").is_none() {
        cx.rep.error(
            s.key("gid"),
            s.get("group").map(|v| v.span()),
            format!("realtime.group {} needs a gid", shown(&group)),
            "set realtime.gid (a free system GID, e.g. 971): the kickstart, blueprint and sysusers.d must create the group with the same id",
        );
    }
    let rtprio = cx
        .int(
            &s,
            "rtprio",
            1..=99,
            "SCHED_FIFO priorities go from 1 to 99; audio servers use 70-95",
        )
        .map_or(95, |(v, _)| v as u32);
    let memlock = match s.get("memlock") {
        None => Memlock::Unlimited,
        Some(v) => match v.get_ref() {
            DeValue::String(t) if t.as_ref() == "unlimited" => Memlock::Unlimited,
            DeValue::Integer(_) => cx
                .int(
                    &s,
                    "memlock",
                    1..=(1i64 << 42),
                    "write \"unlimited\" or a size in KiB, e.g. 4194304 (4 GiB)",
                )
                .map_or(Memlock::Unlimited, |(k, _)| Memlock::KiB(k as u64)),
            _ => {
                cx.rep.error(
                    s.key("memlock"),
                    Some(v.span()),
                    format!(
                        "expected \"unlimited\" or an integer number of KiB, found {}",
                        type_name(v.get_ref())
                    ),
                    "write memlock = \"unlimited\" or memlock = 4194304",
                );
                Memlock::Unlimited
            }
        },
    };
    let nice = cx
        .int(
            &s,
            "nice",
            -20..=19,
            "nice values go from -20 (highest) to 19",
        )
        .map_or(-19, |(v, _)| v as i32);
    Realtime {
        group,
        gid,
        rtprio,
        memlock,
        nice,
    }
}

fn users(cx: &mut Cx, root: &Section, rt: &Realtime) -> Vec<User> {
    let mut out = Vec::new();
    let mut names: Vec<(String, Span)> = Vec::new();
    for s in cx.tables(root, "users") {
        cx.check_keys(&s, &["name", "groups", "password_hash", "ssh_keys"]);
        let Some((name, name_span)) =
            cx.string_with(&s, "name", |v| grammar::account_name(v, "user"))
        else {
            if s.get("name").is_none() {
                cx.rep.error(
                    s.key("name"),
                    Some(s.span.clone()),
                    "this user has no name",
                    "add name = \"...\" to the [[users]] entry",
                );
            }
            continue;
        };
        if let Some(why) = grammar::reserved_user(&name) {
            cx.rep.error(
                s.key("name"),
                Some(name_span.clone()),
                format!("{} cannot be a musician's account: {why}", shown(&name)),
                "name a normal, personal account",
            );
        } else if name == rt.group {
            cx.rep.error(
                s.key("name"),
                Some(name_span.clone()),
                format!("{} is the realtime group's name", shown(&name)),
                "a user's private group would clash with the realtime group: pick another name",
            );
        }
        names.push((name.clone(), name_span.clone()));
        let group_list = cx
            .strings(&s, "groups", |v| grammar::account_name(v, "group"))
            .unwrap_or_else(|| vec![("audio".to_string(), 0..0)]);
        let mut groups: Vec<String> = Vec::new();
        for (i, (g, span)) in group_list.into_iter().enumerate() {
            if g == name {
                cx.rep.error(
                    format!("{}[{i}]", s.key("groups")),
                    Some(span),
                    format!("{} is also this user's name", shown(&g)),
                    "useradd creates a private group with the user's name: rename the user or drop this group",
                );
            } else if !groups.contains(&g) {
                groups.push(g);
            }
        }
        if !groups.contains(&rt.group) {
            groups.push(rt.group.clone());
        }
        let password_hash = cx
            .string_with(&s, "password_hash", grammar::password_hash)
            .map(|(v, _)| v);
        let ssh_keys: Vec<String> = cx
            .strings(&s, "ssh_keys", grammar::ssh_key)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        if password_hash.is_none() && ssh_keys.is_empty() {
            cx.rep.warning(
                s.key("name"),
                Some(name_span),
                format!("{} has neither password_hash nor ssh_keys: the account is created locked", shown(&name)),
                "add password_hash (openssl passwd -6) or ssh_keys, or set a password after installing with `passwd`",
            );
        }
        out.push(User {
            name,
            groups,
            password_hash,
            ssh_keys,
        });
    }
    cx.no_duplicates("users[].name", &names);
    out
}

fn cpu(cx: &mut Cx, root: &Section) -> Cpu {
    let empty = DeTable::new();
    let s = cx.table(root, "cpu").unwrap_or(Section {
        path: "cpu".into(),
        table: &empty,
        span: 0..0,
    });
    cx.check_keys(&s, &["governor", "conflicts"]);
    const GOVERNORS: &[(&str, &str)] = &[
        ("performance", "performance"),
        ("schedutil", "schedutil"),
        ("ondemand", "ondemand"),
        ("conservative", "conservative"),
        ("powersave", "powersave"),
        ("userspace", "userspace"),
    ];
    let governor = cx
        .choice(&s, "governor", "performance", GOVERNORS)
        .to_string();
    let conflicts = cx.choice(
        &s,
        "conflicts",
        Conflicts::Disable,
        &[("disable", Conflicts::Disable), ("keep", Conflicts::Keep)],
    );
    Cpu {
        governor,
        conflicts,
    }
}

fn irq(cx: &mut Cx, root: &Section) -> Irq {
    let empty = DeTable::new();
    let s = cx.table(root, "irq").unwrap_or(Section {
        path: "irq".into(),
        table: &empty,
        span: 0..0,
    });
    cx.check_keys(&s, &["balance", "ban", "banned_cpus", "priority"]);
    let balance = cx.boolean(&s, "balance", true);
    let ban = cx.ints(
        &s,
        "ban",
        0..=65535,
        "IRQ numbers are integers from /proc/interrupts, e.g. ban = [42, 43]",
    );
    cx.no_duplicates(&s.key("ban"), &ban);
    let banned = cx.string_with(&s, "banned_cpus", |v| grammar::cpu_list(v).map(|_| ()));
    let banned_cpus =
        banned.map(|(v, _)| grammar::cpu_list_string(&grammar::cpu_list(&v).unwrap_or_default()));
    if !balance {
        for key in ["ban", "banned_cpus"] {
            if let Some(v) = s.get(key) {
                cx.rep.warning(
                    s.key(key),
                    Some(v.span()),
                    "irq.balance is false, so irqbalance is disabled and this setting has no effect",
                    format!("remove irq.{key}, or set irq.balance = true"),
                );
            }
        }
    }
    let mut priority = Vec::new();
    let mut patterns = Vec::new();
    for p in cx.tables(&s, "priority") {
        cx.check_keys(&p, &["match", "prio"]);
        let pattern = cx.string_with(&p, "match", grammar::irq_match);
        if p.get("match").is_none() {
            cx.rep.error(
                p.key("match"),
                Some(p.span.clone()),
                "this IRQ priority has no `match`",
                "add match = \"snd_hda_intel\" (part of the IRQ's name in /proc/interrupts)",
            );
        }
        let prio = cx.int(
            &p,
            "prio",
            1..=99,
            "IRQ thread priorities go from 1 to 99; rtirq uses 90 down to 51",
        );
        if p.get("prio").is_none() {
            cx.rep.error(
                p.key("prio"),
                Some(p.span.clone()),
                "this IRQ priority has no `prio`",
                "add prio = 90",
            );
        }
        if let (Some((m, span)), Some((prio, _))) = (pattern, prio) {
            patterns.push((m.clone(), span));
            priority.push(IrqPriority {
                pattern: m,
                prio: prio as u32,
            });
        }
    }
    cx.no_duplicates(&s.key("priority[].match"), &patterns);
    Irq {
        balance,
        ban: ban.into_iter().map(|(n, _)| n as u32).collect(),
        banned_cpus,
        priority,
    }
}

fn sysctl(cx: &mut Cx, root: &Section) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(s) = cx.table(root, "sysctl") {
        // A report lists at most KEPT problems: a "did you mean" for more
        // unknown sysctls than that would never be read, and each costs a
        // search of the names (a profile of a mebibyte holds 20,000 keys).
        let mut guesses = crate::report::KEPT;
        sysctl_entries(cx, &s, "", &mut out, &mut BTreeMap::new(), &mut guesses);
    }
    out
}

/// Walk [sysctl], where `"vm.swappiness" = 10` and the dotted-key spelling
/// `vm.swappiness = 10` (a nested table in TOML) mean the same. `spelled`
/// keeps how each key was first written, for the "set twice" message;
/// `guesses`, how many unknown keys may still get a "did you mean".
fn sysctl_entries(
    cx: &mut Cx,
    s: &Section,
    prefix: &str,
    out: &mut BTreeMap<String, String>,
    spelled: &mut BTreeMap<String, String>,
    guesses: &mut usize,
) {
    for (k, v) in s.table.iter() {
        let part = k.get_ref().as_ref();
        let key = if prefix.is_empty() {
            part.to_string()
        } else {
            format!("{prefix}.{part}")
        };
        let path = join("sysctl", &key);
        if let DeValue::Table(t) = v.get_ref() {
            let sub = Section {
                path: path.clone(),
                table: t,
                span: v.span(),
            };
            sysctl_entries(cx, &sub, &key, out, spelled, guesses);
            continue;
        }
        if let Err(p) = grammar::sysctl_key(&key) {
            cx.rep.error(path, Some(k.span()), p.message, p.fix);
            continue;
        }
        let value = match v.get_ref() {
            DeValue::Integer(_) => int_value(v.get_ref()).map(|n| n.to_string()),
            DeValue::String(t) => Some(t.to_string()),
            DeValue::Boolean(b) => Some(u8::from(*b).to_string()),
            _ => None,
        };
        let Some(value) = value else {
            cx.wrong_type(
                path,
                v,
                "an integer or a string",
                "write the value as sysctl prints it, e.g. 10 or \"4 4 1 7\"",
            );
            continue;
        };
        // One spelling per key (sysctl.d(5)'s): `kernel/printk` and
        // `kernel.printk` are one sysctl, and the later line would win silently.
        let norm = grammar::sysctl_normalize(&key);
        if let Some(why) = grammar::forbidden_sysctl(&norm) {
            cx.rep.error(
                path,
                Some(k.span()),
                format!("{} {why}", shown(&norm)),
                "remove it: this tool tunes the kernel, it does not hand out root or lift protections (a machine that needs it gets it by hand, in /etc/sysctl.d)",
            );
            continue;
        }
        match grammar::sysctl_value(&value) {
            Ok(()) if out.contains_key(&norm) => cx.rep.error(
                path,
                Some(k.span()),
                format!(
                    "this sysctl is set twice: {} sets it already ({} is one key)",
                    shown(spelled.get(&norm).map_or(norm.as_str(), String::as_str)),
                    shown(&norm)
                ),
                "keep one of the two lines",
            ),
            Ok(()) => {
                if !sysctl_names::is_known(&norm) {
                    let near = if *guesses > 0 {
                        *guesses -= 1;
                        sysctl_names::nearest(&norm)
                    } else {
                        None
                    };
                    unknown_sysctl(cx, path, k.span(), &norm, near);
                }
                spelled.insert(norm.clone(), key);
                out.insert(norm, value);
            }
            Err(p) => cx.rep.error(path, Some(v.span()), p.message, p.fix),
        }
    }
}

/// A warning for a sysctl the target kernels are not known to have: most
/// often a typo, which systemd-sysctl would skip at boot with only a line in
/// its log. Not an error, since the list of names (sysctl_names.rs) can lag
/// behind a kernel or miss a module's sysctl.
fn unknown_sysctl(cx: &mut Cx, path: String, span: Span, norm: &str, near: Option<String>) {
    let message = format!(
        "{} is not a known sysctl of the target kernels{}",
        shown(norm),
        near.as_ref()
            .map_or(String::new(), |n| format!(" (did you mean \"{n}\"?)"))
    );
    let fix = match &near {
        Some(n) => format!(
            "write \"{n}\": systemd-sysctl skips a key the kernel does not have, with only a line in its log"
        ),
        None => "check the name with `sysctl -a` on a target machine: systemd-sysctl skips a key the kernel does not have, with only a line in its log (a sysctl of a newer kernel or of a module may be missing from this tool's list)".to_string(),
    };
    cx.rep.warning(path, Some(span), message, fix);
}

/// Sample rates a sound card runs at (ALSA's standard rates from 22050 Hz).
const RATES: &[u32] = &[
    22050, 32000, 44100, 48000, 64000, 88200, 96000, 176400, 192000, 352800, 384000,
];

/// PipeWire's quanta: powers of two (it rounds a graph quantum down to one,
/// `clock.power-of-two-quantum`) from 16 frames to its default
/// `default.clock.quantum-limit` of 8192 (src/pipewire/settings.c).
const QUANTA: std::ops::RangeInclusive<i64> = 16..=8192;

fn audio(cx: &mut Cx, root: &Section, rt: &Realtime) -> Audio {
    let empty = DeTable::new();
    let s = cx.table(root, "audio").unwrap_or(Section {
        path: "audio".into(),
        table: &empty,
        span: 0..0,
    });
    cx.check_keys(
        &s,
        &[
            "server",
            "packages",
            "rate",
            "allowed_rates",
            "quantum",
            "min_quantum",
            "max_quantum",
            "rt_priority",
            "nice",
            "hda_power_save",
            "usb_autosuspend",
            "device",
            "periods",
            "alsa",
        ],
    );
    let server = cx.choice(
        &s,
        "server",
        AudioServer::Pipewire,
        &[
            ("pipewire", AudioServer::Pipewire),
            ("jack", AudioServer::Jack),
        ],
    );
    let packages = match cx.strings(&s, "packages", grammar::package_or_group) {
        Some(list) => {
            cx.no_duplicates(&s.key("packages"), &list);
            list.into_iter().map(|(p, _)| p).collect()
        }
        None => match server {
            AudioServer::Pipewire => vec!["pipewire-jack-audio-connection-kit".to_string()],
            AudioServer::Jack => vec!["jack-audio-connection-kit".to_string()],
        },
    };
    let rates_fix = format!(
        "use a rate sound cards run at: {}",
        RATES
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rate_of = |cx: &mut Cx, path: String, n: i64, span: Span| -> Option<u32> {
        match u32::try_from(n).ok().filter(|r| RATES.contains(r)) {
            Some(r) => Some(r),
            None => {
                cx.rep.error(
                    path,
                    Some(span),
                    format!("{n} Hz is not a standard sample rate"),
                    rates_fix.clone(),
                );
                None
            }
        }
    };
    let rate = cx
        .int(&s, "rate", 1..=i64::from(u32::MAX), &rates_fix)
        .and_then(|(n, span)| rate_of(cx, s.key("rate"), n, span))
        .unwrap_or(48000);
    let allowed = cx.ints(&s, "allowed_rates", 1..=i64::from(u32::MAX), &rates_fix);
    cx.no_duplicates(&s.key("allowed_rates"), &allowed);
    let allowed_rates: Vec<u32> = allowed
        .iter()
        .enumerate()
        .filter_map(|(i, (n, span))| {
            rate_of(
                cx,
                format!("{}[{i}]", s.key("allowed_rates")),
                *n,
                span.clone(),
            )
        })
        .collect();
    let allowed_rates = if s.get("allowed_rates").is_none() {
        vec![rate]
    } else {
        if allowed.is_empty() && allowed_rates.is_empty() {
            cx.rep.error(
                s.key("allowed_rates"),
                s.get("allowed_rates").map(|v| v.span()),
                "allowed_rates is empty",
                format!("list the rates the graph may switch to, the default rate among them: allowed_rates = [{rate}]"),
            );
        } else if !allowed_rates.contains(&rate) && allowed_rates.len() == allowed.len() {
            // PipeWire ignores a list without the default rate
            // (src/pipewire/settings.c, uint32_array_contains).
            cx.rep.error(
                s.key("allowed_rates"),
                s.get("allowed_rates").map(|v| v.span()),
                format!("allowed_rates leaves out the default rate {rate}: PipeWire would ignore the whole list"),
                format!("add {rate} to the list, or change audio.rate to one of the listed rates"),
            );
        }
        allowed_rates
    };
    let quantum_fix = "a power of two from 16 to 8192 frames, e.g. 256 (5.3 ms at 48 kHz)";
    let quantum = |cx: &mut Cx, key: &str, default: u32| -> (u32, Option<Span>) {
        match cx.int(&s, key, QUANTA, quantum_fix) {
            Some((n, span)) if (n as u32).is_power_of_two() => (n as u32, Some(span)),
            Some((n, span)) => {
                cx.rep.error(
                    s.key(key),
                    Some(span),
                    format!("{n} is not a power of two: PipeWire rounds a quantum down to one"),
                    quantum_fix,
                );
                (default, None)
            }
            None => (default, None),
        }
    };
    let (quantum_v, quantum_span) = quantum(cx, "quantum", 256);
    let (min_quantum, min_span) = quantum(cx, "min_quantum", 32);
    let (max_quantum, max_span) = quantum(cx, "max_quantum", 2048);
    if min_quantum > quantum_v || quantum_v > max_quantum {
        let (key, span) = if min_quantum > quantum_v && min_span.is_some() {
            ("min_quantum", min_span)
        } else if quantum_v > max_quantum && max_span.is_some() {
            ("max_quantum", max_span)
        } else {
            ("quantum", quantum_span)
        };
        cx.rep.error(
            s.key(key),
            span,
            format!(
                "min_quantum {min_quantum} <= quantum {quantum_v} <= max_quantum {max_quantum} does not hold: PipeWire would clamp the quantum"
            ),
            "keep min_quantum <= quantum <= max_quantum",
        );
    }
    // module-rt's rt.prio goes through RLIMIT_RTPRIO first: above the
    // realtime group's rtprio, the kernel refuses it and PipeWire falls back
    // to RTKit, which caps it at 20 (rtkit-daemon.c max_realtime_priority).
    let rt_priority = match cx.int(
        &s,
        "rt_priority",
        1..=99,
        "SCHED_FIFO priorities go from 1 to 99; PipeWire's rt.prio default is 88",
    ) {
        Some((n, span)) if n as u32 > rt.rtprio => {
            cx.rep.error(
                s.key("rt_priority"),
                Some(span),
                format!("rt_priority {n} is above realtime.rtprio {}: the kernel refuses it and PipeWire falls back to RTKit's priority 20", rt.rtprio),
                format!("lower audio.rt_priority to {} or below, or raise realtime.rtprio", rt.rtprio),
            );
            rt.rtprio.min(88)
        }
        Some((n, _)) => n as u32,
        None => rt.rtprio.min(88),
    };
    let nice = match cx.int(
        &s,
        "nice",
        -20..=19,
        "nice values go from -20 (highest) to 19; PipeWire's default is -11",
    ) {
        Some((n, span)) if (n as i32) < rt.nice => {
            cx.rep.error(
                s.key("nice"),
                Some(span),
                format!(
                    "nice {n} is below realtime.nice {}: the kernel refuses it (RLIMIT_NICE)",
                    rt.nice
                ),
                format!(
                    "raise audio.nice to {} or above, or lower realtime.nice",
                    rt.nice
                ),
            );
            rt.nice.max(-11)
        }
        Some((n, _)) => n as i32,
        None => rt.nice.max(-11),
    };
    let device = cx.string(&s, "device", "hw:0", grammar::alsa_hw_device);
    let periods = cx
        .int(
            &s,
            "periods",
            2..=8,
            "JACK uses 2 periods for PCI cards, 3 for USB interfaces",
        )
        .map_or(2, |(n, _)| n as u32);
    if server == AudioServer::Jack
        && let Some(i) = packages.iter().position(|p| p == PIPEWIRE_JACK)
    {
        let key = format!("{}[{i}]", s.key("packages"));
        cx.rep.error(
            key,
            s.get("packages").map(|v| v.span()),
            format!("{PIPEWIRE_JACK} with audio.server = \"jack\": its libjackserver stands in for jack2's, so jackd finds no ALSA driver"),
            "drop it from audio.packages, or leave audio.packages out for the server's default (jack-audio-connection-kit); the profile removes it for a JACK studio",
        );
    }
    let mut alsa = Vec::new();
    for n in cx.tables(&s, "alsa") {
        cx.check_keys(&n, &["node", "period_size", "headroom"]);
        let node = cx.string_with(&n, "node", grammar::alsa_node_pattern);
        if n.get("node").is_none() {
            cx.rep.error(
                n.key("node"),
                Some(n.span.clone()),
                "this [[audio.alsa]] entry has no `node`",
                "add node = \"alsa_output.usb-*\" (a node name from `wpctl status`, * for any text)",
            );
        }
        let period_size = cx
            .int(
                &n,
                "period_size",
                16..=8192,
                "ALSA periods of 16 to 8192 frames",
            )
            .map(|(v, _)| v as u32);
        let headroom = cx
            .int(
                &n,
                "headroom",
                0..=8192,
                "a headroom of 0 to 8192 frames (USB interfaces may want 256)",
            )
            .map(|(v, _)| v as u32);
        if n.get("period_size").is_none() && n.get("headroom").is_none() {
            cx.rep.error(
                n.key("period_size"),
                Some(n.span.clone()),
                "this [[audio.alsa]] entry sets nothing",
                "add period_size = 256 or headroom = 0",
            );
        }
        if let Some((node, _)) = node {
            alsa.push(AlsaNode {
                node_regex: format!("~^{}$", node.replace('*', ".*")),
                node,
                period_size,
                headroom,
            });
        }
    }
    Audio {
        server,
        packages,
        device,
        periods,
        alsa,
        rate,
        allowed_rates,
        quantum: quantum_v,
        min_quantum,
        max_quantum,
        rt_priority,
        nice,
        hda_power_save: cx.boolean(&s, "hda_power_save", false),
        usb_autosuspend: cx.boolean(&s, "usb_autosuspend", false),
    }
}

fn packages(cx: &mut Cx, root: &Section, audio: &Audio, irq_balance: bool) -> Packages {
    let empty = DeTable::new();
    let s = cx.table(root, "packages").unwrap_or(Section {
        path: "packages".into(),
        table: &empty,
        span: 0..0,
    });
    cx.check_keys(&s, &["install", "remove"]);
    let install = cx
        .strings(&s, "install", grammar::package_or_group)
        .unwrap_or_default();
    let remove = cx
        .strings(&s, "remove", grammar::package_name)
        .unwrap_or_default();
    cx.no_duplicates(&s.key("install"), &install);
    cx.no_duplicates(&s.key("remove"), &remove);
    for (i, (p, span)) in install.iter().enumerate() {
        if p.starts_with("kernel") && p != "kernel-tools" {
            cx.rep.error(
                format!("{}[{i}]", s.key("install")),
                Some(span.clone()),
                format!(
                    "{} would put a second kernel beside the one kernel.flavor chooses",
                    shown(p)
                ),
                "choose the kernel with kernel.flavor (rt or stock), not with packages.install",
            );
        }
    }
    // A JACK studio removes PipeWire's JACK libraries (render/facts.rs):
    // installing them too would leave the kickstart both wanting and
    // excluding them.
    if audio.server == AudioServer::Jack
        && let Some(i) = install.iter().position(|(p, _)| p == PIPEWIRE_JACK)
    {
        cx.rep.error(
            format!("{}[{i}]", s.key("install")),
            Some(install[i].1.clone()),
            format!("{PIPEWIRE_JACK} with audio.server = \"jack\": its libjackserver stands in for jack2's, so jackd finds no ALSA driver"),
            "drop it from packages.install (the profile removes it for a JACK studio), or set audio.server = \"pipewire\"",
        );
    }
    for (i, (r, span)) in remove.iter().enumerate() {
        let path = format!("{}[{i}]", s.key("remove"));
        let needed = (irq_balance || r != "irqbalance") && REQUIRED_PACKAGES.contains(&r.as_str())
            || server_packages(audio.server).contains(&r.as_str());
        if install.iter().any(|(p, _)| p == r) || audio.packages.contains(r) {
            cx.rep.error(
                path,
                Some(span.clone()),
                format!("{} is both installed and removed", shown(r)),
                "keep it in one of packages.install / audio.packages and packages.remove",
            );
        } else if needed || r.starts_with("kernel") {
            cx.rep.error(
                path,
                Some(span.clone()),
                format!("{} is needed by the tuning itself", shown(r)),
                "remove it from packages.remove (irqbalance can be turned off with irq.balance = false; the audio server is audio.server's)",
            );
        }
    }
    Packages {
        install: install.into_iter().map(|(p, _)| p).collect(),
        remove: remove.into_iter().map(|(p, _)| p).collect(),
    }
}

fn selinux(cx: &mut Cx, root: &Section, dir: Option<&Path>) -> Selinux {
    let Some(s) = cx.table(root, "selinux") else {
        return Selinux::default();
    };
    cx.check_keys(&s, &["module"]);
    let mut modules = Vec::new();
    let mut names = Vec::new();
    for m in cx.tables(&s, "module") {
        cx.check_keys(&m, &["name", "file", "fc"]);
        let name = cx.string_with(&m, "name", grammar::selinux_module_name);
        for key in ["name", "file"] {
            if m.get(key).is_none() {
                cx.rep.error(
                    m.key(key),
                    Some(m.span.clone()),
                    format!("this SELinux module has no `{key}`"),
                    "give each [[selinux.module]] a name and a file, e.g. name = \"studio_local\", file = \"selinux/studio_local.te\"",
                );
            }
        }
        let te = cx
            .string_with(&m, "file", |v| grammar::relative_path(v, ".te"))
            .and_then(|(f, span)| {
                read_inside(cx, dir, &m.key("file"), &f, span.clone()).map(|t| (f, t, span))
            });
        let fc = match m.get("fc") {
            None => Some(None),
            Some(_) => cx
                .string_with(&m, "fc", |v| grammar::relative_path(v, ".fc"))
                .and_then(|(f, span)| {
                    read_inside(cx, dir, &m.key("fc"), &f, span).map(|t| Some((f, t)))
                }),
        };
        if let (Some((n, nspan)), Some((file, te_text, file_span)), Some(fc)) = (name, te, fc) {
            // The characters first: a module that holds one a reader of the
            // kickstart takes as a line break is refused before anything reads it.
            let te_bad = crate::sepolicy::te_problem(&file, &te_text);
            let fc_bad = fc
                .as_ref()
                .and_then(|(f, t)| crate::sepolicy::text_problem(f, t));
            if let Some(p) = &te_bad {
                cx.rep.error(
                    m.key("file"),
                    Some(file_span.clone()),
                    p.clone(),
                    "remove the character: a module's files hold printable text, one statement per line ended by a plain newline (LF); `cat -A` shows it",
                );
            }
            if let Some(p) = &fc_bad {
                cx.rep.error(
                    m.key("fc"),
                    m.get("fc").map(|v| v.span()),
                    p.clone(),
                    "remove the character: a file-context line is `PATH_REGEX [TYPE] CONTEXT`, printable text ended by a plain newline (LF); `cat -A` shows it",
                );
            }
            if te_bad.is_some() || fc_bad.is_some() {
                continue;
            }
            for (line, attribute, rule) in crate::sepolicy::attribute_rules(&te_text) {
                cx.rep.warning(
                    m.key("file"),
                    Some(file_span.clone()),
                    format!("{file} line {line}: `{rule}` names the attribute `{attribute}`, a set of types: the rule covers every type in it"),
                    "name the one type the access is for (the type in the denial's scontext or tcontext), unless every type of the attribute needs it",
                );
            }
            match crate::sepolicy::module_header(&te_text) {
                Ok(declared) if declared == n => {}
                Ok(declared) => cx.rep.error(
                    m.key("file"),
                    Some(file_span.clone()),
                    format!("{file} declares `module {declared}`, but this entry is named {}", shown(&n)),
                    format!("make the two agree: `module {n} 1.0;` in the .te, or name = \"{declared}\""),
                ),
                Err(why) => cx.rep.error(
                    m.key("file"),
                    Some(file_span.clone()),
                    format!("{file}: {why}"),
                    format!("start the file with `module {n} 1.0;`, then `require {{ }}` blocks and rules (no refpolicy macros: there are no m4 headers)"),
                ),
            }
            if let Some((fc_file, fc_text)) = &fc
                && let Err((line, why)) = crate::sepolicy::fc_to_cil(fc_text)
            {
                let span = m.get("fc").map(|v| v.span());
                cx.rep.error(
                        m.key("fc"),
                        span,
                        format!("{fc_file} line {line}: {why}"),
                        "write `PATH_REGEX [-- | -d | -l | -c | -b | -s | -p] user:role:type:s0` or gen_context(user:role:type,s0) or <<none>>",
                    );
            }
            names.push((n.clone(), nspan));
            modules.push(SelinuxModule {
                name: n,
                file,
                fc: fc.as_ref().map(|(f, _)| f.clone()),
                te_text,
                fc_text: fc.map(|(_, t)| t),
                file_span,
            });
        }
    }
    cx.no_duplicates(&s.key("module[].name"), &names);
    Selinux { module: modules }
}

/// Read a file the profile names, refusing anything that resolves outside the
/// profile's folder (symlinks included) or is not a UTF-8 regular file.
fn read_inside(
    cx: &mut Cx,
    dir: Option<&Path>,
    key: &str,
    rel: &str,
    span: Span,
) -> Option<String> {
    let Some(dir) = dir else {
        cx.rep.error(
            key,
            Some(span),
            "the embedded default profile cannot name files",
            "write the profile to a folder with `rtaudio-tuning init` and put the file beside it",
        );
        return None;
    };
    let outcome = (|| -> Result<String, String> {
        let base = dir
            .canonicalize()
            .map_err(|e| format!("cannot resolve the profile's folder: {e}"))?;
        let path = base.join(rel);
        let real = path
            .canonicalize()
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        if !real.starts_with(&base) {
            return Err(format!(
                "{} resolves outside the profile's folder",
                path.display()
            ));
        }
        let meta = std::fs::metadata(&real).map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err(format!("{} is not a regular file", path.display()));
        }
        if meta.len() > 1 << 20 {
            return Err(format!("{} is larger than 1 MiB", path.display()));
        }
        let bytes = std::fs::read(&real).map_err(|e| e.to_string())?;
        String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))
    })();
    match outcome {
        Ok(t) => Some(t),
        Err(msg) => {
            cx.rep.error(
                key,
                Some(span),
                msg,
                "put the file inside the profile's folder and name it relative to the profile",
            );
            None
        }
    }
}
