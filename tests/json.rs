//! Every command's `--json` output is one document with the same envelope
//! (README, "JSON documents"): `schema`, `command`, `version`, `ok`, then the
//! command's own fields, each key once; `ok` is true exactly when the exit
//! code is 0. Run through the real binary, on success and on refusal.

mod common;

use std::fs;
use std::process::Output;

use common::*;

/// The document `o` printed, after checking its envelope.
fn document(o: &Output, command: &str) -> serde_json::Value {
    let text = stdout(o);
    let v: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{command}: not one JSON document ({e}):\n{text}"));
    assert_eq!(v["schema"], 1, "{command}: {v:#}");
    assert_eq!(v["command"], command, "{v:#}");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"), "{v:#}");
    assert_eq!(
        v["ok"],
        o.status.code() == Some(0),
        "{command}: exit {:?}, {v:#}",
        o.status
    );
    // Top-level keys are the lines indented by two spaces: each once (a
    // payload field named like an envelope key would repeat it).
    let mut keys: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("  \""))
        .filter_map(|l| l.split_once("\":").map(|(k, _)| k))
        .collect();
    let all = keys.len();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), all, "{command}: a key repeats:\n{text}");
    conforms(&v, &schema_name(command, &v));
    v
}

/// The name `rtaudio-tuning schema` gives the schema of this document.
fn schema_name(command: &str, v: &serde_json::Value) -> String {
    match command {
        "validate" if v.get("validators").is_some() => "validate-list".into(),
        "check" if v.get("root").is_none() => "check-list".into(),
        c => c.replace(' ', "-"),
    }
}

/// `doc` is valid against the schema the binary publishes for it, as a
/// JSON Schema validator (Python's jsonschema, Draft 2020-12) reads it.
fn conforms(doc: &serde_json::Value, name: &str) {
    let o = run(bin().args(["schema", name]));
    assert!(o.status.success(), "schema {name}: {}", stderr(&o));
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("schema.json"), &o.stdout).unwrap();
    fs::write(dir.path().join("doc.json"), doc.to_string()).unwrap();
    let python = repo().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "unavailable: .venv/bin/python; run scripts/test, which installs jsonschema there"
    );
    let check = "import json, sys, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        jsonschema.Draft202012Validator.check_schema(schema)\n\
        errors = [f'{list(e.absolute_path)}: {e.message}' for e in \
                  jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2])))]\n\
        print('\\n'.join(errors)); sys.exit(1 if errors else 0)\n";
    let o = run(std::process::Command::new(python)
        .arg("-c")
        .arg(check)
        .arg(dir.path().join("schema.json"))
        .arg(dir.path().join("doc.json")));
    assert!(
        o.status.success(),
        "{name}: the document does not match its schema:\n{}{}\n{doc:#}",
        stdout(&o),
        stderr(&o)
    );
}

#[test]
fn render_fleet_validate_and_rpm_print_one_envelope() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let o = run(bin().args(["render", "--json", "-o"]).arg(&out));
    let v = document(&o, "render");
    assert!(v["files"].as_u64().unwrap() > 10, "{v:#}");

    let bad = t.path().join("bad.toml");
    fs::write(&bad, "version = 1\n[realtime]\nrtprio = 150\n").unwrap();
    let o = run(bin()
        .args(["render", "--json", "-o"])
        .arg(t.path().join("o2"))
        .arg(&bad));
    assert_eq!(o.status.code(), Some(2));
    let v = document(&o, "render");
    assert_eq!(v["problems"][0]["key"], "realtime.rtprio");
    // A failure that is not the profile's (an unreadable profile).
    let o = run(bin()
        .args(["render", "--json", "-o"])
        .arg(t.path().join("o3"))
        .arg(t.path().join("missing.toml")));
    assert_eq!(o.status.code(), Some(2));
    document(&o, "render");

    let o = run(bin()
        .args(["validate", "--json", "--only", "dropins"])
        .arg(&out));
    let v = document(&o, "validate");
    assert_eq!(v["results"][0]["name"], "dropins", "{v:#}");
    let o = run(bin().args(["validate", "--json"]).arg(&bad));
    assert_eq!(o.status.code(), Some(2));
    document(&o, "validate");
    let o = run(bin().args(["validate", "--list", "--json"]));
    let v = document(&o, "validate");
    assert!(!v["validators"].as_array().unwrap().is_empty());

    let o = run(bin()
        .args(["fleet", "--json", "-o"])
        .arg(t.path().join("fleet"))
        .arg(repo().join("examples/fleet/room.toml")));
    let v = document(&o, "fleet");
    assert_eq!(v["hosts"], 3, "{v:#}");

    let o = run(bin()
        .args(["rpm", "--json", "-o"])
        .arg(t.path().join("rpms"))
        .arg(&out));
    let v = document(&o, "rpm");
    let package = v["package"].as_str().unwrap();
    assert!(
        package.ends_with(".noarch.rpm") && fs::metadata(package).is_ok(),
        "{v:#}"
    );
    let o = run(bin()
        .args(["rpm", "--json", "-o"])
        .arg(t.path().join("rpms"))
        .arg(&bad));
    assert_eq!(o.status.code(), Some(2));
    let v = document(&o, "rpm");
    assert_eq!(v["package"], serde_json::Value::Null);
    assert_eq!(v["problems"][0]["key"], "realtime.rtprio");
    // Not a tree and not a profile: the error is the document's problem.
    let o = run(bin()
        .args(["rpm", "--json", "-o"])
        .arg(t.path().join("rpms"))
        .arg(t.path()));
    assert_eq!(o.status.code(), Some(2));
    let v = document(&o, "rpm");
    assert!(
        v["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("is not a rendered tree"),
        "{v:#}"
    );
}

#[test]
fn check_from_audit_and_latency_print_one_envelope() {
    let machine = repo().join("tests/fixtures/machines/rt-hda");
    let o = run(bin().args(["check", "--json", "--root"]).arg(&machine));
    let v = document(&o, "check");
    assert!(!v["checks"].as_array().unwrap().is_empty(), "{v:#}");
    let o = run(bin().args(["check", "--list", "--json"]));
    let v = document(&o, "check");
    assert!(v["checks"][0]["id"].is_string(), "{v:#}");

    let t = tempfile::tempdir().unwrap();
    let o = run(bin()
        .args(["selinux", "from-audit"])
        .arg(repo().join("tests/fixtures/avc/jack.log"))
        .args(["-n", "jack_local", "--json", "-o"])
        .arg(t.path()));
    let v = document(&o, "selinux from-audit");
    assert!(!v["rules"].as_array().unwrap().is_empty(), "{v:#}");
    // Every rule refused: nothing written, exit 1, still one document.
    let shadow = t.path().join("shadow.log");
    fs::write(
        &shadow,
        "type=AVC msg=audit(1700000000.000:1): avc:  denied  { read } for  pid=1 comm=\"jackd\" name=\"shadow\" scontext=system_u:system_r:jackd_t:s0 tcontext=system_u:object_r:shadow_t:s0 tclass=file permissive=0\n",
    )
    .unwrap();
    let o = run(bin()
        .args(["selinux", "from-audit"])
        .arg(&shadow)
        .args(["-n", "shadow_local", "--json", "-o"])
        .arg(t.path()));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = document(&o, "selinux from-audit");
    assert_eq!(v["refused"].as_array().unwrap().len(), 1, "{v:#}");

    let o = run(bin().args(["latency", "--duration", "0.2", "--cpus", "0", "--json"]));
    let v = document(&o, "latency");
    assert!(v["threads"].is_array() || v["error"].is_string(), "{v:#}");
}

#[test]
fn published_schemas_are_the_binarys() {
    let t = tempfile::tempdir().unwrap();
    let o = run(bin().arg("schema").arg("-o").arg(t.path().join("s")));
    assert!(o.status.success(), "{}", stderr(&o));
    let names =
        |files: &[(String, Vec<u8>)]| files.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let (fresh, kept) = (tree(&t.path().join("s")), tree(&repo().join("schemas")));
    assert_eq!(
        names(&fresh),
        names(&kept),
        "schemas/ lists other documents"
    );
    let stale: Vec<&str> = fresh
        .iter()
        .zip(&kept)
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, _)| a.0.as_str())
        .collect();
    assert!(
        stale.is_empty(),
        "schemas/ is stale ({stale:?}): run scripts/update-reference and commit the result"
    );
    // An unknown name is bad input, with the nearest one.
    let o = run(bin().args(["schema", "chek"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean check"), "{}", stderr(&o));
}

#[test]
fn a_command_that_stops_before_its_work_still_prints_its_document() {
    let t = tempfile::tempdir().unwrap();
    let machine = repo().join("tests/fixtures/machines/rt-hda");
    let bad = t.path().join("bad.toml");
    fs::write(&bad, "version = 1\n[cpu]\ngovernor = \"perfomance\"\n").unwrap();
    let missing = t.path().join("missing.toml");
    let cases: Vec<(&str, Vec<std::ffi::OsString>, &str)> = vec![
        (
            "validate",
            args(&["validate", "--json"], &[t.path()]),
            "not a rendered tree",
        ),
        (
            "validate",
            args(
                &["validate", "--json", "--only", "units", "--skip", "units"],
                &[],
            ),
            "--only units and --skip units",
        ),
        (
            "check",
            args(
                &["check", "--json", "--user", "nosuch", "--root"],
                &[&machine],
            ),
            "nosuch",
        ),
        (
            "check",
            args(
                &["check", "--json", "--only", "user", "--skip", "user"],
                &[],
            ),
            "--only user and --skip user",
        ),
        (
            "check",
            args(&["check", "--json", "--root"], &[&machine, &bad]),
            "perfomance",
        ),
        (
            "latency",
            args(&["latency", "--json", "--cpus", "8000"], &[]),
            "8000",
        ),
        (
            "fleet",
            args(&["fleet", "--json", "-o", "out"], &[&missing]),
            "missing.toml",
        ),
        (
            "rpm",
            args(&["rpm", "--json", "-o", "out"], &[&missing]),
            "missing.toml",
        ),
        (
            "selinux from-audit",
            args(
                &["selinux", "from-audit", "--json", "--name", "x"],
                &[&missing],
            ),
            "missing.toml",
        ),
    ];
    for (command, argv, said) in cases {
        let o = run(bin().current_dir(t.path()).args(&argv));
        assert_eq!(o.status.code(), Some(2), "{argv:?}: {}", stderr(&o));
        let v = document(&o, command);
        let problems = v["problems"].to_string();
        assert!(problems.contains(said), "{argv:?}: {said} not in {v:#}");
    }
}

/// Words, then paths, as the arguments of a command line.
fn args(words: &[&str], paths: &[&std::path::Path]) -> Vec<std::ffi::OsString> {
    words
        .iter()
        .map(std::ffi::OsString::from)
        .chain(paths.iter().map(|p| p.as_os_str().to_owned()))
        .collect()
}
