//! `vm-test` for real: a Debian guest (PREEMPT_RT or stock kernel, debootstrap
//! root file system, built and cached by scripts/vm/build-guest) boots under
//! QEMU TCG with the rendered artifacts applied, and this binary, inside,
//! judges them. Slow (minutes): one test boots the default profile, then a
//! tree with its limits.d file removed, one after the other.

mod common;

use std::fs;

use common::*;

fn root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .unwrap()
        .stdout
        == b"0\n"
}

#[test]
fn missing_qemu_is_exit_3_with_how_to_install() {
    let t = tempfile::tempdir().unwrap();
    let o = run(bin()
        .args(["vm-test"])
        .arg(repo().join("examples/studio.toml"))
        .env("PATH", t.path()));
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("install qemu-system-x86"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_guest_proves_the_profile_and_catches_a_broken_artifact() {
    tool("qemu-system-x86_64", "qemu-system-x86 (apt)");
    tool("debootstrap", "debootstrap (apt)");
    assert!(
        root(),
        "vm-test needs root (scripts/test runs as root in CI)"
    );
    let studio = repo().join("examples/studio.toml");

    // `--accel auto`: KVM where a KVM guest really runs, else TCG within seconds.
    // The default profile: every verified item passes inside the guest.
    let o = run(bin()
        .args(["vm-test", "--accel", "auto", "--json", "--timeout", "900"])
        .arg(&studio));
    let out = stdout(&o);
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{out}\n{}", stderr(&o)));
    for row in v["rows"].as_array().unwrap() {
        assert_eq!(row["ok"], true, "{row:#}");
    }
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        v["latency"]["max_us"].as_f64().is_some(),
        "{:#}",
        v["latency"]
    );
    assert!(v["seconds_to_verdict"].as_f64().unwrap() > 0.0);
    let log = fs::read_to_string(v["serial_log"].as_str().unwrap()).unwrap();
    assert!(log.contains("RTAUDIO-TUNING-VERDICT-BEGIN"));

    // The same profile, its limits.d file dropped from the artifacts: the
    // musician's limits fail, and the verdict names them.
    let t = tempfile::tempdir().unwrap();
    let tree = t.path().join("tree");
    render(Some(&studio), &tree);
    fs::remove_file(tree.join("rootfs/etc/security/limits.d/rtaudio-tuning.conf")).unwrap();
    let o = run(bin()
        .args(["vm-test", "--accel", "tcg", "--timeout", "900", "--tree"])
        .arg(&tree)
        .arg(&studio));
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{}", stderr(&o));
    assert!(out.contains("FAIL  rtprio limit"), "{out}");
    assert!(out.contains("limits.rtprio: fail"), "{out}");

    // A guest that does not answer in time ends at --timeout, with the last
    // serial lines shown.
    let o = run(bin()
        .args(["vm-test", "--accel", "tcg", "--timeout", "20"])
        .arg(&studio));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("timed out after 20 s without a verdict"),
        "{err}"
    );
    assert!(err.contains("  | "), "{err}");
}
