//! A fleet tree's own files: `index.json` lists every host with the sha256 of
//! its kickstart, every PXE menu entry points at a kickstart of the tree, the
//! iPXE script's `goto`s have their labels, GRUB's own parser
//! (`grub-script-check`) accepts the GRUB fragment, pxelinux is given only
//! URLs it can fetch, host kickstarts install from the room's mirror when
//! the menus name one, and image-mode snippets change no file of the image.

use std::collections::BTreeSet;

use super::{Outcome, Tree, tidy, write_temp};
use crate::cmd;

pub fn validate(tree: &Tree) -> Outcome {
    if !tree.is_fleet() {
        return Outcome::not_applicable("not a fleet tree (no index.json)");
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
                    Some(b) if crate::artifact::sha256_hex(b) != want => problems.push(format!(
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
            if hosts.is_empty() {
                problems.push("index.json lists no host".into());
            }
            // Each MAC in the PXE menus picks the host index.json gives it.
            let by_mac: std::collections::BTreeMap<String, &str> = hosts
                .iter()
                .filter_map(|h| Some((h["mac"].as_str()?.to_string(), h["name"].as_str()?)))
                .collect();
            problems.extend(menus_match(tree, &by_mac));
            for (p, _) in tree.under("hosts/") {
                if !listed.contains(p) {
                    problems.push(format!("{p} is not listed in index.json"));
                }
            }
            checked.push(format!(
                "index.json ({})",
                crate::text::count(hosts.len(), "host")
            ));
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

    problems.extend(pxelinux_schemes(tree));
    problems.extend(install_from_room(tree));
    problems.extend(snippets_leave_the_image_alone(tree));

    if let Some(ipxe) = tree.text("pxe/boot.ipxe") {
        problems.extend(ipxe_labels(ipxe));
        checked.push("pxe/boot.ipxe".into());
    }

    if tree.files.contains_key("pxe/grub.cfg") {
        // Debian's name, and Fedora's (grub2-tools).
        let Some(check) =
            cmd::find("grub-script-check").or_else(|| cmd::find("grub2-script-check"))
        else {
            if !problems.is_empty() {
                problems.push("pxe/grub.cfg was not checked: install grub-common (Debian) or grub2-tools (Fedora) for grub-script-check".into());
                return Outcome::fail("the fleet's index or PXE files are wrong", problems);
            }
            return Outcome::unavailable(
                "grub-common (Debian) or grub2-tools (Fedora) for grub-script-check, to check pxe/grub.cfg",
            );
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

/// The iPXE script's `:mac-M` / `set host N` pairs and GRUB's
/// `$net_default_mac = "M"` / `set default="N"` lines against the index; every
/// host named has its kickstart.
fn menus_match(tree: &Tree, by_mac: &std::collections::BTreeMap<String, &str>) -> Vec<String> {
    let mut problems = Vec::new();
    let check = |file: &str, n: usize, mac: &str, host: &str| {
        let mut found = Vec::new();
        if by_mac.get(mac) != Some(&host) {
            found.push(format!(
                "{file}:{n}: MAC {mac} picks {host}, index.json gives {}",
                by_mac.get(mac).copied().unwrap_or("no host")
            ));
        }
        if !tree.files.contains_key(&format!("hosts/{host}.ks")) {
            found.push(format!("{file}:{n}: host {host} has no hosts/{host}.ks"));
        }
        found
    };
    if let Some(ipxe) = tree.text("pxe/boot.ipxe") {
        let mut label: Option<String> = None;
        for (n, line) in ipxe.lines().enumerate() {
            if let Some(l) = line.strip_prefix(":mac-") {
                label = Some(l.trim().replace('-', ":"));
            } else if let Some(host) = line.trim().strip_prefix("set host ") {
                match label.take() {
                    Some(mac) => problems.extend(check("pxe/boot.ipxe", n + 1, &mac, host.trim())),
                    None => problems.push(format!(
                        "pxe/boot.ipxe:{}: set host outside a MAC label",
                        n + 1
                    )),
                }
            }
        }
    }
    if let Some(grub) = tree.text("pxe/grub.cfg") {
        for (n, line) in grub.lines().enumerate() {
            let Some(rest) = line.strip_prefix("if [ \"$net_default_mac\" = \"") else {
                continue;
            };
            let mac = rest.split('"').next().unwrap_or("");
            let host = rest
                .split("set default=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("");
            problems.extend(check("pxe/grub.cfg", n + 1, mac, host));
        }
    }
    problems
}

/// An image-mode snippet writes or removes no file the shared image ships
/// under /etc (`bootc/rootfs/etc/...`): ostree's three-way merge of /etc keeps
/// a file the host changed, so the image's later versions of it would never
/// apply there. A unit whose drop-ins the snippet writes is restarted
/// (`systemctl try-restart`), or the running one keeps its old settings; a
/// template (`NAME@.service`) is not, as systemctl refuses its name.
fn snippets_leave_the_image_alone(tree: &Tree) -> Vec<String> {
    let mut problems = Vec::new();
    for (rel, bytes) in tree.under("image-mode/") {
        let text = String::from_utf8_lossy(bytes);
        let mut restarted: BTreeSet<&str> = BTreeSet::new();
        let mut dropins: Vec<(usize, &str)> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let Some(units) = line.trim().strip_prefix("systemctl try-restart ") else {
                continue;
            };
            for unit in units.split_whitespace() {
                if unit.contains("@.") {
                    problems.push(format!(
                        "{rel}:{}: `systemctl try-restart {unit}` names a template: systemctl refuses a unit name without its instance, and the snippet stops there (set -e)",
                        n + 1
                    ));
                }
                restarted.insert(unit);
            }
        }
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            let paths: Vec<&str> = if let Some(rest) = line.strip_prefix("cat >") {
                rest.split_whitespace().take(1).collect()
            } else if let Some(rest) = line.strip_prefix("rm -f ") {
                rest.split_whitespace().collect()
            } else {
                continue;
            };
            for path in paths {
                if tree.files.contains_key(&format!("bootc/rootfs{path}")) {
                    problems.push(format!(
                        "{rel}:{}: {path} is the image's: a host that changes it never gets the image's later versions (ostree keeps a changed /etc file); write the host's values to a file the image does not ship",
                        n + 1
                    ));
                }
                if let Some(unit) = path
                    .strip_prefix("/etc/systemd/system/")
                    .and_then(|p| p.split_once(".d/"))
                    .map(|(u, _)| u)
                {
                    dropins.push((n + 1, unit));
                }
            }
        }
        for (n, unit) in dropins {
            // A template has no run of its own: each instance started from
            // now on reads the drop-in.
            if !unit.contains("@.") && !restarted.contains(unit) {
                problems.push(format!(
                    "{rel}:{n}: writes a drop-in of {unit} and does not `systemctl try-restart {unit}`: the running unit keeps its old settings"
                ));
            }
        }
    }
    problems
}

/// The URL schemes lpxelinux fetches: syslinux core/fs/pxe/core.c,
/// `url_schemes[]` (tftp, http, ftp; no TLS).
const PXELINUX_SCHEMES: [&str; 3] = ["tftp", "http", "ftp"];

/// Every file pxelinux loads (`KERNEL`, `LINUX`, `INITRD`, `FDT`, and
/// `initrd=` of `APPEND`) is a path or a URL of a scheme it speaks.
fn pxelinux_schemes(tree: &Tree) -> Vec<String> {
    let mut problems = Vec::new();
    for (rel, bytes) in tree.under("pxe/") {
        if !rel.contains("pxelinux") {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        for (n, line) in text.lines().enumerate() {
            let mut words = line.split_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            let files: Vec<&str> = match keyword.to_ascii_uppercase().as_str() {
                "KERNEL" | "LINUX" | "INITRD" | "FDT" => words.take(1).collect(),
                "APPEND" => words
                    .filter_map(|w| w.strip_prefix("initrd="))
                    .flat_map(|w| w.split(','))
                    .collect(),
                _ => continue,
            };
            for f in files {
                if let Some((scheme, _)) = f.split_once("://")
                    && !PXELINUX_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str())
                {
                    problems.push(format!(
                        "{rel}:{}: {keyword} {f}: pxelinux fetches {} only, not {scheme}://",
                        n + 1,
                        PXELINUX_SCHEMES.join(", ")
                    ));
                }
            }
        }
    }
    problems
}

/// The command lines of a kickstart outside its sections (%packages, %post):
/// `(line number, words)`.
fn ks_commands(text: &str) -> Vec<(usize, Vec<&str>)> {
    let mut in_section = false;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if in_section {
            in_section = t != "%end";
        } else if t.starts_with('%') {
            in_section = true;
        } else if !t.is_empty() && !t.starts_with('#') {
            out.push((n + 1, t.split_whitespace().collect()));
        }
    }
    out
}

/// When the PXE menus pass `inst.repo=R`, every host kickstart's `url` is
/// `--url=R`, and none of its sources is a mirror list or metalink (they name
/// the internet's mirror managers): Anaconda takes the kickstart's source
/// over `inst.repo=`, so an air-gapped room would install from nowhere.
fn install_from_room(tree: &Tree) -> Vec<String> {
    let mut problems = Vec::new();
    let mut rooms = BTreeSet::new();
    for (_, bytes) in tree.under("pxe/") {
        for word in String::from_utf8_lossy(bytes).split_whitespace() {
            if let Some(r) = word.strip_prefix("inst.repo=") {
                rooms.insert(r.to_string());
            }
        }
    }
    if rooms.len() > 1 {
        problems.push(format!(
            "pxe/: the menus pass different inst.repo= ({})",
            rooms.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let Some(room) = rooms.first() else {
        return problems;
    };
    let value = |w: &str, opt: &str| -> Option<String> {
        w.strip_prefix(opt)
            .and_then(|v| v.strip_prefix('='))
            .map(|v| v.trim_matches('"').to_string())
    };
    for (rel, bytes) in tree.under("hosts/") {
        let text = String::from_utf8_lossy(bytes);
        let mut has_url = false;
        for (n, words) in ks_commands(&text) {
            if !matches!(words[0], "url" | "repo") {
                continue;
            }
            for w in &words[1..] {
                for opt in ["--mirrorlist", "--metalink"] {
                    if value(w, opt).is_some() {
                        problems.push(format!(
                            "{rel}:{n}: {} {opt}: the room installs from inst.repo={room}, not from a mirror list",
                            words[0]
                        ));
                    }
                }
            }
            if words[0] == "url" {
                has_url = true;
                let url = words[1..].iter().find_map(|w| value(w, "--url"));
                if url.as_deref() != Some(room.as_str()) {
                    problems.push(format!(
                        "{rel}:{n}: url is not --url=\"{room}\", the inst.repo= of the PXE menus (Anaconda takes the kickstart's url over inst.repo=)"
                    ));
                }
            }
        }
        if !has_url {
            problems.push(format!(
                "{rel}: no url line: add url --url=\"{room}\", the inst.repo= of the PXE menus"
            ));
        }
    }
    problems
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
