//! Faults through the real binary: renders killed with SIGKILL at random
//! points, a full disk (RLIMIT_FSIZE: writes fail with EFBIG, as on a full file
//! system), output paths that are files or symbolic links. No fault may cost
//! the user their previous tree, or leave temporary folders beside it.

mod common;

use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use sha2::{Digest, Sha256};

/// The tree checked against its own MANIFEST.sha256: every file listed with
/// its sha256, nothing else. Returns the manifest.
fn intact(dir: &Path) -> String {
    let manifest = fs::read_to_string(dir.join("MANIFEST.sha256")).expect("a manifest");
    let mut listed: Vec<(String, String)> = manifest
        .lines()
        .map(|l| {
            let (h, p) = l.split_once("  ").expect("sha256sum format");
            (p.to_string(), h.to_string())
        })
        .collect();
    listed.sort();
    let files: Vec<(String, String)> = tree(dir)
        .into_iter()
        .filter(|(p, _)| p != "MANIFEST.sha256")
        .map(|(p, bytes)| {
            let hex: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (p, hex)
        })
        .collect();
    assert_eq!(
        files,
        listed,
        "{} does not match its manifest",
        dir.display()
    );
    manifest
}

/// Temporary folders of renders beside `out`.
fn leftovers(parent: &Path) -> Vec<String> {
    fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".out.render-"))
        .collect()
}

/// A small xorshift generator: the kill points vary from run to run, and the
/// seed is printed so that a failure can be replayed (FAULTS_SEED).
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let seed = std::env::var("FAULTS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        println!("FAULTS_SEED={seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[test]
fn renders_killed_at_random_points_never_cost_the_previous_tree() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    // The previous tree: the default profile. The killed renders: a profile
    // with an SELinux module, compiled at render time, so they take a while.
    render(None, &out);
    let old = intact(&out);
    let slow = repo().join("examples/isolated.toml");
    let reference = t.path().join("reference");
    let start = Instant::now();
    render(Some(&slow), &reference);
    let took = start.elapsed().as_millis() as u64;
    let new = intact(&reference);
    fs::remove_dir_all(&reference).unwrap();

    let mut rng = Rng::new();
    let (mut killed_before, mut finished) = (0, 0);
    for _ in 0..20 {
        let mut child = bin()
            .arg("render")
            .arg(&slow)
            .arg("-o")
            .arg(&out)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let wait = rng.below(took + took / 4 + 1);
        std::thread::sleep(Duration::from_millis(wait));
        child.kill().unwrap_or(()); // SIGKILL; it may have finished already
        let status = child.wait().unwrap();
        let now = intact(&out);
        if now == old {
            killed_before += 1;
        } else {
            assert_eq!(now, new, "killed after {wait} ms: a tree that is neither");
            assert!(status.success() || status.code().is_none());
            finished += 1;
            // Put the previous tree back for the next kill.
            render(None, &out);
            assert_eq!(intact(&out), old);
        }
    }
    println!("render takes {took} ms; killed before the swap {killed_before}, finished {finished}");
    assert!(killed_before > 0, "no render was killed before it finished");
    // The next successful run leaves no temporary folder beside the output.
    let o = run(bin().arg("render").arg(&slow).arg("-o").arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(intact(&out), new);
    assert_eq!(leftovers(t.path()), Vec::<String>::new());
}

/// Run `render` with a file size limit: every write past `limit` bytes fails
/// with EFBIG, the way a full disk fails with ENOSPC, without root or a mount.
fn render_on_a_full_disk(profile: &Path, out: &Path, limit: u64) -> std::process::Output {
    let mut cmd = bin();
    cmd.arg("render").arg(profile).arg("-o").arg(out);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Ignored signals stay ignored across exec: a write fails instead
            // of the process dying of SIGXFSZ.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    run(&mut cmd)
}

#[test]
fn a_full_disk_fails_clearly_and_keeps_the_previous_tree() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    render(None, &out);
    let old = intact(&out);
    let other = repo().join("examples/fedora-stock-amd.toml");
    for limit in [0, 1000, 4096] {
        let o = render_on_a_full_disk(&other, &out, limit);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "limit {limit}: {err}");
        assert!(
            err.contains("writing ")
                && err.contains(".out.render-")
                && err.contains("File too large"),
            "limit {limit}: the error names neither the file nor the cause:\n{err}"
        );
        assert_eq!(
            intact(&out),
            old,
            "limit {limit}: the previous tree changed"
        );
        assert_eq!(leftovers(t.path()), Vec::<String>::new(), "limit {limit}");
    }
    // A first render (no previous tree) that fails leaves nothing at all.
    let fresh = t.path().join("fresh");
    let o = render_on_a_full_disk(&other, &fresh, 4096);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!fresh.exists());
    assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
}

#[test]
fn an_output_path_that_is_a_file_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    fs::write(&out, "not a folder\n").unwrap();
    let o = run(bin().arg("render").arg("-o").arg(&out));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not a folder"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&out).unwrap(), "not a folder\n");
    assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
}

#[test]
fn an_output_path_that_is_a_symbolic_link_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let real = t.path().join("real");
    render(None, &real);
    let old = intact(&real);
    let link = t.path().join("out");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let o = run(bin()
        .arg("render")
        .arg(repo().join("examples/isolated.toml"))
        .arg("-o")
        .arg(&link));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("symbolic link") && err.contains("realpath"),
        "the error does not say to pass the real path:\n{err}"
    );
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(intact(&real), old);
    // A dangling link is refused too, and not created through.
    let dangling = t.path().join("dangling");
    std::os::unix::fs::symlink(t.path().join("nowhere"), &dangling).unwrap();
    let o = run(bin().arg("render").arg("-o").arg(&dangling));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!t.path().join("nowhere").exists());
    let mut names: Vec<String> = fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["dangling", "out", "real"]);
}
