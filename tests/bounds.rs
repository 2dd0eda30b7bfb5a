//! Bounded output on hostile input, and a reader that goes away, through the
//! real binary. Reports of profiles and inventories with thousands of errors,
//! or one line of a mebibyte, list the first 50 entries and say how many more
//! there are, echo a window of the line with the caret under the span, and
//! stay small in text and JSON. A closed standard output or error ends the
//! command quietly (exit 141), never with a panic, and leaves nothing behind.
//! How long refusing the largest inputs takes is measured by
//! `scripts/bench-hostile`, not here.

mod common;

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use unicode_width::UnicodeWidthChar as _;

use common::*;

/// The documented profile size limit (README: "Limits and hostile input").
const LIMIT: usize = 1 << 20;
/// Entries the text report prints, and entries `--json` lists.
const PRINTED: usize = 50;
const KEPT: usize = 1000;
/// The exit status of a command whose reader went away.
const CLOSED: i32 = 141;

/// A profile of just under `LIMIT` bytes: `head`, then `unit(i)` for i = 0,
/// 1, ... joined by `sep` while they fit, then `tail`. Returns it and the
/// number of units.
fn filled(head: &str, unit: impl Fn(usize) -> String, sep: &str, tail: &str) -> (String, usize) {
    let mut text = head.to_string();
    let mut n = 0;
    loop {
        let u = unit(n);
        if text.len() + sep.len() + u.len() + tail.len() > LIMIT {
            break;
        }
        if n > 0 {
            text.push_str(sep);
        }
        text.push_str(&u);
        n += 1;
    }
    text.push_str(tail);
    (text, n)
}

/// A profile of 1 MiB with an error on every line from line 3 on: `"kI" = 1`,
/// not a sysctl key.
fn error_per_line() -> (String, usize) {
    filled(
        "version = 1\n[sysctl]\n",
        |i| format!("\"k{i}\" = 1"),
        "\n",
        "\n",
    )
}

/// Render `text` as a profile; the refusal's stderr.
fn refused(dir: &Path, text: &str) -> String {
    let p = dir.join("p.toml");
    fs::write(&p, text).unwrap();
    let o = run(bin().arg("render").arg(&p).arg("-o").arg(dir.join("out")));
    assert_eq!(o.status.code(), Some(2), "{}", &stderr(&o)[..2000]);
    assert!(!dir.join("out").exists());
    stderr(&o)
}

/// The blocks of a text report, each starting at its `error:` or `warning:`
/// line.
fn blocks(err: &str) -> Vec<&str> {
    let starts: Vec<usize> = err
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .chain([0])
        .filter(|&i| err[i..].starts_with("error: ") || err[i..].starts_with("warning: "))
        .collect();
    let mut starts = starts;
    starts.sort();
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| &err[s..starts.get(k + 1).copied().unwrap_or(err.len())])
        .collect()
}

/// The echoed line of a block from the column of its first caret on, counted
/// as a terminal does (a wide character takes two columns).
fn under_caret(block: &str) -> String {
    let lines: Vec<&str> = block.lines().collect();
    let carets = lines.iter().position(|l| l.contains('^')).expect("a caret");
    let col = lines[carets].find('^').unwrap();
    let mut at = 0;
    lines[carets - 1]
        .chars()
        .skip_while(|c| {
            let before = at < col;
            at += c.width().unwrap_or(0);
            before
        })
        .collect()
}

/// Columns a line takes on a terminal.
fn columns(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

#[test]
fn a_profile_with_an_error_per_line_lists_fifty_and_counts_the_rest() {
    let t = tempfile::tempdir().unwrap();
    let (text, n) = error_per_line();
    let err = refused(t.path(), &text);
    let b = blocks(&err);
    assert_eq!(b.len(), PRINTED, "{}", &err[..2000]);
    for (i, block) in b.iter().enumerate() {
        assert!(
            block.contains(&format!("p.toml:{}:1\n", i + 3)),
            "entry {i} out of order:\n{block}"
        );
        assert!(
            under_caret(block).starts_with(&format!("\"k{i}\"")),
            "{block}"
        );
    }
    assert!(
        err.contains(&format!(
            "... and {} more errors and 0 warnings not listed",
            n - PRINTED
        )),
        "{}",
        &err[err.len() - 1000..]
    );
    assert!(err.contains(&format!("{n} problems; nothing was written")));
    assert!(err.len() < 40_000, "{} bytes of report", err.len());
}

#[test]
fn a_one_line_profile_is_echoed_as_a_window_with_the_caret_in_place() {
    let t = tempfile::tempdir().unwrap();
    // Wide characters and escapes in the keys, on one line of 1 MiB.
    let (text, n) = filled(
        "version = 1\nsysctl = { ",
        |i| format!("\"漢字\\u001b[2J{i}\" = 1"),
        ", ",
        " }\n",
    );
    let err = refused(t.path(), &text);
    let b = blocks(&err);
    assert_eq!(b.len(), PRINTED);
    let mut col = "sysctl = { ".len() + 1;
    for (i, block) in b.iter().enumerate() {
        let key = format!("\"漢字\\u001b[2J{i}\"");
        assert!(block.contains(&format!("p.toml:2:{col}\n")), "{block}");
        col += key.chars().count() + " = 1, ".len();
        assert!(under_caret(block).starts_with(&key), "entry {i}:\n{block}");
        let echoed = block.lines().find(|l| l.starts_with("2 | ")).unwrap();
        // At most 100 columns of the line (wide characters take two), and
        // `…` where it was cut.
        assert!(columns(&echoed[4..]) <= 102, "{echoed}");
        assert!(echoed.ends_with('…'), "{echoed}");
        if i > 5 {
            assert!(echoed.starts_with("2 | …"), "{echoed}");
        }
    }
    assert!(err.contains(&format!("... and {} more errors", n - PRINTED)));
    assert!(
        !err.chars().any(|c| c.is_control() && c != '\n'),
        "a raw control character reached the terminal"
    );
    assert!(err.len() < 60_000, "{} bytes of report", err.len());
}

#[test]
fn json_lists_the_first_thousand_and_counts_the_rest() {
    let t = tempfile::tempdir().unwrap();
    let (text, n) = error_per_line();
    let p = t.path().join("p.toml");
    fs::write(&p, text).unwrap();
    let o = run(bin()
        .args(["render", "--json"])
        .arg(&p)
        .arg("-o")
        .arg(t.path().join("out")));
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.len() < 400_000, "{} bytes of JSON", o.stdout.len());
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let problems = doc["problems"].as_array().unwrap();
    assert_eq!(problems.len(), KEPT + 1);
    assert_eq!(problems[0]["line"], 3);
    assert_eq!(problems[KEPT - 1]["key"], format!("sysctl.k{}", KEPT - 1));
    let last = &problems[KEPT];
    assert_eq!(last["key"], "");
    assert_eq!(
        last["message"],
        format!("{} more errors and 0 warnings not listed", n - KEPT)
    );
}

#[test]
fn values_and_keys_of_a_mebibyte_are_quoted_by_their_ends() {
    let t = tempfile::tempdir().unwrap();
    let long = "a".repeat(LIMIT - 100);
    for text in [
        format!("version = 1\nname = \"{long}z\"\n"),
        format!("version = 1\n[sysctl]\n\"{long}z\" = 1\n"),
    ] {
        let err = refused(t.path(), &text);
        assert!(err.len() < 5_000, "{} bytes of report", err.len());
        assert!(
            err.contains(&format!("({} characters)", long.len() + 1)),
            "{err}"
        );
        assert!(err.contains("aaaz\""), "{err}");
    }
}

/// `fleet INVENTORY -o out` beside it, refused; its stderr.
fn fleet_refused(inv: &Path) -> String {
    let out = inv.with_file_name("out");
    let o = run(bin().arg("fleet").arg(inv).arg("-o").arg(&out));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{}", &err[..err.len().min(2000)]);
    assert!(!out.exists());
    err
}

#[test]
fn an_inventory_of_wrong_hosts_gets_the_same_bounds() {
    let t = tempfile::tempdir().unwrap();
    // The corpus case: 120 hosts on one line, five errors each.
    let src = repo().join("tests/fixtures/hostile/inventory-flood/inventory.toml");
    let inv = t.path().join("inventory.toml");
    fs::copy(&src, &inv).unwrap();
    let err = fleet_refused(&inv);
    assert_eq!(blocks(&err).len(), PRINTED);
    assert!(
        err.contains("... and 550 more errors and 0 warnings not listed"),
        "{err}"
    );
    assert!(err.contains("600 problems; nothing was written"), "{err}");
    assert!(!err.chars().any(|c| c.is_control() && c != '\n'), "{err:?}");

    // 10,000 hosts (the documented limit), each wrong, with an inline profile:
    // a host's overrides are merged into the profile, and the report stays
    // the same size.
    let mut text = String::from("version = 1\n");
    for i in 0..10_000 {
        let _ = writeln!(
            text,
            "[[host]]\nname = \"h{i}\"\nmac = \"52:54:00:zz:{i}\"\n[host.kernel]\nargs = [\"init=/bin/sh\"]"
        );
    }
    text.push_str("[profile]\nversion = 1\nname = \"room\"\n");
    fs::write(&inv, &text).unwrap();
    let err = fleet_refused(&inv);
    assert_eq!(blocks(&err).len(), PRINTED);
    // Equal overrides are walked once: the hosts after the first are told so.
    assert!(
        err.contains(
            "error: host.h1: this host overrides the profile as host.h0 does, which is refused above"
        ),
        "{}",
        &err[..3000]
    );
    assert!(
        err.contains("20000 problems; nothing was written"),
        "{}",
        &err[err.len() - 500..]
    );
    assert!(err.len() < 40_000, "{} bytes of report", err.len());
}

#[test]
fn a_document_of_too_many_values_is_refused_before_it_is_parsed() {
    // A value every two bytes, inside the size limit: the one past the
    // limit is named, in the profile and in an inventory.
    let t = tempfile::tempdir().unwrap();
    let args = vec!["1"; 300_000].join(",");
    let err = refused(
        t.path(),
        &format!("version = 1\n[kernel]\nargs = [{args}]\n"),
    );
    assert!(
        err.contains("error: (size): the document holds more than 300000 values"),
        "{}",
        &err[..err.len().min(2000)]
    );
    // version's `=` (one), kernel's header (two), args' `=` (one) and
    // bracket (two) come first: the 299,995th comma is past the limit.
    assert!(
        err.contains(&format!(":3:{}", 8 + 2 * 299_995)),
        "{}",
        &err[..err.len().min(2000)]
    );
    let inv = t.path().join("inventory.toml");
    fs::write(
        &inv,
        format!("version = 1\n[[host]]\nname = \"a\"\n[host.kernel]\nargs = [{args}]\n[profile]\nversion = 1\n"),
    )
    .unwrap();
    let err = fleet_refused(&inv);
    assert!(
        err.contains("error: (size):"),
        "{}",
        &err[..err.len().min(2000)]
    );
    // Tables of long dotted keys, a table for every part: counted too.
    let parts = vec!["a"; 78].join(".");
    let tables: String = (0..2_000).map(|i| format!("[z{i}.{parts}]\n")).collect();
    let err = refused(t.path(), &format!("version = 1\n{tables}"));
    assert!(
        err.contains("error: (size):"),
        "{}",
        &err[..err.len().min(2000)]
    );
}

/// A pipe whose reader is gone: the write end of a pipe `true` read from.
fn closed_pipe() -> Stdio {
    let mut reader = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
    let w = reader.stdin.take().unwrap();
    reader.wait().unwrap();
    Stdio::from(w)
}

/// Run `cmd` with standard output (`stdout` true) or standard error going to
/// a closed pipe; the other stream is returned.
fn with_closed(cmd: &mut Command, stdout: bool) -> (Option<i32>, String) {
    if stdout {
        cmd.stdout(closed_pipe()).stderr(Stdio::piped());
    } else {
        cmd.stderr(closed_pipe()).stdout(Stdio::piped());
    }
    let o = cmd.output().unwrap();
    let other = if stdout { o.stderr } else { o.stdout };
    (
        o.status.code(),
        String::from_utf8_lossy(&other).into_owned(),
    )
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let t = tempfile::tempdir().unwrap();
    let bad = t.path().join("bad.toml");
    fs::write(&bad, "version = 1\nname = \"Bad Name\"\n").unwrap();
    let machine = repo().join("tests/fixtures/machines/rt-hda");
    let cases: Vec<(Vec<&std::ffi::OsStr>, bool)> = vec![
        // `render bad.toml 2>&1 | head -1`: the report goes to stderr.
        (
            vec![
                "render".as_ref(),
                bad.as_os_str(),
                "-o".as_ref(),
                "out".as_ref(),
            ],
            false,
        ),
        (
            vec![
                "render".as_ref(),
                "--json".as_ref(),
                bad.as_os_str(),
                "-o".as_ref(),
                "out".as_ref(),
            ],
            true,
        ),
        (vec!["validate".as_ref(), "--list".as_ref()], true),
        (
            vec!["validate".as_ref(), "--list".as_ref(), "--json".as_ref()],
            true,
        ),
        (
            vec![
                "check".as_ref(),
                "--root".as_ref(),
                machine.as_os_str(),
                "--json".as_ref(),
            ],
            true,
        ),
        (
            vec!["check".as_ref(), "--root".as_ref(), machine.as_os_str()],
            true,
        ),
        (vec!["init".as_ref(), "-".as_ref()], true),
    ];
    for (args, stdout) in cases {
        let (code, other) = with_closed(bin().args(&args).current_dir(t.path()), stdout);
        assert_eq!(code, Some(CLOSED), "{args:?}: {other}");
        if stdout {
            // Nothing said about it on the stream still open.
            assert_eq!(other, "", "{args:?}");
        }
    }
    assert!(!t.path().join("out").exists());
}

#[test]
fn a_closed_pipe_leaves_nothing_behind() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    // A render whose last word finds standard error closed: the tree is
    // written whole, and the lock beside it is gone. (The profile is named:
    // without one, the note saying which profile is used is the first word,
    // and the render stops there, before writing anything.)
    let studio = repo().join("examples/studio.toml");
    let (code, _) = with_closed(bin().arg("render").arg(&studio).arg("-o").arg(&out), false);
    assert_eq!(code, Some(CLOSED));
    assert!(out.join("MANIFEST.sha256").is_file());
    let (code, _) = with_closed(
        bin().arg("render").arg("-o").arg(t.path().join("never")),
        false,
    );
    assert_eq!(code, Some(CLOSED));
    let mut beside: Vec<String> = fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    beside.sort();
    assert_eq!(beside, ["out"]);

    // `validate PROFILE | head -1` renders into a temporary folder: it is
    // removed although the results found no reader.
    let tmp = t.path().join("tmp");
    fs::create_dir(&tmp).unwrap();
    let profile = repo().join("examples/studio.toml");
    let (code, err) = with_closed(
        bin()
            .args(["validate", "--only", "consistency"])
            .arg(&profile)
            .env("TMPDIR", &tmp),
        true,
    );
    assert_eq!(code, Some(CLOSED), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
}
