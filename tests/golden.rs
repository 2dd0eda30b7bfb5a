//! Golden files: every file `render` writes for each example profile
//! (tests/golden/NAME/ for examples/NAME.toml) and for the embedded default
//! profile (tests/golden/default/), and every file `fleet` writes for
//! examples/fleet/room.toml (tests/golden/fleet/), byte for byte, with the list
//! of files and whether each is executable (what git keeps of a mode). A
//! change that alters one rendered byte, or adds or drops a file, fails here
//! with a unified diff per file; when the change is meant, run
//! scripts/update-reference and review `git diff tests/golden`.
//!
//! Rendering reads neither the clock, the host nor the environment (the RPM
//! changelog date is a constant; `rendering_is_deterministic` checks it), but
//! two inputs besides the sources and templates are in these bytes:
//! - the crate version (Cargo.toml), in most files' header, the spec's Version
//!   and index.json: a version bump changes nearly every golden file;
//! - checkmodule (checkpolicy), which compiles examples/selinux/studio_local.te
//!   while examples/isolated.toml renders. Its CIL is in isolated/'s
//!   selinux/studio_local.cil, rpm/selinux-studio_local.cil, the rootfs and
//!   bootc/rootfs copies, both kickstarts, the blueprint and MANIFEST.sha256.
//!   Another checkpolicy release may print that CIL differently; then those
//!   files of isolated/, and only those, differ.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use similar::TextDiff;

const HOW: &str = "the rendered files differ from tests/golden/. If the change is meant, \
run scripts/update-reference, review `git diff tests/golden` and commit it; if not, \
the diffs above are what the change broke";

/// How many differing files get a diff in one report (over every tree it
/// checks), how long a diff may be, and how many names a list of missing or
/// extra files shows: a broken template must not bury the report under
/// thousands of lines.
const DIFFS_SHOWN: usize = 8;
const DIFF_LINES: usize = 60;
const NAMES_SHOWN: usize = 40;

/// What renders one golden folder.
enum Source {
    /// `render PROFILE`, or `render` with the embedded default profile.
    Profile(Option<PathBuf>),
    /// `fleet INVENTORY`.
    Fleet(PathBuf),
}

/// Every golden folder's name and what renders it: one per example profile,
/// `default` and `fleet`.
fn cases() -> Vec<(String, Source)> {
    let mut v: Vec<(String, Source)> = examples()
        .into_iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, Source::Profile(Some(p)))
        })
        .collect();
    v.push(("default".into(), Source::Profile(None)));
    v.push((
        "fleet".into(),
        Source::Fleet(repo().join("examples/fleet/room.toml")),
    ));
    let mut names: Vec<&str> = v.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(
        names.len(),
        v.len(),
        "an example profile is named like another golden folder (default, fleet): rename it"
    );
    v
}

fn golden() -> PathBuf {
    repo().join("tests/golden")
}

fn render_source(source: &Source, out: &Path) {
    match source {
        Source::Profile(profile) => render(profile.as_deref(), out),
        Source::Fleet(inventory) => render_fleet(inventory, out),
    }
}

/// A tree's files as relative path -> (bytes, executable).
fn files(dir: &Path) -> BTreeMap<String, (Vec<u8>, bool)> {
    tree(dir)
        .into_iter()
        .map(|(rel, bytes)| {
            let mode = std::fs::metadata(dir.join(&rel))
                .unwrap()
                .permissions()
                .mode();
            (rel, (bytes, mode & 0o111 != 0))
        })
        .collect()
}

/// Bytes as text when they are UTF-8 without NUL: those get a line diff.
fn as_text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes)
        .ok()
        .filter(|s| !s.contains('\0'))
}

/// Control characters other than tab and newline made visible, so that a
/// line that differs only by a carriage return or an escape shows how.
fn visible(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            '\r' => "\\r".into(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// A unified diff of one file, at most DIFF_LINES lines.
fn unified(golden_label: &str, rendered_label: &str, old: &str, new: &str) -> String {
    let (old, new) = (visible(old), visible(new));
    let diff = TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(golden_label, rendered_label)
        .to_string();
    let lines: Vec<&str> = diff.lines().collect();
    let mut out = lines[..lines.len().min(DIFF_LINES)].join("\n");
    if lines.len() > DIFF_LINES {
        let _ = write!(
            out,
            "\n... {} more lines of this diff",
            lines.len() - DIFF_LINES
        );
    }
    out
}

/// How two versions of a binary file differ, by bytes.
fn binary(old: &[u8], new: &[u8]) -> String {
    let at = old
        .iter()
        .zip(new)
        .position(|(a, b)| a != b)
        .unwrap_or(old.len().min(new.len()));
    format!(
        "binary file, compared by bytes: golden {} bytes, rendered {} bytes, first difference at byte {at}",
        old.len(),
        new.len()
    )
}

/// `title (N):` and the names, at most NAMES_SHOWN of them; nothing when
/// there are none.
fn name_list(title: &str, names: &[&String]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let mut out = format!("\n  {title} ({}):", names.len());
    for n in names.iter().take(NAMES_SHOWN) {
        let _ = write!(out, "\n    {n}");
    }
    if names.len() > NAMES_SHOWN {
        let _ = write!(out, "\n    ... and {} more", names.len() - NAMES_SHOWN);
    }
    out
}

/// Everything in which the rendered tree `rendered` differs from the golden
/// folder `name`, or None when they are the same; at most `diffs_left` files
/// get a diff, the others are named.
fn differences(name: &str, rendered: &Path, diffs_left: &mut usize) -> Option<String> {
    let dir = golden().join(name);
    if !dir.is_dir() {
        return Some(format!("tests/golden/{name}/ is missing"));
    }
    let want = files(&dir);
    let have = files(rendered);
    let missing: Vec<&String> = want.keys().filter(|k| !have.contains_key(*k)).collect();
    let extra: Vec<&String> = have.keys().filter(|k| !want.contains_key(*k)).collect();
    let mut changed = Vec::new();
    for (rel, (old, old_x)) in &want {
        let Some((new, new_x)) = have.get(rel) else {
            continue;
        };
        let golden_label = format!("tests/golden/{name}/{rel}");
        let mut what = Vec::new();
        if old != new {
            what.push(match (as_text(old), as_text(new)) {
                (Some(o), Some(n)) => unified(&golden_label, &format!("rendered/{rel}"), o, n),
                _ => format!("{golden_label}: {}", binary(old, new)),
            });
        }
        if old_x != new_x {
            let is = |x: bool| if x { "executable" } else { "not executable" };
            what.push(format!(
                "{golden_label}: the golden file is {}, the rendered one {}",
                is(*old_x),
                is(*new_x)
            ));
        }
        if !what.is_empty() {
            changed.push((rel, what.join("\n")));
        }
    }
    if missing.is_empty() && extra.is_empty() && changed.is_empty() {
        return None;
    }
    let mut out = format!("tests/golden/{name}/:");
    out += &name_list("not rendered any more", &missing);
    out += &name_list("rendered, not in the golden folder", &extra);
    if !changed.is_empty() {
        let _ = write!(out, "\n  differ ({}):", changed.len());
        let shown = changed.len().min(*diffs_left);
        *diffs_left -= shown;
        for (_, what) in &changed[..shown] {
            let _ = write!(out, "\n{what}");
        }
        let rest: Vec<&String> = changed[shown..].iter().map(|(r, _)| *r).collect();
        out += &name_list("no diff shown for", &rest);
    }
    Some(out)
}

/// Render the cases `which` selects and compare each with its golden folder;
/// one report for all of them.
fn check(which: impl Fn(&Source) -> bool) {
    let t = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    let mut checked = 0;
    let mut diffs_left = DIFFS_SHOWN;
    for (name, source) in cases().iter().filter(|(_, s)| which(s)) {
        let out = t.path().join(name);
        render_source(source, &out);
        reports.extend(differences(name, &out, &mut diffs_left));
        checked += 1;
    }
    assert!(checked > 0, "no case to check");
    assert!(reports.is_empty(), "{}\n\n{HOW}", reports.join("\n\n"));
}

#[test]
fn every_profile_renders_its_golden_files() {
    check(|s| matches!(s, Source::Profile(_)));
}

#[test]
fn the_fleet_example_renders_its_golden_files() {
    check(|s| matches!(s, Source::Fleet(_)));
}

/// A golden folder whose example was removed or renamed would be checked by
/// nobody: tests/golden/ holds exactly the cases' folders.
#[test]
fn the_golden_folder_holds_one_folder_per_case() {
    let mut want: Vec<String> = cases().into_iter().map(|(n, _)| n).collect();
    want.sort();
    assert_eq!(
        listing(&golden()),
        want,
        "tests/golden/ must hold one folder per example profile, default and fleet: \
         run scripts/update-reference and commit the result"
    );
}

/// Render every case twice, the second time from another working folder,
/// with the profile named by a relative path, into a folder of another name,
/// with another time zone, locale, home and SOURCE_DATE_EPOCH, and at least a
/// second later: the trees are the same, so the golden files pin the
/// renderer and nothing around it.
#[test]
fn rendering_is_deterministic() {
    let t = tempfile::tempdir().unwrap();
    let cases = cases();
    let started = Instant::now();
    for (name, source) in &cases {
        render_source(source, &t.path().join("first").join(name));
    }
    if let Some(rest) = Duration::from_millis(1100).checked_sub(started.elapsed()) {
        std::thread::sleep(rest);
    }
    let examples = repo().join("examples");
    let home = t.path().join("home");
    std::fs::create_dir(&home).unwrap();
    for (name, source) in &cases {
        let out = t.path().join("second").join(format!("again-{name}"));
        let mut cmd = bin();
        cmd.current_dir(&examples)
            .env("TZ", "Pacific/Kiritimati")
            .env("LC_ALL", "C")
            .env("LANG", "C")
            .env("HOME", &home)
            .env("SOURCE_DATE_EPOCH", "1");
        match source {
            Source::Profile(profile) => {
                cmd.arg("render");
                if let Some(p) = profile {
                    cmd.arg(p.strip_prefix(&examples).unwrap());
                }
            }
            Source::Fleet(inventory) => {
                cmd.arg("fleet")
                    .arg(inventory.strip_prefix(&examples).unwrap());
            }
        }
        let o = run(cmd.arg("-o").arg(&out));
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let first = files(&t.path().join("first").join(name));
        let second = files(&out);
        assert!(!first.is_empty(), "{name}: nothing rendered");
        let names: BTreeSet<&String> = first.keys().chain(second.keys()).collect();
        let differ: Vec<&String> = names
            .into_iter()
            .filter(|k| first.get(*k) != second.get(*k))
            .collect();
        assert!(
            differ.is_empty(),
            "{name}: two renders differ{}",
            name_list("in", &differ)
        );
    }
}
