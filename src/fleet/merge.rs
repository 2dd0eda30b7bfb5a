//! A host's overrides merged into the base profile's TOML and walked as a
//! profile: the host is held to exactly the profile's rules, and hosts with
//! equal overrides share one variant.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::profile::Profile;
use crate::profile::parse::parse_table;
use crate::profile::walk::{Cx, Section};
use crate::report::{Report, Severity};

/// Within `kernel` and `irq`, the keys a host may override.
const KERNEL_OVERRIDES: &[&str] = &["cpu", "isolate_cpus", "args"];
const IRQ_OVERRIDES: &[&str] = &["ban", "banned_cpus", "priority"];

/// The variant a host's overrides make of the base profile: merged into the
/// base's TOML and walked as a profile, once per distinct set of overrides
/// (`seen`: its variant, or the first host whose equal overrides were refused),
/// so that a walk of the whole base is not repeated for every host.
pub(super) fn host_variant(
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
