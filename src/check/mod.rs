//! `check`: is this machine (or a captured one, `--root`) ready for realtime
//! audio, and if not, why? Every check rtcqs performs, plus what a profile
//! makes knowable. Each check has an id, a status, the evidence it read and
//! the command that fixes it.

mod checks;
pub mod machine;
pub mod parse;
mod probe;
mod resolve;

use std::path::Path;

use serde::Serialize;

use crate::profile::Profile;
pub use machine::Machine;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    #[serde(rename = "pass")]
    Pass,
    #[serde(rename = "warn")]
    Warn,
    #[serde(rename = "fail")]
    Fail,
    /// The check does not apply here (no cpufreq in a VM, no profile given),
    /// or could not look (a file missing from a capture): the evidence says which.
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::NotApplicable => "n/a",
        }
    }
}

/// One check's verdict. The JSON schema is this struct's fields.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable, dotted: `kernel.preempt`, `limits.rtprio`, ...
    pub id: &'static str,
    /// For grouping in text output: user, limits, cpu, kernel, irq, system, profile.
    pub group: &'static str,
    pub status: Status,
    /// One sentence: what was found.
    pub summary: String,
    /// What was read to decide: file contents, values, command results.
    pub evidence: Vec<String>,
    /// The command or change that fixes a warn or fail.
    pub fix: Option<String>,
}

/// What `check` looks at.
pub struct Options<'a> {
    pub root: Option<&'a Path>,
    /// The musician to judge (default: the user running the check, or the
    /// first user of the profile when a captured machine is read).
    pub user: Option<&'a str>,
    pub profile: Option<&'a Profile>,
    /// The profile's SELinux modules, compiled (what its drop-ins hold).
    pub compiled: &'a crate::selinux::Compiled,
}

/// The JSON document of `check --json` (README.md, "check --json"). `schema`
/// changes only when a field changes meaning or goes away.
#[derive(Serialize)]
pub struct Outcome {
    pub schema: u32,
    pub root: String,
    pub user: String,
    pub profile: Option<String>,
    pub checks: Vec<Check>,
    pub passed: usize,
    pub warned: usize,
    pub failed: usize,
    pub not_applicable: usize,
    /// Bounds reached while reading the machine (README.md, "check --root").
    pub notes: Vec<String>,
}

/// Evidence kept per check, and the length of one summary, evidence or fix
/// string: a capture decides how much it holds, the report does not grow
/// with it.
const EVIDENCE_MAX: usize = 50;
const STRING_MAX: usize = 2048;

/// `s` cut to [`STRING_MAX`] bytes at a character boundary, saying how much
/// was left out.
fn clipped(mut s: String) -> String {
    if s.len() > STRING_MAX {
        let mut end = STRING_MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let more = s.len() - end;
        s.truncate(end);
        s.push_str(&format!("... ({more} more bytes)"));
    }
    s
}

fn bounded(mut c: Check) -> Check {
    c.summary = clipped(c.summary);
    c.fix = c.fix.map(clipped);
    let more = c.evidence.len().saturating_sub(EVIDENCE_MAX);
    c.evidence.truncate(EVIDENCE_MAX);
    c.evidence = c.evidence.into_iter().map(clipped).collect();
    if more > 0 {
        c.evidence.push(format!("... and {more} more"));
    }
    c
}

pub fn run(o: &Options) -> anyhow::Result<Outcome> {
    let machine = Machine::new(o.root).map_err(|e| {
        crate::UserError(format!(
            "--root {}: cannot be opened as a folder: {e}",
            o.root.unwrap_or(Path::new("/")).display()
        ))
    })?;
    let cx = checks::Context::new(&machine, o.user, o.profile, o.compiled)?;
    let list: Vec<Check> = checks::all(&cx).into_iter().map(bounded).collect();
    let count = |s: Status| list.iter().filter(|c| c.status == s).count();
    Ok(Outcome {
        schema: 1,
        root: o
            .root
            .map_or_else(|| "/".into(), |r| r.display().to_string()),
        user: cx.user.name.clone(),
        profile: o.profile.map(|p| p.name.clone()),
        passed: count(Status::Pass),
        warned: count(Status::Warn),
        failed: count(Status::Fail),
        not_applicable: count(Status::NotApplicable),
        checks: list,
        notes: machine.notes(),
    })
}

/// Text output, grouped. Everything that came from the machine (process and
/// IRQ names, file contents, user names) is printed through
/// [`crate::text::one_line`], so a capture's bytes cannot drive the terminal.
pub fn format(out: &Outcome) -> String {
    use crate::text::one_line;
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "check of {} for user {}{}",
        one_line(&out.root),
        one_line(&out.user),
        out.profile
            .as_ref()
            .map_or(String::new(), |p| format!(", profile {}", one_line(p)))
    );
    let mut group = "";
    for c in &out.checks {
        if c.group != group {
            group = c.group;
            let _ = writeln!(s, "\n{group}");
        }
        let _ = writeln!(
            s,
            "  {:<5} {:<22} {}",
            c.status.label(),
            c.id,
            one_line(&c.summary)
        );
        if c.status != Status::Pass {
            for e in &c.evidence {
                let _ = writeln!(s, "{:<31}{}", "", one_line(e));
            }
        }
        if let Some(fix) = &c.fix {
            let _ = writeln!(s, "{:<31}fix: {}", "", one_line(fix));
        }
    }
    if !out.notes.is_empty() {
        let _ = writeln!(s, "\nnotes");
        for n in &out.notes {
            let _ = writeln!(s, "  {}", one_line(n));
        }
    }
    let _ = writeln!(
        s,
        "\n{} passed, {} failed, {} warnings, {} not applicable",
        out.passed, out.failed, out.warned, out.not_applicable
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_holds_bounded_evidence() {
        let c = bounded(Check {
            id: "irq.shared",
            group: "irq",
            status: Status::Warn,
            summary: "é".repeat(STRING_MAX),
            evidence: (0..EVIDENCE_MAX + 7).map(|i| i.to_string()).collect(),
            fix: Some("short".into()),
        });
        // Cut at a character boundary, saying how much is left out.
        assert_eq!(
            c.summary,
            format!(
                "{}... ({STRING_MAX} more bytes)",
                "é".repeat(STRING_MAX / 2)
            )
        );
        assert_eq!(c.evidence.len(), EVIDENCE_MAX + 1);
        assert_eq!(c.evidence[EVIDENCE_MAX], "... and 7 more");
        assert_eq!(c.fix.as_deref(), Some("short"));
    }
}
