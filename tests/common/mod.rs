//! Helpers shared by the integration tests: they drive the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rtaudio-tuning"))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every example profile, sorted.
pub fn examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    assert!(v.len() >= 4, "examples/ lost profiles: {v:?}");
    v
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("running rtaudio-tuning")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Render `profile` (None: the embedded default) into `out`; panics on failure.
pub fn render(profile: Option<&Path>, out: &Path) {
    let mut cmd = bin();
    cmd.arg("render");
    if let Some(p) = profile {
        cmd.arg(p);
    }
    let o = run(cmd.arg("-o").arg(out));
    assert!(o.status.success(), "render failed: {}", stderr(&o));
}

/// Render the fleet inventory `inventory` into `out`; panics on failure.
pub fn render_fleet(inventory: &Path, out: &Path) {
    let o = run(bin().arg("fleet").arg(inventory).arg("-o").arg(out));
    assert!(o.status.success(), "fleet failed: {}", stderr(&o));
}

/// The names in a folder, sorted: what a run left beside its output.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// All files of a tree as (relative path, bytes), sorted.
pub fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Find an external tool on PATH. Tests that need one fail when it is missing:
/// `scripts/test` installs every tool they use.
pub fn tool(name: &str, install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("unavailable: {name} is not on PATH; install {install} (scripts/test does)")
        })
}

/// The `# expect: KEY @ LINE:COL` (or `# expect: KEY`) lines of a hostile
/// corpus entry: the errors it must get.
pub fn expectations(text: &str) -> Vec<(String, Option<(usize, usize)>)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|e| match e.rsplit_once(" @ ") {
            Some((key, at)) => {
                let (l, c) = at.split_once(':').expect("LINE:COL");
                (
                    key.to_string(),
                    Some((l.parse().unwrap(), c.parse().unwrap())),
                )
            }
            None => (e.to_string(), None),
        })
        .collect()
}

/// An error block of the compiler-style report: `error: KEY: ...` and then
/// `--> FILE:LINE:COL`.
pub fn names(err: &str, file: &str, key: &str, at: Option<(usize, usize)>) -> bool {
    names_as("error", err, file, key, at)
}

/// A block of `severity` ("error" or "warning"), as [`names`].
pub fn names_as(
    severity: &str,
    err: &str,
    file: &str,
    key: &str,
    at: Option<(usize, usize)>,
) -> bool {
    let head = format!("{severity}: {key}: ");
    let lines: Vec<&str> = err.lines().collect();
    lines.windows(2).any(|w| {
        w[0].starts_with(&head)
            && match at {
                Some((l, c)) => w[1].trim_start() == format!("--> {file}:{l}:{c}"),
                None => true,
            }
    })
}

/// A hostile corpus entry's refusal report: the entry says on its first line
/// what it attacks, and `err` (the report for it, shown as `file`) has every
/// error its `# expect:` lines name, with a fix.
pub fn assert_expected_errors(name: &str, text: &str, file: &str, err: &str) {
    assert!(
        text.starts_with("# Attacks: "),
        "{name}: say what it attacks on its first line"
    );
    let expects = expectations(text);
    assert!(!expects.is_empty(), "{name}: no `# expect:` line");
    for (key, at) in &expects {
        assert!(
            names(err, file, key, *at),
            "{name}: no error for {key} at {at:?}:\n{err}"
        );
    }
    assert!(err.contains("fix:"), "{name}: no fix hint:\n{err}");
}
