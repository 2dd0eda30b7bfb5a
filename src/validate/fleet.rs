//! A fleet tree's own files: `index.json` lists every host with the sha256 of
//! its kickstart, every PXE menu entry points at a kickstart of the tree, the
//! iPXE script's `goto`s have their labels, and GRUB's own parser
//! (`grub-script-check`) accepts the GRUB fragment.

use std::collections::BTreeSet;

use super::{Outcome, Tree, tidy, write_temp};
use crate::cmd;

pub fn validate(tree: &Tree) -> Outcome {
    if !tree.is_fleet() {
        return Outcome::pass("not a fleet tree (no index.json and hosts/)");
    }
    let mut problems = Vec::new();
    let mut checked = Vec::new();

    match tree
        .text("index.json")
        .map(serde_json::from_str::<serde_json::Value>)
    {
        Some(Ok(index)) => {
            let hosts = index["hosts"].as_array().cloned().unwrap_or_default();
            for h in &hosts {
                let name = h["name"].as_str().unwrap_or("?");
                let path = h["kickstart"]["path"].as_str().unwrap_or("");
                let want = h["kickstart"]["sha256"].as_str().unwrap_or("");
                match tree.files.get(path) {
                    None => problems.push(format!("index.json: host {name}: {path:?} is missing")),
                    Some(b) if crate::output::sha256_hex(b) != want => problems.push(format!(
                        "index.json: host {name}: {path} does not match its sha256"
                    )),
                    Some(_) => {}
                }
                if let Some(snippet) = h["image_mode"].as_str()
                    && !tree.files.contains_key(snippet)
                {
                    problems.push(format!("index.json: host {name}: {snippet} is missing"));
                }
            }
            let listed: BTreeSet<&str> = hosts
                .iter()
                .filter_map(|h| h["kickstart"]["path"].as_str())
                .collect();
            for (p, _) in tree.under("hosts/") {
                if !listed.contains(p) {
                    problems.push(format!("{p} is not listed in index.json"));
                }
            }
            checked.push(format!("index.json ({} hosts)", hosts.len()));
        }
        Some(Err(e)) => problems.push(format!("index.json: {e}")),
        None => problems.push("index.json is not UTF-8".into()),
    }

    // Every kickstart a menu names must be in the tree.
    for (rel, bytes) in tree.under("pxe/") {
        let text = String::from_utf8_lossy(bytes);
        for (n, line) in text.lines().enumerate() {
            for word in line.split_whitespace() {
                let Some(url) = word.strip_prefix("inst.ks=") else {
                    continue;
                };
                if url.contains("${") {
                    continue;
                }
                let ks = url.rfind("/hosts/").map(|i| &url[i + 1..]);
                if !ks.is_some_and(|k| tree.files.contains_key(k)) {
                    problems.push(format!(
                        "{rel}:{}: inst.ks={url} names no kickstart of this tree",
                        n + 1
                    ));
                }
            }
        }
    }

    if let Some(ipxe) = tree.text("pxe/boot.ipxe") {
        problems.extend(ipxe_labels(ipxe));
        checked.push("pxe/boot.ipxe".into());
    }

    if tree.files.contains_key("pxe/grub.cfg") {
        let Some(check) = cmd::find("grub-script-check") else {
            return Outcome::unavailable("grub-common (grub-script-check) to check pxe/grub.cfg");
        };
        match write_temp(tree, "pxe/") {
            Ok(tmp) => match cmd::run(
                std::process::Command::new(check).arg(tmp.path().join("pxe/grub.cfg")),
            ) {
                Ok(o) if o.success() => checked.push("pxe/grub.cfg (grub-script-check)".into()),
                Ok(o) => problems.push(format!(
                    "grub-script-check pxe/grub.cfg: {}",
                    tidy(&o.text(), tmp.path())
                )),
                Err(e) => problems.push(e.to_string()),
            },
            Err(e) => problems.push(format!("cannot stage pxe/: {e:#}")),
        }
    }

    Outcome::from_problems(
        format!("{} agree with the tree", checked.join(", ")),
        "the fleet's index or PXE files are wrong",
        problems,
    )
}

/// An iPXE script's labels: unique, and every `goto` target exists (a
/// computed target like `mac-${netX/mac:hexhyp}` may fall through `||`).
fn ipxe_labels(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !text.starts_with("#!ipxe\n") {
        problems.push("pxe/boot.ipxe does not start with #!ipxe".into());
    }
    let mut labels = BTreeSet::new();
    for line in text.lines() {
        if let Some(l) = line.strip_prefix(':')
            && !labels.insert(l.trim())
        {
            problems.push(format!("pxe/boot.ipxe: label {l:?} twice"));
        }
    }
    for (n, line) in text.lines().enumerate() {
        for part in line.split("||") {
            let Some(target) = part.trim().strip_prefix("goto ") else {
                continue;
            };
            let target = target.trim();
            if !target.contains("${") && !labels.contains(target) {
                problems.push(format!(
                    "pxe/boot.ipxe:{}: goto {target}: no such label",
                    n + 1
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    #[test]
    fn ipxe_gotos_need_labels() {
        let ok = "#!ipxe\ngoto mac-${netX/mac:hexhyp} || goto unknown\n:unknown\nexit\n";
        assert!(super::ipxe_labels(ok).is_empty());
        let bad = "#!ipxe\ngoto install\n:x\n:x\n";
        let p = super::ipxe_labels(bad);
        assert_eq!(p.len(), 2, "{p:?}");
    }
}
