//! The tool's own package, rtaudio-tuning-cli, built for real by
//! scripts/tool-rpm (rpmbuild, and cargo offline inside it from the vendored
//! crates): its name, what it provides and ships, that its binary runs, that
//! rpmlint finds no error, and that it shares no file with the package the tool
//! generates, so both install on one machine.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn script() -> PathBuf {
    repo().join("scripts/tool-rpm")
}

fn check(cmd: &mut Command, what: &str) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        o.status.success(),
        "{what} failed ({}):\n{}{}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// What one run of scripts/tool-rpm made.
struct Built {
    dir: PathBuf,
    printed: Vec<PathBuf>,
    rpm: PathBuf,
    srpm: PathBuf,
}

/// scripts/tool-rpm run once for every test here: the inner release build
/// takes minutes. A failed build fails each test with its message rather than
/// running again.
fn built() -> &'static Built {
    static BUILT: OnceLock<Result<Built, String>> = OnceLock::new();
    let result = BUILT.get_or_init(|| {
        std::panic::catch_unwind(build).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "scripts/tool-rpm failed".into())
        })
    });
    match result {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    }
}

fn build() -> Built {
    tool("cargo", "Rust 1.85 or later (rustup)");
    tool("rpmbuild", "rpm (apt) or rpm-build (dnf)");
    tool("rpmspec", "rpm (apt) or rpm-build (dnf)");
    // cargo's own folder for the tests' files: a run's packages stay there to
    // look at, and the next run starts afresh.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tool-package");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("rpms");
    let printed = check(
        Command::new("bash").arg(script()).arg(&out),
        "scripts/tool-rpm",
    );
    let printed: Vec<PathBuf> = printed.lines().map(PathBuf::from).collect();
    let named = |pred: &dyn Fn(&str) -> bool| -> Vec<PathBuf> {
        listing(&out)
            .into_iter()
            .filter(|n| pred(n))
            .map(|n| out.join(n))
            .collect()
    };
    let prefix = format!("rtaudio-tuning-cli-{VERSION}-");
    let mut srpm = named(&|n| n.starts_with(&prefix) && n.ends_with(".src.rpm"));
    let mut rpm = named(&|n| {
        n.starts_with(&prefix) && (n.ends_with(".x86_64.rpm") || n.ends_with(".aarch64.rpm"))
    });
    assert!(
        srpm.len() == 1 && rpm.len() == 1,
        "expected one {prefix}*.src.rpm and one {prefix}*.ARCH.rpm in {}: {:?}",
        out.display(),
        listing(&out)
    );
    Built {
        dir,
        printed,
        rpm: rpm.remove(0),
        srpm: srpm.remove(0),
    }
}

fn rpm() -> PathBuf {
    tool("rpm", "rpm (apt)")
}

/// The files (not folders) of a package, by `rpm -qp`.
fn files(pkg: &Path) -> BTreeSet<String> {
    let listed = check(
        Command::new(rpm())
            .args(["-qp", "--qf", "[%{FILENAMES}\t%{FILEMODES:perms}\n]"])
            .arg(pkg),
        "rpm -qp FILENAMES",
    );
    listed
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(_, perms)| !perms.starts_with('d'))
        .map(|(path, _)| path.to_string())
        .collect()
}

#[test]
fn tool_rpm_refuses_a_folder_that_holds_anything() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("keep.txt"), "mine").unwrap();
    let o = run(Command::new("bash").arg(script()).arg(t.path()));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not empty"), "{}", stderr(&o));
    assert_eq!(listing(t.path()), ["keep.txt"]);

    let o = run(Command::new("bash").arg(script()));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("usage: scripts/tool-rpm OUTDIR"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_package_is_rtaudio_tuning_cli_and_does_not_stand_in_for_rtaudio_tuning() {
    let b = built();
    let mut printed = b.printed.clone();
    printed.sort();
    let mut made = vec![b.rpm.clone(), b.srpm.clone()];
    made.sort();
    let out = b.rpm.parent().unwrap();
    assert!(
        made.iter().all(|p| printed.contains(p)),
        "scripts/tool-rpm printed {printed:?}, made {made:?}"
    );
    assert_eq!(printed.len(), listing(out).len(), "{printed:?}");

    let nvr = check(
        Command::new(rpm())
            .args(["-qp", "--qf", "%{NAME} %{VERSION} %{LICENSE}\n"])
            .arg(&b.rpm),
        "rpm -qp NAME",
    );
    assert_eq!(nvr.trim(), format!("rtaudio-tuning-cli {VERSION} MIT"));

    let provides = check(
        Command::new(rpm()).arg("-qp").arg("--provides").arg(&b.rpm),
        "rpm -qp --provides",
    );
    let names: Vec<&str> = provides
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.contains(&"rtaudio-tuning-cli"), "{provides}");
    assert!(
        !names.contains(&"rtaudio-tuning"),
        "the tool's package provides rtaudio-tuning, the generated package's name:\n{provides}"
    );
}

#[test]
fn the_package_ships_the_command_its_manual_pages_and_completions() {
    let b = built();
    let shipped = files(&b.rpm);
    let has = |path: &str| shipped.contains(path);
    // A manual page as rpm left it: compressed on Fedora, not by Debian's rpm.
    let has_page = |page: &str| {
        let path = format!("/usr/share/man/man1/{page}");
        shipped.iter().any(|f| {
            f == &path
                || [".gz", ".bz2", ".xz", ".zst"]
                    .iter()
                    .any(|x| *f == format!("{path}{x}"))
        })
    };
    assert!(has("/usr/bin/rtaudio-tuning"), "{shipped:#?}");
    for completion in [
        "/usr/share/bash-completion/completions/rtaudio-tuning",
        "/usr/share/zsh/site-functions/_rtaudio-tuning",
        "/usr/share/fish/vendor_completions.d/rtaudio-tuning.fish",
    ] {
        assert!(has(completion), "no {completion}: {shipped:#?}");
    }

    // A page for the command and one per subcommand that is not hidden: the
    // pages this build writes.
    let t = tempfile::tempdir().unwrap();
    let pages = t.path().join("man");
    let o = run(bin().arg("man").arg("-o").arg(&pages));
    assert!(o.status.success(), "{}", stderr(&o));
    let pages = listing(&pages);
    for page in [
        "rtaudio-tuning.1",
        "rtaudio-tuning-render.1",
        "rtaudio-tuning-rpm.1",
    ] {
        assert!(
            pages.iter().any(|p| p == page),
            "man -o wrote no {page}: {pages:?}"
        );
    }
    for page in &pages {
        assert!(has_page(page), "no {page}: {shipped:#?}");
    }
    let in_man1 = shipped
        .iter()
        .filter(|f| f.starts_with("/usr/share/man/man1/"))
        .count();
    assert_eq!(in_man1, pages.len(), "{shipped:#?}");

    // Fedora's folders are NAME; Debian's rpm makes them NAME-VERSION.
    let in_folder = |base: &str, file: &str| {
        has(&format!("{base}/rtaudio-tuning-cli/{file}"))
            || has(&format!("{base}/rtaudio-tuning-cli-{VERSION}/{file}"))
    };
    for doc in ["README.md", "CHANGELOG.md"] {
        assert!(in_folder("/usr/share/doc", doc), "no {doc}: {shipped:#?}");
    }
    assert!(
        in_folder("/usr/share/licenses", "LICENSE"),
        "no LICENSE: {shipped:#?}"
    );
}

#[test]
fn the_package_shares_no_file_with_the_generated_package() {
    let b = built();
    // The embedded default profile: an empty folder holds no studio.toml for
    // `rpm` to take instead.
    let t = tempfile::tempdir().unwrap();
    let empty = t.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = t.path().join("rpms");
    let printed = check(
        bin().arg("rpm").arg("-o").arg(&out).current_dir(&empty),
        "rtaudio-tuning rpm",
    );
    let generated = PathBuf::from(printed.lines().next().unwrap());
    let name = check(
        Command::new(rpm())
            .args(["-qp", "--qf", "%{NAME}"])
            .arg(&generated),
        "rpm -qp NAME",
    );
    assert_eq!(name, "rtaudio-tuning");

    let theirs = files(&generated);
    let ours = files(&b.rpm);
    assert!(!theirs.is_empty() && !ours.is_empty());
    let shared: Vec<&String> = ours.intersection(&theirs).collect();
    assert!(
        shared.is_empty(),
        "both packages ship {shared:?}: they cannot be installed together"
    );
}

#[test]
fn the_packaged_binary_runs() {
    let b = built();
    tool("rpm2cpio", "rpm (apt)");
    tool("cpio", "cpio (apt)");
    let payload = b.dir.join("payload");
    std::fs::create_dir_all(&payload).unwrap();
    check(
        Command::new("sh")
            .arg("-c")
            .arg("rpm2cpio \"$1\" | cpio -idm --quiet")
            .arg("sh")
            .arg(&b.rpm)
            .current_dir(&payload),
        "rpm2cpio | cpio",
    );
    let packaged = payload.join("usr/bin/rtaudio-tuning");
    let version = check(Command::new(&packaged).arg("--version"), "--version");
    assert!(
        version.starts_with(&format!("rtaudio-tuning {VERSION}")),
        "{version}"
    );
    let completion = check(
        Command::new(&packaged).args(["completions", "bash"]),
        "completions bash",
    );
    assert!(
        completion.contains("complete -F _rtaudio__tuning"),
        "{completion}"
    );
    // The completion file in the package is what the binary prints.
    let shipped = std::fs::read_to_string(
        payload.join("usr/share/bash-completion/completions/rtaudio-tuning"),
    )
    .unwrap();
    assert_eq!(shipped, completion);
}

#[test]
fn rpmlint_finds_no_error_in_the_spec_or_the_packages() {
    let b = built();
    let rpmlint = tool("rpmlint", "rpmlint (apt)");
    // Fedora's configuration enables BashismsCheck, which runs checkbashisms.
    tool("checkbashisms", "devscripts (apt)");
    let mut lint = Command::new(&rpmlint);
    match std::env::var_os("RTAUDIO_TUNING_RPMLINT_CONFIG") {
        Some(dir) => {
            lint.arg("-c").arg(dir);
        }
        None => assert!(
            Path::new("/etc/xdg/rpmlint/fedora.toml").is_file(),
            "unavailable: rpmlint's Fedora configuration; set RTAUDIO_TUNING_RPMLINT_CONFIG to configs/Fedora of rpmlint's source (scripts/test does)"
        ),
    }
    let o = run(lint
        .arg(repo().join("packaging/rtaudio-tuning-cli.spec"))
        .arg(&b.srpm)
        .arg(&b.rpm));
    let report = format!("{}{}", stdout(&o), stderr(&o));
    let errors: Vec<&str> = report.lines().filter(|l| l.contains(": E: ")).collect();
    assert!(errors.is_empty(), "rpmlint errors:\n{}", errors.join("\n"));
    assert!(
        o.status.success(),
        "rpmlint exited with {}:\n{report}",
        o.status
    );
    assert!(report.contains(" 0 errors"), "{report}");
}
