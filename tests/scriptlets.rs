//! The package's scriptlets, run for real: install ($1 = 1), upgrade ($1 = 2,
//! then the old package's %preun/%postun with $1 = 1) and erase ($1 = 0), in a
//! chroot made of busybox-static, BLS boot entries in Fedora's format, and a
//! grubby **stand-in** that edits their options lines as grubby-bls does (see
//! tests/fixtures/scriptlets/README.md). Needs root or unprivileged user
//! namespaces (`unshare -r`).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const APPLETS: &[&str] = &[
    "sh", "sed", "awk", "find", "sort", "tail", "head", "cat", "mkdir", "rm", "rmdir", "touch",
    "mv", "tr", "grep", "echo", "printf", "test", "[", "ls", "expr", "true", "false", "id",
];

struct Sandbox {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let busybox = tool("busybox", "busybox-static (apt)");
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        for d in [
            "bin",
            "usr/bin",
            "tmp",
            "run",
            "dev",
            "var/log",
            "var/lib",
            "etc/sysconfig",
            "boot/grub2",
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        // The scriptlets only write to /dev/null; a plain file serves, and needs
        // no device node (which an unprivileged namespace could not create).
        fs::write(root.join("dev/null"), "").unwrap();
        fs::copy(&busybox, root.join("bin/busybox")).unwrap();
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(a)).unwrap();
        }
        let fixtures = repo().join("tests/fixtures/scriptlets");
        // The grubby stand-in vm-test's guests use too.
        let standins = repo().join("scripts/vm/standins");
        for (rel, bytes) in tree(&fixtures.join("bin"))
            .into_iter()
            .chain([("grubby".into(), fs::read(standins.join("grubby")).unwrap())])
        {
            let dest = root.join("usr/bin").join(rel);
            fs::write(&dest, bytes).unwrap();
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).unwrap();
        }
        for (rel, bytes) in tree(&fixtures.join("boot")) {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            // Each entry's kernel image, as kernel-install leaves it in /boot.
            if let Some(linux) = text.lines().find_map(|l| l.strip_prefix("linux /")) {
                fs::write(root.join("boot").join(linux), "").unwrap();
            }
            let dest = root.join("boot").join(rel);
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            fs::write(dest, bytes).unwrap();
        }
        fs::write(
            root.join("etc/sysconfig/kernel"),
            "UPDATEDEFAULT=yes\nDEFAULTKERNEL=kernel-core\n",
        )
        .unwrap();
        Sandbox { _tmp: tmp, root }
    }

    /// Run one scriptlet body as rpm does: `/bin/sh SCRIPT ARG`.
    fn run(&self, label: &str, body: &str, arg: u32) -> String {
        fs::write(self.root.join("tmp/scriptlet.sh"), body).unwrap();
        let as_root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
        // chroot lives in /usr/sbin, which a user's PATH may lack.
        let chroot = ["/usr/sbin/chroot", "/sbin/chroot", "/usr/bin/chroot"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("chroot (coreutils)");
        let mut c = if as_root {
            Command::new(chroot)
        } else {
            let mut c = Command::new("unshare");
            c.arg("-r").arg(chroot);
            c
        };
        c.arg(&self.root)
            .args(["/bin/sh", "/tmp/scriptlet.sh"])
            .arg(arg.to_string())
            .env_clear()
            .env("PATH", "/usr/bin:/bin");
        let o = c.output().expect("chroot");
        let text = format!("{}{}", stdout(&o), stderr(&o));
        assert!(o.status.success(), "{label} ({arg}) failed:\n{text}");
        text
    }

    /// Each entry's options, as a token list, by entry file name.
    fn options(&self) -> BTreeMap<String, Vec<String>> {
        tree(&self.root.join("boot/loader/entries"))
            .into_iter()
            .map(|(name, bytes)| {
                let text = String::from_utf8(bytes).unwrap();
                let opts = text
                    .lines()
                    .find_map(|l| l.strip_prefix("options "))
                    .unwrap();
                (name, opts.split_whitespace().map(String::from).collect())
            })
            .collect()
    }

    fn add_entry(&self, version: &str, options: &str) {
        fs::write(self.root.join(format!("boot/vmlinuz-{version}")), "").unwrap();
        fs::write(
            self.root.join(format!("boot/loader/entries/c0ffee00c0ffee00c0ffee00c0ffee00-{version}.conf")),
            format!(
                "title Fedora Linux ({version}) 41 (Workstation Edition)\nversion {version}\nlinux /vmlinuz-{version}\ninitrd /initramfs-{version}.img\noptions {options}\ngrub_users $grub_users\ngrub_arg --unrestricted\ngrub_class fedora\n"
            ),
        )
        .unwrap();
    }

    fn file(&self, rel: &str) -> Option<String> {
        fs::read_to_string(self.root.join(rel)).ok()
    }
}

/// The scriptlets of the package built from `profile` text.
fn package(dir: &Path, name: &str, profile: &str) -> BTreeMap<&'static str, String> {
    let p = dir.join(format!("{name}.toml"));
    fs::write(&p, profile).unwrap();
    let out = dir.join(format!("{name}-rpm"));
    let o = run(bin().arg("rpm").arg(&p).arg("-o").arg(&out));
    assert!(o.status.success(), "rpm: {}", stderr(&o));
    let pkg = out.join(&tree(&out)[0].0);
    let rpm = tool("rpm", "rpm (apt)");
    let mut scripts = BTreeMap::new();
    for (tag, name) in [
        ("PREIN", "pre"),
        ("POSTIN", "post"),
        ("PREUN", "preun"),
        ("POSTUN", "postun"),
        ("POSTTRANS", "posttrans"),
    ] {
        let o = Command::new(&rpm)
            .arg("-qp")
            .arg("--qf")
            .arg(format!("%{{{tag}}}"))
            .arg(&pkg)
            .output()
            .unwrap();
        assert!(o.status.success());
        scripts.insert(name, stdout(&o));
    }
    scripts
}

fn install(sb: &Sandbox, s: &BTreeMap<&str, String>) {
    sb.run("pre", &s["pre"], 1);
    sb.run("post", &s["post"], 1);
    sb.run("posttrans", &s["posttrans"], 0);
}

/// rpm's order for an upgrade: the new package's %pre/%post ($1 = 2), the old
/// one's %preun/%postun ($1 = 1), then the new %posttrans.
fn upgrade(sb: &Sandbox, old: &BTreeMap<&str, String>, new: &BTreeMap<&str, String>) {
    sb.run("pre", &new["pre"], 2);
    sb.run("post", &new["post"], 2);
    sb.run("preun (old)", &old["preun"], 1);
    sb.run("postun (old)", &old["postun"], 1);
    sb.run("posttrans", &new["posttrans"], 0);
}

fn erase(sb: &Sandbox, s: &BTreeMap<&str, String>) {
    sb.run("preun", &s["preun"], 0);
    sb.run("postun", &s["postun"], 0);
}

fn count(opts: &[String], arg: &str) -> usize {
    opts.iter().filter(|o| *o == arg).count()
}

const FC41: &str = "c0ffee00c0ffee00c0ffee00c0ffee00-6.11.4-301.fc41.x86_64.conf";
const FC40: &str = "c0ffee00c0ffee00c0ffee00c0ffee00-6.10.12-200.fc40.x86_64.conf";

#[test]
fn install_upgrade_erase_keep_the_admins_arguments() {
    let t = tempfile::tempdir().unwrap();
    let sb = Sandbox::new();
    let before = sb.options();
    // The fc40 entry carries the admin's own preempt=voluntary and threadirqs.
    assert!(before[FC40].contains(&"preempt=voluntary".to_string()));
    let pkg = package(
        t.path(),
        "stock",
        "version = 1\n[kernel]\nflavor = \"stock\"\nargs = [\"threadirqs\", \"nowatchdog\"]\n",
    );

    install(&sb, &pkg);
    let installed = sb.options();
    for entry in [FC41, FC40] {
        for arg in ["preempt=full", "threadirqs", "nowatchdog"] {
            assert_eq!(
                count(&installed[entry], arg),
                1,
                "{entry}: {arg} once after install: {:?}",
                installed[entry]
            );
        }
        assert!(!installed[entry].contains(&"preempt=voluntary".to_string()));
        assert_eq!(
            count(&installed[entry], "mitigations=off"),
            usize::from(entry == FC41)
        );
    }
    assert!(
        sb.file("var/log/calls")
            .unwrap()
            .contains("systemctl --no-reload enable irqbalance.service")
    );

    // Upgrade to the same profile: nothing changes, nothing is doubled.
    upgrade(&sb, &pkg, &pkg);
    assert_eq!(
        sb.options(),
        installed,
        "an upgrade changed the boot entries"
    );

    // Upgrade to a profile without nowatchdog: exactly that one goes.
    let lean = package(
        t.path(),
        "lean",
        "version = 1\n[kernel]\nflavor = \"stock\"\nargs = [\"threadirqs\"]\n",
    );
    upgrade(&sb, &pkg, &lean);
    let upgraded = sb.options();
    for entry in [FC41, FC40] {
        assert_eq!(
            count(&upgraded[entry], "nowatchdog"),
            0,
            "{entry}: {:?}",
            upgraded[entry]
        );
        assert_eq!(count(&upgraded[entry], "preempt=full"), 1);
        assert_eq!(count(&upgraded[entry], "threadirqs"), 1);
    }

    // Erase: what the package added is gone, what the admin had is back.
    erase(&sb, &lean);
    assert_eq!(
        sb.options(),
        before,
        "erase did not restore the boot entries"
    );
    assert!(
        !sb.root.join("var/lib/rtaudio-tuning").exists(),
        "state left behind"
    );
}

#[test]
fn arguments_present_everywhere_before_install_stay_after_erase() {
    let t = tempfile::tempdir().unwrap();
    let sb = Sandbox::new();
    sb.add_entry(
        "6.12.9-100.fc41.x86_64",
        "root=UUID=6a1a4ae7-2b1f-4d1c-9a5e-6c1f0e5b0d11 ro threadirqs",
    );
    // Give every entry threadirqs: it is then the admin's, never the package's.
    for (name, _) in tree(&sb.root.join("boot/loader/entries")) {
        let p = sb.root.join("boot/loader/entries").join(&name);
        let text = fs::read_to_string(&p).unwrap();
        if !text.contains(" threadirqs") {
            fs::write(
                &p,
                text.replace("mitigations=off", "mitigations=off threadirqs"),
            )
            .unwrap();
        }
    }
    let before = sb.options();
    let pkg = package(t.path(), "p", "version = 1\n");
    install(&sb, &pkg);
    let state = sb.file("var/lib/rtaudio-tuning/kargs").unwrap();
    assert!(
        !state.contains("threadirqs"),
        "threadirqs recorded as ours:\n{state}"
    );
    erase(&sb, &pkg);
    assert_eq!(sb.options(), before);
}

#[test]
fn kernel_rt_becomes_the_default_and_erase_restores_the_old_one() {
    let t = tempfile::tempdir().unwrap();
    let sb = Sandbox::new();
    let rt = "6.12.0-55.7.1.el10_0.x86_64+rt";
    sb.add_entry(rt, "root=UUID=6a1a4ae7-2b1f-4d1c-9a5e-6c1f0e5b0d11 ro");
    fs::write(
        sb.root.join("boot/grub2/grubenv"),
        "saved_entry=Fedora Linux (6.11.4-301.fc41.x86_64) 41 (Workstation Edition)\n",
    )
    .unwrap();
    let before = sb.options();
    let pkg = package(
        t.path(),
        "rt",
        "version = 1\n[target]\ndistro = \"centos-stream\"\nrelease = 10\n[kernel]\nflavor = \"rt\"\nisolate_cpus = \"2-3\"\n",
    );
    install(&sb, &pkg);
    let env = sb.file("boot/grub2/grubenv").unwrap();
    assert!(env.contains(rt), "kernel-rt is not the default: {env}");
    assert!(
        sb.file("etc/sysconfig/kernel")
            .unwrap()
            .contains("DEFAULTKERNEL=kernel-rt-core")
    );
    let opts = sb.options();
    let rt_entry = format!("c0ffee00c0ffee00c0ffee00c0ffee00-{rt}.conf");
    for arg in [
        "isolcpus=managed_irq,domain,2-3",
        "nohz_full=2-3",
        "rcu_nocbs=2-3",
        "threadirqs",
    ] {
        assert_eq!(
            count(&opts[&rt_entry], arg),
            1,
            "{arg}: {:?}",
            opts[&rt_entry]
        );
    }
    erase(&sb, &pkg);
    assert_eq!(sb.options(), before);
    assert!(
        sb.file("boot/grub2/grubenv").unwrap().contains("6.11.4"),
        "default kernel not restored"
    );
    assert!(
        sb.file("etc/sysconfig/kernel")
            .unwrap()
            .contains("DEFAULTKERNEL=kernel-core")
    );

    // The admin's own later choice of default survives upgrades and the erase.
    install(&sb, &pkg);
    let fc40 = "saved_entry=Fedora Linux (6.10.12-200.fc40.x86_64) 41 (Workstation Edition)\n";
    fs::write(sb.root.join("boot/grub2/grubenv"), fc40).unwrap();
    upgrade(&sb, &pkg, &pkg);
    assert_eq!(
        sb.file("boot/grub2/grubenv").unwrap(),
        fc40,
        "upgrade overrode the admin's default"
    );
    erase(&sb, &pkg);
    assert_eq!(
        sb.file("boot/grub2/grubenv").unwrap(),
        fc40,
        "erase overrode the admin's default"
    );
    assert_eq!(sb.options(), before);
}

#[test]
fn selinux_modules_are_installed_replaced_and_removed() {
    let t = tempfile::tempdir().unwrap();
    fs::create_dir(t.path().join("selinux")).unwrap();
    for name in ["jack_local", "pw_local"] {
        fs::write(
            t.path().join(format!("selinux/{name}.te")),
            format!("module {name} 1.0;\nrequire {{ type init_t; type sound_device_t; class chr_file {{ open read }}; }}\nallow init_t sound_device_t:chr_file {{ open read }};\n"),
        )
        .unwrap();
    }
    let profile = |name: &str| {
        format!(
            "version = 1\n[[selinux.module]]\nname = \"{name}\"\nfile = \"selinux/{name}.te\"\n"
        )
    };
    let jack = package(t.path(), "jack", &profile("jack_local"));
    let pw = package(t.path(), "pw", &profile("pw_local"));
    let sb = Sandbox::new();
    let calls = || sb.file("var/log/calls").unwrap_or_default();
    install(&sb, &jack);
    assert!(
        calls().contains("semodule -n -s targeted -X 200 -i /usr/share/selinux/packages/rtaudio-tuning/jack_local.cil"),
        "{}",
        calls()
    );
    upgrade(&sb, &jack, &pw);
    assert!(
        calls().contains("-X 200 -i /usr/share/selinux/packages/rtaudio-tuning/pw_local.cil"),
        "{}",
        calls()
    );
    assert!(
        calls().contains("semodule -n -s targeted -X 200 -r jack_local"),
        "{}",
        calls()
    );
    erase(&sb, &pw);
    assert!(
        calls().contains("semodule -n -s targeted -X 200 -r pw_local"),
        "{}",
        calls()
    );
    assert!(
        !calls().contains("load_policy"),
        "SELinux is off in the sandbox: {}",
        calls()
    );
}

#[test]
fn musicians_the_package_added_leave_the_group_when_dropped_or_erased() {
    let t = tempfile::tempdir().unwrap();
    let sb = Sandbox::new();
    let with = package(
        t.path(),
        "with",
        "version = 1\n[[users]]\nname = \"musician\"\ngroups = [\"audio\"]\n",
    );
    install(&sb, &with);
    let calls = sb.file("var/log/calls").unwrap();
    assert!(calls.contains("usermod -a -G realtime musician"), "{calls}");
    assert_eq!(
        sb.file("var/lib/rtaudio-tuning/users-added").as_deref(),
        Some("musician\n")
    );
    // Upgrade to the same profile: the record stays, nobody leaves.
    upgrade(&sb, &with, &with);
    assert!(!sb.file("var/log/calls").unwrap().contains("gpasswd"));
    assert_eq!(
        sb.file("var/lib/rtaudio-tuning/users-added").as_deref(),
        Some("musician\n")
    );
    // A release that no longer names the musician takes back its change.
    let without = package(t.path(), "without", "version = 1\n[rpm]\nrelease = 2\n");
    upgrade(&sb, &with, &without);
    let calls = sb.file("var/log/calls").unwrap();
    assert!(calls.contains("gpasswd -d musician realtime"), "{calls}");
    assert_eq!(
        sb.file("var/lib/rtaudio-tuning/users-added").as_deref(),
        Some("\n")
    );
    // Erase after a fresh install gives the membership back.
    let sb = Sandbox::new();
    install(&sb, &with);
    erase(&sb, &with);
    let calls = sb.file("var/log/calls").unwrap();
    assert_eq!(
        calls.matches("gpasswd -d musician realtime").count(),
        1,
        "{calls}"
    );
    assert!(sb.file("var/lib/rtaudio-tuning/users-added").is_none());
}

#[test]
fn a_value_the_package_changes_at_upgrade_is_not_given_back_on_erase() {
    // Found by vm-test's rpm path: the upgrade once read the boot entries
    // before undoing the old release's arguments, took the old release's
    // isolcpus for the admin's, and erase put it back.
    let t = tempfile::tempdir().unwrap();
    let sb = Sandbox::new();
    let before = sb.options();
    let first = package(
        t.path(),
        "first",
        "version = 1\n[kernel]\nisolate_cpus = \"2-3\"\n",
    );
    let second = package(
        t.path(),
        "second",
        "version = 1\n[kernel]\nisolate_cpus = \"3\"\n[rpm]\nrelease = 2\n",
    );
    install(&sb, &first);
    assert!(sb.options()[FC41].contains(&"nohz_full=2-3".to_string()));
    upgrade(&sb, &first, &second);
    let upgraded = sb.options();
    for entry in [FC41, FC40] {
        assert!(
            upgraded[entry].contains(&"nohz_full=3".to_string()),
            "{upgraded:?}"
        );
        assert!(
            !upgraded[entry].contains(&"nohz_full=2-3".to_string()),
            "{upgraded:?}"
        );
    }
    erase(&sb, &second);
    assert_eq!(sb.options(), before, "erase left the boot entries changed");
}

#[test]
fn a_fleet_hosts_own_kernel_arguments_replace_the_profiles() {
    let t = tempfile::tempdir().unwrap();
    let sb = Sandbox::new();
    // The host's kickstart wrote its arguments: Intel's, not the profile's AMD ones.
    fs::create_dir_all(sb.root.join("etc/rtaudio-tuning/host")).unwrap();
    fs::write(
        sb.root.join("etc/rtaudio-tuning/host/kargs"),
        "preempt=full intel_pstate=disable threadirqs\n",
    )
    .unwrap();
    let before = sb.options();
    let pkg = package(t.path(), "p", "version = 1\n[kernel]\ncpu = \"amd\"\n");
    install(&sb, &pkg);
    for (entry, opts) in sb.options() {
        for arg in ["preempt=full", "intel_pstate=disable", "threadirqs"] {
            assert_eq!(count(&opts, arg), 1, "{entry}: {arg} in {opts:?}");
        }
        assert!(
            !opts.iter().any(|o| o.starts_with("amd_pstate")),
            "{entry}: the profile's argument on a host with its own: {opts:?}"
        );
    }
    erase(&sb, &pkg);
    assert_eq!(sb.options(), before);
}
