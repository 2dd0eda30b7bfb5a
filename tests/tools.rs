//! The rendered artifacts through the real tools Fedora uses: pykickstart's
//! ksvalidator, rpmbuild (the package is built, its payload extracted and its
//! scriptlets read back) and shellcheck. `scripts/test` installs them.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;

fn check(cmd: &mut Command, what: &str) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!("{}{}", stdout(&o), stderr(&o));
    assert!(o.status.success(), "{what} failed:\n{text}");
    text
}

/// The pykickstart handler for a profile's target, read from the profile.
fn ks_handler(profile: &Path) -> String {
    let doc: toml::Table = fs::read_to_string(profile).unwrap().parse().unwrap();
    let target = doc.get("target").and_then(|t| t.as_table());
    let distro = target
        .and_then(|t| t.get("distro"))
        .and_then(|d| d.as_str())
        .unwrap_or("fedora");
    let release = target
        .and_then(|t| t.get("release"))
        .and_then(|r| r.as_integer())
        .unwrap_or(44);
    if distro == "fedora" {
        format!("F{release}")
    } else {
        format!("RHEL{release}")
    }
}

#[test]
fn kickstarts_pass_ksvalidator() {
    let ksvalidator = tool("ksvalidator", "pykickstart (pip)");
    let t = tempfile::tempdir().unwrap();
    for ex in examples() {
        let out = t.path().join(ex.file_stem().unwrap());
        render(Some(&ex), &out);
        let handler = ks_handler(&ex);
        for (rel, _) in tree(&out.join("kickstart")) {
            let ks = out.join("kickstart").join(&rel);
            check(
                Command::new(&ksvalidator).arg("-v").arg(&handler).arg(&ks),
                &format!("ksvalidator -v {handler} {rel}"),
            );
        }
    }
}

#[test]
fn kickstarts_with_a_broken_byte_fail_ksvalidator() {
    // The validator is not a rubber stamp: one wrong byte fails it.
    let ksvalidator = tool("ksvalidator", "pykickstart (pip)");
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    render(None, &out);
    let ks = out.join("kickstart/studio.ks");
    let text = fs::read_to_string(&ks).unwrap().replace("%end", "%ebd");
    fs::write(&ks, text).unwrap();
    let o = Command::new(&ksvalidator)
        .args(["-v", "F44"])
        .arg(&ks)
        .output()
        .unwrap();
    assert!(!o.status.success());
}

#[test]
fn rpm_builds_and_installs_exactly_the_rootfs() {
    let rpmbuild = tool("rpmbuild", "rpm (apt)");
    let rpm = tool("rpm", "rpm (apt)");
    let shellcheck = tool("shellcheck", "shellcheck (apt)");
    let t = tempfile::tempdir().unwrap();
    for ex in examples() {
        let name = ex.file_stem().unwrap().to_string_lossy().into_owned();
        let out = t.path().join(&name);
        render(Some(&ex), &out);
        let top = t.path().join(format!("{name}-top"));
        check(
            Command::new(&rpmbuild)
                .arg("-bb")
                .arg("--define")
                .arg(format!("_sourcedir {}", out.join("rpm").display()))
                .arg("--define")
                .arg(format!("_topdir {}", top.display()))
                .arg(out.join("rpm/rtaudio-tuning.spec")),
            &format!("rpmbuild {name}"),
        );
        let pkg = tree(&top.join("RPMS/noarch"));
        assert_eq!(pkg.len(), 1, "{name}: one noarch package");
        let pkg = top.join("RPMS/noarch").join(&pkg[0].0);
        assert!(pkg.to_string_lossy().ends_with(".noarch.rpm"));

        // Scriptlets: no macro left unexpanded, and each passes shellcheck.
        let scripts = check(
            Command::new(&rpm).arg("-qp").arg("--scripts").arg(&pkg),
            "rpm --scripts",
        );
        assert!(
            !scripts.contains("%{") && !scripts.contains("%_"),
            "{name}: unexpanded macro:\n{scripts}"
        );
        for tag in ["PREIN", "POSTIN", "PREUN", "POSTUN"] {
            let body = check(
                Command::new(&rpm)
                    .arg("-qp")
                    .arg("--qf")
                    .arg(format!("%{{{tag}}}"))
                    .arg(&pkg),
                tag,
            );
            assert!(body != "(none)", "{name}: no {tag} scriptlet");
            let script = t.path().join(format!("{name}-{tag}.sh"));
            fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
            check(
                Command::new(&shellcheck).arg("-s").arg("sh").arg(&script),
                &format!("shellcheck {name} {tag}"),
            );
        }

        // The payload is the rootfs, byte for byte, with its modes.
        let extract = t.path().join(format!("{name}-payload"));
        fs::create_dir_all(&extract).unwrap();
        check(
            Command::new("sh")
                .arg("-c")
                .arg("rpm2cpio \"$1\" | cpio -idm --quiet")
                .arg("sh")
                .arg(&pkg)
                .current_dir(&extract),
            "rpm2cpio | cpio",
        );
        assert_eq!(
            tree(&extract),
            tree(&out.join("rootfs")),
            "{name}: payload differs from rootfs"
        );
        let listed = check(Command::new(&rpm).arg("-qlp").arg(&pkg), "rpm -qlp");
        for (rel, _) in tree(&out.join("rootfs")) {
            assert!(
                listed.lines().any(|l| l == format!("/{rel}")),
                "{name}: {rel} not in rpm -qlp"
            );
        }
        let configs = check(Command::new(&rpm).arg("-qcp").arg(&pkg), "rpm -qcp");
        assert!(
            configs.contains("/etc/security/limits.d/rtaudio-tuning.conf"),
            "{name}: limits.d not %config"
        );
        assert!(
            !configs.contains("/usr/"),
            "{name}: vendor files marked %config"
        );
    }
}

#[test]
fn shell_we_ship_passes_shellcheck() {
    let shellcheck = tool("shellcheck", "shellcheck (apt)");
    let t = tempfile::tempdir().unwrap();
    for ex in examples() {
        let out = t.path().join(ex.file_stem().unwrap());
        render(Some(&ex), &out);
        // Kickstart %post bodies.
        for (rel, bytes) in tree(&out.join("kickstart")) {
            let text = String::from_utf8(bytes).unwrap();
            let body: String = text
                .split("\n%post")
                .nth(1)
                .unwrap()
                .lines()
                .skip(1)
                .take_while(|l| *l != "%end")
                .map(|l| format!("{l}\n"))
                .collect();
            let script = out.join(format!("{rel}.post.sh"));
            fs::write(&script, format!("#!/bin/sh\n{body}")).unwrap();
            check(
                Command::new(&shellcheck).arg("-s").arg("sh").arg(&script),
                &format!("shellcheck {rel} %post"),
            );
        }
        if let Some(sh) = tree(&out.join("rootfs"))
            .iter()
            .find(|(p, _)| p.ends_with(".sh"))
        {
            check(
                Command::new(&shellcheck).arg(out.join("rootfs").join(&sh.0)),
                &format!("shellcheck {}", sh.0),
            );
        }
    }
}
