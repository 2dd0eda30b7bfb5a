//! The profile's JSON Schema (`rtaudio-tuning schema profile`), as editors
//! read it: taplo (the TOML engine of VS Code's Even Better TOML, installed by
//! scripts/test) accepts every example and the default profile, and flags the
//! mistakes a person makes (a misspelt key or value, a priority out of range);
//! and the schema knows exactly the keys the parser knows, table by table, so
//! neither can grow a key the other lacks.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

fn schema() -> serde_json::Value {
    let o = run(bin().args(["schema", "profile"]));
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn taplo() -> PathBuf {
    let t = repo().join(".node/node_modules/.bin/taplo");
    assert!(
        t.is_file(),
        "unavailable: taplo; run scripts/test, which installs @taplo/cli into .node/"
    );
    t
}

/// taplo's verdict on `file` against `schema`: its exit code and errors.
fn lint(schema: &Path, file: &Path) -> (bool, String) {
    let o = run(std::process::Command::new(taplo())
        .args(["lint", "--no-auto-config", "--schema"])
        .arg(format!("file://{}", schema.display()))
        .arg(file));
    let errors: Vec<String> = stderr(&o)
        .lines()
        .filter(|l| l.starts_with("error"))
        .map(str::to_string)
        .collect();
    (o.status.success(), errors.join("\n"))
}

#[test]
fn taplo_accepts_the_examples_and_flags_a_persons_mistakes() {
    let t = tempfile::tempdir().unwrap();
    let schema_file = t.path().join("profile.schema.json");
    fs::write(&schema_file, schema().to_string()).unwrap();

    let default = t.path().join("studio.toml");
    let o = run(bin().arg("init").arg(&default));
    assert!(o.status.success(), "{}", stderr(&o));
    let mut profiles = examples();
    profiles.push(default);
    // Valid spellings a schema can get wrong: dotted sysctl keys (tables in
    // TOML), inline tables, memlock in KiB, every key of the arrays of tables.
    let spellings = t.path().join("spellings.toml");
    fs::write(
        &spellings,
        "version = 1\nrealtime = { memlock = 4194304, gid = 971, group = \"rt\" }\n\
         [sysctl]\nvm.swappiness = 10\n\"kernel.sched_rt_runtime_us\" = -1\n\
         net.ipv4.conf.all.rp_filter = 1\n\
         [sysctl.fs.inotify]\nmax_user_watches = 524288\n\
         [[users]]\nname = \"musician\"\ngroups = [\"audio\", \"video\"]\n\
         password_hash = \"$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.\"\n\
         ssh_keys = []\n\
         [[audio.alsa]]\nnode = \"alsa_output.usb-*\"\nperiod_size = 256\nheadroom = 0\n\
         [[irq.priority]]\nmatch = \"snd\"\nprio = 90\n",
    )
    .unwrap();
    // The tool accepts it too.
    let o = run(bin()
        .arg("render")
        .arg(&spellings)
        .arg("-o")
        .arg(t.path().join("sp")));
    assert!(o.status.success(), "{}", stderr(&o));
    profiles.push(spellings);
    for p in &profiles {
        let (ok, errors) = lint(&schema_file, p);
        assert!(ok, "{}: taplo refuses it:\n{errors}", p.display());
    }

    let bad = t.path().join("bad.toml");
    fs::write(
        &bad,
        "version = 1\n[cpu]\ngovernor = \"perfomance\"\n[realtime]\nrtprio = 150\n\
         [audio]\nquantum = 100\nserver = \"pulse\"\n[kernal]\nflavor = \"rt\"\n\
         [[users]]\nname = \"a\"\nshell = \"/bin/zsh\"\n",
    )
    .unwrap();
    let (ok, errors) = lint(&schema_file, &bad);
    assert!(!ok);
    for expected in [
        "\"perfomance\" is not one of",
        "150 is greater than the maximum of 99",
        "100 is not one of",
        "\"pulse\" is not one of",
        "'kernal' was unexpected",
        "'shell' was unexpected",
    ] {
        assert!(
            errors.contains(expected),
            "taplo missed {expected}:\n{errors}"
        );
    }
    // The tool refuses the same profile (and says more: line, column, fix).
    let o = run(bin()
        .arg("render")
        .arg(&bad)
        .arg("-o")
        .arg(t.path().join("out")));
    assert_eq!(o.status.code(), Some(2));
}

/// The properties the schema allows in the table at `path` (`users`,
/// `irq.priority`; "" for the top level), following `$ref`s and arrays.
fn schema_keys(schema: &serde_json::Value, path: &str) -> Vec<String> {
    let mut at = resolve(schema, schema);
    for part in path.split('.').filter(|p| !p.is_empty()) {
        at = resolve(schema, &at["properties"][part]);
    }
    let props = at["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{path}: no properties in the schema"));
    let mut keys: Vec<String> = props.keys().cloned().collect();
    keys.sort();
    keys
}

/// `v` with its `$ref`s followed and arrays entered, down to an object schema.
fn resolve<'a>(
    schema: &'a serde_json::Value,
    mut v: &'a serde_json::Value,
) -> &'a serde_json::Value {
    loop {
        if let Some(r) = v.get("$ref").and_then(|r| r.as_str()) {
            let name = r.strip_prefix("#/definitions/").expect("a local $ref");
            v = &schema["definitions"][name];
        } else if v.get("type").is_some_and(|t| t == "array") {
            v = &v["items"];
        } else {
            return v;
        }
    }
}

#[test]
fn the_schema_knows_the_parsers_keys_table_by_table() {
    let schema = schema();
    // A table, and what makes it exist with an unknown key in it.
    let tables: &[(&str, &str)] = &[
        ("", "zzz = 1\n"),
        ("target", "[target]\nzzz = 1\n"),
        ("kernel", "[kernel]\nzzz = 1\n"),
        ("realtime", "[realtime]\nzzz = 1\n"),
        ("users", "[[users]]\nname = \"a\"\nzzz = 1\n"),
        ("cpu", "[cpu]\nzzz = 1\n"),
        ("irq", "[irq]\nzzz = 1\n"),
        (
            "irq.priority",
            "[[irq.priority]]\nmatch = \"snd\"\nprio = 90\nzzz = 1\n",
        ),
        ("audio", "[audio]\nzzz = 1\n"),
        ("audio.alsa", "[[audio.alsa]]\nnode = \"x\"\nzzz = 1\n"),
        ("packages", "[packages]\nzzz = 1\n"),
        ("selinux", "[selinux]\nzzz = 1\n"),
        (
            "selinux.module",
            "[[selinux.module]]\nname = \"a\"\nfile = \"a.te\"\nzzz = 1\n",
        ),
        ("rpm", "[rpm]\nzzz = 1\n"),
    ];
    let t = tempfile::tempdir().unwrap();
    for (path, text) in tables {
        let file = t.path().join("p.toml");
        fs::write(&file, format!("version = 1\n{text}")).unwrap();
        let o = run(bin()
            .arg("render")
            .arg(&file)
            .arg("-o")
            .arg(t.path().join("o"))
            .arg("--json"));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let unknown = if path.is_empty() {
            "zzz".to_string()
        } else {
            format!("{path}.zzz")
        };
        let problem = doc["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| {
                let key = p["key"].as_str().unwrap();
                // users[0].zzz for the array of tables users.
                key.replace("[0]", "") == unknown
            })
            .unwrap_or_else(|| panic!("{path}: no unknown-key problem in {doc:#}"));
        let fix = problem["fix"].as_str().unwrap();
        let list = fix
            .split_once("known keys here: ")
            .unwrap_or_else(|| panic!("{path}: {fix}"))
            .1;
        let mut parser: Vec<String> = list.split(", ").map(str::to_string).collect();
        parser.sort();
        assert_eq!(
            schema_keys(&schema, path),
            parser,
            "[{path}]: the schema (src/profile/input.rs) and the parser disagree"
        );
    }
}
