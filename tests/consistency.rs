//! One source of truth: every delivery path carries byte-identical drop-ins and
//! the same kernel argument list. The `consistency` validator reads each path
//! back with its own format's rules; here it must pass on every example and on a
//! profile without kernel arguments, and must catch a single changed byte in
//! any one path.

mod common;

use std::fs;
use std::path::Path;

use common::*;

fn consistency(dir: &Path) -> (bool, String) {
    let o = run(bin()
        .arg("validate")
        .arg(dir)
        .args(["--only", "consistency"]));
    (o.status.success(), format!("{}{}", stdout(&o), stderr(&o)))
}

#[test]
fn every_delivery_path_carries_the_same_bytes_and_kernel_args() {
    let t = tempfile::tempdir().unwrap();
    let bare = t.path().join("bare.toml");
    fs::write(
        &bare,
        "version = 1\nname = \"bare\"\n[kernel]\nflavor = \"rt\"\nrepo = \"https://example.org/rt/\"\nargs = []\n",
    )
    .unwrap();
    for ex in examples().into_iter().chain([bare]) {
        let out = t.path().join(ex.file_stem().unwrap());
        render(Some(&ex), &out);
        let (ok, text) = consistency(&out);
        assert!(ok, "{}: {text}", ex.display());
        assert!(text.contains("identical across"), "{text}");
    }
}

#[test]
fn one_changed_byte_in_any_path_is_caught() {
    let t = tempfile::tempdir().unwrap();
    let clean = t.path().join("clean");
    render(Some(&repo().join("examples/isolated.toml")), &clean);
    let tampered: &[(&str, &str, &str, &str)] = &[
        (
            "rpm/limits.conf",
            "rtprio",
            "rtpri0",
            "the RPM carries /etc/security/limits.d/rtaudio-tuning.conf",
        ),
        (
            "kickstart/mixer.ks",
            "nice\t-20",
            "nice\t-19",
            "kickstart/mixer.ks %post carries /etc/security/limits.d",
        ),
        (
            "blueprint/mixer.toml",
            "--banirq=42",
            "--banirq=24",
            "blueprint/mixer.toml carries /etc/rtaudio-tuning/irqbalance.env",
        ),
        (
            "bootc/rootfs/etc/rtaudio-tuning/cpupower.env",
            "GOVERNOR=performance",
            "GOVERNOR=powersave",
            "bootc/rootfs carries /etc/rtaudio-tuning/cpupower.env",
        ),
        (
            "kickstart/mixer.ks",
            "--append=\"intel_pstate=disable ",
            "--append=\"",
            "kernel arguments differ: kickstart/mixer.ks",
        ),
        (
            "kickstart/mixer-live.ks",
            "\"--args=intel_pstate=disable ",
            "\"--args=",
            "kernel arguments differ: kickstart/mixer-live.ks first-boot grubby --args",
        ),
        (
            "rpm/rtaudio-tuning.spec",
            "wanted=\"intel_pstate=disable ",
            "wanted=\"",
            "kernel arguments differ: the RPM's %post",
        ),
        (
            "blueprint/mixer.toml",
            "append = \"intel_pstate=disable ",
            "append = \"",
            "kernel arguments differ: blueprint/mixer.toml",
        ),
    ];
    for (i, (file, from, to, expect)) in tampered.iter().enumerate() {
        let dir = t.path().join(format!("t{i}"));
        fs::create_dir(&dir).unwrap();
        for (rel, bytes) in tree(&clean) {
            let p = dir.join(&rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, bytes).unwrap();
        }
        let path = dir.join(file);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no {from:?}");
        fs::write(&path, text.replacen(from, to, 1)).unwrap();
        let (ok, out) = consistency(&dir);
        assert!(!ok, "{file}: tampering not caught:\n{out}");
        assert!(
            out.contains(expect),
            "{file}: expected {expect:?} in:\n{out}"
        );
    }
}
