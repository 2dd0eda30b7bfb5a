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

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::profile::parse::{Cx, Section, Val, parse_table};
use crate::profile::{self, Profile, Span, grammar};
use crate::render::{self, Artifact, Content, Plan, RenderBug};
use crate::report::{Report, Severity};
use crate::selinux::Compiled;

/// Inventories larger than this are refused before they are parsed.
pub const MAX_INVENTORY_BYTES: u64 = 32 * 1024 * 1024;
/// Fleets with more hosts than this are refused.
pub const MAX_HOSTS: usize = 20_000;

/// Keys a host may set, and within `kernel` and `irq` the ones it may override.
const HOST_KEYS: &[&str] = &["name", "mac", "disk", "network", "kernel", "irq", "users"];
const KERNEL_OVERRIDES: &[&str] = &["cpu", "isolate_cpus", "args"];
const IRQ_OVERRIDES: &[&str] = &["ban", "banned_cpus", "priority"];

/// Marks where a host's own lines go in its variant's kickstart. No validated
/// value contains a control character, so it cannot occur otherwise.
const HOST_MARK: &str = "\u{1}rtaudio-tuning host lines\u{1}";

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
    let fleet = walk(&text, dir, &mut report, &mut base_loaded);
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

fn walk(
    text: &str,
    dir: Option<&Path>,
    rep: &mut Report,
    base_loaded: &mut Option<profile::Loaded>,
) -> Option<Fleet> {
    let doc = crate::profile::parse::document(text, rep)?;
    let root = Section {
        path: String::new(),
        table: doc.get_ref(),
        span: 0..0,
    };
    let mut cx = Cx { rep };
    cx.check_keys(&root, &["version", "profile", "pxe", "host"]);
    match root.get("version") {
        None => cx.rep.error(
            "version",
            Some(0..0),
            "the inventory has no `version` key",
            "add `version = 1` as the first line",
        ),
        Some(_) => {
            cx.int(
                &root,
                "version",
                1..=1,
                "this tool reads inventory version 1: write `version = 1`",
            );
        }
    }

    // The base profile: a file next to the inventory, or an inline table.
    let base_text: Option<String>;
    let base_doc;
    let (base_table, base_path, base_span, base_dir): (&DeTable, String, Span, Option<PathBuf>) =
        match root.get("profile").map(|v| (v, v.get_ref())) {
            Some((v, DeValue::Table(t))) => {
                (t, "profile".into(), v.span(), dir.map(Path::to_path_buf))
            }
            Some((v, DeValue::String(_))) => {
                // A file beside the inventory or in a folder above it
                // (`../studio.toml`): it is read and validated as a profile,
                // never copied as it is.
                let (file, span) = cx.string_with(&root, "profile", |p| {
                    let mut rest = p;
                    while let Some(r) = rest.strip_prefix("../") {
                        rest = r;
                    }
                    grammar::relative_path(rest, ".toml")
                })?;
                let Some(dir) = dir else {
                    cx.rep.error(
                        "profile",
                        Some(span),
                        "an inventory read from standard input cannot name a profile file",
                        "give the inventory as a file, or write the profile inline as a [profile] table",
                    );
                    return None;
                };
                let path = dir.join(&file);
                let loaded = match profile::load(profile::ProfileSource::File(&path)) {
                    Ok(l) => l,
                    Err(e) => {
                        cx.rep.error(
                            "profile",
                            Some(v.span()),
                            format!("cannot read the base profile: {e:#}"),
                            "name a profile file next to the inventory (`rtaudio-tuning init` writes one)",
                        );
                        return None;
                    }
                };
                let failed = loaded.report.has_errors();
                base_text = Some(loaded.text.clone());
                *base_loaded = Some(loaded);
                if failed {
                    return None;
                }
                base_doc = DeTable::parse(base_text.as_deref().unwrap_or_default()).ok()?;
                (
                    base_doc.get_ref(),
                    String::new(),
                    0..0,
                    path.parent().map(Path::to_path_buf),
                )
            }
            Some((v, _)) => {
                cx.wrong_type(
                    "profile".into(),
                    v,
                    "a file name or a table",
                    "write profile = \"studio.toml\" (a file next to the inventory) or a [profile] table",
                );
                return None;
            }
            None => {
                cx.rep.error(
                    "profile",
                    Some(0..0),
                    "the inventory names no base profile",
                    "add profile = \"studio.toml\" (a file next to the inventory) or a [profile] table",
                );
                return None;
            }
        };
    // A profile file was walked by its own loader (its report has its
    // positions); an inline one is walked here, with the inventory's.
    let base = match base_loaded.as_ref().and_then(|l| l.profile.clone()) {
        Some(p) => p,
        None => parse_table(
            base_table,
            base_path.clone(),
            base_span,
            base_dir.as_deref(),
            cx.rep,
        )?,
    };
    if cx.rep.has_errors() {
        return None;
    }

    let pxe = pxe(&mut cx, &root);

    let hosts_s = cx.tables(&root, "host");
    if hosts_s.len() > MAX_HOSTS {
        cx.rep.error(
            "host",
            root.get("host").map(Val::span),
            format!(
                "the inventory lists {} hosts; at most {MAX_HOSTS} are accepted",
                hosts_s.len()
            ),
            "split the fleet into several inventories",
        );
        return None;
    }
    if hosts_s.is_empty() {
        cx.rep.error(
            "host",
            Some(0..0),
            "the inventory lists no host",
            "add a [[host]] entry with name = \"studio-01\" for each machine",
        );
    }

    let mut variants = vec![base];
    let mut by_overrides: HashMap<String, Result<usize, String>> = HashMap::new();
    let mut names: HashMap<String, Span> = HashMap::new();
    let mut macs: HashMap<String, String> = HashMap::new();
    let mut addresses: HashMap<Ipv4Addr, String> = HashMap::new();
    let mut hosts = Vec::with_capacity(hosts_s.len());
    // Where lines start, found once and only when a message needs a line.
    let mut lines = None;
    for (i, s) in hosts_s.iter().enumerate() {
        let named = cx.string_with(s, "name", grammar::host_name);
        if s.get("name").is_none() {
            cx.rep.error(
                s.key("name"),
                Some(s.span.clone()),
                "this host has no name",
                "add name = \"studio-01\" (its hostname) to the [[host]] entry",
            );
        }
        if let Some((name, name_span)) = &named {
            if let Some(first) = names.get(name) {
                let (line, _) = lines
                    .get_or_insert_with(|| crate::report::Lines::new(text))
                    .line_col(first.start);
                cx.rep.error(
                    format!("host[{i}].name"),
                    Some(name_span.clone()),
                    format!("two hosts are named {}", grammar::shown(name)),
                    format!("host names are hostnames and file names: rename this one or the one on line {line}"),
                );
                continue;
            }
            names.insert(name.clone(), name_span.clone());
        }
        // The host's keys are named by its name, or by its place while it has
        // no valid one (the rest of its entry is still checked; with an error
        // reported, no fleet comes of it).
        let (name, path) = match named {
            Some((n, _)) => (n.clone(), format!("host.{n}")),
            None => (format!("host[{i}]"), format!("host[{i}]")),
        };
        let s = Section {
            path,
            table: s.table,
            span: s.span.clone(),
        };
        cx.check_keys(&s, HOST_KEYS);
        let mac = cx.parsed(&s, "mac", grammar::mac_address).map(|(m, span)| {
            if let Some(other) = macs.get(&m) {
                cx.rep.error(
                    s.key("mac"),
                    Some(span),
                    format!("host {} has the same MAC address", grammar::shown(other)),
                    "each machine has its own MAC address: check the inventory against `ip link` on both",
                );
            }
            macs.insert(m.clone(), name.clone());
            m
        });
        let disk = cx
            .string_with(&s, "disk", grammar::install_disk)
            .map(|(d, _)| d);
        let (network, address_span) = network(&mut cx, &s);
        if let Network::Static { address, .. } = &network {
            if let Some(other) = addresses.get(address) {
                cx.rep.error(
                    format!("{}.address", s.key("network")),
                    address_span,
                    format!(
                        "host {} has the same address {address}",
                        grammar::shown(other)
                    ),
                    "give each machine its own address",
                );
            } else {
                addresses.insert(*address, name.clone());
            }
        }
        let variant = host_variant(
            &mut cx,
            &s,
            base_table,
            base_dir.as_deref(),
            &mut variants,
            &mut by_overrides,
        );
        hosts.push(Host {
            name,
            mac,
            disk,
            network,
            variant,
        });
    }
    if cx.rep.has_errors() {
        return None;
    }
    Some(Fleet {
        variants,
        hosts,
        pxe,
    })
}

fn pxe(cx: &mut Cx, root: &Section) -> Option<Pxe> {
    let s = cx.table(root, "pxe")?;
    cx.check_keys(&s, &["url", "kernel", "initrd", "repo"]);
    let need = |cx: &mut Cx, key: &str, example: &str| {
        let v = cx.string_with(&s, key, grammar::plain_http_url);
        if v.is_none() && s.get(key).is_none() {
            cx.rep.error(
                s.key(key),
                Some(s.span.clone()),
                format!("[pxe] has no `{key}`"),
                format!("add {key} = \"{example}\""),
            );
        }
        v.map(|(v, _)| v)
    };
    let url = need(cx, "url", "http://10.0.0.1/fleet");
    for key in ["kernel", "initrd"] {
        if let Some(v) = s.get(key)
            && v.get_ref()
                .as_str()
                .is_some_and(|u| u.starts_with("https://"))
        {
            cx.rep.warning(
                s.key(key),
                Some(v.span()),
                "GRUB fetches no https:// URL, so pxe/grub.cfg is not written",
                "serve the installer's kernel and initrd over http:// too, for UEFI machines that boot GRUB",
            );
        }
    }
    let kernel = need(
        cx,
        "kernel",
        "http://10.0.0.1/fedora/images/pxeboot/vmlinuz",
    );
    let initrd = need(
        cx,
        "initrd",
        "http://10.0.0.1/fedora/images/pxeboot/initrd.img",
    );
    // The installer's tree (stage 2 and packages): a kickstart's `url` may be
    // a mirror list, which inst.repo= cannot take, so it is always given.
    let repo = need(cx, "repo", "http://10.0.0.1/fedora/44/os/");
    Some(Pxe {
        url: url?.trim_end_matches('/').to_string(),
        kernel: kernel?,
        initrd: initrd?,
        repo: repo?,
    })
}

/// A host's network, and where its static address is written.
fn network(cx: &mut Cx, s: &Section) -> (Network, Option<Span>) {
    let Some(v) = s.get("network") else {
        return (Network::Dhcp, None);
    };
    let t = match v.get_ref() {
        DeValue::String(m) if m == "dhcp" => return (Network::Dhcp, None),
        DeValue::Table(t) => t,
        _ => {
            cx.rep.error(
                s.key("network"),
                Some(v.span()),
                "network is neither \"dhcp\" nor a table",
                "write network = \"dhcp\", or a [host.network] table with address = \"10.0.0.21/24\", gateway and dns",
            );
            return (Network::Dhcp, None);
        }
    };
    let n = Section {
        path: s.key("network"),
        table: t,
        span: v.span(),
    };
    cx.check_keys(&n, &["address", "gateway", "dns"]);
    // Every address here is one a machine is reached at.
    let reachable = |v: &str| {
        let a = grammar::ipv4(v)?;
        match grammar::unusable_ipv4(a) {
            None => Ok(a),
            Some(why) => Err(grammar::Problem {
                message: format!("{a} is {why}"),
                fix: "write the address the machine (or its gateway, or its DNS server) has on the studio's network, e.g. \"10.0.0.21\"".into(),
            }),
        }
    };
    let gateway = cx.parsed(&n, "gateway", reachable);
    let address = cx.parsed(&n, "address", |v| {
        let (a, prefix) = grammar::ipv4_cidr(v)?;
        reachable(&a.to_string()).map(|a| (a, prefix))
    });
    if n.get("address").is_none() {
        cx.rep.error(
            n.key("address"),
            Some(v.span()),
            "a static network needs an address",
            "add address = \"10.0.0.21/24\", or write network = \"dhcp\"",
        );
    }
    let dns_list = cx
        .strings(&n, "dns", |d| reachable(d).map(|_| ()))
        .unwrap_or_default();
    cx.no_duplicates(&n.key("dns"), &dns_list);
    let dns = dns_list
        .into_iter()
        .filter_map(|(d, _)| d.parse().ok())
        .collect();
    let Some(((address, prefix), span)) = address else {
        return (Network::Dhcp, None);
    };
    let mask = netmask(prefix);
    let a = u32::from(address);
    // The network's own and broadcast addresses belong to no host; /31 and
    // /32 have none (RFC 3021).
    let reserved = |x: u32| prefix <= 30 && (x & !mask == 0 || x & !mask == !mask);
    if reserved(a) {
        cx.rep.error(
            n.key("address"),
            Some(span.clone()),
            format!(
                "{address} is the network's own or broadcast address in /{prefix}, not a host's"
            ),
            "give the machine an address between them, e.g. the network address plus 1",
        );
    }
    if let Some((g, g_span)) = &gateway {
        let g32 = u32::from(*g);
        let problem = if *g == address {
            Some(format!("the gateway {g} is this host's own address"))
        } else if prefix < 32 && g32 & mask != a & mask {
            // A /32 host has no network of its own: its gateway is outside
            // by design (hosted and routed networks hand out such
            // addresses), and NetworkManager adds the direct route to it.
            Some(format!("the gateway {g} is outside {address}/{prefix}"))
        } else if reserved(g32) {
            Some(format!(
                "the gateway {g} is the network's own or broadcast address in /{prefix}"
            ))
        } else {
            None
        };
        if let Some(message) = problem {
            cx.rep.error(
                n.key("gateway"),
                Some(g_span.clone()),
                message,
                "write the router's address on this host's network (check the address's prefix length too): the installer reaches nothing through any other",
            );
        }
    }
    let network = Network::Static {
        address,
        prefix,
        gateway: gateway.map(|(g, _)| g),
        dns,
    };
    (network, Some(span))
}

/// The netmask of a prefix length (1 to 32).
fn netmask(prefix: u8) -> u32 {
    u32::MAX << (32 - u32::from(prefix))
}

/// The variant a host's overrides make of the base profile: merged into the
/// base's TOML and walked as a profile, once per distinct set of overrides
/// (`seen`: its variant, or the first host whose equal overrides were refused),
/// so that a walk of the whole base is not repeated for every host.
fn host_variant(
    cx: &mut Cx,
    s: &Section,
    base: &DeTable,
    base_dir: Option<&Path>,
    variants: &mut Vec<Profile>,
    seen: &mut HashMap<String, Result<usize, String>>,
) -> usize {
    const SECTIONS: [(&str, Option<&[&str]>); 3] = [
        ("kernel", Some(KERNEL_OVERRIDES)),
        ("irq", Some(IRQ_OVERRIDES)),
        ("users", None),
    ];
    // Each overridden section: its memo key, its keys checked, and the keys
    // the host set, which its report entries may point at
    // (`host.a.kernel.cpu`, `host.a.irq.ban[1]`, anything under `host.a.users`).
    let mut key = String::new();
    let mut own_keys: Vec<(String, std::ops::Range<usize>)> = Vec::new();
    for (section, allowed) in SECTIONS {
        let Some(v) = s.get(section) else { continue };
        let _ = write!(key, "{section}=");
        canonical(v.get_ref(), &mut key);
        key.push('\n');
        match (allowed, v.get_ref()) {
            (None, _) => own_keys.push((s.key(section), v.span())),
            (Some(allowed), DeValue::Table(t)) => {
                cx.check_keys(
                    &Section {
                        path: s.key(section),
                        table: t,
                        span: v.span(),
                    },
                    allowed,
                );
                own_keys.extend(
                    t.iter().map(|(k, val)| {
                        (format!("{}.{}", s.key(section), k.get_ref()), val.span())
                    }),
                );
            }
            (Some(_), _) => cx.wrong_type(
                s.key(section),
                v,
                "a table",
                &format!("write it as a [host.{section}] section after the host's [[host]] line"),
            ),
        }
    }
    if key.is_empty() {
        return 0;
    }
    match seen.get(&key) {
        Some(Ok(i)) => return *i,
        Some(Err(first)) => {
            cx.rep.error(
                s.path.clone(),
                Some(s.span.clone()),
                format!("this host overrides the profile as {first} does, which is refused above"),
                format!("fix the overrides of {first}: the same fix applies here"),
            );
            return 0;
        }
        None => {}
    }
    let mut merged = base.clone();
    for (section, allowed) in SECTIONS {
        let Some(v) = s.get(section) else { continue };
        match (allowed, v.get_ref()) {
            (None, _) => {
                merged.insert(Spanned::new(0..0, section.into()), v.clone());
            }
            (Some(_), DeValue::Table(t)) => {
                let entry = merged
                    .entry(Spanned::new(0..0, section.into()))
                    .or_insert_with(|| Spanned::new(v.span(), DeValue::Table(DeTable::new())));
                if let DeValue::Table(dst) = entry.get_mut() {
                    for (k, val) in t.iter() {
                        dst.insert(k.clone(), val.clone());
                    }
                }
            }
            (Some(_), _) => {}
        }
    }
    let mut rep = Report::default();
    let profile = parse_table(&merged, s.path.clone(), s.span.clone(), base_dir, &mut rep)
        .filter(|_| !rep.has_errors());
    // The base profile's own warnings were reported with it; what is new here
    // concerns the host's overrides, which carry the inventory's positions.
    let overridden = |key: &str| {
        own_keys.iter().any(|(k, _)| {
            key == k
                || key
                    .strip_prefix(k.as_str())
                    .is_some_and(|r| r.starts_with(['.', '[']))
        })
    };
    // An error at a key of the profile, in a section the host overrode, comes
    // of what the host set there (the kernel command line grown too long by
    // the host's isolate_cpus is reported at the profile's kernel.args): it
    // is named by the host's own key in that section.
    let own_in_section = |key: &str| {
        let section = key
            .strip_prefix(s.path.as_str())?
            .split(['.', '['])
            .nth(1)?;
        let prefix = format!("{}.{section}.", s.path);
        own_keys.iter().find(|(k, _)| k.starts_with(&prefix))
    };
    let (entries, omitted) = rep.into_parts();
    // Entries past the report's bound are counted; errors only, as whether a
    // warning was the host's own is no longer known.
    cx.rep.add_omitted(crate::report::Tally {
        warnings: 0,
        ..omitted
    });
    for e in entries {
        let own = overridden(&e.key);
        if e.severity == Severity::Warning && !own {
            continue;
        }
        let (key, span) = match own_in_section(&e.key) {
            _ if own => (e.key, e.span),
            Some((k, span)) => (k.clone(), Some(span.clone())),
            None => (e.key, Some(s.span.clone())),
        };
        cx.rep.push(e.severity, key, span, e.message, e.fix);
    }
    match profile {
        Some(p) => {
            variants.push(p);
            seen.insert(key, Ok(variants.len() - 1));
            variants.len() - 1
        }
        None => {
            seen.insert(key, Err(s.path.clone()));
            0
        }
    }
}

/// A value's content without its positions, as a memo key.
fn canonical(v: &DeValue, out: &mut String) {
    match v {
        DeValue::String(s) => {
            let _ = write!(out, "{s:?}");
        }
        DeValue::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        DeValue::Float(f) => {
            let _ = write!(out, "{f}");
        }
        DeValue::Boolean(b) => {
            let _ = write!(out, "{b}");
        }
        DeValue::Datetime(d) => {
            let _ = write!(out, "{d}");
        }
        DeValue::Array(a) => {
            out.push('[');
            for x in a {
                canonical(x.get_ref(), out);
                out.push(',');
            }
            out.push(']');
        }
        DeValue::Table(t) => {
            let mut keys: Vec<_> = t.iter().collect();
            keys.sort_by(|a, b| a.0.get_ref().cmp(b.0.get_ref()));
            out.push('{');
            for (k, x) in keys {
                let _ = write!(out, "{:?}=", k.get_ref());
                canonical(x.get_ref(), out);
                out.push(',');
            }
            out.push('}');
        }
    }
}

// ---------------------------------------------------------------- rendering

/// A variant rendered once: its kickstart around the host lines, and what a
/// host of it changes on top of the shared image.
struct VariantOut {
    /// The kickstart every host of the variant shares, and its sha256 state.
    body: Arc<[u8]>,
    body_sha: Sha256,
    /// The snippet and its path, `image-mode/SHA.sh`: one file per variant,
    /// named by its content so that it keeps its name across renders.
    image_mode: Option<(String, String)>,
}

/// The kickstart lines of one host: network (with its name) and install disk.
pub fn host_lines(h: &Host) -> String {
    let device = h.mac.as_deref().unwrap_or("link");
    let mut s = match &h.network {
        Network::Dhcp => format!("network --bootproto=dhcp --device={device} --activate"),
        Network::Static {
            address,
            prefix,
            gateway,
            dns,
        } => {
            let mask = Ipv4Addr::from(netmask(*prefix));
            let mut s = format!(
                "network --bootproto=static --device={device} --ip={address} --netmask={mask}"
            );
            if let Some(g) = gateway {
                let _ = write!(s, " --gateway={g}");
            }
            if !dns.is_empty() {
                let list: Vec<String> = dns.iter().map(Ipv4Addr::to_string).collect();
                let _ = write!(s, " --nameserver={}", list.join(","));
            }
            s.push_str(" --activate");
            s
        }
    };
    let _ = write!(s, " --hostname={}", h.name);
    if let Some(d) = &h.disk {
        let _ = write!(s, "\nignoredisk --only-use={d}");
    }
    s
}

#[derive(Serialize)]
struct ImageCtx<'a> {
    tool: &'static str,
    version: &'static str,
    base: &'a str,
    files: Vec<render::RootfsFile>,
    skipped: Vec<&'a str>,
    users: Option<&'a [profile::User]>,
    /// The users' groups, each once.
    groups: Vec<&'a str>,
    /// Drop-ins under /etc the image has and this host must not.
    removed: Vec<String>,
    enable: Vec<&'a str>,
    disable: Vec<&'a str>,
    mask: Vec<&'a str>,
    unmask: Vec<&'a str>,
    heredoc: &'static str,
    kargs_add: Vec<&'a str>,
    kargs_remove: Vec<&'a str>,
}

/// What a host of this variant changes on top of the image built from the
/// base profile: its drop-ins under /etc, its accounts and its kernel
/// arguments. `None` when nothing differs.
fn image_mode(base: &Plan, plan: &Plan) -> Result<Option<String>, RenderBug> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let etc_target = |f: &render::RootfsFile| -> Option<String> {
        if f.path.starts_with("/etc/") {
            Some(f.path.clone())
        } else {
            f.etc_path.clone()
        }
    };
    for f in &plan.rootfs {
        let same = base
            .rootfs
            .iter()
            .any(|b| b.path == f.path && b.content == f.content && b.mode == f.mode);
        // The kernel arguments are applied by rpm-ostree below, not by file.
        if same || f.path.contains("/bootc/kargs.d/") {
            continue;
        }
        match etc_target(f) {
            Some(path) => {
                let mut g = f.clone();
                g.dir = path
                    .rsplit_once('/')
                    .map_or("/etc".into(), |(d, _)| d.to_string());
                g.path = path;
                files.push(g);
            }
            None => skipped.push(f.path.as_str()),
        }
    }
    let users = (plan.profile.users != base.profile.users).then_some(plan.profile.users.as_slice());
    fn missing<'b>(from: &'b [String], in_: &[String]) -> Vec<&'b str> {
        from.iter()
            .filter(|a| !in_.contains(a))
            .map(String::as_str)
            .collect()
    }
    let kargs_add = missing(&plan.kargs, &base.kargs);
    let kargs_remove = missing(&base.kargs, &plan.kargs);
    let enable = missing(&plan.enable_all, &base.enable_all);
    let disable = missing(&base.enable_all, &plan.enable_all);
    let mask = missing(&plan.mask, &base.mask);
    let unmask = missing(&base.mask, &plan.mask);
    // What the image carries and this host does not: its /etc copies go; a
    // unit the host does not run is disabled above, whatever its place.
    let mut removed: Vec<String> = base
        .rootfs
        .iter()
        .filter(|b| !plan.rootfs.iter().any(|f| f.path == b.path))
        .filter(|b| !b.path.contains("/bootc/kargs.d/"))
        .filter_map(etc_target)
        .collect();
    removed.sort();
    let mut groups: Vec<&str> = users
        .unwrap_or_default()
        .iter()
        .flat_map(|u| u.groups.iter().map(String::as_str))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    if files.is_empty()
        && skipped.is_empty()
        && users.is_none()
        && removed.is_empty()
        && enable.is_empty()
        && disable.is_empty()
        && mask.is_empty()
        && unmask.is_empty()
        && kargs_add.is_empty()
        && kargs_remove.is_empty()
    {
        return Ok(None);
    }
    let ctx = ImageCtx {
        tool: render::TOOL,
        version: env!("CARGO_PKG_VERSION"),
        base: &base.profile.name,
        files,
        skipped,
        users,
        groups,
        removed,
        enable,
        disable,
        mask,
        unmask,
        heredoc: plan.heredoc,
        kargs_add,
        kargs_remove,
    };
    let ctx = tera::Context::from_serialize(ctx).map_err(|e| RenderBug {
        artifact: "fleet/image-mode.sh".into(),
        detail: e.to_string(),
    })?;
    render::fleet_template("fleet/image-mode.sh", &ctx).map(Some)
}

/// A variant's kickstart body and image-mode snippet; `base` is `None` for
/// the base profile itself, which the shared image already is.
fn variant_out(mut plan: Plan, base: Option<&Plan>) -> Result<VariantOut, RenderBug> {
    plan.host_lines = HOST_MARK.to_string();
    let ks = render::install_kickstart(&plan)?;
    // The variant's kickstart without the network line; each host's own
    // lines go at its end (kickstart commands may follow the sections), so
    // that the body's sha256 state is computed once per variant.
    let bug = |detail: &str| RenderBug {
        artifact: "kickstart/install.ks".into(),
        detail: detail.into(),
    };
    let (head, tail) = ks
        .split_once(&format!("{HOST_MARK}\n"))
        .ok_or_else(|| bug("the host lines are missing from the installation kickstart"))?;
    if tail.contains(HOST_MARK) {
        return Err(bug(
            "the host lines appear twice in the installation kickstart",
        ));
    }
    let body = [head.as_bytes(), tail.as_bytes()].concat();
    let mut body_sha = Sha256::new();
    body_sha.update(&body);
    let image_mode = match base {
        None => None,
        Some(base) => image_mode(base, &plan)?,
    }
    .map(|script| {
        let sha = crate::output::sha256_hex(script.as_bytes());
        (format!("image-mode/{}.sh", &sha[..16]), script)
    });
    Ok(VariantOut {
        body: Arc::from(body),
        body_sha,
        image_mode,
    })
}

#[derive(Serialize)]
struct IndexHost<'a> {
    name: &'a str,
    mac: Option<&'a str>,
    network: &'a Network,
    disk: Option<&'a str>,
    kickstart: IndexFile,
    /// What the host applies on top of the shared bootc image; `None`: nothing.
    image_mode: Option<&'a str>,
}

#[derive(Serialize)]
struct IndexFile {
    path: String,
    sha256: String,
}

#[derive(Serialize)]
struct Index<'a> {
    schema: u32,
    profile: &'a str,
    tool_version: &'static str,
    shared: Vec<IndexFile>,
    hosts: Vec<IndexHost<'a>>,
}

#[derive(Serialize)]
struct PxeCtx<'a> {
    tool: &'static str,
    version: &'static str,
    profile: &'a str,
    pxe: &'a Pxe,
    /// The installer's kernel and initrd as GRUB names files on an HTTP
    /// server, `(http,HOST)/PATH`.
    grub_kernel: Option<String>,
    grub_initrd: Option<String>,
    hosts: Vec<PxeHost<'a>>,
}

/// `http://HOST/PATH` as GRUB's `(http,HOST)/PATH`; GRUB has no HTTPS.
fn grub_http(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    Some(format!("(http,{host})/{path}"))
}

#[derive(Serialize)]
struct PxeHost<'a> {
    name: &'a str,
    mac: &'a str,
    /// The MAC as iPXE's `${netX/mac:hexhyp}` writes it: `52-54-00-12-34-56`.
    hyphens: String,
}

/// A host's installation kickstart, in the tree.
pub fn kickstart_path(h: &Host) -> String {
    format!("hosts/{}.ks", h.name)
}

/// Everything `fleet` writes: the base profile's shared artifacts (its
/// kickstarts excepted), one kickstart per host, image-mode snippets, the PXE
/// files and `index.json`, sorted by path, with their sha256.
pub struct Rendered {
    pub artifacts: Vec<Artifact>,
    pub hashes: Vec<String>,
}

pub fn render(fleet: &Fleet, compiled: &Compiled) -> Result<Rendered, RenderBug> {
    let base = fleet.base();
    let base_plan = render::plan(base, compiled)?;
    let mut shared: Vec<Artifact> = render::artifacts(&base_plan)?
        .into_iter()
        .filter(|a| !a.path.starts_with("kickstart/"))
        .collect();

    // One render per variant (the base's plan is the one above).
    let mut outs = Vec::with_capacity(fleet.variants.len());
    for p in &fleet.variants[1..] {
        outs.push(variant_out(render::plan(p, compiled)?, Some(&base_plan))?);
    }
    outs.insert(0, variant_out(base_plan, None)?);

    // Hosts on every core: their own lines and hashes.
    let rendered: Vec<(Artifact, String)> =
        crate::jobs::par(&fleet.hosts, |h| host_kickstart(h, &outs[h.variant]));
    // Variants whose snippets are equal share the file (it is named by its
    // content).
    let mut snippets: Vec<&(String, String)> =
        outs.iter().filter_map(|o| o.image_mode.as_ref()).collect();
    snippets.sort();
    snippets.dedup();
    for (path, script) in snippets {
        shared.push(Artifact {
            path: path.clone(),
            mode: 0o755,
            content: Content::Bytes(script.clone().into_bytes()),
        });
    }

    if let Some(pxe) = &fleet.pxe {
        let ctx = PxeCtx {
            tool: render::TOOL,
            version: env!("CARGO_PKG_VERSION"),
            profile: &base.name,
            pxe,
            grub_kernel: grub_http(&pxe.kernel),
            grub_initrd: grub_http(&pxe.initrd),
            hosts: fleet
                .hosts
                .iter()
                .filter_map(|h| {
                    h.mac.as_deref().map(|mac| PxeHost {
                        name: &h.name,
                        mac,
                        hyphens: mac.replace(':', "-"),
                    })
                })
                .collect(),
        };
        let mut menus = vec![
            ("fleet/boot.ipxe", "pxe/boot.ipxe"),
            ("fleet/pxelinux.cfg", "pxe/pxelinux.menu"),
        ];
        if ctx.grub_kernel.is_some() && ctx.grub_initrd.is_some() {
            menus.push(("fleet/grub.cfg", "pxe/grub.cfg"));
        }
        let ctx = tera::Context::from_serialize(ctx).map_err(|e| RenderBug {
            artifact: "fleet".into(),
            detail: e.to_string(),
        })?;
        for (name, path) in menus {
            shared.push(Artifact {
                path: path.into(),
                mode: 0o644,
                content: Content::Bytes(render::fleet_template(name, &ctx)?.into_bytes()),
            });
        }
    }

    let mut files: Vec<(Artifact, String)> = shared
        .into_iter()
        .map(|a| {
            let sha = a.content.sha256_hex();
            (a, sha)
        })
        .collect();
    let mut index = Index {
        schema: 1,
        profile: &base.name,
        tool_version: env!("CARGO_PKG_VERSION"),
        shared: files
            .iter()
            .map(|(a, sha256)| IndexFile {
                path: a.path.clone(),
                sha256: sha256.clone(),
            })
            .collect(),
        hosts: Vec::with_capacity(fleet.hosts.len()),
    };
    for (h, (ks, sha256)) in fleet.hosts.iter().zip(rendered) {
        index.hosts.push(IndexHost {
            name: &h.name,
            mac: h.mac.as_deref(),
            network: &h.network,
            disk: h.disk.as_deref(),
            kickstart: IndexFile {
                path: ks.path.clone(),
                sha256: sha256.clone(),
            },
            image_mode: outs[h.variant].image_mode.as_ref().map(|(p, _)| p.as_str()),
        });
        files.push((ks, sha256));
    }
    let mut json = serde_json::to_string_pretty(&index).map_err(|e| RenderBug {
        artifact: "index.json".into(),
        detail: e.to_string(),
    })?;
    json.push('\n');
    let json = json.into_bytes();
    let sha = crate::output::sha256_hex(&json);
    files.push((
        Artifact {
            path: "index.json".into(),
            mode: 0o644,
            content: Content::Bytes(json),
        },
        sha,
    ));
    files.sort_unstable_by(|a, b| a.0.path.cmp(&b.0.path));
    // crate::text's rule over every file; a host's kickstart shares its head
    // with its variant's, which is looked at once.
    for o in &outs {
        render::single_line_breaks("hosts/*.ks", &[&o.body])?;
    }
    for (a, _) in &files {
        match &a.content {
            Content::Shared { own, .. } => render::single_line_breaks(&a.path, &[own])?,
            Content::Bytes(b) => render::single_line_breaks(&a.path, &[b])?,
        }
    }
    let (artifacts, hashes) = files.into_iter().unzip();
    Ok(Rendered { artifacts, hashes })
}

fn host_kickstart(h: &Host, v: &VariantOut) -> (Artifact, String) {
    let own = format!(
        "\n# This machine: host \"{}\" of the fleet (its network and install disk).\n{}\n",
        h.name,
        host_lines(h)
    )
    .into_bytes();
    let mut sha = v.body_sha.clone();
    sha.update(&own);
    let sha = crate::output::hex(&sha.finalize());
    (
        Artifact {
            path: kickstart_path(h),
            mode: 0o644,
            content: Content::Shared {
                head: v.body.clone(),
                own,
            },
        },
        sha,
    )
}
