//! The one wrapper for external commands: finds tools on PATH, runs them with
//! their output captured, and puts the full command line and the tail of stderr
//! into every error.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};

/// A tool found on PATH, or None.
pub fn find(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// What a finished command printed.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// stdout and stderr together, trimmed: what a person would have seen.
    pub fn text(&self) -> String {
        let mut t = self.stdout.trim_end().to_string();
        if !self.stderr.trim().is_empty() {
            if !t.is_empty() {
                t.push('\n');
            }
            t.push_str(self.stderr.trim_end());
        }
        t
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    #[error("could not run `{cmdline}`: {source}")]
    Spawn {
        cmdline: String,
        source: std::io::Error,
    },
    #[error("`{cmdline}` failed ({status}):\n{tail}")]
    Failed {
        cmdline: String,
        status: ExitStatus,
        tail: String,
    },
}

/// The command line as a person would type it.
pub fn cmdline(cmd: &Command) -> String {
    let quote = |s: &OsStr| {
        let s = s.to_string_lossy();
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
        {
            s.into_owned()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    let mut out = quote(cmd.get_program());
    for a in cmd.get_args() {
        let _ = write!(out, " {}", quote(a));
    }
    out
}

/// Run to completion with output captured; a non-zero exit is not an error here.
pub fn run(cmd: &mut Command) -> Result<Output, CmdError> {
    let o = cmd.output().map_err(|source| CmdError::Spawn {
        cmdline: cmdline(cmd),
        source,
    })?;
    Ok(Output {
        status: o.status,
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    })
}

/// Run to completion; a non-zero exit is an error carrying the last lines of
/// the command's output.
pub fn run_checked(cmd: &mut Command) -> Result<Output, CmdError> {
    let o = run(cmd)?;
    if o.success() {
        return Ok(o);
    }
    let text = o.text();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    Err(CmdError::Failed {
        cmdline: cmdline(cmd),
        status: o.status,
        tail,
    })
}

/// Run several commands at once (each waited for in its own thread, so no pipe
/// fills up while another is waited for), up to the job limit; results in the
/// order given.
pub fn run_parallel(cmds: Vec<Command>) -> Vec<Result<Output, CmdError>> {
    crate::jobs::map(cmds, |mut c| run(&mut c))
}
