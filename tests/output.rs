//! Output folders through the real binary: nothing a user wrote is lost. A
//! folder rtaudio-tuning did not write is refused with or without --force and
//! left byte for byte as it was (tests/fixtures/hostile/output/, copied to a
//! temporary folder, and cases made here); inside a rendered tree, files and
//! folders its MANIFEST.sha256 does not list are the user's and are kept;
//! --force only discards hand edits to files the manifest lists.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

/// What a folder holds, links not followed: each path with its kind, mode and
/// bytes (a link's target). Two snapshots are equal exactly when nothing in
/// the folder changed.
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    Folder(u32),
    File(u32, Vec<u8>),
    Link(PathBuf),
    Other(u32),
}

fn snapshot(dir: &Path) -> Vec<(String, Entry)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            let mode = m.permissions().mode() & 0o7777;
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let entry = if m.file_type().is_symlink() {
                Entry::Link(fs::read_link(&p).unwrap())
            } else if m.is_dir() {
                stack.push(p);
                Entry::Folder(mode)
            } else if m.is_file() {
                Entry::File(mode, fs::read(&p).unwrap())
            } else {
                Entry::Other(mode)
            };
            out.push((rel, entry));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Copy a fixture folder, links as links.
fn copy(from: &Path, to: &Path) {
    fs::create_dir(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let t = e.file_type().unwrap();
        if t.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if t.is_dir() {
            copy(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

fn room() -> PathBuf {
    repo().join("examples/fleet/room.toml")
}

fn other_profile() -> PathBuf {
    repo().join("examples/fedora-stock-amd.toml")
}

/// `render [PROFILE] -o OUT ARGS`.
fn render_to(profile: Option<&Path>, out: &Path, args: &[&str]) -> Output {
    let mut cmd = bin();
    cmd.arg("render");
    if let Some(p) = profile {
        cmd.arg(p);
    }
    run(cmd.arg("-o").arg(out).args(args))
}

fn fleet_to(out: &Path, args: &[&str]) -> Output {
    run(bin().arg("fleet").arg(room()).arg("-o").arg(out).args(args))
}

fn ok(o: &Output) {
    assert!(o.status.success(), "failed:\n{}", stderr(o));
}

/// Exit 2 with no raw control character in the report; returns stderr.
fn refused(o: &Output) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        !err.chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "a raw control character reached the terminal:\n{err:?}"
    );
    err
}

/// Every way a tree is written into `out`; each must be refused.
fn every_writer(out: &Path) -> Vec<(String, Output)> {
    vec![
        ("render".into(), render_to(None, out, &[])),
        ("render --force".into(), render_to(None, out, &["--force"])),
        ("fleet --force".into(), fleet_to(out, &["--force"])),
    ]
}

#[test]
fn hostile_output_folders_are_refused_and_left_as_they_were() {
    let corpus = repo().join("tests/fixtures/hostile/output");
    let readme = fs::read_to_string(corpus.join("README.md")).unwrap();
    let mut cases = 0;
    for case in listing(&corpus) {
        let src = corpus.join(&case);
        if !src.is_dir() {
            continue;
        }
        cases += 1;
        assert!(
            readme.contains(&format!("`{case}`")),
            "README.md does not say what {case} attacks"
        );
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        copy(&src, &out);
        let before = snapshot(&out);
        for (how, o) in every_writer(&out) {
            let err = refused(&o);
            assert!(
                err.contains("not written by rtaudio-tuning")
                    && err.contains("with or without --force"),
                "{case}, {how}:\n{err}"
            );
            for name in listing(&out) {
                assert!(
                    err.contains(&format!("  {name}")),
                    "{case}, {how}: {name} not listed:\n{err}"
                );
            }
            assert_eq!(snapshot(&out), before, "{case}, {how}: the folder changed");
            assert_eq!(listing(t.path()), ["out"], "{case}, {how}: left beside it");
        }
    }
    assert!(cases >= 10, "the hostile output corpus lost cases");
}

#[test]
fn a_foreign_folder_made_here_is_refused_too() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    // Names that would act on a terminal, and many of them: the list is
    // escaped and bounded.
    fs::write(out.join("\x1b]0;owned\x07.flac"), "x").unwrap();
    fs::write(out.join("ok\rfake line"), "x").unwrap();
    for i in 0..500 {
        fs::write(out.join(format!("track-{i:03}.flac")), "x").unwrap();
    }
    // A FIFO as the manifest: never opened.
    rustix::fs::mknodat(
        rustix::fs::CWD,
        out.join("MANIFEST.sha256"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let before = snapshot(&out);
    for (how, o) in every_writer(&out) {
        let err = refused(&o);
        assert!(
            err.contains("MANIFEST.sha256 is not a file it can read"),
            "{how}:\n{err}"
        );
        assert!(err.contains("\\u{1b}]0;owned\\u{7}.flac"), "{how}:\n{err}");
        assert!(err.contains("and 483 more"), "{how}:\n{err}");
        assert!(err.lines().count() < 40, "{how}: the list is not bounded");
        assert_eq!(snapshot(&out), before, "{how}");
    }

    // The output's own name is escaped too.
    let named = t.path().join("\x1b[2Jmusic");
    fs::create_dir(&named).unwrap();
    fs::write(named.join("a.flac"), "x").unwrap();
    assert!(refused(&render_to(None, &named, &["--force"])).contains("\\u{1b}[2Jmusic"));

    // A manifest past the size limit is not read on.
    let big = t.path().join("big");
    fs::create_dir(&big).unwrap();
    let line = format!("{}  kickstart/studio.ks\n", "0".repeat(64));
    fs::write(
        big.join("MANIFEST.sha256"),
        line.repeat((9 << 20) / line.len()),
    )
    .unwrap();
    let err = refused(&render_to(None, &big, &["--force"]));
    assert!(err.contains("larger than the 8 MiB"), "{err}");
}

#[test]
fn the_output_folder_may_be_the_current_one() {
    let t = tempfile::tempdir().unwrap();
    let here = t.path().join("tree");
    fs::create_dir(&here).unwrap();
    let in_here = |out: &str, args: &[&str]| {
        run(bin()
            .current_dir(&here)
            .args(["render", "-o", out])
            .args(args))
    };
    // An empty folder, then the tree it became, by every spelling.
    ok(&in_here(".", &[]));
    let tree = tree(&here);
    assert!(here.join("MANIFEST.sha256").is_file());
    for spelling in [".", "./", "./.", "../tree"] {
        ok(&in_here(spelling, &[]));
        ok(&in_here(spelling, &["--force"]));
        assert_eq!(common::tree(&here), tree, "{spelling}");
    }
    fs::create_dir(here.join("sub")).unwrap();
    ok(&in_here("sub/..", &[]));
    assert!(here.join("sub").is_dir());
    // The lock went beside the folder, not into it, and is gone.
    assert_eq!(listing(t.path()), ["tree"]);
    assert!(!listing(&here).iter().any(|n| n.ends_with(".lock")));
    // A different profile replaces the tree; a shell in it is told how to
    // see the new one.
    let o = run(bin()
        .current_dir(&here)
        .arg("render")
        .arg(other_profile())
        .args(["-o", "."]));
    ok(&o);
    assert!(stderr(&o).contains("`cd .`"), "{}", stderr(&o));
    assert!(here.join("kickstart/jam-room.ks").is_file());

    // `/` has no folder to be written beside; the folder a user is in, when it
    // holds the user's files, is someone else's.
    let err = refused(&run(bin().args(["render", "-o", "/", "--force"])));
    assert!(err.contains("cannot be an output folder"), "{err}");
    let home = t.path().join("home");
    fs::create_dir(&home).unwrap();
    fs::write(home.join("thesis.tex"), "years of work\n").unwrap();
    let o = run(bin()
        .current_dir(&home)
        .args(["render", "-o", ".", "--force"]));
    assert!(refused(&o).contains("thesis.tex"));
    assert_eq!(listing(&home), ["thesis.tex"]);
}

#[test]
fn a_users_empty_folders_survive_every_re_render() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    render(None, &out);
    let drafts = out.join("kickstart/drafts");
    fs::create_dir(&drafts).unwrap();
    fs::set_permissions(&drafts, fs::Permissions::from_mode(0o700)).unwrap();
    fs::create_dir_all(out.join("later/and/deeper")).unwrap();
    let survived = |when: &str| {
        let m = fs::symlink_metadata(&drafts).unwrap();
        assert!(m.is_dir(), "{when}: kickstart/drafts is gone");
        assert_eq!(m.permissions().mode() & 0o7777, 0o700, "{when}");
        assert!(out.join("later/and/deeper").is_dir(), "{when}");
    };
    ok(&render_to(None, &out, &[]));
    survived("an unchanged re-render");
    ok(&render_to(None, &out, &["--force"]));
    survived("a --force re-render");
    ok(&render_to(Some(&other_profile()), &out, &[]));
    survived("a render of another profile");
    fs::write(out.join("rpm/rtaudio-tuning.spec"), "edited\n").unwrap();
    assert!(refused(&render_to(None, &out, &[])).contains("added: kickstart/drafts/"));
    ok(&render_to(None, &out, &["--force"]));
    survived("a --force render over a hand edit");
    // A fleet into the same folder: render's kickstart/ is no longer the
    // tree's, the user's folder in it still is there.
    ok(&fleet_to(&out, &[]));
    survived("a fleet");
    assert!(!out.join("kickstart/studio.ks").exists());
    assert_eq!(listing(t.path()), ["out"]);
}

#[test]
fn a_users_files_are_never_deleted() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    render(None, &out);
    fs::write(out.join("notes.txt"), "mine\n").unwrap();
    fs::create_dir(out.join("kickstart/drafts")).unwrap();
    fs::write(out.join("kickstart/drafts/my.ks"), "text\n").unwrap();
    std::os::unix::fs::symlink("studio.ks", out.join("kickstart/latest")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", out.join("rootfs/shadow")).unwrap();
    let git = out.join(".git/objects/ab");
    fs::create_dir_all(&git).unwrap();
    fs::write(git.join("cdef"), [0u8, 1, 2, 255]).unwrap();
    fs::set_permissions(git.join("cdef"), fs::Permissions::from_mode(0o444)).unwrap();
    let inode = fs::metadata(out.join("notes.txt")).unwrap().ino();
    let mine = |snap: Vec<(String, Entry)>| -> Vec<(String, Entry)> {
        snap.into_iter()
            .filter(|(p, _)| {
                [
                    "notes.txt",
                    "kickstart/drafts",
                    "kickstart/latest",
                    "rootfs/shadow",
                    ".git",
                ]
                .iter()
                .any(|m| p.starts_with(m))
            })
            .collect()
    };
    let before = mine(snapshot(&out));
    assert_eq!(before.len(), 9);
    let kept = |when: &str| {
        assert_eq!(mine(snapshot(&out)), before, "{when}");
        assert_eq!(
            fs::metadata(out.join("notes.txt")).unwrap().ino(),
            inode,
            "{when}: not the same file"
        );
    };
    let o = render_to(Some(&other_profile()), &out, &[]);
    ok(&o);
    assert!(
        stderr(&o).contains("kept 9 files and folders of yours"),
        "{}",
        stderr(&o)
    );
    kept("a render of another profile");
    fs::write(out.join("kickstart/jam-room.ks"), "edited\n").unwrap();
    ok(&render_to(None, &out, &["--force"]));
    kept("a --force render over a hand edit");
    ok(&fleet_to(&out, &["--force"]));
    kept("a fleet");
    ok(&render_to(None, &out, &[]));
    kept("a render back");
    assert_eq!(listing(t.path()), ["out"]);
}

#[test]
fn a_users_file_where_the_new_tree_writes_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    render(None, &out);
    // Another profile writes kickstart/jam-room.ks: the user has one there.
    fs::write(out.join("kickstart/jam-room.ks"), "my own\n").unwrap();
    let before = snapshot(&out);
    for args in [&[][..], &["--force"]] {
        let err = refused(&render_to(Some(&other_profile()), &out, args));
        assert!(
            err.contains("where the new tree puts its own")
                && err.contains("  kickstart/jam-room.ks"),
            "{err}"
        );
        assert_eq!(snapshot(&out), before);
    }
    fs::remove_file(out.join("kickstart/jam-room.ks")).unwrap();
    // A folder of the user's where the tree has a file, a link where it has
    // a folder (never followed: the folder it points to is not written).
    fs::remove_file(out.join("kickstart/studio.ks")).unwrap();
    fs::create_dir(out.join("kickstart/studio.ks")).unwrap();
    fs::write(out.join("kickstart/studio.ks/mine"), "x").unwrap();
    let victim = t.path().join("victim");
    fs::create_dir(&victim).unwrap();
    fs::write(victim.join("keep"), "x").unwrap();
    fs::rename(out.join("rootfs/etc"), t.path().join("etc")).unwrap();
    std::os::unix::fs::symlink(&victim, out.join("rootfs/etc")).unwrap();
    let before = snapshot(&out);
    let err = refused(&render_to(None, &out, &["--force"]));
    assert!(
        err.contains("  kickstart/studio.ks/\n") && err.contains("  rootfs/etc\n"),
        "{err}"
    );
    assert!(
        !err.contains("studio.ks/mine"),
        "the folder's contents listed too:\n{err}"
    );
    assert_eq!(snapshot(&out), before);
    assert_eq!(listing(&victim), ["keep"]);
}

#[test]
fn hand_edits_are_refused_without_force_and_replaced_with_it() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    render(None, &out);
    let fresh = snapshot(&out);
    let spec = out.join("rpm/rtaudio-tuning.spec");
    fs::write(&spec, "edited\n").unwrap();
    // A listed file replaced by a link to a device: not read, not followed.
    let ks = out.join("kickstart/studio.ks");
    fs::remove_file(&ks).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &ks).unwrap();
    let err = refused(&render_to(None, &out, &[]));
    assert!(err.contains("changed: rpm/rtaudio-tuning.spec"), "{err}");
    assert!(
        err.contains("changed: kickstart/studio.ks (now a symbolic link)"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert_eq!(fs::read_to_string(&spec).unwrap(), "edited\n");
    ok(&render_to(None, &out, &["--force"]));
    assert_eq!(snapshot(&out), fresh);
    // Every file of the tree deleted but one: still the tree, the others
    // missing.
    for f in ["rpm/rtaudio-tuning.spec", "kickstart/studio.ks"] {
        fs::remove_file(out.join(f)).unwrap();
    }
    assert!(refused(&render_to(None, &out, &[])).contains("missing: kickstart/studio.ks"));
    ok(&render_to(None, &out, &["--force"]));
    assert_eq!(snapshot(&out), fresh);
}

#[test]
fn init_replaces_only_a_profile() {
    let t = tempfile::tempdir().unwrap();
    let song = t.path().join("song.flac");
    fs::write(&song, b"fLaC\0\x01").unwrap();
    let notes = t.path().join("Cargo.toml");
    fs::write(&notes, "[package]\nname = \"x\"\n").unwrap();
    for p in [&song, &notes] {
        for args in [&[][..], &["--force"]] {
            refused(&run(bin().arg("init").arg(p).args(args)));
        }
    }
    assert_eq!(fs::read(&song).unwrap(), b"fLaC\0\x01");
    assert_eq!(
        fs::read_to_string(&notes).unwrap(),
        "[package]\nname = \"x\"\n"
    );
    // A link or a folder is not replaced either.
    let link = t.path().join("link.toml");
    std::os::unix::fs::symlink(&song, &link).unwrap();
    let folder = t.path().join("folder.toml");
    fs::create_dir(&folder).unwrap();
    for p in [&link, &folder] {
        let err = refused(&run(bin().arg("init").arg(p).arg("--force")));
        assert!(err.contains("is not a file"), "{err}");
    }
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // A profile, edited or broken but still one, is.
    let profile = t.path().join("studio.toml");
    fs::write(&profile, "version = 1\nname = \"BAD NAME\"\n").unwrap();
    ok(&run(bin().arg("init").arg(&profile).arg("--force")));
    assert_eq!(
        fs::read_to_string(&profile).unwrap(),
        fs::read_to_string(repo().join("examples/studio.toml")).unwrap()
    );
}
