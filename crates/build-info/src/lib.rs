//! Which commit a build came from, found by `build.rs` when the source is a
//! git checkout.

/// The crate version, with ` (git COMMIT)` when built from a git checkout.
pub fn long_version(version: &'static str) -> String {
    match COMMIT {
        "" => version.to_string(),
        c => format!("{version} (git {c})"),
    }
}

/// The commit (12 hex digits), or empty for a build from a tarball.
pub const COMMIT: &str = env!("RTAUDIO_TUNING_COMMIT");
