//! The inventory's schema and its walker: the hosts, their machine keys
//! (name, MAC, disk, network) and the PXE server, checked with the profile's
//! spanned walker so that every problem is reported at once with its place.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use super::merge::host_variant;
use super::{Fleet, Host, MAX_HOSTS, Network, Pxe, netmask};
use crate::profile::parse::parse_table;
use crate::profile::walk::{Cx, Section, Val, document};
use crate::profile::{self, Span, grammar};
use crate::report::Report;

/// Keys a host may set.
const HOST_KEYS: &[&str] = &["name", "mac", "disk", "network", "kernel", "irq", "users"];

pub(super) fn walk(
    text: &str,
    dir: Option<&Path>,
    rep: &mut Report,
    base_loaded: &mut Option<profile::Loaded>,
) -> Option<Fleet> {
    let doc = document(text, rep)?;
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
                "GRUB and lpxelinux fetch no https:// URL, so pxe/grub.cfg and pxe/pxelinux.menu are not written",
                "serve the installer's kernel and initrd over http:// too, for machines that boot GRUB or pxelinux",
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
