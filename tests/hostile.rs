//! The adversarial corpus (tests/fixtures/hostile/*.toml, each saying at its
//! top what it attacks and, in `# expect: KEY @ LINE:COL` lines, which errors
//! it must get), plus inputs made here: non-UTF-8 bytes, oversize files and
//! values, deep nesting. Every one goes through the real binary
//! (`render PROFILE -o DIR`): exit 2, errors naming the key and line:column,
//! and nothing written: no output folder, no temporary folder beside it.

mod common;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::*;

/// The documented profile size limit (README: "Limits and hostile input").
const LIMIT: usize = 1 << 20;

/// Render `profile` (a file in its own temporary folder) into a sibling `out`:
/// the output and its temporary folders are observable there.
fn render_refused(dir: &Path, profile: &Path) -> String {
    let before = listing(dir);
    let out = dir.join("out");
    let o = run(bin().arg("render").arg(profile).arg("-o").arg(&out));
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}: exit {:?}\n{err}",
        profile.display(),
        o.status
    );
    assert!(!out.exists(), "{}: output written", profile.display());
    assert_eq!(
        listing(dir),
        before,
        "{}: files left beside the output",
        profile.display()
    );
    err
}

/// The profile corpus: `NAME.toml` profiles, and `NAME/` folders whose
/// `profile.toml` brings files of its own (SELinux module sources), copied
/// whole. Folders without a profile.toml hold other kinds of hostile input
/// (inventories, audit logs, captured machines, output folders), each tried by
/// the tests of its command.
fn corpus() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(repo().join("tests/fixtures/hostile"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            if p.is_dir() {
                Some(p.join("profile.toml")).filter(|p| p.is_file())
            } else {
                p.extension().is_some_and(|e| e == "toml").then_some(p)
            }
        })
        .collect();
    v.sort();
    v
}

/// Copy a corpus entry into `dir`: the profile, and its folder's other files.
fn place(src: &Path, dir: &Path) -> PathBuf {
    if src.file_name().is_some_and(|n| n == "profile.toml") {
        let case = src.parent().unwrap();
        let name = case.file_name().unwrap();
        let to = dir.join(name);
        for e in walkdir_files(case) {
            let rel = e.strip_prefix(case).unwrap();
            let dest = to.join(rel);
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            fs::copy(&e, &dest).unwrap();
        }
        to.join("profile.toml")
    } else {
        let p = dir.join(src.file_name().unwrap());
        fs::copy(src, &p).unwrap();
        p
    }
}

fn walkdir_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn every_hostile_profile_is_refused_naming_its_keys_and_nothing_is_written() {
    let files = corpus();
    assert!(files.len() >= 30, "the corpus lost files: {}", files.len());
    for src in files {
        let text = fs::read_to_string(&src).unwrap();
        let name = src
            .strip_prefix(repo().join("tests/fixtures/hostile"))
            .unwrap()
            .display()
            .to_string();
        let t = tempfile::tempdir().unwrap();
        let p = place(&src, t.path());
        let err = render_refused(p.parent().unwrap(), &p);
        assert_expected_errors(&name, &text, &p.display().to_string(), &err);
        assert!(err.contains("nothing was written"), "{name}:\n{err}");
        // A hostile value is shown escaped: it cannot forge lines of the report
        // or reach the terminal as a control sequence.
        assert!(
            !err.chars().any(|c| c.is_control() && c != '\n'),
            "{name}: a raw control character reached the terminal:\n{err:?}"
        );
        for line in err.lines() {
            assert!(
                !line.starts_with("reboot") && !line.starts_with("RUN ") && line != "%post",
                "{name}: a value broke out of its line in the report:\n{err}"
            );
        }
    }
}

#[test]
fn non_utf8_bytes_are_refused_with_their_place() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("latin1.toml");
    fs::write(&p, b"version = 1\n[[users]]\nname = \"jos\xe9\"\n").unwrap();
    let err = render_refused(t.path(), &p);
    assert!(
        err.contains("not UTF-8") && err.contains(&format!("{}:3:12", p.display())),
        "{err}"
    );
    // A lone continuation byte and an overlong encoding of '/'.
    for bytes in [
        &b"version = 1\nname = \"a\x80\"\n"[..],
        b"version = 1\n\xc0\xaf = 1\n",
    ] {
        fs::write(&p, bytes).unwrap();
        let err = render_refused(t.path(), &p);
        assert!(err.contains("not UTF-8"), "{err}");
    }
}

#[test]
fn oversize_profiles_are_refused_before_parsing() {
    let t = tempfile::tempdir().unwrap();
    // A TOML syntax error first: the size is judged before any parsing.
    let p = t.path().join("huge.toml");
    let mut text = String::from("version = = 1\n");
    while text.len() <= LIMIT {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    fs::write(&p, &text).unwrap();
    let err = render_refused(t.path(), &p);
    assert!(
        err.contains("larger than 1 MiB") && !err.contains("syntax"),
        "{err}"
    );

    // Exactly at the limit is fine.
    let at = t.path().join("at-limit.toml");
    let mut text = String::from("version = 1\n");
    while text.len() + 70 < LIMIT {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    text.push_str(&"#".repeat(LIMIT - text.len() - 1));
    text.push('\n');
    assert_eq!(text.len(), LIMIT);
    fs::write(&at, &text).unwrap();
    let o = run(bin()
        .arg("render")
        .arg(&at)
        .arg("-o")
        .arg(t.path().join("ok")));
    assert!(o.status.success(), "{}", stderr(&o));
    fs::remove_dir_all(t.path().join("ok")).unwrap();

    // A device that never ends is read only up to the limit.
    let err = render_refused(t.path(), Path::new("/dev/zero"));
    assert!(err.contains("larger than 1 MiB"), "{err}");
}

/// `render -` reads the profile from standard input, at most the limit.
fn render_stdin(dir: &Path, input: Vec<u8>) -> Output {
    let mut child = bin()
        .args(["render", "-", "-o"])
        .arg(dir.join("out"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The binary stops reading past the limit: a broken pipe here is expected.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    o
}

#[test]
fn oversize_standard_input_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let mut big = b"version = 1\n".to_vec();
    big.resize(8 * LIMIT, b'\n');
    let o = render_stdin(t.path(), big);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("<stdin> is larger than 1 MiB"),
        "{}",
        stderr(&o)
    );
    assert!(listing(t.path()).is_empty());

    let o = render_stdin(
        t.path(),
        b"version = 1\n[[users]]\nname = \"a;b\"\n".to_vec(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        names(&stderr(&o), "<stdin>", "users[0].name", Some((3, 8))),
        "{}",
        stderr(&o)
    );
    assert!(listing(t.path()).is_empty());

    let o = render_stdin(t.path(), b"version = 1\nname = \"piped\"\n".to_vec());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(t.path().join("out/kickstart/piped.ks").is_file());
}

#[test]
fn oversize_values_inside_the_limit_are_refused_by_their_grammar() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("p.toml");
    let long = "a".repeat(LIMIT / 2);
    for (text, key, at) in [
        (
            format!("version = 1\n[[users]]\nname = \"{long}\"\n"),
            "users[0].name",
            (3, 8),
        ),
        (
            format!("version = 1\n[kernel]\nrepo = \"https://example.org/{long}\"\n"),
            "kernel.repo",
            (3, 8),
        ),
        (
            format!("version = 1\n[sysctl]\n\"vm.{long}\" = 1\n"),
            // A report clips a key path as long as this one (middle cut).
            &*rtaudio_tuning::text::clip(
                &format!("sysctl.\"vm.{long}\""),
                rtaudio_tuning::report::KEY_CHARS,
            )
            .into_owned(),
            (3, 1),
        ),
        // 100,000 distinct arguments: over the command line, and not compared
        // pairwise on the way.
        (
            format!(
                "version = 1\n[kernel]\nargs = [{}]\n",
                (0..100_000)
                    .map(|i| format!("\"a{i}\""))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            "kernel.args",
            (3, 8),
        ),
    ] {
        fs::write(&p, text).unwrap();
        let err = render_refused(t.path(), &p);
        assert!(
            names(&err, &p.display().to_string(), key, Some(at)),
            "{key}:\n{}",
            &err[..err.len().min(2000)]
        );
    }
}

/// Nesting deeper than the parser descends is a syntax error with its
/// line:column: arrays and inline tables where the nesting stops, a dotted key
/// (table header or key) where the key starts.
#[test]
fn deep_nesting_is_a_syntax_error_not_a_crash() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("deep.toml");
    let shown = p.display().to_string();
    let depth = 100_000;
    for (text, at) in [
        (
            format!(
                "version = 1\nx = {}{}\n",
                "[".repeat(depth),
                "]".repeat(depth)
            ),
            None,
        ),
        (
            format!(
                "version = 1\nx = {}1{}\n",
                "{a = ".repeat(depth),
                "}".repeat(depth)
            ),
            None,
        ),
        (
            format!("version = 1\n[sysctl]\nvm{} = 1\n", ".a".repeat(depth)),
            Some((3, 1)),
        ),
        (
            format!("version = 1\n\n[a{}]\nx = 1\n", ".a".repeat(200)),
            Some((3, 2)),
        ),
        (
            format!("version = 1\ny = {{ b{} = 1 }}\n", ".b".repeat(200)),
            Some((2, 7)),
        ),
    ] {
        fs::write(&p, &text).unwrap();
        let err = render_refused(t.path(), &p);
        assert!(names(&err, &shown, "(syntax)", at), "{err}");
        // Every refusal has its place, on the line of the nesting.
        let place = err
            .lines()
            .find_map(|l| l.trim_start().strip_prefix(&format!("--> {shown}:")))
            .unwrap_or_else(|| panic!("no line:column:\n{err}"));
        let line: usize = place.split(':').next().unwrap().parse().unwrap();
        assert!(line >= 2, "{err}");
    }
}
