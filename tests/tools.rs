//! The RPM built for real: its payload, extracted with rpm2cpio and cpio, is the
//! rootfs byte for byte; `rpm -qlp` and `rpm -qcp` list what they should; and
//! rebuilding the same profile gives the same package. (The validators, run by
//! tests/validate.rs, cover ksvalidator, rpmlint, shellcheck and the rest.)

mod common;

use std::fs;
use std::process::Command;

use common::*;

fn check(cmd: &mut Command, what: &str) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!("{}{}", stdout(&o), stderr(&o));
    assert!(o.status.success(), "{what} failed:\n{text}");
    text
}

#[test]
fn rpm_payload_is_exactly_the_rootfs() {
    let rpm = tool("rpm", "rpm (apt)");
    tool("rpmbuild", "rpm (apt)");
    let t = tempfile::tempdir().unwrap();
    for ex in examples() {
        let name = ex.file_stem().unwrap().to_string_lossy().into_owned();
        let out = t.path().join(&name);
        render(Some(&ex), &out);
        let rpms = t.path().join(format!("{name}-rpms"));
        let printed = check(
            bin().arg("rpm").arg(&out).arg("-o").arg(&rpms),
            "rtaudio-tuning rpm",
        );
        let pkg = std::path::PathBuf::from(printed.lines().next().unwrap());
        assert!(
            pkg.to_string_lossy().ends_with(".noarch.rpm"),
            "{}",
            pkg.display()
        );
        assert_eq!(tree(&rpms).len(), 1);

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
fn rebuilding_a_profile_gives_the_same_package() {
    let rpm = tool("rpm", "rpm (apt)");
    let t = tempfile::tempdir().unwrap();
    let profile = repo().join("examples/isolated.toml");
    let mut seen = Vec::new();
    for i in 0..2 {
        let out = t.path().join(format!("r{i}"));
        let printed = check(
            bin().arg("rpm").arg(&profile).arg("-o").arg(&out),
            "rtaudio-tuning rpm",
        );
        let pkg = printed.lines().next().unwrap().to_string();
        let files = check(
            Command::new(&rpm).args(["-qp", "--dump"]).arg(&pkg),
            "rpm --dump",
        );
        let scripts = check(
            Command::new(&rpm).args(["-qp", "--scripts"]).arg(&pkg),
            "rpm --scripts",
        );
        let name = pkg.rsplit('/').next().unwrap().to_string();
        seen.push((name, files, scripts, fs::read(&pkg).unwrap()));
        // Builds a second apart must not differ by their time stamps.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    assert_eq!(seen[0].0, "rtaudio-tuning-0.1.0-1.mixer.noarch.rpm");
    assert_eq!(seen[0].0, seen[1].0);
    assert_eq!(seen[0].1, seen[1].1, "file lists differ");
    assert_eq!(seen[0].2, seen[1].2, "scripts differ");
    assert!(
        seen[0].3 == seen[1].3,
        "the two packages are not byte-identical"
    );
}
