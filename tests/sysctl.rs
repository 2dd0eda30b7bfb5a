//! `[sysctl]` keys the target kernels are not known to have: a warning (a
//! typo renders a sysctl.d line systemd-sysctl skips at boot), with its place
//! and the name meant; `--strict` refuses it. Through the real binary.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/sysctl").join(name)
}

/// Render `profile` into `out` with `args` before it.
fn render_with(args: &[&str], profile: &Path, out: &Path) -> std::process::Output {
    run(bin()
        .arg("render")
        .args(args)
        .arg(profile)
        .arg("-o")
        .arg(out))
}

/// The `warning: KEY: ...` blocks of a text report that name a sysctl.
fn sysctl_warnings(err: &str) -> Vec<&str> {
    err.lines()
        .filter(|l| l.starts_with("warning: sysctl."))
        .collect()
}

/// A warning for `key`, and its `--> FILE:LINE:COL` on the next line.
fn warns_at(err: &str, file: &str, key: &str, at: Option<(usize, usize)>) -> bool {
    names_as("warning", err, file, key, at)
}

#[test]
fn a_misspelt_sysctl_renders_with_a_warning_naming_it_and_the_name_meant() {
    let t = tempfile::tempdir().unwrap();
    let p = fixture("typo.toml");
    let out = t.path().join("out");
    let o = render_with(&[], &p, &out);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let text = fs::read_to_string(&p).unwrap();
    let expects = expectations(&text);
    assert_eq!(expects.len(), 2);
    for (key, at) in &expects {
        assert!(
            warns_at(&err, &p.display().to_string(), key, *at),
            "no warning for {key} at {at:?}:\n{err}"
        );
    }
    // The known sysctls beside them (either spelling, any interface, a
    // module's folder) get none.
    assert_eq!(sysctl_warnings(&err).len(), 2, "{err}");
    assert!(err.contains(r#"(did you mean "vm.swappiness"?)"#), "{err}");
    assert!(err.contains(r#"= fix: write "vm.swappiness""#), "{err}");
    // kernel.nonexistent_knob is near no name: no guess.
    let knob = err
        .lines()
        .find(|l| l.starts_with(r#"warning: sysctl."kernel.nonexistent_knob""#))
        .unwrap();
    assert!(!knob.contains("did you mean"), "{knob}");
    // A warning, not a refusal: the key is rendered as written.
    let conf =
        fs::read_to_string(out.join("rootfs/usr/lib/sysctl.d/90-rtaudio-tuning.conf")).unwrap();
    assert!(conf.contains("\nvm.swapiness = 10\n"), "{conf}");
}

#[test]
fn strict_refuses_an_unknown_sysctl() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let o = render_with(&["--strict"], &fixture("typo.toml"), &out);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(r#"warning: sysctl."vm.swapiness": "#), "{err}");
    assert!(!out.exists(), "refused, yet written");
}

#[test]
fn json_lists_an_unknown_sysctl_as_a_warning() {
    let t = tempfile::tempdir().unwrap();
    let o = render_with(&["--json"], &fixture("typo.toml"), &t.path().join("out"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["ok"], true);
    let problems = doc["problems"].as_array().unwrap();
    let typo = problems
        .iter()
        .find(|p| p["key"] == r#"sysctl."vm.swapiness""#)
        .unwrap_or_else(|| panic!("not listed: {doc:#}"));
    assert_eq!(typo["severity"], "warning");
    assert_eq!(
        (typo["line"].as_u64(), typo["column"].as_u64()),
        (Some(9), Some(1))
    );
    assert!(
        typo["message"]
            .as_str()
            .unwrap()
            .contains(r#"did you mean "vm.swappiness""#),
        "{typo:#}"
    );
    assert!(
        problems.iter().all(|p| p["severity"] == "warning"),
        "{doc:#}"
    );
}

#[test]
fn the_examples_and_the_default_set_only_known_sysctls() {
    let t = tempfile::tempdir().unwrap();
    let mut profiles: Vec<Option<PathBuf>> = examples().into_iter().map(Some).collect();
    profiles.push(None);
    for (i, p) in profiles.iter().enumerate() {
        let mut cmd = bin();
        cmd.arg("render");
        if let Some(p) = p {
            cmd.arg(p);
        }
        let o = run(cmd.arg("-o").arg(t.path().join(i.to_string())));
        let err = stderr(&o);
        assert!(o.status.success(), "{p:?}: {err}");
        assert!(sysctl_warnings(&err).is_empty(), "{p:?}:\n{err}");
    }
}

#[test]
fn a_thousand_unknown_sysctls_are_reported_within_bounds() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("p.toml");
    // Unknown names in the largest folder, each near enough to several
    // names to be compared with all of them.
    let mut text = String::from("version = 1\n[sysctl]\n");
    for i in 0..1000 {
        text.push_str(&format!("\"net.ipv4.tcp_knob{i}\" = 1\n"));
    }
    fs::write(&p, text).unwrap();
    let o = render_with(&["--json"], &p, &t.path().join("out"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let problems = doc["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1000, "{}", problems.len());
    assert!(problems.iter().all(|p| p["severity"] == "warning"));
    assert_eq!(problems[0]["key"], r#"sysctl."net.ipv4.tcp_knob0""#);
    assert_eq!(problems[999]["line"], 1002);
}
