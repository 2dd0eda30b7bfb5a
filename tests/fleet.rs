//! `fleet` through the binary: the example inventory renders, every host's
//! kickstart passes ksvalidator, a host's kickstart differs from its profile's
//! only in the lines the inventory gives it, bad inventories are refused naming
//! the host and key, and re-rendering an unchanged inventory rewrites nothing.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use common::*;

fn example() -> PathBuf {
    repo().join("examples/fleet/room.toml")
}

fn fleet(inventory: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    run(bin()
        .arg("fleet")
        .arg(inventory)
        .arg("-o")
        .arg(out)
        .args(extra))
}

fn ok(o: &std::process::Output) {
    assert!(o.status.success(), "fleet failed:\n{}", stderr(o));
}

/// The example profile beside an inventory written in `dir`.
fn copy_studio(dir: &Path) {
    fs::copy(repo().join("examples/studio.toml"), dir.join("studio.toml")).unwrap();
}

/// The image-mode snippet index.json gives a host.
fn snippet_of(out: &Path, index: &serde_json::Value, host: &str) -> PathBuf {
    let h = index["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == host)
        .unwrap();
    out.join(h["image_mode"].as_str().unwrap())
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn the_example_renders_and_every_kickstart_passes_ksvalidator() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("fleet");
    let o = fleet(&example(), &out, &[]);
    ok(&o);
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    let hosts = ["studio-01", "studio-02", "booth"];
    for h in hosts {
        assert!(out.join(format!("hosts/{h}.ks")).is_file(), "{h}");
    }
    // The shared artifacts once, no kickstart of the base profile.
    for shared in [
        "rpm/rtaudio-tuning.spec",
        "blueprint/studio.toml",
        "bootc/Containerfile",
    ] {
        assert!(out.join(shared).is_file(), "{shared}");
    }
    assert!(!out.join("kickstart").exists());

    // One ksvalidator over all of them (it takes many files).
    let ksvalidator = tool("ksvalidator", "pykickstart");
    let o = run(std::process::Command::new(ksvalidator)
        .args(["-v", "F44"])
        .args(hosts.map(|h| out.join(format!("hosts/{h}.ks")))));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));

    // index.json lists every host with its kickstart's sha256.
    let index: serde_json::Value = serde_json::from_str(&read(&out.join("index.json"))).unwrap();
    assert_eq!(index["schema"], 1);
    let listed: Vec<&str> = index["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, hosts);
    for h in index["hosts"].as_array().unwrap() {
        let ks = fs::read(out.join(h["kickstart"]["path"].as_str().unwrap())).unwrap();
        let sha = sha256(&ks);
        assert_eq!(h["kickstart"]["sha256"].as_str().unwrap(), sha);
    }

    // PXE: each MAC points at its host's kickstart.
    let ipxe = read(&out.join("pxe/boot.ipxe"));
    assert!(ipxe.starts_with("#!ipxe\n"));
    assert!(
        ipxe.contains(":mac-52-54-00-20-00-02\nset host studio-02\n"),
        "{ipxe}"
    );
    assert!(ipxe.contains("inst.ks=${base}/hosts/${host}.ks"), "{ipxe}");
    let grub = read(&out.join("pxe/grub.cfg"));
    assert!(grub.contains(
        "if [ \"$net_default_mac\" = \"52:54:00:20:00:01\" ]; then set default=\"studio-01\"; fi"
    ));
    assert!(
        grub.contains("inst.ks=http://10.20.0.1/fleet/hosts/booth.ks"),
        "{grub}"
    );
    let menu = read(&out.join("pxe/pxelinux.menu"));
    assert!(menu.contains("LABEL studio-02\n"), "{menu}");

    // The whole tree passes validate (the kickstart validator covers hosts/).
    let o = run(bin().arg("validate").arg(&out).args([
        "--only",
        "kickstart",
        "--only",
        "scriptlets",
        "--only",
        "consistency",
    ]));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("hosts/booth.ks"), "{}", stdout(&o));
}

/// `validate DIR --only fleet --require-all`.
fn validate_fleet(dir: &Path) -> std::process::Output {
    run(bin()
        .arg("validate")
        .arg(dir)
        .args(["--only", "fleet", "--require-all"]))
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A host's kickstart equals the kickstart of the base profile with the host's
/// overrides written into it, but for the network line and the install disk.
#[test]
fn a_host_differs_from_its_profile_only_where_the_inventory_says() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("fleet");
    ok(&fleet(&example(), &out, &[]));

    let studio = read(&repo().join("examples/studio.toml"));
    // studio-01: cpu = "amd", irq.ban = [42, 43].
    let variant = studio
        .replace("cpu = \"generic\" ", "cpu = \"amd\"     ")
        .replace("ban = []   ", "ban = [42, 43]");
    assert_ne!(
        variant, studio,
        "the example profile changed: update this test"
    );
    let p = t.path().join("studio.toml");
    fs::write(&p, variant).unwrap();
    let single = t.path().join("single");
    render(Some(&p), &single);
    let expected = read(&single.join("kickstart/studio.ks"));
    let host = read(&out.join("hosts/studio-01.ks"));
    // The same kickstart, its network line replaced by the host's own lines
    // at the end, its install source by the room's mirror.
    let dhcp = "network --bootproto=dhcp --device=link --activate\n";
    assert_eq!(expected.matches(dhcp).count(), 1);
    let internet: String = expected
        .lines()
        .filter(|l| l.starts_with("url ") || l.starts_with("repo --name=updates "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(internet.lines().count(), 2, "{expected}");
    let expected = expected.replace(
        &internet,
        "# Install source: the room's mirror ([pxe].repo of the inventory, which the PXE\n\
         # menus pass as inst.repo= too); Anaconda takes this line over inst.repo=.\n\
         url --url=\"http://10.20.0.1/fedora/44/os/\"\n",
    );
    let wanted = format!(
        "{}\n# This machine: host \"studio-01\" of the fleet (its network and install disk).\n\
         network --bootproto=dhcp --device=52:54:00:20:00:01 --activate --hostname=studio-01\n\
         ignoredisk --only-use=nvme0n1\n",
        expected.replace(dhcp, "")
    );
    assert_eq!(host, wanted);

    // studio-02: a static address, intel and isolated CPUs.
    let s2 = read(&out.join("hosts/studio-02.ks"));
    assert!(s2.ends_with("\nnetwork --bootproto=static --device=52:54:00:20:00:02 --ip=10.20.0.12 --netmask=255.255.255.0 --gateway=10.20.0.1 --nameserver=10.20.0.1 --activate --hostname=studio-02\n"), "{s2}");
    assert!(s2.contains("intel_pstate=disable"));
    assert!(s2.contains("isolcpus=managed_irq,domain,2-3"));
    assert!(!s2.contains("ignoredisk"));
    // booth: the base profile's tuning, its own account.
    let booth = read(&out.join("hosts/booth.ks"));
    assert!(
        booth.contains("\nuser --name=engineer --groups=audio,realtime"),
        "{booth}"
    );
    assert!(!booth.contains("amd_pstate") && !booth.contains("intel_pstate"));
}

#[test]
fn image_mode_snippets_hold_what_differs_from_the_image() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("fleet");
    ok(&fleet(&example(), &out, &[]));
    let index: serde_json::Value = serde_json::from_str(&read(&out.join("index.json"))).unwrap();
    let snippet = |host: &str| read(&snippet_of(&out, &index, host));
    let s2 = snippet("studio-02");
    assert!(s2.contains("rpm-ostree kargs --unchanged-exit-77 --append-if-missing=intel_pstate=disable --append-if-missing=isolcpus=managed_irq,domain,2-3"), "{s2}");
    assert!(s2.contains("IRQBALANCE_BANNED_CPULIST=2-3"), "{s2}");
    let booth = snippet("booth");
    assert!(booth.contains("useradd -m engineer"), "{booth}");
    assert!(!booth.contains("rpm-ostree"), "{booth}");
    let shellcheck = tool("shellcheck", "shellcheck");
    for e in fs::read_dir(out.join("image-mode")).unwrap() {
        let p = e.unwrap().path();
        let o = run(std::process::Command::new(&shellcheck).arg(&p));
        assert!(o.status.success(), "{}: {}", p.display(), stdout(&o));
        let o = run(std::process::Command::new("bash").arg("-n").arg(&p));
        assert!(o.status.success(), "{}: {}", p.display(), stderr(&o));
    }
}

#[test]
fn unchanged_hosts_are_not_rewritten() {
    let t = tempfile::tempdir().unwrap();
    let inv = t.path().join("room.toml");
    fs::copy(example(), &inv).unwrap();
    copy_studio(t.path());
    let text = read(&inv).replace("\"../studio.toml\"", "\"studio.toml\"");
    fs::write(&inv, &text).unwrap();
    let out = t.path().join("fleet");
    ok(&fleet(&inv, &out, &[]));
    let ino = |h: &str| {
        fs::metadata(out.join(format!("hosts/{h}.ks")))
            .unwrap()
            .ino()
    };
    let before = [ino("studio-01"), ino("studio-02"), ino("booth")];

    let o = fleet(&inv, &out, &["--changed-only"]);
    ok(&o);
    assert_eq!(stdout(&o), "", "nothing changed");
    assert_eq!([ino("studio-01"), ino("studio-02"), ino("booth")], before);

    // One host changes: only it is reported and rewritten.
    fs::write(
        &inv,
        text.replace("isolate_cpus = \"2-3\"", "isolate_cpus = \"3\""),
    )
    .unwrap();
    let o = fleet(&inv, &out, &["--changed-only"]);
    ok(&o);
    assert_eq!(stdout(&o), "studio-02\n");
    assert_eq!(ino("studio-01"), before[0]);
    assert_eq!(ino("booth"), before[2]);
    assert_ne!(ino("studio-02"), before[1]);
    assert!(read(&out.join("hosts/studio-02.ks")).contains("nohz_full=3 "));
}

fn refused(inventory: &str, expected: &[&str]) {
    let t = tempfile::tempdir().unwrap();
    copy_studio(t.path());
    let inv = t.path().join("room.toml");
    fs::write(&inv, inventory).unwrap();
    let out = t.path().join("fleet");
    let o = fleet(&inv, &out, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    for e in expected {
        assert!(stderr(&o).contains(e), "missing {e:?} in:\n{}", stderr(&o));
    }
    assert!(!out.exists(), "wrote output for a refused inventory");
    let left: Vec<_> = fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

const HEAD: &str = "version = 1\nprofile = \"studio.toml\"\n";

#[test]
fn bad_inventories_are_refused_naming_the_host_and_key() {
    refused(
        &format!("{HEAD}[[host]]\nname = \"a\"\n[[host]]\nname = \"b\"\n[[host]]\nname = \"a\"\n"),
        &[
            "host[2].name: two hosts are named \"a\"",
            "room.toml:8:8",
            "line 4",
        ],
    );
    refused(
        &format!("{HEAD}[[host]]\nname = \"a\"\n[host.kernel]\nflavor = \"rt\"\n"),
        &[
            "host.a.kernel.flavor: unknown key \"flavor\"",
            "room.toml:6:1",
            "cpu, isolate_cpus, args",
        ],
    );
    refused(
        &format!("{HEAD}[[host]]\nname = \"a\"\nhostname = \"x\"\n"),
        &["host.a.hostname: unknown key", "room.toml:5:1"],
    );
    // Overrides are held to the profile's own rules, with the inventory's position.
    refused(
        &format!(
            "{HEAD}[[host]]\nname = \"a\"\n[host.kernel]\nargs = [\"threadirqs\", \"init=/bin/sh\"]\n"
        ),
        &["host.a.kernel.args[1]", "room.toml:6:23"],
    );
    refused(
        &format!("{HEAD}[[host]]\nname = \"a\"\n[host.kernel]\nisolate_cpus = \"2-1\"\n"),
        &["host.a.kernel.isolate_cpus", "room.toml:6:16"],
    );
    refused(
        &format!("{HEAD}[[host]]\nname = \"a\"\n[[host.users]]\nname = \"root\"\n"),
        &["host.a.users[0].name", "room.toml:6:8"],
    );
    // Values that would reach a kickstart or a PXE script.
    refused(
        &format!("{HEAD}[[host]]\nname = \"a\\n%post\"\n"),
        &["host[0].name", "not a valid host name"],
    );
    refused(
        &format!("{HEAD}[[host]]\nname = \"a\"\nmac = \"52:54:00:12:34\"\n"),
        &["host.a.mac", "not a MAC address"],
    );
    refused(
        &format!(
            "{HEAD}[[host]]\nname = \"a\"\nmac = \"52:54:00:12:34:56\"\n[[host]]\nname = \"b\"\nmac = \"52-54-00-12-34-56\"\n"
        ),
        &["host.b.mac", "host \"a\" has the same MAC address"],
    );
    refused(
        &format!("{HEAD}[[host]]\nname = \"a\"\ndisk = \"sda; reboot\"\n"),
        &["host.a.disk", "not an install disk name"],
    );
    refused(
        &format!("{HEAD}[[host]]\nname = \"a\"\n[host.network]\naddress = \"10.0.0.300/24\"\n"),
        &["host.a.network.address"],
    );
    refused(
        &format!(
            "{HEAD}[pxe]\nurl = \"http://x/${{net0/mac}}\"\nkernel = \"http://x/k\"\ninitrd = \"http://x/i\"\n[[host]]\nname = \"a\"\n"
        ),
        &["pxe.url", "not a plain http(s) URL"],
    );
    refused(
        "version = 1\n[[host]]\nname = \"a\"\n",
        &["profile: the inventory names no base profile"],
    );
    refused(HEAD, &["the inventory lists no host"]);
    refused(
        &format!(
            "{HEAD}[[host]]\nname = \"a\"\n[host.network]\naddress = \"10.0.0.5/24\"\n[[host]]\nname = \"b\"\n[host.network]\naddress = \"10.0.0.5/16\"\n"
        ),
        &[
            "host.b.network.address",
            "host \"a\" has the same address 10.0.0.5",
        ],
    );
    refused(
        &format!("{HEAD}[[host]]\nname = \"a\"\n[host.network]\naddress = \"10.0.0.255/24\"\n"),
        &["host.a.network.address", "broadcast address"],
    );
    refused(
        &format!("{HEAD}[[host]]\nname = \"a\"\nmac = \"01:00:5e:00:00:01\"\n"),
        &["host.a.mac", "multicast"],
    );
    refused(
        &format!("{HEAD}[[host]]\nname = \"{}\"\n", "a".repeat(65)),
        &["host[0].name", "at most 64"],
    );
    for url in [
        "http://x/a?b=1&c=2",
        "http://user:pw@x/a",
        "http://x/a b",
        "ftp://x/a",
    ] {
        refused(
            &format!(
                "{HEAD}[pxe]\nurl = \"{url}\"\nkernel = \"http://x/k\"\ninitrd = \"http://x/i\"\nrepo = \"http://x/os\"\n[[host]]\nname = \"a\"\n"
            ),
            &["pxe.url", "not a plain http(s) URL"],
        );
    }
    refused(
        "version = 1\nprofile = \"/etc/passwd.toml\"\n[[host]]\nname = \"a\"\n",
        &["profile", "not a path inside"],
    );
}

#[test]
fn an_inline_profile_works_like_a_file() {
    let t = tempfile::tempdir().unwrap();
    let studio = read(&repo().join("examples/studio.toml"));
    // The profile as a [profile] table: its sections become [profile.X].
    let inline: String = studio
        .lines()
        .map(|l| {
            if let Some(rest) = l.strip_prefix("[[") {
                format!("[[profile.{rest}")
            } else if let Some(rest) = l.strip_prefix('[') {
                format!("[profile.{rest}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let (top, sections) = inline.split_at(inline.find("[profile.").unwrap());
    let inv = format!("version = 1\n[[host]]\nname = \"a\"\n[profile]\n{top}\n{sections}\n");
    let p = t.path().join("room.toml");
    fs::write(&p, inv).unwrap();
    let out = t.path().join("fleet");
    ok(&fleet(&p, &out, &[]));
    let file_based = t.path().join("file");
    let inv2 = t.path().join("room2.toml");
    copy_studio(t.path());
    fs::write(&inv2, format!("{HEAD}[[host]]\nname = \"a\"\n")).unwrap();
    ok(&fleet(&inv2, &file_based, &[]));
    assert_eq!(
        read(&out.join("hosts/a.ks")),
        read(&file_based.join("hosts/a.ks"))
    );
}

#[test]
fn a_profile_with_a_selinux_module_and_json_output() {
    let t = tempfile::tempdir().unwrap();
    fs::copy(
        repo().join("examples/isolated.toml"),
        t.path().join("isolated.toml"),
    )
    .unwrap();
    fs::create_dir(t.path().join("selinux")).unwrap();
    for f in ["studio_local.te", "studio_local.fc"] {
        fs::copy(
            repo().join("examples/selinux").join(f),
            t.path().join("selinux").join(f),
        )
        .unwrap();
    }
    let p = t.path().join("room.toml");
    fs::write(
        &p,
        "version = 1\nprofile = \"isolated.toml\"\n[[host]]\nname = \"a\"\n[host.kernel]\nisolate_cpus = \"3\"\n[[host]]\nname = \"b\"\n",
    )
    .unwrap();
    let out = t.path().join("fleet");
    let o = fleet(&p, &out, &["--json"]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["hosts"], 2);
    assert_eq!(v["variants"], 2);
    assert_eq!(v["changed_hosts"], serde_json::json!(["a", "b"]));
    // The module, compiled once, is in the shared tree and in both kickstarts.
    assert!(out.join("selinux/studio_local.cil").is_file());
    for h in ["a", "b"] {
        let ks = read(&out.join(format!("hosts/{h}.ks")));
        assert!(ks.contains("semodule -n -X 200 -i"), "{h}");
    }
    assert!(read(&out.join("hosts/a.ks")).contains("nohz_full=3 "));
    let o = fleet(&p, &out, &["--json"]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["changed_hosts"], serde_json::json!([]));
}

/// Found in review: two kinds of host with the same image-mode snippet; a
/// umask that would make folders private; a host whose IRQ priorities are
/// dropped; removed hosts; GRUB's fallback.
#[test]
fn review_findings_stay_fixed() {
    let t = tempfile::tempdir().unwrap();
    copy_studio(t.path());
    let p = t.path().join("room.toml");
    let pxe = "[pxe]\nurl = \"http://10.0.0.1/fleet\"\nkernel = \"http://10.0.0.1/k\"\ninitrd = \"http://10.0.0.1/i\"\nrepo = \"http://10.0.0.1/os\"\n";
    let hosts = "[[host]]\nname = \"a\"\nmac = \"52:54:00:00:00:0a\"\n[host.kernel]\ncpu = \"amd\"\n\
                 [[host]]\nname = \"b\"\n[host.kernel]\ncpu = \"amd\"\nargs = [\"threadirqs\"]\n\
                 [[host]]\nname = \"c\"\n[host.irq]\npriority = []\n";
    fs::write(&p, format!("{HEAD}{pxe}{hosts}")).unwrap();
    let out = t.path().join("fleet");
    // umask 077: folders are still 0755 (a web server serves them).
    let o = run(std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 077; exec \"$0\" fleet \"$1\" -o \"$2\"")
        .arg(env!("CARGO_BIN_EXE_rtaudio-tuning"))
        .arg(&p)
        .arg(&out));
    ok(&o);
    use std::os::unix::fs::PermissionsExt as _;
    for d in ["", "hosts", "pxe", "image-mode", "rootfs/usr/lib/sysctl.d"] {
        let mode = fs::metadata(out.join(d)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755, "{d}");
    }
    // a and b share one snippet; c disables the IRQ-priority unit.
    let index: serde_json::Value = serde_json::from_str(&read(&out.join("index.json"))).unwrap();
    let snippet = |i: usize| {
        index["hosts"][i]["image_mode"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(snippet(0), snippet(1));
    let c = read(&out.join(snippet(2)));
    assert!(
        c.contains("systemctl disable rtaudio-irq-priority.service"),
        "{c}"
    );
    // GRUB: an unknown machine boots its disk; grub-script-check agrees.
    let grub = read(&out.join("pxe/grub.cfg"));
    assert!(grub.contains("set default=\"local\"\n"), "{grub}");
    let check = tool("grub-script-check", "grub-common");
    let o = run(std::process::Command::new(check).arg(out.join("pxe/grub.cfg")));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(read(&out.join("pxe/pxelinux.menu")).contains("  MENU DEFAULT\n"));
    // The fleet validator catches a kickstart that no longer matches the
    // index, and a GRUB fragment GRUB cannot parse.
    let broken = t.path().join("broken");
    ok(&fleet(&p, &broken, &[]));
    let o = validate_fleet(&broken);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    fs::write(broken.join("hosts/a.ks"), "text\n").unwrap();
    let o = validate_fleet(&broken);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("hosts/a.ks does not match its sha256"),
        "{}",
        stdout(&o)
    );
    ok(&fleet(&p, &broken, &["--force"]));
    let mut grub = read(&broken.join("pxe/grub.cfg"));
    grub.push_str("if [ x = y ]; then\n");
    fs::write(broken.join("pxe/grub.cfg"), grub).unwrap();
    let o = validate_fleet(&broken);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("grub-script-check pxe/grub.cfg"),
        "{}",
        stdout(&o)
    );

    // A host leaves the inventory: it is reported.
    fs::write(
        &p,
        format!(
            "{HEAD}{pxe}{}",
            &hosts[..hosts.find("[[host]]\nname = \"c\"").unwrap()]
        ),
    )
    .unwrap();
    let o = fleet(&p, &out, &["--changed-only"]);
    ok(&o);
    assert_eq!(stdout(&o), "c\n");
}

/// Two renders into one folder at once: each waits for the other, and the
/// tree left is one of them, whole.
#[test]
fn concurrent_renders_do_not_mix() {
    let t = tempfile::tempdir().unwrap();
    copy_studio(t.path());
    let mut one = String::from(HEAD);
    let mut two = String::from(HEAD);
    for i in 0..2000 {
        one.push_str(&format!("[[host]]\nname = \"h{i}\"\ndisk = \"sda\"\n"));
        two.push_str(&format!("[[host]]\nname = \"h{i}\"\ndisk = \"sdb\"\n"));
    }
    let (p1, p2) = (t.path().join("one.toml"), t.path().join("two.toml"));
    fs::write(&p1, one).unwrap();
    fs::write(&p2, two).unwrap();
    let out = t.path().join("fleet");
    ok(&fleet(&p1, &out, &[]));
    for round in 0..3 {
        let spawn = |p: &Path| {
            bin()
                .arg("fleet")
                .arg(p)
                .arg("-o")
                .arg(&out)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let a = spawn(&p2);
        std::thread::sleep(std::time::Duration::from_millis(20 * round));
        let b = spawn(&p1);
        for c in [a, b] {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        let manifest = read(&out.join("MANIFEST.sha256"));
        for line in manifest.lines() {
            let (hash, path) = line.split_once("  ").unwrap();
            assert_eq!(sha256(&fs::read(out.join(path)).unwrap()), hash, "{path}");
        }
    }
}

/// Found in the second review.
#[test]
fn second_review_findings_stay_fixed() {
    use std::os::unix::fs::PermissionsExt as _;
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("room.toml");
    let pxe = "[pxe]\nurl = \"http://10.0.0.1/fleet\"\nkernel = \"http://10.0.0.1/k\"\ninitrd = \"http://10.0.0.1/i\"\nrepo = \"http://10.0.0.1/os\"\n";
    let text = format!(
        "version = 1\n{pxe}[[host]]\nname = \"a\"\nmac = \"52:54:00:00:00:0a\"\n[host.kernel]\nisolate_cpus = \"3\"\n\
         [[host]]\nname = \"b\"\nmac = \"52:54:00:00:00:0b\"\n\
         [profile]\nversion = 1\n[profile.kernel]\nisolate_cpus = \"2-3\"\n"
    );
    fs::write(&p, &text).unwrap();
    // A loose umask: folders are still 0755.
    let out = t.path().join("fleet");
    let o = run(std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" fleet \"$1\" -o \"$2\"")
        .arg(env!("CARGO_BIN_EXE_rtaudio-tuning"))
        .arg(&p)
        .arg(&out));
    ok(&o);
    for d in ["", "hosts", "pxe", "image-mode"] {
        let mode = fs::metadata(out.join(d)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755, "{d}");
    }
    // A changed kernel argument value: the old one goes first, then the new.
    let index: serde_json::Value = serde_json::from_str(&read(&out.join("index.json"))).unwrap();
    let a = read(&out.join(index["hosts"][0]["image_mode"].as_str().unwrap()));
    let del = a
        .find("--delete-if-present=isolcpus=managed_irq,domain,2-3")
        .expect(&a);
    let add = a
        .find("--append-if-missing=isolcpus=managed_irq,domain,3")
        .expect(&a);
    assert!(del < add, "{a}");
    // The fleet validator: index and menus must agree with the hosts.
    ok(&validate_fleet(&out));
    let ipxe = read(&out.join("pxe/boot.ipxe"));
    fs::write(
        out.join("pxe/boot.ipxe"),
        ipxe.replace("set host b", "set host a"),
    )
    .unwrap();
    let o = validate_fleet(&out);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("MAC 52:54:00:00:00:0b picks a, index.json gives b"),
        "{}",
        stdout(&o)
    );
    fs::remove_dir_all(out.join("hosts")).unwrap();
    let o = validate_fleet(&out);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("hosts/a.ks\" is missing"),
        "{}",
        stdout(&o)
    );
    // --force still reports a host that left the inventory.
    ok(&fleet(&p, &out, &["--force"]));
    let without_b = text.replace("[[host]]\nname = \"b\"\nmac = \"52:54:00:00:00:0b\"\n", "");
    fs::write(&p, without_b).unwrap();
    let o = fleet(&p, &out, &["--force", "--changed-only"]);
    ok(&o);
    assert_eq!(stdout(&o), "b\n");
    // A lock file another user owns is refused (root only: chown).
    if std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n")
    {
        let lock = t.path().join(".other.lock");
        fs::write(&lock, "").unwrap();
        std::os::unix::fs::chown(&lock, Some(65534), Some(65534)).unwrap();
        let o = fleet(&p, &t.path().join("other"), &[]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("belongs to another user"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn too_many_hosts_are_refused() {
    let t = tempfile::tempdir().unwrap();
    copy_studio(t.path());
    let mut inv = String::from(HEAD);
    for i in 0..10_001 {
        inv.push_str(&format!("[[host]]\nname = \"h{i}\"\n"));
    }
    let p = t.path().join("room.toml");
    fs::write(&p, inv).unwrap();
    let o = fleet(&p, &t.path().join("out"), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("at most 10000"), "{}", stderr(&o));
}

/// Hostile or valid values in every host field: an inventory the validator
/// accepts renders a host block of known commands that carries no hostile
/// payload; one it refuses names the host's key, and renders nothing.
#[test]
fn host_fields_never_smuggle_lines_into_a_kickstart() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    const MARK: &str = "PWNED";
    let hostile = prop_oneof![
        Just("x\nnetwork --device=PWNED".to_string()),
        Just("x\n%end\n%post\nPWNED\n%end".to_string()),
        Just("x;PWNED".to_string()),
        Just("$(PWNED)".to_string()),
        Just("x PWNED".to_string()),
        Just("x\"PWNED".to_string()),
        Just("x\u{1}PWNED".to_string()),
        Just("../PWNED".to_string()),
        Just("${net0/mac}PWNED".to_string()),
        "[ -~]{0,12}PWNED".prop_map(|s| s),
    ];
    let name = prop_oneof![
        "[a-z][a-z0-9-]{0,20}[a-z0-9]",
        "[a-z0-9]{1,8}\\.[a-z0-9]{1,8}",
        hostile.clone()
    ];
    let mac = prop_oneof![
        "([0-9a-f]{2}:){5}[0-9a-f]{2}",
        "([0-9A-F]{2}-){5}[0-9A-F]{2}",
        hostile.clone()
    ];
    let disk = prop_oneof![
        "[a-z]{2,4}[0-9]{0,2}",
        "disk/by-id/[A-Za-z0-9_-]{1,20}",
        hostile.clone()
    ];
    let address = prop_oneof![
        (0u8..=255, 0u8..=255, 1u8..=32).prop_map(|(a, b, p)| format!("10.{a}.{b}.7/{p}")),
        hostile
    ];
    let mut runner = TestRunner::new(Config {
        cases: 300,
        ..Config::default()
    });
    let accepted = std::cell::Cell::new(0);
    let refused = std::cell::Cell::new(0);
    runner
        .run(
            &(
                name,
                prop::option::of(mac),
                prop::option::of(disk),
                prop::option::of(address),
            ),
            |(name, mac, disk, address)| {
                let mut inv = String::from("version = 1\n[profile]\nversion = 1\n[[host]]\n");
                let q = |v: &str| toml::Value::String(v.to_string()).to_string();
                inv.push_str(&format!("name = {}\n", q(&name)));
                if let Some(m) = &mac {
                    inv.push_str(&format!("mac = {}\n", q(m)));
                }
                if let Some(d) = &disk {
                    inv.push_str(&format!("disk = {}\n", q(d)));
                }
                if let Some(a) = &address {
                    inv.push_str(&format!("[host.network]\naddress = {}\n", q(a)));
                }
                let loaded =
                    rtaudio_tuning::fleet::parse_text("room.toml".into(), inv.clone(), None);
                match &loaded.fleet {
                    Some(f) => {
                        accepted.set(accepted.get() + 1);
                        let none = rtaudio_tuning::selinux::Compiled::without_modules(f.base())
                            .expect("an inline profile without SELinux modules");
                        let r = rtaudio_tuning::render::fleet::render(f, &none)
                            .expect("an accepted fleet renders");
                        for a in &r.artifacts {
                            let text = a.text_lossy();
                            prop_assert!(
                                !text.contains(MARK),
                                "{} carries a payload:\n{inv}",
                                a.path
                            );
                        }
                        let ks = r
                            .artifacts
                            .iter()
                            .find(|a| a.path.starts_with("hosts/"))
                            .unwrap();
                        let text = ks.text_lossy();
                        let block = &text[text.rfind("\n# This machine: ").unwrap()..];
                        for line in block.lines().skip(2) {
                            prop_assert!(
                                line.starts_with("network --bootproto=")
                                    || line.starts_with("ignoredisk --only-use="),
                                "unexpected line {line:?} from\n{inv}"
                            );
                            prop_assert!(
                                !line
                                    .chars()
                                    .any(|c| c.is_control() || c == '"' || c == '\'')
                            );
                        }
                    }
                    None => {
                        refused.set(refused.get() + 1);
                        prop_assert!(
                            loaded
                                .report
                                .entries
                                .iter()
                                .any(|e| e.key.starts_with("host") && e.span.is_some()),
                            "refused without naming a host key: {:?}\n{inv}",
                            loaded.report.entries
                        );
                    }
                }
                Ok(())
            },
        )
        .unwrap();
    assert!(
        accepted.get() >= 30 && refused.get() >= 30,
        "accepted {} refused {}",
        accepted.get(),
        refused.get()
    );
}

/// The inventory corpus (tests/fixtures/hostile/inventory/*.toml, each saying
/// on its first line what it attacks and in `# expect:` lines which errors it
/// must get): `fleet INV -o DIR` exits 2 naming each key at its line:column,
/// with a fix, and writes nothing.
#[test]
fn every_hostile_inventory_is_refused_naming_its_keys() {
    let dir = repo().join("tests/fixtures/hostile/inventory");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "the corpus lost files: {files:?}");
    for src in files {
        let text = read(&src);
        let name = src.file_name().unwrap().to_string_lossy().into_owned();
        let t = tempfile::tempdir().unwrap();
        let inv = t.path().join(&name);
        fs::write(&inv, &text).unwrap();
        let out = t.path().join("fleet");
        let o = fleet(&inv, &out, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{name}:\n{err}");
        assert_expected_errors(&name, &text, &inv.display().to_string(), &err);
        assert!(!out.exists(), "{name}: output written");
        assert_eq!(
            fs::read_dir(t.path()).unwrap().count(),
            1,
            "{name}: files left beside the output"
        );
    }
}

#[test]
fn third_review_findings_stay_fixed() {
    // A /32 address has no network: its gateway is outside it by design.
    let t = tempfile::tempdir().unwrap();
    let inv = t.path().join("room.toml");
    fs::write(
        &inv,
        "version = 1\n[[host]]\nname = \"a\"\n[host.network]\naddress = \"203.0.113.7/32\"\ngateway = \"203.0.113.1\"\ndns = [\"203.0.113.1\"]\n[profile]\nversion = 1\n",
    )
    .unwrap();
    let out = t.path().join("fleet");
    ok(&fleet(&inv, &out, &[]));
    let ks = read(&out.join("hosts/a.ks"));
    assert!(
        ks.contains("--ip=203.0.113.7 --netmask=255.255.255.255 --gateway=203.0.113.1"),
        "{ks}"
    );
    // The same host's own address as its gateway is still refused.
    refused(
        &format!(
            "{HEAD}[[host]]\nname = \"a\"\n[host.network]\naddress = \"203.0.113.7/32\"\ngateway = \"203.0.113.7\"\n"
        ),
        &["host.a.network.gateway", "this host's own address"],
    );
    // Loopback in disguise: inet_aton reads 0x7f000001 and 0x7f.1 as 127.0.0.1.
    for url in [
        "http://0x7f000001/fleet",
        "http://0x7f.1/fleet",
        "http://2130706433/fleet",
    ] {
        refused(
            &format!(
                "{HEAD}[pxe]\nurl = \"{url}\"\nkernel = \"http://10.0.0.1/k\"\ninitrd = \"http://10.0.0.1/i\"\nrepo = \"http://10.0.0.1/os\"\n[[host]]\nname = \"a\"\nmac = \"52:54:00:00:00:0a\"\n"
            ),
            &["pxe.url", "not a plain http(s) URL"],
        );
    }
    // A command line grown too long by a host's CPU list is the host's
    // isolate_cpus, not the profile's kernel.args.
    let args: Vec<String> = (0..6)
        .map(|i| format!("\"x{i}={}\"", "a".repeat(245)))
        .collect();
    refused(
        &format!(
            "version = 1\n[[host]]\nname = \"a\"\n[host.kernel]\nisolate_cpus = \"2-3\"\n[profile]\nversion = 1\n[profile.kernel]\nargs = [{}]\n",
            args.join(", ")
        ),
        &[
            "error: host.a.kernel.isolate_cpus: the kernel command line",
            "room.toml:5:16",
        ],
    );
}

/// Issue 14: a room with a mirror installs from it, and pxelinux is never
/// handed an https:// URL; the fleet validator fails a tree that does either.
#[test]
fn hosts_install_from_the_room_and_pxelinux_gets_no_https() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("fleet");
    ok(&fleet(&example(), &out, &[]));
    let mirror = "http://10.20.0.1/fedora/44/os/";
    for h in ["studio-01", "studio-02", "booth"] {
        let ks = read(&out.join(format!("hosts/{h}.ks")));
        assert!(ks.contains(&format!("\nurl --url=\"{mirror}\"\n")), "{ks}");
        assert!(!ks.contains("mirrorlist"), "{ks}");
        assert!(!ks.contains("--name=updates"), "{ks}");
    }
    let o = validate_fleet(&out);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));

    // The internet's mirror list back in a host kickstart fails the tree.
    let ks = out.join("hosts/booth.ks");
    let good = read(&ks);
    let internet = "url --mirrorlist=\"https://mirrors.fedoraproject.org/mirrorlist?repo=fedora-44&arch=x86_64\"\nrepo --name=updates --mirrorlist=\"https://mirrors.fedoraproject.org/mirrorlist?repo=updates-released-f44&arch=x86_64\"";
    fs::write(
        &ks,
        good.replace(&format!("url --url=\"{mirror}\""), internet),
    )
    .unwrap();
    let o = validate_fleet(&out);
    assert!(!o.status.success(), "{}", stdout(&o));
    for want in [
        "hosts/booth.ks",
        "url --mirrorlist",
        "repo --mirrorlist",
        "url is not --url=",
    ] {
        assert!(stdout(&o).contains(want), "{want}: {}", stdout(&o));
    }
    // Another mirror than the menus' fails too.
    fs::write(&ks, good.replace(mirror, "http://10.20.0.9/fedora/44/os/")).unwrap();
    let o = validate_fleet(&out);
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("the inst.repo= of the PXE menus"),
        "{}",
        stdout(&o)
    );
    fs::write(&ks, &good).unwrap();

    // An https:// kernel in the pxelinux menu fails: lpxelinux has no TLS.
    let menu = out.join("pxe/pxelinux.menu");
    let text = read(&menu);
    fs::write(&menu, text.replace("KERNEL http://", "KERNEL https://")).unwrap();
    let o = validate_fleet(&out);
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("pxelinux fetches tftp, http, ftp only, not https://"),
        "{}",
        stdout(&o)
    );

    // An https:// installer: iPXE's script only, and a warning saying so.
    copy_studio(t.path());
    fs::create_dir(t.path().join("room")).unwrap();
    let inv = t.path().join("room/room.toml");
    fs::write(
        &inv,
        read(&example()).replace("kernel = \"http://", "kernel = \"https://"),
    )
    .unwrap();
    let out2 = t.path().join("fleet2");
    let o = fleet(&inv, &out2, &[]);
    ok(&o);
    assert!(
        stderr(&o).contains("pxe/pxelinux.menu are not written"),
        "{}",
        stderr(&o)
    );
    assert!(out2.join("pxe/boot.ipxe").is_file());
    assert!(!out2.join("pxe/pxelinux.menu").exists());
    assert!(!out2.join("pxe/grub.cfg").exists());
    let o = validate_fleet(&out2);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

/// Issue 14: image-mode snippets leave the image's /etc files alone (ostree
/// keeps a changed /etc file, so the image's later versions would never
/// apply): a host's values go to /etc/rtaudio-tuning/host/ with a drop-in
/// that points the unit there, and the unit is restarted.
#[test]
fn image_mode_snippets_keep_the_image_files_the_images() {
    let t = tempfile::tempdir().unwrap();
    copy_studio(t.path());
    let inv = t.path().join("room.toml");
    fs::write(
        &inv,
        "version = 1\nprofile = \"studio.toml\"\n\
         [[host]]\nname = \"a\"\n[host.irq]\nban = [42]\n\
         [[host]]\nname = \"b\"\n[[host.irq.priority]]\nmatch = \"snd\"\nprio = 70\n\
         [[host]]\nname = \"c\"\n[host.irq]\npriority = []\n",
    )
    .unwrap();
    let out = t.path().join("fleet");
    ok(&fleet(&inv, &out, &[]));
    let index: serde_json::Value = serde_json::from_str(&read(&out.join("index.json"))).unwrap();
    let snippet = |host: &str| snippet_of(&out, &index, host);
    let a = read(&snippet("a"));
    assert!(
        !a.contains("cat >/etc/rtaudio-tuning/irqbalance.env"),
        "{a}"
    );
    assert!(
        a.contains("cat >/etc/rtaudio-tuning/host/irqbalance.env <<")
            && a.contains("IRQBALANCE_ARGS=\"--banirq=42\"\n"),
        "{a}"
    );
    assert!(
        a.contains("cat >/etc/systemd/system/irqbalance.service.d/rtaudio-tuning.host.conf <<")
            && a.contains("\nEnvironmentFile=/etc/rtaudio-tuning/host/irqbalance.env\n"),
        "{a}"
    );
    assert!(
        a.contains("\nsystemctl try-restart irqbalance.service\n"),
        "{a}"
    );
    // A script the image's unit runs: the host's copy runs instead.
    let b = read(&snippet("b"));
    assert!(
        !b.contains("cat >/etc/rtaudio-tuning/irq-priority.sh"),
        "{b}"
    );
    assert!(
        b.contains("\nExecStart=\nExecStart=/bin/sh /etc/rtaudio-tuning/host/irq-priority.sh\n"),
        "{b}"
    );
    // Both units that run it get the drop-in: the boot run and the
    // per-device template udev starts; only the first has a run to restart.
    for unit in [
        "rtaudio-irq-priority.service",
        "rtaudio-irq-priority@.service",
    ] {
        assert!(
            b.contains(&format!(
                "cat >/etc/systemd/system/{unit}.d/rtaudio-tuning.host.conf <<"
            )),
            "{unit}: {b}"
        );
    }
    assert!(
        b.contains("\nsystemctl try-restart rtaudio-irq-priority.service\n"),
        "{b}"
    );
    // A host without the image's script keeps it and masks the units that
    // run it (udev would still start a disabled one).
    let c = read(&snippet("c"));
    assert!(!c.contains("/etc/rtaudio-tuning/irq-priority.sh"), "{c}");
    assert!(
        c.contains("\nsystemctl mask rtaudio-irq-priority.service rtaudio-irq-priority@.service\n"),
        "{c}"
    );
    let o = validate_fleet(&out);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));

    // A snippet that rewrites the image's file, or forgets the restart, fails.
    let path = snippet("a");
    fs::write(
        &path,
        a.replace(
            "/etc/rtaudio-tuning/host/irqbalance.env <<",
            "/etc/rtaudio-tuning/irqbalance.env <<",
        )
        .replace("systemctl try-restart irqbalance.service\n", ""),
    )
    .unwrap();
    let o = validate_fleet(&out);
    assert!(!o.status.success(), "{}", stdout(&o));
    for want in [
        "/etc/rtaudio-tuning/irqbalance.env is the image's",
        "does not `systemctl try-restart irqbalance.service`",
    ] {
        assert!(stdout(&o).contains(want), "{want}: {}", stdout(&o));
    }
    fs::write(&path, &a).unwrap();

    // systemctl refuses a template's name in try-restart, and set -e stops
    // the snippet there.
    let path = snippet("b");
    fs::write(
        &path,
        b.replace(
            "systemctl try-restart rtaudio-irq-priority.service\n",
            "systemctl try-restart rtaudio-irq-priority.service rtaudio-irq-priority@.service\n",
        ),
    )
    .unwrap();
    let o = validate_fleet(&out);
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(
        stdout(&o)
            .contains("`systemctl try-restart rtaudio-irq-priority@.service` names a template"),
        "{}",
        stdout(&o)
    );
}
