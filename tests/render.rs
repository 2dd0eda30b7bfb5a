//! `init` and `render` through the binary: determinism, every example, hostile
//! profiles, hand-edited trees and killed renders.

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::*;

#[test]
fn default_render_is_deterministic() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    render(None, &a);
    render(None, &b);
    let ta = tree(&a);
    assert_eq!(ta, tree(&b), "two renders of the default profile differ");
    let names: Vec<&str> = ta.iter().map(|(p, _)| p.as_str()).collect();
    for want in [
        "MANIFEST.sha256",
        "kickstart/studio.ks",
        "kickstart/studio-live.ks",
        "rpm/rtaudio-tuning.spec",
        "blueprint/studio.toml",
        "bootc/Containerfile",
        "bootc/rootfs/usr/lib/bootc/kargs.d/50-rtaudio-tuning.toml",
        "rootfs/etc/security/limits.d/rtaudio-tuning.conf",
        "rootfs/usr/lib/sysusers.d/rtaudio-tuning.conf",
        "rootfs/usr/lib/udev/rules.d/70-rtaudio-tuning.rules",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    // The manifest lists every other file, with its sha256, sorted.
    let manifest = fs::read_to_string(a.join("MANIFEST.sha256")).unwrap();
    let listed: Vec<&str> = manifest.lines().map(|l| &l[66..]).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted);
    assert_eq!(listed.len(), names.len() - 1);
    // Re-rendering over an untouched tree succeeds and changes nothing.
    render(None, &a);
    assert_eq!(ta, tree(&a));
}

#[test]
fn every_example_renders_without_warnings() {
    let t = tempfile::tempdir().unwrap();
    for ex in examples() {
        let out = t.path().join(ex.file_stem().unwrap());
        let o = run(bin()
            .arg("render")
            .arg("--strict")
            .arg(&ex)
            .arg("-o")
            .arg(&out));
        assert!(o.status.success(), "{}: {}", ex.display(), stderr(&o));
        assert!(out.join("MANIFEST.sha256").is_file());
    }
}

/// A hostile or mistaken profile: exit 2, the key path and line in the message,
/// nothing written.
fn rejects(name: &str, profile: &str, key: &str, line: usize) {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("p.toml");
    fs::write(&p, profile).unwrap();
    let out = t.path().join("out");
    let o = run(bin().arg("render").arg(&p).arg("-o").arg(&out));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{name}: {err}");
    assert!(err.contains(key), "{name}: key {key} not in:\n{err}");
    assert!(
        err.contains(&format!("p.toml:{line}:")),
        "{name}: line {line} not in:\n{err}"
    );
    assert!(err.contains("fix:"), "{name}: no fix hint:\n{err}");
    assert!(!out.exists(), "{name}: output written");
    assert_eq!(
        fs::read_dir(t.path()).unwrap().count(),
        1,
        "{name}: stray files"
    );
}

#[test]
fn hostile_profiles_are_rejected_with_key_and_line() {
    rejects(
        "unknown key",
        "version = 1\ncolour = \"red\"\n",
        "colour",
        2,
    );
    rejects(
        "unknown nested key",
        "version = 1\n[kernel]\nflavour = \"rt\"\n",
        "kernel.flavour",
        3,
    );
    rejects(
        "user name",
        "version = 1\n[[users]]\nname = \"bob;reboot\"\n",
        "users[0].name",
        3,
    );
    rejects(
        "kernel arg",
        "version = 1\n[kernel]\nargs = [\"quiet\\nfoo\"]\n",
        "kernel.args[0]",
        3,
    );
    rejects(
        "rtprio",
        "version = 1\n[realtime]\nrtprio = 150\n",
        "realtime.rtprio",
        3,
    );
    rejects("no version", "name = \"x\"\n", "version", 1);
    rejects("version 2", "version = 2\n", "version", 1);
    rejects("syntax", "version = 1\n[kernel\n", "syntax", 2);
    rejects(
        "duplicate key",
        "version = 1\nname = \"a\"\nname = \"b\"\n",
        "syntax",
        3,
    );
    rejects(
        "type",
        "version = 1\n[irq]\nballance = true\nban = \"42\"\n",
        "irq.ban",
        4,
    );
    rejects(
        "repo injection",
        "version = 1\n[kernel]\nrepo = \"https://x/$(reboot)\"\n",
        "kernel.repo",
        3,
    );
    rejects(
        "sysctl key",
        "version = 1\n[sysctl]\n\"vm.swappiness;reboot\" = 1\n",
        "sysctl.\"vm.swappiness;reboot\"",
        3,
    );
    rejects(
        "sysctl value",
        "version = 1\n[sysctl]\n\"vm.swappiness\" = \"1\\nkernel.x = 2\"\n",
        "sysctl.\"vm.swappiness\"",
        3,
    );
    rejects(
        "package",
        "version = 1\n[packages]\ninstall = [\"vim; rm -rf /\"]\n",
        "packages.install[0]",
        3,
    );
    rejects(
        "group",
        "version = 1\n[realtime]\ngroup = \"Realtime\"\n",
        "realtime.group",
        3,
    );
    rejects(
        "cpu list",
        "version = 1\n[kernel]\nisolate_cpus = \"3-1\"\n",
        "kernel.isolate_cpus",
        3,
    );
    rejects(
        "irq number",
        "version = 1\n[irq]\nban = [-1]\n",
        "irq.ban[0]",
        3,
    );
    rejects(
        "ssh key",
        "version = 1\n[[users]]\nname = \"a\"\nssh_keys = [\"command=\\\"reboot\\\" ssh-ed25519 AAAA\"]\n",
        "users[0].ssh_keys[0]",
        4,
    );
    rejects(
        "plain password",
        "version = 1\n[[users]]\nname = \"a\"\npassword_hash = \"hunter2\"\n",
        "users[0].password_hash",
        4,
    );
    rejects(
        "root user",
        "version = 1\n[[users]]\nname = \"root\"\n",
        "users[0].name",
        3,
    );
    rejects(
        "managed arg",
        "version = 1\n[kernel]\nargs = [\"isolcpus=1\"]\n",
        "kernel.args[0]",
        3,
    );
    rejects(
        "preempt",
        "version = 1\n[kernel]\nflavor = \"stock\"\nargs = [\"preempt=none\"]\n",
        "kernel.args[0]",
        4,
    );
    rejects(
        "el release",
        "version = 1\n[target]\ndistro = \"rhel\"\nrelease = 44\n",
        "target.release",
        4,
    );
    rejects(
        "amd on arm",
        "version = 1\n[target]\narch = \"aarch64\"\n[kernel]\ncpu = \"amd\"\n",
        "kernel.cpu",
        5,
    );
    rejects(
        "selinux escape",
        "version = 1\n[[selinux.module]]\nname = \"x\"\nfile = \"../x.te\"\n",
        "selinux.module[0].file",
        4,
    );
    rejects(
        "remove required",
        "version = 1\n[packages]\nremove = [\"irqbalance\"]\n",
        "packages.remove[0]",
        3,
    );
    rejects(
        "memlock",
        "version = 1\n[realtime]\nmemlock = \"lots\"\n",
        "realtime.memlock",
        3,
    );
    rejects(
        "privileged realtime group",
        "version = 1\n[realtime]\ngroup = \"wheel\"\ngid = 10\n",
        "realtime.group",
        3,
    );
    rejects(
        "big int",
        "version = 1\n[realtime]\ngid = 99999999999999999999\n",
        "realtime.gid",
        3,
    );
}

/// Issue 15: the audio server's settings, each mistake named with its key,
/// line and a fix; and what a valid set renders.
#[test]
fn audio_settings_are_checked_and_rendered() {
    let cases: &[(&str, &str, &str, usize)] = &[
        ("rate not a card's", "rate = 47000", "audio.rate", 3),
        (
            "allowed rates without the rate",
            "rate = 96000\nallowed_rates = [44100, 48000]",
            "audio.allowed_rates",
            4,
        ),
        (
            "an allowed rate not a card's",
            "allowed_rates = [48000, 12345]",
            "audio.allowed_rates[1]",
            3,
        ),
        (
            "quantum not a power of two",
            "quantum = 300",
            "audio.quantum",
            3,
        ),
        (
            "quantum beyond PipeWire's limit",
            "quantum = 16384",
            "audio.quantum",
            3,
        ),
        (
            "min above quantum",
            "quantum = 64\nmin_quantum = 128",
            "audio.min_quantum",
            4,
        ),
        (
            "max below quantum",
            "quantum = 1024\nmax_quantum = 512",
            "audio.max_quantum",
            4,
        ),
        (
            "priority above the group's limit",
            "rt_priority = 96",
            "audio.rt_priority",
            3,
        ),
        (
            "nice below the group's limit",
            "nice = -20",
            "audio.nice",
            3,
        ),
        (
            "a boolean as a string",
            "hda_power_save = \"no\"",
            "audio.hda_power_save",
            3,
        ),
        ("unknown key", "quantom = 256", "audio.quantom", 3),
        (
            "a device that is not hw:",
            "device = \"default; reboot\"",
            "audio.device",
            3,
        ),
        ("too many periods", "periods = 16", "audio.periods", 3),
        (
            "an ALSA node name with a quote",
            "[[audio.alsa]]\nnode = \"alsa_output\\\"x\"\nheadroom = 0",
            "audio.alsa[0].node",
            4,
        ),
        (
            "an ALSA entry that sets nothing",
            "[[audio.alsa]]\nnode = \"alsa_output.usb-*\"",
            "audio.alsa[0].period_size",
            3,
        ),
        (
            "PipeWire's JACK libraries under jackd",
            "server = \"jack\"\npackages = [\"jack-audio-connection-kit\", \"pipewire-jack-audio-connection-kit\"]",
            "audio.packages[1]",
            4,
        ),
        (
            "PipeWire's JACK libraries installed on a JACK studio",
            "server = \"jack\"\n[packages]\ninstall = [\"pipewire-jack-audio-connection-kit\"]",
            "packages.install[0]",
            5,
        ),
    ];
    for (name, body, key, line) in cases {
        rejects(name, &format!("version = 1\n[audio]\n{body}\n"), key, *line);
    }

    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("p.toml");
    fs::write(
        &p,
        "version = 1\n[realtime]\nrtprio = 90\n[audio]\nrate = 96000\nallowed_rates = [48000, 96000]\nquantum = 128\nmin_quantum = 64\nmax_quantum = 1024\nrt_priority = 85\nnice = -15\nhda_power_save = true\nusb_autosuspend = true\n",
    )
    .unwrap();
    let out = t.path().join("out");
    render(Some(&p), &out);
    let pw = fs::read_to_string(
        out.join("rootfs/usr/share/pipewire/pipewire.conf.d/60-rtaudio-tuning.conf"),
    )
    .unwrap();
    for line in [
        "default.clock.rate = 96000\n",
        "default.clock.allowed-rates = [ 48000 96000 ]\n",
        "default.clock.quantum = 128\n",
        "default.clock.min-quantum = 64\n",
        "default.clock.max-quantum = 1024\n",
        "rt.prio = 85\n",
        "nice.level = -15\n",
    ] {
        assert!(pw.contains(line), "{line:?} not in:\n{pw}");
    }
    // Power saving left on: no modprobe.d file, no USB rule.
    assert!(
        !out.join("rootfs/usr/lib/modprobe.d/rtaudio-tuning.conf")
            .exists()
    );
    let udev = fs::read_to_string(out.join("rootfs/usr/lib/udev/rules.d/70-rtaudio-tuning.rules"))
        .unwrap();
    assert!(!udev.contains("power/control"), "{udev}");
    // The defaults: 48 kHz, 256 frames, priority 88, power saving off.
    let d = t.path().join("default");
    render(None, &d);
    let pw = fs::read_to_string(
        d.join("rootfs/usr/share/pipewire/pipewire.conf.d/60-rtaudio-tuning.conf"),
    )
    .unwrap();
    for line in [
        "default.clock.rate = 48000\n",
        "default.clock.quantum = 256\n",
        "rt.prio = 88\n",
    ] {
        assert!(pw.contains(line), "{line:?} not in:\n{pw}");
    }
    let modprobe =
        fs::read_to_string(d.join("rootfs/usr/lib/modprobe.d/rtaudio-tuning.conf")).unwrap();
    assert!(
        modprobe.contains("\noptions snd_hda_intel power_save=0 power_save_controller=N\n"),
        "{modprobe}"
    );
    let udev =
        fs::read_to_string(d.join("rootfs/usr/lib/udev/rules.d/70-rtaudio-tuning.rules")).unwrap();
    assert!(udev.contains("ATTR{bInterfaceClass}==\"01\", TEST==\"../power/control\", ATTR{../power/control}=\"on\""), "{udev}");

    // Per-device ALSA settings: WirePlumber rules after the suspend rule.
    let p = t.path().join("alsa.toml");
    fs::write(
        &p,
        "version = 1\n[[audio.alsa]]\nnode = \"alsa_output.usb-*\"\nperiod_size = 128\nheadroom = 0\n",
    )
    .unwrap();
    let al = t.path().join("alsa");
    render(Some(&p), &al);
    let wp = fs::read_to_string(
        al.join("rootfs/usr/share/wireplumber/wireplumber.conf.d/60-rtaudio-tuning.conf"),
    )
    .unwrap();
    for line in [
        "{ node.name = \"~^alsa_output.usb-.*$\" }",
        "api.alsa.period-size = 128\n",
        "api.alsa.headroom = 0\n",
    ] {
        assert!(wp.contains(line), "{line:?} not in:\n{wp}");
    }

    // A JACK studio: jackd's command line where libjack reads it, PipeWire's
    // JACK libraries removed on every path, no PipeWire drop-ins.
    let p = t.path().join("jack.toml");
    fs::write(
        &p,
        "version = 1\n[audio]\nserver = \"jack\"\nquantum = 128\ndevice = \"hw:USB,0\"\nperiods = 3\nrt_priority = 80\n",
    )
    .unwrap();
    let j = t.path().join("jack");
    render(Some(&p), &j);
    assert_eq!(
        fs::read_to_string(j.join("rootfs/etc/jackdrc")).unwrap(),
        "/usr/bin/jackd -R -P80 -dalsa -dhw:USB,0 -r48000 -p128 -n3\n"
    );
    assert!(!j.join("rootfs/usr/share/pipewire").exists());
    let ks = fs::read_to_string(j.join("kickstart/studio.ks")).unwrap();
    assert!(
        ks.contains("\n-pipewire-jack-audio-connection-kit\n"),
        "{ks}"
    );
    let spec = fs::read_to_string(j.join("rpm/rtaudio-tuning.spec")).unwrap();
    assert!(
        spec.contains("\nConflicts:      pipewire-jack-audio-connection-kit\n"),
        "{spec}"
    );
    assert!(
        spec.contains("\nRequires:       jack-audio-connection-kit\n"),
        "{spec}"
    );
    let containerfile = fs::read_to_string(j.join("bootc/Containerfile")).unwrap();
    assert!(
        containerfile.contains("dnf -y remove pipewire-jack-audio-connection-kit"),
        "{containerfile}"
    );
}

#[test]
fn dotted_sysctl_keys_mean_the_same_as_quoted_ones() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a.toml"), t.path().join("b.toml"));
    fs::write(
        &a,
        "version = 1\n[sysctl]\n\"vm.swappiness\" = 10\n\"kernel.sched_rt_runtime_us\" = -1\n",
    )
    .unwrap();
    fs::write(
        &b,
        "version = 1\n[sysctl]\nvm.swappiness = 10\nkernel.sched_rt_runtime_us = -1\n",
    )
    .unwrap();
    let (oa, ob) = (t.path().join("oa"), t.path().join("ob"));
    render(Some(&a), &oa);
    render(Some(&b), &ob);
    assert_eq!(tree(&oa), tree(&ob));
    let sysctl =
        fs::read_to_string(oa.join("rootfs/usr/lib/sysctl.d/90-rtaudio-tuning.conf")).unwrap();
    assert!(
        sysctl.contains("\nkernel.sched_rt_runtime_us = -1\nvm.swappiness = 10\n"),
        "{sysctl}"
    );
    // irqbalance may be removed once irq.balance turns it off.
    let c = t.path().join("c.toml");
    fs::write(
        &c,
        "version = 1\n[irq]\nbalance = false\n[packages]\nremove = [\"irqbalance\"]\n",
    )
    .unwrap();
    render(Some(&c), &t.path().join("oc"));
}

#[test]
fn all_problems_are_reported_at_once() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("p.toml");
    fs::write(
        &p,
        "version = 1\ncolour = 1\n[kernel]\nargs = [\"a b\"]\n[realtime]\nrtprio = 0\nnice = 40\n[[users]]\nname = \"Bob\"\n",
    )
    .unwrap();
    let o = run(bin()
        .arg("render")
        .arg(&p)
        .arg("-o")
        .arg(t.path().join("out")));
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    for key in [
        "colour",
        "kernel.args[0]",
        "realtime.rtprio",
        "realtime.nice",
        "users[0].name",
    ] {
        assert!(
            err.contains(&format!("error: {key}:")),
            "{key} missing:\n{err}"
        );
    }
    assert!(err.contains("5 problems; nothing was written"), "{err}");

    let o = run(bin()
        .arg("render")
        .arg(&p)
        .arg("-o")
        .arg(t.path().join("out"))
        .arg("--json"));
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let problems = v["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 5);
    assert_eq!(problems[0]["key"], "colour");
    assert_eq!(problems[0]["line"], 2);
    assert_eq!(problems[0]["column"], 1);
    assert_eq!(problems[0]["severity"], "error");
}

#[test]
fn warnings_render_but_strict_refuses() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("p.toml");
    fs::write(&p, "version = 1\n[kernel]\nflavor = \"rt\"\n").unwrap();
    let o = run(bin()
        .arg("render")
        .arg(&p)
        .arg("-o")
        .arg(t.path().join("out")));
    assert!(o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("warning: kernel.repo") && err.contains("No match for argument: kernel-rt"),
        "{err}"
    );
    let o = run(bin()
        .args(["render", "--strict"])
        .arg(&p)
        .arg("-o")
        .arg(t.path().join("strict")));
    assert_eq!(o.status.code(), Some(2));
    assert!(!t.path().join("strict").exists());
}

#[test]
fn selinux_files_cannot_escape_the_profile_folder() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("profile");
    fs::create_dir_all(dir.join("selinux")).unwrap();
    let outside = t.path().join("secret.te");
    fs::write(&outside, "module secret 1.0;\n").unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("selinux/evil.te")).unwrap();
    let p = dir.join("p.toml");
    fs::write(
        &p,
        "version = 1\n[[selinux.module]]\nname = \"evil\"\nfile = \"selinux/evil.te\"\n",
    )
    .unwrap();
    let o = run(bin()
        .arg("render")
        .arg(&p)
        .arg("-o")
        .arg(t.path().join("out")));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("outside the profile's folder"),
        "{}",
        stderr(&o)
    );

    fs::write(
        &p,
        "version = 1\n[[selinux.module]]\nname = \"gone\"\nfile = \"selinux/gone.te\"\n",
    )
    .unwrap();
    let o = run(bin()
        .arg("render")
        .arg(&p)
        .arg("-o")
        .arg(t.path().join("out")));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("selinux.module[0].file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn selinux_compiler_errors_point_at_the_module_and_its_line() {
    let t = tempfile::tempdir().unwrap();
    fs::create_dir(t.path().join("selinux")).unwrap();
    let p = t.path().join("p.toml");
    fs::write(
        &p,
        "version = 1\n[[selinux.module]]\nname = \"x_local\"\nfile = \"selinux/x.te\"\n",
    )
    .unwrap();
    let out = t.path().join("out");
    fs::write(
        t.path().join("selinux/x.te"),
        "module x_local 1.0;\nrequire { type init_t; class file read; }\nallow init_t undeclared_t:file read;\n",
    )
    .unwrap();
    let o = run(bin().arg("render").arg(&p).arg("-o").arg(&out));
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("selinux.module[0].file: selinux/x.te line 3: unknown type undeclared_t"),
        "{err}"
    );
    assert!(err.contains("p.toml:4:"), "{err}");
    assert!(!out.exists());

    fs::write(t.path().join("selinux/x.te"), "module other 1.0;\n").unwrap();
    let o = run(bin().arg("render").arg(&p).arg("-o").arg(&out));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("declares `module other`"),
        "{}",
        stderr(&o)
    );

    fs::write(
        t.path().join("selinux/x.te"),
        "policy_module(x_local, 1.0)\n",
    )
    .unwrap();
    let o = run(bin().arg("render").arg(&p).arg("-o").arg(&out));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("refpolicy"), "{}", stderr(&o));
}

#[test]
fn unreadable_profiles_are_bad_input() {
    let t = tempfile::tempdir().unwrap();
    let o = run(bin()
        .arg("render")
        .arg(t.path().join("missing.toml"))
        .arg("-o")
        .arg(t.path().join("o")));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.toml"));
    let p = t.path().join("latin1.toml");
    fs::write(&p, b"version = 1\nname = \"caf\xe9\"\n").unwrap();
    let o = run(bin()
        .arg("render")
        .arg(&p)
        .arg("-o")
        .arg(t.path().join("o")));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not UTF-8"), "{}", stderr(&o));
}

#[test]
fn hand_edited_trees_are_not_overwritten() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    render(None, &out);
    let edited = out.join("rootfs/etc/security/limits.d/rtaudio-tuning.conf");
    fs::write(&edited, "@realtime - rtprio 99\n").unwrap();
    fs::write(out.join("notes.txt"), "mine\n").unwrap();
    fs::remove_file(out.join("blueprint/studio.toml")).unwrap();
    let o = run(bin().arg("render").arg("-o").arg(&out));
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("changed: rootfs/etc/security/limits.d/rtaudio-tuning.conf"),
        "{err}"
    );
    assert!(err.contains("added: notes.txt"), "{err}");
    assert!(err.contains("missing: blueprint/studio.toml"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        fs::read_to_string(&edited).unwrap(),
        "@realtime - rtprio 99\n"
    );

    let o = run(bin().arg("render").arg("-o").arg(&out).arg("--force"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(fs::read_to_string(&edited).unwrap().contains("rtprio\t95"));
    // A file the manifest does not list is the user's: kept.
    assert_eq!(fs::read_to_string(out.join("notes.txt")).unwrap(), "mine\n");
    // No temporary folders are left beside the output.
    assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
}

#[test]
fn manifests_naming_paths_outside_the_tree_are_not_trusted() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    render(None, &out);
    let secret = t.path().join("secret");
    fs::write(&secret, "x").unwrap();
    let mut manifest = fs::read_to_string(out.join("MANIFEST.sha256")).unwrap();
    manifest
        .push_str("2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  ../secret\n");
    fs::write(out.join("MANIFEST.sha256"), manifest).unwrap();
    let o = run(bin().arg("render").arg("-o").arg(&out));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("MANIFEST.sha256 itself"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_symlinked_output_folder_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let real = t.path().join("real");
    fs::create_dir(&real).unwrap();
    let link = t.path().join("out");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let o = run(bin().arg("render").arg("-o").arg(&link));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        fs::read_dir(&real).unwrap().count(),
        0,
        "wrote through the link"
    );
}

#[test]
fn leftovers_of_killed_renders_are_cleaned_up() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    // A folder a killed render left behind: its process id no longer exists.
    let stale = t.path().join(".out.render-999999999-abcdef");
    fs::create_dir(&stale).unwrap();
    fs::write(stale.join("half"), "x").unwrap();
    render(None, &out);
    assert!(!stale.exists(), "stale temporary folder kept");
    assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
}

#[test]
fn folders_not_written_by_us_are_not_replaced() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("home");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("thesis.tex"), "years of work\n").unwrap();
    let o = run(bin().arg("render").arg("-o").arg(&out));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not written by rtaudio-tuning"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        fs::read_to_string(out.join("thesis.tex")).unwrap(),
        "years of work\n"
    );
    // An empty folder is fine.
    let empty = t.path().join("empty");
    fs::create_dir(&empty).unwrap();
    render(None, &empty);
    assert!(empty.join("MANIFEST.sha256").is_file());
}

/// Kill renders at many points: the output is always either the complete old
/// tree or the complete new one, never a mix or nothing.
#[test]
fn killed_renders_leave_a_complete_tree() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    render(None, &out);
    let old = tree(&out);
    let other = repo().join("examples/isolated.toml");
    let ref_dir = t.path().join("ref");
    render(Some(&other), &ref_dir);
    let new = tree(&ref_dir);
    let mut seen_old = 0;
    for i in 0..40u64 {
        // Switch back to the old tree whenever the new one landed.
        if tree(&out) == new {
            let o = run(bin().arg("render").arg("-o").arg(&out));
            assert!(o.status.success(), "{}", stderr(&o));
        }
        let mut child = bin()
            .arg("render")
            .arg(&other)
            .arg("-o")
            .arg(&out)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(200 * i));
        let _ = child.kill();
        let _ = child.wait();
        let now = tree(&out);
        assert!(
            now == old || now == new,
            "kill after {}us left a mixed tree",
            200 * i
        );
        if now == old {
            seen_old += 1;
        }
    }
    assert!(seen_old > 0, "no render was killed before it finished");
    // Leftover temporary folders (from kills) never replace the output and are
    // hidden; a later render still works.
    render(None, &out);
    assert_eq!(tree(&out), old);
}

#[test]
fn init_writes_the_default_and_keeps_existing_files() {
    use std::os::unix::fs::PermissionsExt as _;
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("studio.toml");
    // The umask's mode, as an editor would create it; a replaced profile
    // keeps its own.
    let o = run(std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 022; exec \"$0\" init \"$1\"")
        .arg(env!("CARGO_BIN_EXE_rtaudio-tuning"))
        .arg(&p));
    assert!(o.status.success(), "{}", stderr(&o));
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&p), 0o644);
    fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
    let o = run(bin().arg("init").arg("--force").arg(&p));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mode(&p), 0o640);
    let text = fs::read_to_string(&p).unwrap();
    assert_eq!(
        text,
        fs::read_to_string(repo().join("examples/studio.toml")).unwrap()
    );
    // A comment on every key line.
    for line in text
        .lines()
        .filter(|l| l.contains(" = ") && !l.trim_start().starts_with('#'))
    {
        assert!(line.contains('#'), "no comment on: {line}");
    }
    fs::write(&p, "version = 1 # mine\n").unwrap();
    let o = run(bin().arg("init").arg(&p));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(fs::read_to_string(&p).unwrap(), "version = 1 # mine\n");
    let o = run(bin().arg("init").arg(&p).arg("--force"));
    assert!(o.status.success());
    let o = run(bin().args(["init", "-"]));
    assert_eq!(stdout(&o), text);
    // What init writes renders cleanly and means the same as no profile at all.
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    render(Some(&p), &a);
    render(None, &b);
    assert_eq!(tree(&a), tree(&b));
}

#[test]
fn an_empty_profile_is_valid() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("min.toml");
    fs::write(&p, "version = 1\n").unwrap();
    let o = run(bin()
        .arg("render")
        .arg("--strict")
        .arg(&p)
        .arg("-o")
        .arg(t.path().join("o")));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(Path::new(&t.path().join("o/kickstart/studio.ks")).is_file());
}

/// An EL target gets no live spin kickstart (anaconda-live and livesys-scripts
/// are Fedora's), and render says so and names what to use instead; a Fedora
/// target gets both kickstarts.
#[test]
fn el_targets_get_no_live_spin() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("el");
    let o = run(bin()
        .arg("render")
        .arg(repo().join("examples/el10-rt.toml"))
        .arg("-o")
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let kickstarts = listing(&out.join("kickstart"));
    assert_eq!(kickstarts.len(), 1, "{kickstarts:?}");
    assert!(!kickstarts[0].ends_with("-live.ks"), "{kickstarts:?}");
    let err = stderr(&o);
    assert!(
        err.contains("no live spin kickstart: EL 10 has no anaconda-live")
            && err.contains(&format!("mkksiso --ks kickstart/{}", kickstarts[0])),
        "{err}"
    );
    let fedora = t.path().join("fedora");
    let o = run(bin()
        .arg("render")
        .arg(repo().join("examples/studio.toml"))
        .arg("-o")
        .arg(&fedora));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("no live spin"), "{}", stderr(&o));
    assert_eq!(
        listing(&fedora.join("kickstart")),
        ["studio-live.ks", "studio.ks"]
    );
}
