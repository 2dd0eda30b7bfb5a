//! rtaudio-tuning's `--version` says which commit a build from a git checkout
//! came from (`0.1.0 (git 1a2b3c4d5e6f)`); a build from a source tarball,
//! with no git, says the version alone. The package version in artifacts
//! stays the crate's: the same profile renders the same bytes whatever the
//! commit.

use std::path::Path;
use std::process::Command;

fn main() {
    // Only rtaudio-tuning's own checkout counts: a source tarball unpacked
    // inside another repository (a packager's dist-git) is not a build of
    // that repository's commit.
    let ours = git(&["rev-parse", "--show-toplevel"])
        .zip(workspace())
        .is_some_and(|(top, ws)| Path::new(&top).canonicalize().ok() == Some(ws));
    let commit = git(&["rev-parse", "--short=12", "HEAD"])
        .filter(|s| ours && !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()));
    println!(
        "cargo:rustc-env=RTAUDIO_TUNING_COMMIT={}",
        commit.as_deref().unwrap_or("")
    );
    // Built again when HEAD moves: a commit on the branch moves the ref HEAD
    // names; a checkout moves HEAD itself.
    if let Some(git) = git_dir() {
        println!("cargo:rerun-if-changed={}", git.join("HEAD").display());
        if let Ok(head) = std::fs::read_to_string(git.join("HEAD"))
            && let Some(r) = head.trim().strip_prefix("ref: ")
        {
            println!("cargo:rerun-if-changed={}", git.join(r).display());
        }
        println!(
            "cargo:rerun-if-changed={}",
            git.join("packed-refs").display()
        );
    }
    println!("cargo:rerun-if-changed=build.rs");
}

fn git_dir() -> Option<std::path::PathBuf> {
    let o = Command::new("git")
        .args(["rev-parse", "--absolute-git-dir"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let s = String::from_utf8(o.stdout).ok()?;
    let p = Path::new(s.trim());
    p.is_dir().then(|| p.to_path_buf())
}

/// A git command's output, trimmed, when it succeeds.
fn git(args: &[&str]) -> Option<String> {
    let o = Command::new("git").args(args).output().ok()?;
    if !o.status.success() {
        return None;
    }
    Some(String::from_utf8(o.stdout).ok()?.trim().to_string())
}

/// The workspace's root: this crate lives in crates/build-info/ of it.
fn workspace() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    Path::new(&dir).join("../..").canonicalize().ok()
}
