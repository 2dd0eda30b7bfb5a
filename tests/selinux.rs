//! `selinux from-audit` through the binary: a corpus of real AVC lines
//! (tests/fixtures/avc/, each line's source in its README) becomes modules that
//! checkmodule compiles, with the same rules audit2allow writes; dangerous
//! rules are refused with a reason; `--add-to` keeps the profile as written.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use common::*;

fn corpus() -> Vec<PathBuf> {
    let dir = repo().join("tests/fixtures/avc");
    let mut v: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    assert!(v.len() >= 3, "the AVC corpus is missing: {v:?}");
    v
}

/// The `allow` rules of a .te or of audit2allow's output, normalised.
fn allow_rules(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("allow "))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn from_audit(
    log: &Path,
    name: &str,
    out: &Path,
    extra: &[&str],
) -> (std::process::Output, String) {
    let o = run(bin()
        .args(["selinux", "from-audit"])
        .arg(log)
        .args(["-n", name, "-o"])
        .arg(out)
        .args(extra));
    let te = fs::read_to_string(out.join(format!("{name}.te"))).unwrap_or_default();
    (o, te)
}

#[test]
fn the_corpus_becomes_modules_that_compile_with_audit2allows_rules() {
    let checkmodule = tool("checkmodule", "checkpolicy (apt)");
    let t = tempfile::tempdir().unwrap();
    for log in corpus() {
        let stem = log.file_stem().unwrap().to_string_lossy().replace('-', "_");
        let name = format!("{stem}_local");
        let out = t.path().join(&stem);
        let (o, te) = from_audit(&log, &name, &out, &["--allow-dangerous", "--json"]);
        assert!(o.status.success(), "{}: {}", log.display(), stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(v["denials"].as_u64().unwrap() > 0);
        assert_eq!(v["compiled"], true, "{}", log.display());
        let m = t.path().join(format!("{name}.mod"));
        let c = std::process::Command::new(&checkmodule)
            .args(["-M", "-m", "-o"])
            .arg(&m)
            .arg(out.join(format!("{name}.te")))
            .output()
            .unwrap();
        assert!(
            c.status.success(),
            "{}: {}",
            log.display(),
            String::from_utf8_lossy(&c.stderr)
        );
        // audit2allow's own output on the same file, recorded in the corpus
        // (`-p` Debian's policy): it drops denials whose types that policy does
        // not know (config_home_t, unconfined_service_t, ...; the README lists
        // them), so each of its rules must be ours, word for word.
        let recorded = log.with_extension("log.audit2allow.txt");
        let expected = fs::read_to_string(&recorded).unwrap();
        let ours = allow_rules(&te);
        for rule in allow_rules(&expected) {
            assert!(
                ours.contains(&rule),
                "{}: audit2allow wrote {rule:?}, we did not:\n{te}",
                log.display()
            );
        }
    }
}

#[test]
fn shadow_access_is_refused_with_a_reason() {
    let t = tempfile::tempdir().unwrap();
    let log = repo().join("tests/fixtures/avc/shadow.log");
    let (o, _) = from_audit(&log, "shadow_local", t.path(), &["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let refused = v["refused"].as_array().unwrap();
    assert!(
        refused
            .iter()
            .any(|r| r["rule"].as_str().unwrap().contains("shadow_t")
                && r["reason"].as_str().unwrap().contains("password")),
        "{v:#}"
    );
    let written = fs::read_to_string(t.path().join("shadow_local.te")).unwrap_or_default();
    assert!(!written.contains("shadow_t"), "{written}");
    assert!(!written.contains("permissive"), "{written}");
}

#[test]
fn junk_granted_and_hostile_lines_are_counted_not_used() {
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("x.log");
    fs::write(
        &log,
        "hello\n\
         type=AVC msg=audit(1700000000.1:1): avc:  granted  { setenforce } for  pid=1 comm=\"setenforce\" scontext=a:b:unconfined_t:s0 tcontext=a:b:security_t:s0 tclass=security\n\
         type=AVC msg=audit(1700000000.1:2): avc:  denied  { read } for  pid=1 comm=\"jackd\" scontext=a:b:init_t:s0 tcontext=a:b:sound_device_t:s0 tclass=chr_file permissive=0\n\
         type=AVC msg=audit(1700000000.1:3): avc:  denied  { read } for  pid=1 comm=\"x\" scontext=a:b:init_t;reboot:s0 tcontext=a:b:t:s0 tclass=file\n\
         type=AVC msg=audit(1700000000.1:4): avc:  den\n",
    )
    .unwrap();
    let (o, te) = from_audit(&log, "mix_local", t.path(), &["--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["denials"], 1);
    assert_eq!(v["granted_ignored"], 1);
    assert_eq!(v["unreadable"].as_array().unwrap().len(), 2);
    assert_eq!(
        allow_rules(&te),
        BTreeSet::from(["allow init_t sound_device_t:chr_file read;".to_string()])
    );
    assert!(!te.contains("reboot") && !te.contains("security_t"));

    let empty = t.path().join("empty.log");
    fs::write(&empty, "nothing here\n").unwrap();
    let (o, _) = from_audit(&empty, "e_local", t.path(), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no `avc: denied` record"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn add_to_keeps_the_profile_and_renders_the_module_everywhere() {
    let t = tempfile::tempdir().unwrap();
    let profile = t.path().join("studio.toml");
    let original = fs::read_to_string(repo().join("examples/studio.toml")).unwrap();
    fs::write(&profile, &original).unwrap();
    let log = corpus()
        .into_iter()
        .find(|p| p.ends_with("pipewire.log"))
        .unwrap();
    let o = run(bin()
        .args(["selinux", "from-audit"])
        .arg(&log)
        .args(["-n", "pw_local", "--add-to"])
        .arg(&profile));
    assert!(o.status.success(), "{}", stderr(&o));
    let changed = fs::read_to_string(&profile).unwrap();
    assert!(
        changed.starts_with(&original),
        "the profile's own text changed"
    );
    assert!(
        changed
            .contains("[[selinux.module]]\nname = \"pw_local\"\nfile = \"selinux/pw_local.te\"\n")
    );
    assert!(t.path().join("selinux/pw_local.te").is_file());

    // The same name again, with new denials: merged into the module (its
    // rules kept, the new ones added, the version raised); the profile, which
    // lists it already, is untouched.
    let te_path = t.path().join("selinux/pw_local.te");
    let first = fs::read_to_string(&te_path).unwrap();
    let jack = repo().join("tests/fixtures/avc/jack.log");
    let o = run(bin()
        .args(["selinux", "from-audit"])
        .arg(&jack)
        .args(["-n", "pw_local", "--add-to"])
        .arg(&profile));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&profile).unwrap(), changed);
    let merged = fs::read_to_string(&te_path).unwrap();
    assert!(merged.starts_with("module pw_local 1.1;\n"), "{merged}");
    assert!(allow_rules(&merged).is_superset(&allow_rules(&first)));
    assert!(
        merged.contains("allow staff_t self:capability ipc_lock;"),
        "{merged}"
    );

    let out = t.path().join("out");
    render(Some(&profile), &out);
    let ks = fs::read_to_string(out.join("kickstart/studio.ks")).unwrap();
    assert!(
        ks.contains(
            "semodule -n -X 200 -i /usr/share/selinux/packages/rtaudio-tuning/pw_local.cil"
        )
    );
    let containerfile = fs::read_to_string(out.join("bootc/Containerfile")).unwrap();
    assert!(containerfile.contains(
        "RUN semodule -n -X 200 -i /usr/share/selinux/packages/rtaudio-tuning/pw_local.cil"
    ));
    let o =
        run(bin()
            .arg("validate")
            .arg(&out)
            .args(["--only", "selinux", "--only", "consistency"]));
    assert!(o.status.success(), "{}", stdout(&o));
}

/// A character that would act on a terminal if printed raw (control, C1,
/// line and paragraph separators, bidirectional controls).
fn raw_control(s: &str) -> Option<char> {
    s.chars().find(|&c| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    })
}

/// The hostile module folders (tests/fixtures/hostile/NAME/profile.toml, the
/// corpus tests/hostile.rs renders) name, in `# names:`, the place in the
/// module's own file the refusal must point at.
#[test]
fn hostile_module_files_are_refused_at_their_line() {
    let dir = repo().join("tests/fixtures/hostile");
    let mut seen = 0;
    for e in fs::read_dir(&dir).unwrap() {
        let profile = e.unwrap().path().join("profile.toml");
        let Ok(text) = fs::read_to_string(&profile) else {
            continue;
        };
        let Some(names) = text.lines().find_map(|l| l.strip_prefix("# names: ")) else {
            continue;
        };
        seen += 1;
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        let o = run(bin().arg("render").arg(&profile).arg("-o").arg(&out));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", profile.display());
        assert!(
            err.contains(&format!("{names}: ")),
            "{}: {err}",
            profile.display()
        );
        assert!(
            raw_control(&err).is_none(),
            "{}: {err:?}",
            profile.display()
        );
        assert!(!out.exists());
    }
    assert!(seen >= 15, "the module folders are missing: {seen}");
}

/// tests/fixtures/hostile/avc/*.log: hostile audit logs, each saying what it
/// attacks and, in `# expect: exit N[, unreadable M][, refused R, part P]`,
/// what from-audit does: unreadable records skipped and listed, exit 2 when
/// nothing readable remains, never exit 1 for the tool's own bug; R rules
/// refused, each by the policy's part P, and named in the text report with
/// it; no raw control character in what it prints or writes; nothing written
/// when it refuses.
#[test]
fn hostile_audit_logs_are_skipped_or_refused() {
    let mut logs: Vec<PathBuf> = fs::read_dir(repo().join("tests/fixtures/hostile/avc"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    assert!(logs.len() >= 8, "{logs:?}");
    for log in logs {
        let text = String::from_utf8_lossy(&fs::read(&log).unwrap()).into_owned();
        assert!(text.starts_with("# Attacks: "), "{}", log.display());
        let expect = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{}: no `# expect:` line", log.display()));
        let (mut exit, mut unreadable, mut refused, mut by) = (None, None, None, None);
        for part in expect.split(", ") {
            match part.split_once(' ') {
                Some(("exit", n)) => exit = n.parse::<i32>().ok(),
                Some(("unreadable", n)) => unreadable = n.parse::<u64>().ok(),
                Some(("refused", n)) => refused = n.parse::<usize>().ok(),
                Some(("part", p)) => by = Some(p.to_string()),
                _ => panic!("{}: {part:?}", log.display()),
            }
        }
        for json in [false, true] {
            let t = tempfile::tempdir().unwrap();
            let out = t.path().join("out");
            let extra: &[&str] = if json { &["--json"] } else { &[] };
            let (o, te) = from_audit(&log, "hostile_local", &out, extra);
            let (so, se) = (stdout(&o), stderr(&o));
            assert_eq!(o.status.code(), exit, "{}:\n{so}\n{se}", log.display());
            assert!(raw_control(&so).is_none(), "{}: {so:?}", log.display());
            assert!(raw_control(&se).is_none(), "{}: {se:?}", log.display());
            assert!(raw_control(&te).is_none(), "{}: {te:?}", log.display());
            if exit != Some(0) {
                assert!(!out.exists(), "{}: written on refusal", log.display());
            }
            if let (true, Some(n)) = (json, unreadable) {
                let v: serde_json::Value = serde_json::from_str(&so).unwrap();
                assert_eq!(v["unreadable"].as_array().unwrap().len() as u64, n, "{v:#}");
            }
            if let Some(n) = refused {
                let by = by
                    .as_deref()
                    .unwrap_or_else(|| panic!("{}: no part", log.display()));
                if json {
                    let v: serde_json::Value = serde_json::from_str(&so).unwrap();
                    let r = v["refused"].as_array().unwrap();
                    assert_eq!(r.len(), n, "{}: {v:#}", log.display());
                    for r in r {
                        assert_eq!(r["part"], by, "{}: {r:#}", log.display());
                        assert!(!r["reason"].as_str().unwrap().is_empty());
                    }
                } else {
                    let says = format!("by the policy's {by} part: ");
                    assert_eq!(se.matches(&says).count(), n, "{}: {se}", log.display());
                }
            }
        }
    }
}

#[test]
fn input_is_bounded_and_only_logs_are_read() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    for (input, says) in [
        ("/dev/zero", "device"),
        ("/dev/null", "device"),
        ("/", "folder"),
    ] {
        let started = std::time::Instant::now();
        let (o, _) = from_audit(Path::new(input), "x_local", &out, &[]);
        assert_eq!(o.status.code(), Some(2), "{input}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{input}: {}", stderr(&o));
        assert!(started.elapsed().as_secs() < 10);
    }
    // A stream without end on standard input (`yes | ...`): refused at the
    // limit, with how to narrow it.
    let mut child = bin()
        .args(["selinux", "from-audit", "-", "-n", "x_local", "-o"])
        .arg(&out)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write as _;
        let chunk = "y\n".repeat(1 << 15);
        while stdin.write_all(chunk.as_bytes()).is_ok() {}
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("64 MiB") && stderr(&o).contains("ausearch"));
    assert!(!out.exists());

    // A FIFO is read like a file.
    let fifo = t.path().join("avc.fifo");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(ok.success());
    let log = fs::read(repo().join("tests/fixtures/avc/jack.log")).unwrap();
    let f2 = fifo.clone();
    let feeder = std::thread::spawn(move || fs::write(&f2, log).unwrap());
    let (o, te) = from_audit(&fifo, "fifo_local", &out, &[]);
    feeder.join().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(te.contains("allow staff_t"), "{te}");
}

/// `--add-to` through a symlink edits the real profile, which keeps its mode
/// and its hard links; a refused edit writes nothing, the module included.
#[test]
fn add_to_edits_the_real_file_in_place_or_nothing() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let t = tempfile::tempdir().unwrap();
    let real_dir = t.path().join("profiles");
    fs::create_dir(&real_dir).unwrap();
    let real = real_dir.join("studio.toml");
    let original = "version = 1\nname = \"studio\"\n";
    fs::write(&real, original).unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
    let link = real_dir.join("link.toml");
    std::os::unix::fs::symlink("studio.toml", &link).unwrap();
    let hard = t.path().join("hard.toml");
    fs::hard_link(&real, &hard).unwrap();
    let log = repo().join("tests/fixtures/avc/jack.log");
    let o = run(bin()
        .args(["selinux", "from-audit"])
        .arg(&log)
        .args(["-n", "jack_local", "--add-to"])
        .arg(&link));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    let edited = fs::read_to_string(&real).unwrap();
    assert!(edited.starts_with(original) && edited.contains("name = \"jack_local\""));
    assert_eq!(
        fs::read_to_string(&hard).unwrap(),
        edited,
        "hard link split"
    );
    let meta = fs::metadata(&real).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o640);
    assert_eq!(meta.nlink(), 2);
    assert!(real_dir.join("selinux/jack_local.te").is_file());
    // The profile renders with the module.
    let out = t.path().join("out");
    render(Some(&link), &out);

    // A profile that cannot take the entry: refused, nothing written.
    let inline = t.path().join("inline");
    fs::create_dir(&inline).unwrap();
    let p = inline.join("p.toml");
    fs::write(&p, "version = 1\nselinux = { module = [] }\n").unwrap();
    let o = run(bin()
        .args(["selinux", "from-audit"])
        .arg(&log)
        .args(["-n", "jack_local", "--add-to"])
        .arg(&p));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing was written"), "{}", stderr(&o));
    assert_eq!(
        fs::read_dir(&inline).unwrap().count(),
        1,
        "a module was left behind"
    );

    // A module file that is not from-audit's: refused with its line, untouched.
    let mine = t.path().join("mine");
    fs::create_dir(&mine).unwrap();
    let te = "module mine_local 1.0;\ntype_transition a_t b_t:file c_t;\n";
    fs::write(mine.join("mine_local.te"), te).unwrap();
    let (o, after) = from_audit(&log, "mine_local", &mine, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("mine_local.te line 2"),
        "{}",
        stderr(&o)
    );
    assert_eq!(after, te);
}

/// `--add-to` through a symlink in another folder: the profile edited is the
/// real file, and the module goes beside it, where the profile names it from;
/// both paths then render it, and a second run merges into that module.
#[test]
fn add_to_through_a_symlink_writes_beside_the_real_profile() {
    let t = tempfile::tempdir().unwrap();
    let (real_dir, link_dir) = (t.path().join("fleet"), t.path().join("mine"));
    fs::create_dir(&real_dir).unwrap();
    fs::create_dir(&link_dir).unwrap();
    let real = real_dir.join("studio.toml");
    let original = "version = 1\nname = \"studio\"\n";
    fs::write(&real, original).unwrap();
    let link = link_dir.join("studio.toml");
    std::os::unix::fs::symlink("../fleet/studio.toml", &link).unwrap();
    let add = |log: &str| {
        run(bin()
            .args(["selinux", "from-audit"])
            .arg(repo().join("tests/fixtures/avc").join(log))
            .args(["-n", "jack_local", "--add-to"])
            .arg(&link))
    };
    let o = add("jack.log");
    assert!(o.status.success(), "{}", stderr(&o));
    let te = real_dir.join("selinux/jack_local.te");
    assert!(te.is_file(), "{:?}", listing(&real_dir));
    assert_eq!(
        listing(&link_dir),
        ["studio.toml"],
        "written beside the link"
    );
    assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    let edited = fs::read_to_string(&real).unwrap();
    assert!(
        edited.starts_with(original)
            && edited.contains("name = \"jack_local\"\nfile = \"selinux/jack_local.te\"\n"),
        "{edited}"
    );
    for (i, profile) in [&link, &real].into_iter().enumerate() {
        let out = t.path().join(format!("out{i}"));
        render(Some(profile), &out);
        assert!(
            fs::read_to_string(out.join("kickstart/studio.ks"))
                .unwrap()
                .contains("jack_local.cil"),
            "{}",
            profile.display()
        );
    }

    // Again through the link, with new denials: merged into the real
    // profile's module, the profile untouched.
    let o = add("rtkit.log");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&real).unwrap(), edited);
    let merged = fs::read_to_string(&te).unwrap();
    assert!(merged.starts_with("module jack_local 1.1;\n"), "{merged}");
    assert!(merged.contains("allow staff_t self:capability ipc_lock;"));
    assert!(merged.contains("allow rtkit_daemon_t systemd_logind_t:dbus send_msg;"));
    assert_eq!(listing(&link_dir), ["studio.toml"]);
}

/// A module merged into keeps the comment lines above its `module` line, and
/// still compiles.
#[test]
fn a_merge_keeps_the_comments_above_the_module_line() {
    let t = tempfile::tempdir().unwrap();
    let avc = repo().join("tests/fixtures/avc");
    let (o, te) = from_audit(&avc.join("jack.log"), "studio_local", t.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let preamble =
        "# Studio A's module: reviewed 2026-01-12.\n#\n# Ask the audio team before loading it.\n\n";
    fs::write(t.path().join("studio_local.te"), format!("{preamble}{te}")).unwrap();
    let (o, merged) = from_audit(
        &avc.join("rtkit.log"),
        "studio_local",
        t.path(),
        &["--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["merged"], true, "{v:#}");
    assert!(
        merged.starts_with(&format!("{preamble}module studio_local 1.1;\n")),
        "{merged}"
    );
    assert!(allow_rules(&merged).is_superset(&allow_rules(&te)));
    tool("checkmodule", "checkpolicy (apt)");
    assert_eq!(v["compiled"], true, "{v:#}");
}

/// README's account of the from-audit policy names every device and
/// capability the policy allows, and every permission it counts as a write.
#[test]
fn the_readme_states_the_policys_lists() {
    use rtaudio_tuning::selinux::rules::{CAPS_ALLOWED, DEVICES, WRITES};
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme.find("**The from-audit policy.**").unwrap();
    let policy = &readme[start..];
    let policy = &policy[..policy.find("\n## ").unwrap()];
    for name in DEVICES.iter().chain(CAPS_ALLOWED).chain(WRITES) {
        assert!(
            policy.contains(&format!("`{name}`")),
            "README leaves out {name}"
        );
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// A field's value: a name, a keyword, a near-name, or any bytes at all.
    fn field() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            "[a-z][a-z0-9_]{0,8}_t".prop_map(String::into_bytes),
            proptest::sample::select(
                &[
                    "module",
                    "TYPE",
                    "self",
                    "allow",
                    "0day_t",
                    "a-b_t",
                    "domain",
                    "file_type"
                ][..]
            )
            .prop_map(|s| s.as_bytes().to_vec()),
            proptest::collection::vec(any::<u8>(), 0..24),
            proptest::collection::vec(
                proptest::sample::select(
                    &[
                        b'\r', 0x0b, 0x0c, 0x1b, 0x1c, 0x1e, b'"', b'}', b'{', b'=', b':', b' ',
                        0xc2, 0x85, 0x9b, 0xe2, 0x80, 0xa8, b'a', 0
                    ][..]
                ),
                0..12,
            ),
        ]
    }

    fn record(f: &[Vec<u8>]) -> Vec<u8> {
        let mut out = b"type=AVC msg=audit(1700000000.1:9): avc:  denied  { ".to_vec();
        let parts: [(&[u8], &Vec<u8>); 6] = [
            (b"", &f[0]),
            (b" } for  pid=1 comm=\"", &f[1]),
            (b"\" scontext=system_u:system_r:", &f[2]),
            (b":s0 tcontext=", &f[3]),
            (b":object_r:", &f[4]),
            (b":s0 tclass=", &f[5]),
        ];
        for (lit, v) in parts {
            out.extend_from_slice(lit);
            out.extend_from_slice(v);
        }
        out.extend_from_slice(b" permissive=0\n");
        out
    }

    /// A shape the policy refuses: (source, target, class, permissions).
    type Shape = (String, String, String, Vec<String>);

    /// Sources none of the corpus's denials has, so a generated rule never
    /// joins a real one.
    const SOURCES: &[&str] = &["jackd_t", "pipewire_t", "wireplumber_t", "ardour_t"];

    use rtaudio_tuning::selinux::rules::{CAPS_ALLOWED as CAPS, DEVICES, WRITES};

    fn source() -> impl Strategy<Value = String> {
        proptest::sample::select(SOURCES).prop_map(String::from)
    }

    /// A write to a system type: a named one, or one of another program
    /// known by its ending.
    fn foreign_write() -> impl Strategy<Value = Shape> {
        let target = prop_oneof![
            proptest::sample::select(
                &[
                    "passwd_file_t",
                    "etc_t",
                    "bin_t",
                    "lib_t",
                    "boot_t",
                    "usr_t",
                    "systemd_unit_file_t",
                    "var_lib_t",
                    "var_log_t",
                    "root_t",
                    "modules_object_t",
                    "sysctl_kernel_t",
                    "cert_t",
                    "default_t",
                ][..]
            )
            .prop_map(String::from),
            "(httpd|sshd|cron|rpm|named|postfix|[a-z]{2,6})_(exec|conf|etc|log|unit_file|var_lib|var_run|cache|spool)_t",
        ];
        let perms = proptest::collection::btree_set(proptest::sample::select(WRITES), 1..4);
        (
            source(),
            target,
            proptest::sample::select(&["file", "dir", "lnk_file"][..]),
            perms,
        )
            // Not a type of the source's own (`ardour_cache_t` is ardour_t's).
            .prop_filter("the source's own type", |(s, t, _, _)| {
                !t.starts_with(s.trim_end_matches("_t"))
            })
            .prop_map(|(s, t, c, p)| {
                // Folders' own permissions only on folders.
                let dir_only = ["add_name", "remove_name", "reparent", "rmdir"];
                let mut p: Vec<String> = p
                    .into_iter()
                    .filter(|p| c == "dir" || !dir_only.contains(p))
                    .map(String::from)
                    .collect();
                if p.is_empty() {
                    p.push("write".into());
                }
                (s, t, c.to_string(), p)
            })
    }

    /// A capability off the list, in any of the four classes.
    fn strong_capability() -> impl Strategy<Value = Shape> {
        let cap = proptest::sample::select(
            &[
                ("chown", 0),
                ("dac_override", 0),
                ("dac_read_search", 0),
                ("fowner", 0),
                ("fsetid", 0),
                ("kill", 0),
                ("setgid", 0),
                ("setuid", 0),
                ("setpcap", 0),
                ("linux_immutable", 0),
                ("net_bind_service", 0),
                ("net_admin", 0),
                ("net_raw", 0),
                ("ipc_owner", 0),
                ("sys_module", 0),
                ("sys_rawio", 0),
                ("sys_chroot", 0),
                ("sys_ptrace", 0),
                ("sys_admin", 0),
                ("sys_boot", 0),
                ("sys_time", 0),
                ("mknod", 0),
                ("audit_control", 0),
                ("setfcap", 0),
                ("mac_override", 2),
                ("mac_admin", 2),
                ("syslog", 2),
                ("perfmon", 2),
                ("bpf", 2),
                ("checkpoint_restore", 2),
                ("audit_read", 2),
            ][..],
        );
        (source(), cap, any::<bool>(), proptest::sample::select(CAPS)).prop_map(
            |(s, (c, two), userns, ok)| {
                let class = match (two, userns) {
                    (0, false) => "capability",
                    (0, true) => "cap_userns",
                    (_, false) => "capability2",
                    (_, true) => "cap2_userns",
                };
                (
                    s.clone(),
                    s,
                    class.to_string(),
                    vec![c.to_string(), ok.to_string()],
                )
            },
        )
    }

    /// A device off the list, or any block device.
    fn device() -> impl Strategy<Value = Shape> {
        let dev = prop_oneof![
            proptest::sample::select(
                &[
                    "fixed_disk_device_t",
                    "removable_device_t",
                    "scsi_generic_device_t",
                    "memory_device_t",
                    "kmsg_device_t",
                    "cpu_device_t",
                    "tty_device_t",
                    "kvm_device_t",
                    "tpm_device_t",
                    "device_t",
                    "lvm_control_t",
                ][..]
            )
            .prop_map(String::from),
            "[a-z]{2,9}_device_t"
                .prop_filter("an allowed device", |t| !DEVICES.contains(&t.as_str())),
        ];
        // Off the list as a character or a block device; on it, as a block
        // device (a block device is never allowed).
        let node = prop_oneof![
            (dev, any::<bool>()),
            (
                proptest::sample::select(DEVICES).prop_map(String::from),
                Just(true)
            ),
        ];
        (
            source(),
            node,
            proptest::sample::select(&["read", "write", "open", "ioctl", "getattr"][..]),
        )
            .prop_map(|(s, (t, blk), p)| {
                let class = if blk { "blk_file" } else { "chr_file" };
                (s, t, class.to_string(), vec![p.to_string()])
            })
    }

    fn avc(n: usize, (s, t, class, perms): &Shape) -> String {
        let role = |t: &str| {
            if SOURCES.contains(&t) {
                "system_r"
            } else {
                "object_r"
            }
        };
        format!(
            "type=AVC msg=audit(1700000000.1:{n}): avc:  denied  {{ {} }} for  pid={n} comm=\"x\" scontext=system_u:system_r:{s}:s0 tcontext=system_u:{}:{t}:s0 tclass={class} permissive=0\n",
            perms.join(" "),
            role(t)
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Class 7: arbitrary bytes in every field of an AVC record, beside a
        /// good one: never exit 1 (with --allow-dangerous nothing is refused
        /// as a verdict, so exit 1 could only be our bug), never a raw control
        /// character printed or written.
        #[test]
        fn avc_fields_with_any_bytes_are_read_or_skipped(fields in proptest::collection::vec(field(), 6)) {
            let t = tempfile::tempdir().unwrap();
            let log = t.path().join("x.log");
            let mut data = b"type=AVC msg=audit(1700000000.1:2): avc:  denied  { read } for  pid=1 comm=\"jackd\" scontext=system_u:system_r:jackd_t:s0 tcontext=system_u:object_r:sound_device_t:s0 tclass=chr_file\n".to_vec();
            data.extend(record(&fields));
            fs::write(&log, &data).unwrap();
            for extra in [&["--allow-dangerous"][..], &["--allow-dangerous", "--json"][..]] {
                let out = t.path().join(format!("out{}", extra.len()));
                let (o, te) = from_audit(&log, "prop_local", &out, extra);
                let (so, se) = (stdout(&o), stderr(&o));
                prop_assert_eq!(o.status.code(), Some(0), "{}\n{}", so, se);
                prop_assert!(raw_control(&so).is_none(), "{:?}", so);
                prop_assert!(raw_control(&se).is_none(), "{:?}", se);
                prop_assert!(raw_control(&te).is_none(), "{:?}", te);
            }
        }

        /// Class 3: attributes and names that are no type, as source or
        /// target of a denial, are refused with a reason without
        /// --allow-dangerous.
        #[test]
        fn attributes_and_unknown_types_are_refused(
            wide in prop_oneof![
                proptest::sample::select(&["domain", "file_type", "exec_type", "unconfined_domain_type", "userdomain", "dev_node", "staff_usertype", "system_cron_spool_t"][..]).prop_map(String::from),
                // No checkpolicy keyword ends so: these are readable names.
                "[a-z][a-z0-9]{0,8}(_domain|_file|_attr|_objs)",
            ],
            as_source in any::<bool>(),
        ) {
            let t = tempfile::tempdir().unwrap();
            let log = t.path().join("x.log");
            let (s, tt) = if as_source { (wide.as_str(), "etc_t") } else { ("jackd_t", wide.as_str()) };
            fs::write(&log, format!(
                "type=AVC msg=audit(1700000000.1:2): avc:  denied  {{ read write }} for  pid=1 comm=\"jackd\" scontext=system_u:system_r:{s}:s0 tcontext=system_u:object_r:{tt}:s0 tclass=file\n"
            )).unwrap();
            let out = t.path().join("out");
            let (o, _) = from_audit(&log, "prop_local", &out, &["--json"]);
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let refused = v["refused"].as_array().unwrap();
            prop_assert_eq!(refused.len(), 1, "{:#}", v);
            let side = if as_source { "source" } else { "target" };
            let reason = refused[0]["reason"].as_str().unwrap();
            prop_assert!(reason.contains(&format!("its {side} `{wide}`")), "{}", reason);
            prop_assert!(!out.exists());
        }

        /// Rules of every shape the policy refuses (writes to system types,
        /// capabilities off the list, devices off the list and block
        /// devices), mixed into real audio denials: each is refused, none
        /// is written, and every rule audit2allow made from the real ones
        /// still is.
        #[test]
        fn refused_shapes_are_refused_among_real_denials(
            shapes in proptest::collection::vec(prop_oneof![foreign_write(), strong_capability(), device()], 1..6),
        ) {
            let t = tempfile::tempdir().unwrap();
            let avc_dir = repo().join("tests/fixtures/avc");
            let mut log = String::new();
            let mut expected = BTreeSet::new();
            for f in ["jack", "pipewire", "rtkit"] {
                log.push_str(&fs::read_to_string(avc_dir.join(format!("{f}.log"))).unwrap());
                expected.extend(allow_rules(&fs::read_to_string(avc_dir.join(format!("{f}.log.audit2allow.txt"))).unwrap()));
            }
            for (i, shape) in shapes.iter().enumerate() {
                log.push_str(&avc(900 + i, shape));
            }
            let path = t.path().join("x.log");
            fs::write(&path, &log).unwrap();
            let out = t.path().join("out");
            let (o, te) = from_audit(&path, "prop_local", &out, &["--json"]);
            prop_assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let refused: Vec<&str> = v["refused"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
            for (s, tt, class, _) in &shapes {
                let target = if s == tt { "self" } else { tt.as_str() };
                let head = format!("allow {s} {target}:{class} ");
                prop_assert!(refused.iter().any(|r| r.starts_with(&head)), "{} not refused: {:#}", head, v);
                prop_assert!(!te.contains(&head), "{} written:\n{}", head, te);
            }
            let written = allow_rules(&te);
            for rule in &expected {
                prop_assert!(written.contains(rule), "{} refused: {:#}", rule, v);
            }
        }

        /// Class 3: .fc lines with broken expressions, trailing backslashes
        /// and levels an MCS policy has not are refused at render, with the
        /// key and the .fc line.
        #[test]
        fn broken_file_contexts_are_refused_with_the_key(
            bad in prop_oneof![
                "/opt/[a-z]{1,6}(\\[|\\(|\\{2,1\\}|\\)|\\*\\*|\\(\\?<)".prop_map(|p| format!("{p}\tsystem_u:object_r:etc_t:s0")),
                "/opt/[a-z]{1,6}(\\\\\\\\)*\\\\".prop_map(|p| format!("{p}\tsystem_u:object_r:etc_t:s0")),
                (1u32..100_000).prop_map(|s| format!("/opt/x\tsystem_u:object_r:etc_t:s{s}")),
                (1024u32..1_000_000).prop_map(|c| format!("/opt/x\tsystem_u:object_r:etc_t:s0-s0:c0.c{c}")),
                (1u32..1023).prop_map(|c| format!("/opt/x\tsystem_u:object_r:etc_t:s0:c{c}-s0:c0.c{}", c - 1)),
            ],
            before in 0usize..3,
        ) {
            let t = tempfile::tempdir().unwrap();
            fs::create_dir(t.path().join("selinux")).unwrap();
            fs::write(t.path().join("selinux/p_local.te"), "module p_local 1.0;\nrequire {\n\ttype etc_t;\n\tclass file { read };\n}\nallow etc_t self:file read;\n").unwrap();
            // Good lines before the bad one, each its own path (one path
            // twice is refused too).
            let good: String = (0..before).map(|i| format!("/srv/ok{i}(/.*)?\tsystem_u:object_r:etc_t:s0\n")).collect();
            let fc = format!("{good}{bad}\n");
            fs::write(t.path().join("selinux/p_local.fc"), fc).unwrap();
            let profile = t.path().join("p.toml");
            fs::write(&profile, "version = 1\n[[selinux.module]]\nname = \"p_local\"\nfile = \"selinux/p_local.te\"\nfc = \"selinux/p_local.fc\"\n").unwrap();
            let out = t.path().join("out");
            let o = run(bin().arg("render").arg(&profile).arg("-o").arg(&out));
            let err = stderr(&o);
            prop_assert_eq!(o.status.code(), Some(2), "{}", err);
            prop_assert!(err.contains("error: selinux.module[0].fc: "), "{}", err);
            let line_text = format!("selinux/p_local.fc line {}: ", before + 1);
            prop_assert!(err.contains(&line_text), "{}", err);
            prop_assert!(!out.exists());
        }
    }
}
