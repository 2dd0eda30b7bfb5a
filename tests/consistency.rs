//! One source of truth: every delivery path carries byte-identical drop-ins and
//! the same kernel argument list. Each path is read back here with its own
//! format's rules, independently of the renderer.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::*;

type Files = BTreeMap<String, Vec<u8>>;

fn rootfs(dir: &Path) -> Files {
    tree(dir)
        .into_iter()
        .map(|(p, bytes)| (format!("/{p}"), bytes))
        .collect()
}

/// The files a kickstart's %post writes with `cat >PATH <<'DELIM'`.
fn kickstart_files(ks: &str) -> Files {
    let mut out = Files::new();
    let mut lines = ks.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("cat >") else {
            continue;
        };
        let (path, delim) = rest.split_once(" <<'").expect("here-document");
        let delim = delim.trim_end_matches('\'');
        let mut body = String::new();
        for l in lines.by_ref() {
            if l == delim {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        assert!(
            out.insert(path.to_string(), body.into_bytes()).is_none(),
            "{path} written twice"
        );
    }
    out
}

fn kickstart_kargs(ks: &str) -> Vec<String> {
    let line = ks
        .lines()
        .find(|l| l.starts_with("bootloader"))
        .expect("bootloader line");
    match line.split("--append=\"").nth(1) {
        Some(args) => args
            .trim_end_matches('"')
            .split(' ')
            .map(String::from)
            .collect(),
        None => Vec::new(),
    }
}

/// The files the spec installs: `SourceN:` names resolved in the rpm/ folder,
/// `%{buildroot}PATH` with the path macros expanded as rpm would.
fn rpm_files(rpm_dir: &Path) -> Files {
    let spec = fs::read_to_string(rpm_dir.join("rtaudio-tuning.spec")).unwrap();
    let macros = [
        ("%{_unitdir}", "/usr/lib/systemd/system"),
        ("%{_sysusersdir}", "/usr/lib/sysusers.d"),
        ("%{_sysctldir}", "/usr/lib/sysctl.d"),
        ("%{_udevrulesdir}", "/usr/lib/udev/rules.d"),
        ("%{_exec_prefix}", "/usr"),
        ("%{_sysconfdir}", "/etc"),
    ];
    let mut sources = BTreeMap::new();
    for line in spec.lines() {
        if let Some(rest) = line.strip_prefix("Source") {
            let (n, name) = rest.split_once(':').unwrap();
            sources.insert(format!("%{{SOURCE{n}}}"), name.trim().to_string());
        }
    }
    let mut out = Files::new();
    for line in spec.lines().filter(|l| l.starts_with("install -D")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let src = &sources[words[4]];
        let mut path = words[5].trim_start_matches("%{buildroot}").to_string();
        for (m, v) in macros {
            path = path.replace(m, v);
        }
        assert!(!path.contains('%'), "unexpanded macro in {path}");
        out.insert(path, fs::read(rpm_dir.join(src)).unwrap());
    }
    let files_section = spec.split("\n%files\n").nth(1).expect("%files");
    let listed = files_section
        .lines()
        .filter(|l| !l.starts_with("%dir") && !l.is_empty())
        .count();
    assert_eq!(listed, out.len(), "%files and %install disagree");
    out
}

fn rpm_kargs(rpm_dir: &Path) -> Vec<String> {
    let spec = fs::read_to_string(rpm_dir.join("rtaudio-tuning.spec")).unwrap();
    let line = spec
        .lines()
        .find(|l| l.starts_with("wanted=\""))
        .expect("wanted=");
    line["wanted=\"".len()..line.len() - 1]
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Where systemd reads the same file from when it is under /etc: a blueprint
/// cannot write /usr, so it carries these there.
const ETC_EQUIVALENT: &[(&str, &str)] = &[
    ("/etc/systemd/system/", "/usr/lib/systemd/system/"),
    ("/etc/sysusers.d/", "/usr/lib/sysusers.d/"),
    ("/etc/sysctl.d/", "/usr/lib/sysctl.d/"),
    ("/etc/udev/rules.d/", "/usr/lib/udev/rules.d/"),
];

fn blueprint(path: &Path) -> (Files, Vec<String>) {
    let doc: toml::Table = fs::read_to_string(path).unwrap().parse().unwrap();
    let custom = doc["customizations"].as_table().unwrap();
    let mut files = Files::new();
    for f in custom["files"].as_array().unwrap() {
        let p = f["path"].as_str().unwrap();
        assert!(
            p.starts_with("/etc/") && !p.starts_with("/usr"),
            "blueprint file outside what image-builder allows: {p}"
        );
        let target = ETC_EQUIVALENT
            .iter()
            .find_map(|(etc, usr)| p.strip_prefix(etc).map(|r| format!("{usr}{r}")))
            .unwrap_or_else(|| p.to_string());
        files.insert(target, f["data"].as_str().unwrap().as_bytes().to_vec());
    }
    let append = custom
        .get("kernel")
        .and_then(|k| k.get("append"))
        .map_or("", |a| a.as_str().unwrap());
    (files, append.split_whitespace().map(String::from).collect())
}

fn bootc_kargs(root: &Files) -> Vec<String> {
    let (_, bytes) = root
        .iter()
        .find(|(p, _)| p.starts_with("/usr/lib/bootc/kargs.d/"))
        .expect("kargs.d file");
    let doc: toml::Table = std::str::from_utf8(bytes).unwrap().parse().unwrap();
    assert!(
        doc.keys()
            .all(|k| k == "kargs" || k == "match-architectures"),
        "bootc rejects other keys"
    );
    doc["kargs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_delivery_path_carries_the_same_bytes_and_kernel_args() {
    let t = tempfile::tempdir().unwrap();
    // Beside the examples: a profile with no kernel arguments at all.
    let bare = t.path().join("bare.toml");
    fs::write(&bare, "version = 1\nname = \"bare\"\n[kernel]\nflavor = \"rt\"\nrepo = \"https://example.org/rt/\"\nargs = []\n").unwrap();
    for ex in examples().into_iter().chain([bare]) {
        let out = t.path().join(ex.file_stem().unwrap());
        render(Some(&ex), &out);
        let name = fs::read_dir(out.join("blueprint"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let profile = name.file_stem().unwrap().to_string_lossy().into_owned();
        let label = ex.display();

        let root = rootfs(&out.join("rootfs"));
        assert!(root.len() >= 6, "{label}: rootfs too small");

        // The RPM installs exactly the rootfs.
        assert_eq!(
            rpm_files(&out.join("rpm")),
            root,
            "{label}: RPM differs from rootfs"
        );
        // The bootc build context carries exactly the rootfs.
        assert_eq!(
            rootfs(&out.join("bootc/rootfs")),
            root,
            "{label}: bootc differs from rootfs"
        );
        // Both kickstarts' %post write exactly the rootfs.
        let mut ks_args = Vec::new();
        for ks in [format!("{profile}.ks"), format!("{profile}-live.ks")] {
            let text = fs::read_to_string(out.join("kickstart").join(&ks)).unwrap();
            assert_eq!(
                kickstart_files(&text),
                root,
                "{label}: {ks} differs from rootfs"
            );
            ks_args.push(kickstart_kargs(&text));
        }
        // The blueprint carries every rootfs file it can place, with the same bytes;
        // what it cannot (bootc's kargs.d) it replaces with [customizations.kernel].
        let (bp_files, bp_args) = blueprint(&out.join(format!("blueprint/{profile}.toml")));
        let placeable: Files = root
            .iter()
            .filter(|(p, _)| !p.starts_with("/usr/lib/bootc/"))
            .map(|(p, b)| (p.clone(), b.clone()))
            .collect();
        assert_eq!(
            bp_files, placeable,
            "{label}: blueprint differs from rootfs"
        );

        // One kernel argument list everywhere.
        let kargs = bootc_kargs(&root);
        assert_eq!(ks_args[0], kargs, "{label}: kickstart kargs");
        assert_eq!(ks_args[1], kargs, "{label}: live kickstart kargs");
        assert_eq!(rpm_kargs(&out.join("rpm")), kargs, "{label}: RPM kargs");
        assert_eq!(bp_args, kargs, "{label}: blueprint kargs");
    }
}
