//! The reference artifacts kept in the repository (kickstarts/, rpm/) are what
//! the examples render to today. When this fails, run scripts/update-reference
//! and review the diff.

mod common;

use std::fs;

use common::*;

const HOW: &str = "stale reference artifacts: run scripts/update-reference and commit the result";

#[test]
fn kickstarts_match_the_examples() {
    let t = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    for ex in examples() {
        let out = t.path().join(ex.file_stem().unwrap());
        render(Some(&ex), &out);
        for (rel, bytes) in tree(&out.join("kickstart")) {
            let reference = repo().join("kickstarts").join(&rel);
            let have = fs::read(&reference).unwrap_or_default();
            assert!(have == bytes, "{}: {HOW}", reference.display());
            expected.push(rel);
        }
    }
    expected.sort();
    let kept: Vec<String> = tree(&repo().join("kickstarts"))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(kept, expected, "{HOW}");
}

#[test]
fn rpm_folder_matches_the_default_profile() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("default");
    render(None, &out);
    assert_eq!(tree(&repo().join("rpm")), tree(&out.join("rpm")), "{HOW}");
}
