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
