//! `rpm --repo`: the package in a signed dnf repository, the kickstarts that
//! install it from there, and what a client's dnf sees of it (Debian's dnf
//! 4, reading the repository the way Fedora's does: repomd.xml signed,
//! packages signed, two releases side by side).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn root() -> bool {
    Command::new("id").arg("-u").output().unwrap().stdout == b"0\n"
}

/// A studio's key, in a keyring of the test's own: no passphrase.
fn keyring(dir: &Path) -> (PathBuf, String) {
    let home = dir.join("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        let o = Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--passphrase", ""])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "gpg {args:?}: {}", stderr(&o));
        stdout(&o)
    };
    gpg(&[
        "--quick-gen-key",
        "Studio Packages <pkg@studio.example>",
        "rsa3072",
        "sign",
        "never",
    ]);
    let colons = gpg(&["--with-colons", "--list-keys", "pkg@studio.example"]);
    let fpr = colons
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .and_then(|r| r.split(':').find(|f| !f.is_empty()))
        .unwrap()
        .to_string();
    let public = gpg(&["--armor", "--export", &fpr]);
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(dir.join("keys/studio.asc"), public).unwrap();
    (home, fpr)
}

/// `validate` with only these validators passes on `tree`.
fn validate_only(tree: &Path, names: &[&str]) {
    let mut c = bin();
    c.arg("validate");
    for n in names {
        c.args(["--only", n]);
    }
    let o = run(c.arg(tree));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

fn keyring_fingerprint(home: &Path) -> String {
    let o = Command::new("gpg")
        .env("GNUPGHOME", home)
        .args([
            "--batch",
            "--with-colons",
            "--list-secret-keys",
            "pkg@studio.example",
        ])
        .output()
        .unwrap();
    stdout(&o)
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .and_then(|r| r.split(':').find(|f| !f.is_empty()))
        .unwrap()
        .to_string()
}

fn profile(dir: &Path, repo: &Path, release: u32, swappiness: u32) -> PathBuf {
    let path = dir.join("studio.toml");
    std::fs::write(
        &path,
        format!(
            "version = 1\nname = \"studio\"\n[sysctl]\n\"vm.swappiness\" = {swappiness}\n[rpm]\nrelease = {release}\nrepo_url = \"file://{}\"\ngpg_key = \"keys/studio.asc\"\n",
            repo.display()
        ),
    )
    .unwrap();
    path
}

fn publish(home: &Path, profile: &Path, repo: &Path, extra: &[&str]) -> std::process::Output {
    run(bin()
        .env("GNUPGHOME", home)
        .arg("rpm")
        .arg(profile)
        .arg("--repo")
        .arg(repo)
        .args(extra))
}

fn packages(repo: &Path) -> Vec<String> {
    listing(&repo.join("packages"))
}

/// dnf as a client with the package's own .repo file and key: the
/// installroot holds what the package installed, and the key's path
/// (file:///etc/pki/rpm-gpg/..., read on the host) is given to this
/// process alone through an overlay on /etc in a mount namespace of its own.
fn dnf(root_dir: &Path, work: &Path, args: &str) -> std::process::Output {
    let (upper, wd) = (work.join("etc-upper"), work.join("etc-work"));
    let _ = std::fs::remove_dir_all(&upper);
    let _ = std::fs::remove_dir_all(&wd);
    std::fs::create_dir_all(&upper).unwrap();
    std::fs::create_dir_all(&wd).unwrap();
    let script = format!(
        "set -e; mount -t overlay overlay -o lowerdir=/etc,upperdir={u},workdir={w} /etc; \
         mkdir -p /etc/pki/rpm-gpg; cp {r}/etc/pki/rpm-gpg/RPM-GPG-KEY-rtaudio-tuning /etc/pki/rpm-gpg/; \
         exec dnf -y --noplugins --installroot={r} --releasever=44 --setopt=skip_if_unavailable=False {args}",
        u = upper.display(),
        w = wd.display(),
        r = root_dir.display(),
    );
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap()
}

#[test]
fn a_signed_repository_updates_its_clients_and_refuses_a_release_that_did_not_change() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let (home, fpr) = keyring(dir);
    let repo = dir.join("repo");

    // Release 1, signed, with a .repo file for clients.
    let p = profile(dir, &repo, 1, 10);
    let o = publish(&home, &p, &repo, &["--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(v["repo"]["signed_by"], fpr.as_str(), "{v:#}");
    assert_eq!(v["repo"]["repo_file"], "rtaudio-tuning.repo", "{v:#}");
    assert_eq!(
        packages(&repo),
        ["rtaudio-tuning-0.1.0-1.studio.noarch.rpm"]
    );
    for f in [
        "repodata/repomd.xml",
        "repodata/repomd.xml.asc",
        "rtaudio-tuning.repo",
        "RPM-GPG-KEY-rtaudio-tuning",
    ] {
        assert!(repo.join(f).is_file(), "{f}");
    }
    let repo_file = std::fs::read_to_string(repo.join("rtaudio-tuning.repo")).unwrap();
    assert!(
        repo_file.contains(&format!("baseurl=file://{}\n", repo.display())),
        "{repo_file}"
    );
    assert!(
        repo_file.contains("gpgcheck=1\nrepo_gpgcheck=1\n"),
        "{repo_file}"
    );

    // The same profile again: nothing changes, not a byte.
    let before = tree(&repo);
    let o = publish(&home, &p, &repo, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("nothing changed"), "{}", stdout(&o));
    assert_eq!(tree(&repo), before);

    // Other content under the same release: dnf would never take it.
    let p = profile(dir, &repo, 1, 5);
    let o = publish(&home, &p, &repo, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("dnf upgrade would not take it"), "{err}");
    assert!(
        err.contains("release = 2") && err.contains("--bump-release"),
        "{err}"
    );
    assert_eq!(
        tree(&repo),
        before,
        "a refused build left the repository as it was"
    );

    // --bump-release builds release 2, which is then what release = 2 renders.
    let o = publish(&home, &p, &repo, &["--bump-release"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        packages(&repo),
        [
            "rtaudio-tuning-0.1.0-1.studio.noarch.rpm",
            "rtaudio-tuning-0.1.0-2.studio.noarch.rpm"
        ]
    );
    let p = profile(dir, &repo, 2, 5);
    let o = publish(&home, &p, &repo, &[]);
    assert!(
        stdout(&o).contains("nothing changed"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );

    // Kickstarts install the package from the repository, no here-documents,
    // and the delivery paths still agree.
    let out = dir.join("tree");
    render(Some(&p), &out);
    for ks in ["kickstart/studio.ks", "kickstart/studio-live.ks"] {
        let text = std::fs::read_to_string(out.join(ks)).unwrap();
        assert!(
            text.contains(&format!(
                "\nrepo --name=rtaudio-tuning --baseurl=\"file://{}\"\n",
                repo.display()
            )),
            "{ks}:\n{text}"
        );
        let packages = &text[text.find("\n%packages\n").unwrap()..];
        let packages = &packages[..packages.find("\n%end\n").unwrap()];
        assert!(packages.contains("\nrtaudio-tuning\n"), "{ks}: {packages}");
        assert!(!text.contains("cat >/etc/security/limits.d/"), "{ks}");
        assert!(
            text.contains("\nrpmkeys --import /etc/pki/rpm-gpg/RPM-GPG-KEY-rtaudio-tuning\n"),
            "{ks}"
        );
    }
    validate_only(&out, &["consistency", "kickstart", "rpm-spec"]);

    if !root() {
        eprintln!("skipped the client's view: dnf in a mount namespace needs root");
        return;
    }
    // A workstation with release 1 installed (its files: the .repo, the key).
    let client = dir.join("client");
    std::fs::create_dir_all(&client).unwrap();
    let rpm = |args: &[&str]| {
        let o = Command::new("rpm")
            .arg("--root")
            .arg(&client)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "rpm {args:?}: {}", stderr(&o));
    };
    rpm(&["--initdb"]);
    rpm(&[
        "-i",
        "--nodeps",
        "--noscripts",
        repo.join("packages/rtaudio-tuning-0.1.0-1.studio.noarch.rpm")
            .to_str()
            .unwrap(),
    ]);
    // dnf checks repomd.xml's signature with the package's key (repo_gpgcheck)
    // and offers release 2; both releases are there to go back to.
    let o = dnf(&client, dir, "check-update");
    assert_eq!(o.status.code(), Some(100), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("0.1.0-2.studio"), "{}", stdout(&o));
    let o = dnf(&client, dir, "repoquery --show-duplicates rtaudio-tuning");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o)
            .lines()
            .filter(|l| l.starts_with("rtaudio-tuning-"))
            .collect::<Vec<_>>(),
        [
            "rtaudio-tuning-0:0.1.0-1.studio.noarch",
            "rtaudio-tuning-0:0.1.0-2.studio.noarch"
        ]
    );
    // With the package's key in the client's rpm database (what dnf does
    // before it installs from a gpgcheck=1 repository), the new package's
    // signature checks, and a package signed by nobody does not.
    rpm(&[
        "--import",
        client
            .join("etc/pki/rpm-gpg/RPM-GPG-KEY-rtaudio-tuning")
            .to_str()
            .unwrap(),
    ]);
    let checksig = |file: &Path| {
        Command::new("rpmkeys")
            .arg("--root")
            .arg(&client)
            .args(["--define", "_pkgverify_level signature", "--checksig"])
            .arg(file)
            .output()
            .unwrap()
    };
    let new = repo.join("packages/rtaudio-tuning-0.1.0-2.studio.noarch.rpm");
    let o = checksig(&new);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let unsigned = dir.join("unsigned");
    let o = run(bin().arg("rpm").arg(&p).arg("-o").arg(&unsigned));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = checksig(&unsigned.join("rtaudio-tuning-0.1.0-2.studio.noarch.rpm"));
    assert!(
        !o.status.success(),
        "an unsigned package passed: {}",
        stdout(&o)
    );

    // Metadata someone changed on the server: dnf takes nothing from the
    // repository (the .repo's skip_if_unavailable lets the distribution's
    // updates go on), and with it required, dnf fails.
    let repomd = repo.join("repodata/repomd.xml");
    let mut text = std::fs::read_to_string(&repomd).unwrap();
    text.push('\n');
    std::fs::write(&repomd, text).unwrap();
    let o = dnf(&client, dir, "--refresh check-update");
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(!stdout(&o).contains("0.1.0-2.studio"), "{}", stdout(&o));
    assert!(stderr(&o).contains("Bad GPG signature"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Ignoring repositories: rtaudio-tuning"),
        "{}",
        stderr(&o)
    );
    let o = dnf(
        &client,
        dir,
        "--refresh --setopt=rtaudio-tuning.skip_if_unavailable=False check-update",
    );
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn a_third_release_drops_the_first_and_a_foreign_package_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let (home, _) = keyring(dir);
    let repo = dir.join("repo");
    for (release, swappiness) in [(1, 10), (2, 11), (3, 12)] {
        let p = profile(dir, &repo, release, swappiness);
        let o = publish(&home, &p, &repo, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(
        packages(&repo),
        [
            "rtaudio-tuning-0.1.0-2.studio.noarch.rpm",
            "rtaudio-tuning-0.1.0-3.studio.noarch.rpm"
        ]
    );
    // A release below the repository's newest is refused: machines keep 3.
    let p = profile(dir, &repo, 2, 13);
    let o = publish(&home, &p, &repo, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("newer than this build's"),
        "{}",
        stderr(&o)
    );

    // Without the secret key in the keyring: a clear refusal, nothing written.
    let empty = dir.join("empty-gnupg");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::set_permissions(&empty, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let p = profile(dir, &repo, 4, 14);
    let before = tree(&repo);
    let o = publish(&empty, &p, &repo, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is not in this keyring"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tree(&repo), before);

    // Another profile's package is not mixed in: machines would take it as
    // an upgrade.
    let other = dir.join("laptop");
    std::fs::create_dir_all(other.join("keys")).unwrap();
    std::fs::copy(dir.join("keys/studio.asc"), other.join("keys/studio.asc")).unwrap();
    let text = std::fs::read_to_string(profile(dir, &repo, 9, 15))
        .unwrap()
        .replace("name = \"studio\"", "name = \"laptop\"");
    std::fs::write(other.join("laptop.toml"), text).unwrap();
    let before = tree(&repo);
    let o = publish(&home, &other.join("laptop.toml"), &repo, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the package of another profile"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tree(&repo), before);

    // A folder of someone else's is not taken over.
    let theirs = dir.join("theirs");
    std::fs::create_dir_all(&theirs).unwrap();
    std::fs::write(theirs.join("notes.txt"), "mine").unwrap();
    let o = publish(&home, &p, &theirs, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(theirs.join("notes.txt")).unwrap(),
        "mine"
    );

    // A signing subkey made after the key was exported: clients, who have
    // only the exported key, could not check what it signs. Refused before
    // anything is written.
    let fpr = keyring_fingerprint(&home);
    let o = Command::new("gpg")
        .env("GNUPGHOME", &home)
        .args([
            "--batch",
            "--passphrase",
            "",
            "--quick-add-key",
            &fpr,
            "rsa3072",
            "sign",
            "never",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let p = profile(dir, &repo, 5, 16);
    let o = publish(&home, &p, &repo, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("do not check against the profile's gpg_key"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tree(&repo), before);
}

#[test]
fn a_fleet_serves_its_repository_and_every_host_installs_from_it() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let (home, fpr) = keyring(dir);
    let out = dir.join("fleet");
    let p = profile(dir, Path::new("/unused"), 1, 10);
    let text = std::fs::read_to_string(&p).unwrap().replace(
        "repo_url = \"file:///unused\"",
        "repo_url = \"http://10.20.0.1/fleet/repo/\"",
    );
    std::fs::write(&p, text).unwrap();
    let room = std::fs::read_to_string(repo().join("examples/fleet/room.toml"))
        .unwrap()
        .replace("profile = \"../studio.toml\"", "profile = \"studio.toml\"");
    assert!(room.contains("profile = \"studio.toml\""));
    let inventory = dir.join("room.toml");
    std::fs::write(
        &inventory,
        format!("{room}\n[[host]]\nname = \"plain\"\nmac = \"52:54:00:20:00:09\"\n"),
    )
    .unwrap();
    let fleet = |extra: &[&str]| {
        run(bin()
            .env("GNUPGHOME", &home)
            .arg("fleet")
            .arg(&inventory)
            .arg("-o")
            .arg(&out)
            .args(extra))
    };
    let o = fleet(&["--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["repo"]["signed_by"], fpr.as_str(), "{v:#}");
    assert_eq!(
        packages(&out.join("repo")),
        ["rtaudio-tuning-0.1.0-1.studio.noarch.rpm"]
    );
    assert!(out.join("repo/repodata/repomd.xml.asc").is_file());

    // A host like the profile installs the package from the room's
    // repository; so does a host with its own kernel and IRQ settings, then
    // makes its changes on top: its copy of irqbalance.env under the host
    // folder, and its kernel arguments where the package's scriptlets read
    // them.
    let plain = std::fs::read_to_string(out.join("hosts/plain.ks")).unwrap();
    assert!(
        plain.contains("\nrepo --name=rtaudio-tuning --baseurl=\"http://10.20.0.1/fleet/repo/\"\n"),
        "{plain}"
    );
    assert!(
        plain.contains("\nrtaudio-tuning\n") && !plain.contains("cat >/etc/"),
        "{plain}"
    );
    let own = std::fs::read_to_string(out.join("hosts/studio-01.ks")).unwrap();
    assert!(own.contains("\nrtaudio-tuning\n"), "{own}");
    assert!(
        own.contains("\ncat >/etc/rtaudio-tuning/host/irqbalance.env <<'RTAUDIO_TUNING_EOF'\n"),
        "{own}"
    );
    assert!(
        own.contains(" >/etc/rtaudio-tuning/host/kargs\n") && own.contains("amd_pstate=passive"),
        "{own}"
    );
    assert!(!own.contains("cat >/etc/security/limits.d/"), "{own}");
    validate_only(&out, &["consistency", "fleet", "kickstart"]);

    // Again: nothing changes.
    let before = tree(&out);
    let o = fleet(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing changed"), "{}", stderr(&o));
    assert_eq!(tree(&out), before);

    // The profile changed, its release did not: refused, the tree as it was;
    // --bump-release adds release 2 beside 1.
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("= 10\n", "= 11\n");
    std::fs::write(&p, text).unwrap();
    let o = fleet(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--bump-release"), "{}", stderr(&o));
    assert_eq!(tree(&out), before);
    let o = fleet(&["--bump-release"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("release raised to 2.studio"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        packages(&out.join("repo")),
        [
            "rtaudio-tuning-0.1.0-1.studio.noarch.rpm",
            "rtaudio-tuning-0.1.0-2.studio.noarch.rpm"
        ]
    );
}
