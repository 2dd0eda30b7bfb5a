//! `validate` through the binary, with the real tools (scripts/test installs
//! them): every example passes every validator; broken artifacts fail, naming
//! the validator and the tool's own message; a missing tool is "unavailable",
//! never a pass.

mod common;

use std::fs;
use std::path::Path;

use common::*;

const NAMES: &[&str] = &[
    "kickstart",
    "live",
    "rpm-spec",
    "scriptlets",
    "units",
    "selinux",
    "blueprint",
    "bootc",
    "dropins",
    "fleet",
    "consistency",
];

fn rpmlint_config() {
    assert!(
        std::env::var_os("RTAUDIO_TUNING_RPMLINT_CONFIG").is_some()
            || Path::new("/etc/xdg/rpmlint/fedora.toml").exists(),
        "unavailable: rpmlint's Fedora configuration; run the tests with scripts/test, which fetches it"
    );
}

#[test]
fn every_example_passes_every_validator() {
    rpmlint_config();
    for ex in examples() {
        let o = run(bin()
            .arg("validate")
            .arg(&ex)
            .arg("--require-all")
            .arg("--json"));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}{}", ex.display(), stdout(&o), stderr(&o)));
        assert_eq!(
            (&v["schema"], &v["command"], &v["ok"]),
            (&1.into(), &"validate".into(), &true.into()),
            "{v:#}"
        );
        let list = v["results"].as_array().expect("the results");
        let names: Vec<&str> = list.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, NAMES);
        for r in list {
            // n/a: nothing of the kind in this tree (no fleet, no SELinux
            // module, no live spin for an EL target).
            let na = r["status"] == "n/a"
                && ["fleet", "selinux", "live"].contains(&r["name"].as_str().unwrap());
            assert!(r["status"] == "pass" || na, "{}: {r:#}", ex.display());
            assert!(r["summary"].as_str().unwrap().len() > 10);
            assert!(r["seconds"].as_f64().unwrap() >= 0.0);
        }
        let counted = |status: &str| list.iter().filter(|r| r["status"] == status).count();
        assert_eq!(v["passed"], counted("pass"), "{v:#}");
        assert_eq!(v["not_applicable"], counted("n/a"), "{v:#}");
        assert_eq!(o.status.code(), Some(0), "{}", ex.display());
    }
}

#[test]
fn text_output_lists_every_validator() {
    rpmlint_config();
    let o = run(bin()
        .args(["validate", "--require-all"])
        .arg(repo().join("examples/studio.toml")));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    for name in NAMES {
        let na = ["fleet", "selinux"].contains(name);
        assert!(
            out.lines()
                .any(|l| l.starts_with(if na { "n/a" } else { "pass" }) && l.contains(name)),
            "{name}:\n{out}"
        );
    }
    assert!(
        out.contains("9 passed, 0 failed, 0 unavailable, 2 n/a"),
        "{out}"
    );
}

#[test]
fn a_folder_that_is_no_tree_and_contradicting_choices_are_bad_input() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("song.wav"), "RIFF").unwrap();
    let o = run(bin().arg("validate").arg(t.path()));
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("is not a rendered tree"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    let o = run(bin()
        .args(["validate", "--only", "units", "--skip", "units"])
        .arg(repo().join("examples/studio.toml")));
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("--only units and --skip units"),
        "{}",
        stderr(&o)
    );
}

/// Render the default profile, break one thing, and expect exactly that
/// validator to fail with `expect` in its output.
fn broken(what: &str, edit: impl Fn(&Path), validator: &str, expect: &str) {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    render(None, &out);
    edit(&out);
    let o = run(bin().arg("validate").arg(&out).arg("--only").arg(validator));
    let text = stdout(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{what}: not a failure:\n{text}{}",
        stderr(&o)
    );
    assert!(
        text.starts_with(&format!("FAIL         {validator}")),
        "{what}:\n{text}"
    );
    assert!(text.contains(expect), "{what}: {expect:?} not in:\n{text}");
}

fn replace(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn broken_artifacts_fail_with_the_tools_message() {
    rpmlint_config();
    broken(
        "users in bootc/config.toml that the disk image's build line leaves out",
        |d| {
            fs::write(
                d.join("bootc/config.toml"),
                "[[customizations.user]]\nname = \"musician\"\n",
            )
            .unwrap()
        },
        "bootc",
        "leaves out --blueprint config.toml",
    );
    broken(
        "one byte of a kickstart",
        |d| replace(&d.join("kickstart/studio.ks"), "%end", "%ebd"),
        "kickstart",
        "does not end with %end",
    );
    // The live spin: each rule of the live validator, one break each.
    let live = |d: &Path| d.join("kickstart/studio-live.ks");
    broken(
        "livesys-late not enabled",
        |d| {
            replace(
                &live(d),
                "enable livesys.service livesys-late.service",
                "enable livesys.service",
            )
        },
        "live",
        "livesys-late.service is not enabled",
    );
    broken(
        "kernel-rt beside the kernel Anaconda adds",
        |d| replace(&live(d), "\nkernel\n", "\nkernel-rt\n"),
        "live",
        "holds 2 (kernel, kernel-rt)",
    );
    broken(
        "no anaconda-install-env-deps",
        |d| replace(&live(d), "anaconda-install-env-deps\n", ""),
        "live",
        "anaconda-install-env-deps is missing",
    );
    broken(
        "syslinux back in",
        |d| {
            replace(
                &live(d),
                "glibc-all-langpacks\n",
                "glibc-all-langpacks\nsyslinux\n",
            )
        },
        "live",
        "syslinux is listed",
    );
    broken(
        "machine-id kept",
        |d| replace(&live(d), "rm -f /etc/machine-id\n", ""),
        "live",
        "does not empty /etc/machine-id",
    );
    broken(
        "bootloader --append relied on in the live spin",
        |d| {
            replace(
                &live(d),
                "bootloader --location=none\n",
                "bootloader --location=none --append=\"preempt=full threadirqs\"\n",
            )
        },
        "live",
        "bootloader --append does nothing in a live spin",
    );
    broken(
        "the live spin's first-boot unit leaves out a kernel argument",
        |d| {
            replace(
                &live(d),
                "\"--args=preempt=full threadirqs\"",
                "\"--args=preempt=full\"",
            )
        },
        "live",
        "grubby --args leaves out threadirqs of the installation kickstart's kernel arguments",
    );
    broken(
        "the live spin's first-boot unit would run in the live session",
        |d| replace(&live(d), "ConditionKernelCommandLine=!rd.live.image\n", ""),
        "live",
        "no ConditionKernelCommandLine=!rd.live.image",
    );
    broken(
        "the live spin's first-boot unit not enabled",
        |d| {
            replace(
                &live(d),
                "systemctl enable rtaudio-live-kargs.service\n",
                "",
            )
        },
        "live",
        "rtaudio-live-kargs.service is not enabled",
    );
    broken(
        "a live kickstart for an EL target",
        |d| replace(&live(d), "#version=F44", "#version=RHEL10"),
        "live",
        "an EL target has no anaconda-live",
    );
    broken(
        "an unexpanded macro in the spec",
        |d| {
            replace(
                &d.join("rpm/rtaudio-tuning.spec"),
                "\n%post\n",
                "\n%post\n%systemd_post rtaudio-irq-priority.service\n",
            )
        },
        "rpm-spec",
        "unexpanded macro in the package's scriptlets: %systemd_post",
    );
    broken(
        "a unit pulling in the deprecated udev settle",
        |d| {
            replace(
                &d.join("rootfs/usr/lib/systemd/system/rtaudio-irq-priority@.service"),
                "[Service]\n",
                "Wants=network-online.target systemd-udev-settle.service\n\n[Service]\n",
            )
        },
        "units",
        "rtaudio-irq-priority@.service:15: Wants= pulls in systemd-udev-settle.service, deprecated",
    );
    broken(
        "a unit with Bogus=1",
        |d| {
            replace(
                &d.join("rootfs/usr/lib/systemd/system/rtaudio-irq-priority.service"),
                "[Service]\n",
                "[Service]\nBogus=1\n",
            )
        },
        "units",
        "Unknown key",
    );
    broken(
        "a drop-in with Bogus=1",
        |d| {
            replace(
                &d.join("rootfs/usr/lib/systemd/system/cpupower.service.d/rtaudio-tuning.conf"),
                "[Service]\n",
                "[Service]\nBogus=1\n",
            )
        },
        "units",
        "cpupower.service.d/rtaudio-tuning.conf",
    );
    broken(
        "a .te with an unknown type",
        |d| {
            fs::create_dir_all(d.join("selinux")).unwrap();
            fs::write(
                d.join("selinux/x.te"),
                "module x 1.0;\nrequire { type init_t; class file read; }\nallow init_t undeclared_t:file read;\n",
            )
            .unwrap();
        },
        "selinux",
        "unknown type undeclared_t",
    );
    broken(
        "a scriptlet that does not parse",
        |d| {
            replace(
                &d.join("rpm/rtaudio-tuning.spec"),
                "\n%postun\n",
                "\n%postun\nif then fi\n",
            )
        },
        "scriptlets",
        "rpm %postun",
    );
    broken(
        "an rpmlint error",
        |d| {
            replace(
                &d.join("rpm/irq-priority.sh"),
                "# shellcheck shell=sh\n",
                "#!/bin/sh\n",
            )
        },
        "rpm-spec",
        "E: non-executable-script",
    );
    broken(
        "a blueprint key osbuild does not know",
        |d| {
            replace(
                &d.join("blueprint/studio.toml"),
                "[customizations.services]\n",
                "[customizations.services]\nstarted = []\n",
            )
        },
        "blueprint",
        "started",
    );
    broken(
        "a kargs.d key bootc does not know",
        |d| {
            replace(
                &d.join("bootc/rootfs/usr/lib/bootc/kargs.d/50-rtaudio-tuning.toml"),
                "kargs =",
                "delete = []\nkargs =",
            )
        },
        "bootc",
        "delete",
    );
    broken(
        "lint not last",
        |d| {
            let p = d.join("bootc/Containerfile");
            let text = fs::read_to_string(&p).unwrap();
            fs::write(p, format!("{text}RUN true\n")).unwrap();
        },
        "bootc",
        "bootc container lint",
    );
    broken(
        "a limits line pam_limits cannot read",
        |d| {
            replace(
                &d.join("rootfs/etc/security/limits.d/rtaudio-tuning.conf"),
                "\trtprio\t95",
                "\trtprio",
            )
        },
        "dropins",
        "limits.d/rtaudio-tuning.conf:",
    );
    // pam_limits reads lines with getline: the \r of a CRLF line is part of
    // the value, and `unlimited\r` is no number.
    broken(
        "a limits line ending in CRLF",
        |d| {
            replace(
                &d.join("rootfs/etc/security/limits.d/rtaudio-tuning.conf"),
                "\tmemlock\tunlimited\n",
                "\tmemlock\tunlimited\r\n",
            )
        },
        "dropins",
        r#"rtaudio-tuning.conf:9: memlock "unlimited\r" is not a count or unlimited; pam_limits skips this line"#,
    );
    // `domain -` is no short line: pam_limits sets no limits at all for the
    // group's members.
    broken(
        "a limits line that lifts every limit",
        |d| {
            replace(
                &d.join("rootfs/etc/security/limits.d/rtaudio-tuning.conf"),
                "@realtime\t-\trtprio\t95",
                "@realtime\t-",
            )
        },
        "dropins",
        "rtaudio-tuning.conf:8: `@realtime -` tells pam_limits to set no limits at all",
    );
}

#[test]
fn missing_tools_are_unavailable_never_a_pass() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    render(None, &out);
    let empty = t.path().join("empty-path");
    fs::create_dir(&empty).unwrap();
    let o = run(bin()
        .arg("validate")
        .arg(&out)
        .arg("--json")
        .env("PATH", &empty));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for r in v["results"].as_array().unwrap() {
        let name = r["name"].as_str().unwrap();
        let tool_based = ["kickstart", "rpm-spec", "scriptlets", "units"].contains(&name);
        if tool_based {
            assert_eq!(r["status"], "unavailable", "{name}: {r:#}");
            assert!(
                r["summary"]
                    .as_str()
                    .unwrap()
                    .starts_with("unavailable: install "),
                "{r:#}"
            );
        }
    }
    let o = run(bin()
        .arg("validate")
        .arg(&out)
        .arg("--require-all")
        .env("PATH", &empty));
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    assert!(stdout(&o).contains("unavailable"));
}

#[test]
fn list_skip_only_and_bad_input() {
    let o = run(bin().args(["validate", "--list"]));
    assert!(o.status.success());
    let out = stdout(&o);
    for name in NAMES {
        assert!(
            out.lines().any(|l| l.starts_with(name)),
            "{name} not listed:\n{out}"
        );
    }
    let o = run(bin().args(["validate", "--list", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["validators"].as_array().unwrap().len(), NAMES.len());

    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    render(None, &out);
    let o = run(bin().arg("validate").arg(&out).args(["--skip", "nosuch"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no validator named \"nosuch\""),
        "{}",
        stderr(&o)
    );
    let o = run(bin()
        .arg("validate")
        .arg(&out)
        .args(["--only", "dropins", "--only", "bootc", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bootc", "dropins"]);
    let o = run(bin().arg("validate").arg(&out).args([
        "--skip",
        "rpm-spec",
        "--skip",
        "kickstart",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["results"].as_array().unwrap().len(), NAMES.len() - 2);

    // A profile is rendered first; a bad one is bad input.
    let p = t.path().join("bad.toml");
    fs::write(&p, "version = 1\n[realtime]\nrtprio = 150\n").unwrap();
    let o = run(bin().arg("validate").arg(&p));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("realtime.rtprio"), "{}", stderr(&o));
    // With --json, the same one document, its problems in it.
    let o = run(bin().arg("validate").arg(&p).arg("--json"));
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (&v["command"], &v["ok"]),
        (&"validate".into(), &false.into())
    );
    assert_eq!(v["results"].as_array().unwrap().len(), 0);
    assert_eq!(v["problems"][0]["key"], "realtime.rtprio", "{v:#}");
}

#[test]
fn strict_turns_the_tools_warnings_into_failures() {
    rpmlint_config();
    // rpmlint warns (no URL tag, no documentation) without failing.
    let o = run(bin()
        .args(["validate", "--only", "rpm-spec", "--json"])
        .arg(repo().join("examples/studio.toml")));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["results"][0]["status"], "pass");
    assert!(
        !v["results"][0]["warnings"].as_array().unwrap().is_empty(),
        "{v:#}"
    );
    let o = run(bin()
        .args(["validate", "--strict", "--only", "rpm-spec"])
        .arg(repo().join("examples/studio.toml")));
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
}

/// EL 10's kernel-rt comes from the distribution's own `rt` repository, which
/// its release package defines (disabled, with its signing key): the artifacts
/// enable it and ship no second definition. A .repo file naming a signing key
/// the target's release does not ship fails the dropins validator.
#[test]
fn el_kernel_rt_uses_the_distributions_repository_and_keys_it_has() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("el10");
    render(Some(&repo().join("examples/el10-rt.toml")), &out);
    let ks = fs::read_to_string(out.join("kickstart/stream-rt.ks")).unwrap();
    assert!(
        ks.contains("\nrepo --name=rt --baseurl=\"https://mirror.stream.centos.org/10-stream/RT/x86_64/os/\"\n"),
        "{ks}"
    );
    assert!(
        ks.contains("\ndnf config-manager --set-enabled rt\n"),
        "{ks}"
    );
    let containerfile = fs::read_to_string(out.join("bootc/Containerfile")).unwrap();
    assert!(
        containerfile.contains("\nRUN dnf config-manager --set-enabled rt\n"),
        "{containerfile}"
    );
    assert!(!out.join("rootfs/etc/yum.repos.d").exists());
    assert!(!ks.contains("RPM-GPG-KEY"), "{ks}");

    // A profile's own repository keeps its .repo file; a key CentOS Stream 10
    // has passes, the one CentOS Stream 9 had fails.
    let profile = t.path().join("own.toml");
    let text = fs::read_to_string(repo().join("examples/el10-rt.toml"))
        .unwrap()
        .replace(
            "flavor = \"rt\"\n",
            "flavor = \"rt\"\nrepo = \"https://mirror.studio.example/rt/\"\ngpgkey = \"file:///etc/pki/rpm-gpg/RPM-GPG-KEY-centosofficial-SHA256\"\n",
        );
    fs::write(&profile, text).unwrap();
    let own = t.path().join("own");
    render(Some(&profile), &own);
    let repo_file = own.join("rootfs/etc/yum.repos.d/rtaudio-tuning-kernel-rt.repo");
    assert!(repo_file.is_file());
    let dropins = |dir: &Path| run(bin().arg("validate").arg(dir).args(["--only", "dropins"]));
    let o = dropins(&own);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let good = fs::read_to_string(&repo_file).unwrap();
    let line = 1 + good.lines().position(|l| l.starts_with("gpgkey=")).unwrap();
    fs::write(
        &repo_file,
        good.replace(
            "RPM-GPG-KEY-centosofficial-SHA256",
            "RPM-GPG-KEY-centosofficial",
        ),
    )
    .unwrap();
    let o = dropins(&own);
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(
            &format!(
                "rtaudio-tuning-kernel-rt.repo:{line}: gpgkey RPM-GPG-KEY-centosofficial: centos-stream 10 ships no such key (it has RPM-GPG-KEY-centosofficial-SHA256)"
            )
        ),
        "{}",
        stdout(&o)
    );
    // AlmaLinux's key of another release fails the same way.
    fs::write(
        &repo_file,
        good.replace(
            "RPM-GPG-KEY-centosofficial-SHA256",
            "RPM-GPG-KEY-AlmaLinux-9",
        ),
    )
    .unwrap();
    let o = dropins(&own);
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("gpgkey RPM-GPG-KEY-AlmaLinux-9: centos-stream 10 ships no such key"),
        "{}",
        stdout(&o)
    );
}
