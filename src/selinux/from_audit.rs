//! `selinux from-audit`: AVC denials in, a local policy module out, optionally
//! added to a profile.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use super::audit;
use super::rules::{self, Rule};
use crate::{UserError, exit};

pub struct Options<'a> {
    pub input: &'a Path,
    pub name: &'a str,
    pub output: Option<&'a Path>,
    pub add_to: Option<&'a Path>,
    pub allow_dangerous: bool,
    pub force: bool,
    pub json: bool,
}

#[derive(Serialize)]
struct Summary {
    module: Option<String>,
    profile: Option<String>,
    denials: usize,
    granted_ignored: usize,
    other_lines: usize,
    unreadable: Vec<String>,
    rules: Vec<String>,
    refused: Vec<Refused>,
    compiled: Option<bool>,
}

#[derive(Serialize)]
struct Refused {
    rule: String,
    reason: String,
}

pub fn run(o: Options) -> anyhow::Result<i32> {
    crate::profile::grammar::selinux_module_name(o.name)
        .map_err(|p| UserError(format!("-n {}: {}; {}", o.name, p.message, p.fix)))?;
    let mut bytes = Vec::new();
    if o.input.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
    } else {
        bytes = std::fs::read(o.input)
            .map_err(|e| UserError(format!("reading {}: {e}", o.input.display())))?;
    }
    // Logs can hold bytes that are not UTF-8 (process titles): keep the rest.
    let parsed = audit::parse(&String::from_utf8_lossy(&bytes));
    if parsed.denials.is_empty() {
        return Err(UserError(format!(
            "{} holds no `avc: denied` record ({} lines read); give audit.log lines, `ausearch -m avc` output or journal lines with avc: records",
            o.input.display(),
            parsed.other + parsed.granted + parsed.unreadable.len()
        ))
        .into());
    }
    let (mut keep, mut refused): (Vec<Rule>, Vec<Refused>) = (Vec::new(), Vec::new());
    for rule in rules::group(&parsed.denials) {
        match rules::danger(&rule) {
            Some(reason) if !o.allow_dangerous => refused.push(Refused {
                rule: rule.statement(),
                reason,
            }),
            _ => keep.push(rule),
        }
    }

    let mut summary = Summary {
        module: None,
        profile: None,
        denials: parsed.denials.len(),
        granted_ignored: parsed.granted,
        other_lines: parsed.other,
        unreadable: parsed
            .unreadable
            .iter()
            .map(|(n, l)| format!("line {n}: {l}"))
            .collect(),
        rules: keep.iter().map(Rule::statement).collect(),
        refused,
        compiled: None,
    };
    if keep.is_empty() {
        report(&summary, o.json)?;
        if !o.json {
            crate::errln!(
                "error: every rule was refused; nothing written (--allow-dangerous writes them anyway)"
            )?;
        }
        return Ok(exit::FAILED);
    }

    let profile_dir = o.add_to.map(|p| match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    });
    let out_dir = match (o.output, &profile_dir) {
        (Some(d), _) => d.to_path_buf(),
        (None, Some(pd)) => pd.join("selinux"),
        (None, None) => PathBuf::from("."),
    };
    let header = format!(
        "# Written by rtaudio-tuning {} (selinux from-audit) from {} AVC denial(s).\n# Review every rule: each one widens what a program may do.\n",
        env!("CARGO_PKG_VERSION"),
        parsed.denials.len()
    );
    let te = rules::write_te(o.name, &keep, &header);
    let te_path = out_dir.join(format!("{}.te", o.name));
    summary.compiled = compile_check(o.name, &te)?;
    write_new(&te_path, te.as_bytes(), o.force)?;
    summary.module = Some(te_path.display().to_string());

    if let (Some(profile), Some(pd)) = (o.add_to, &profile_dir) {
        add_to_profile(profile, pd, &te_path, o.name)?;
        summary.profile = Some(profile.display().to_string());
    }
    report(&summary, o.json)?;
    Ok(exit::OK)
}

fn report(s: &Summary, json: bool) -> anyhow::Result<()> {
    if json {
        crate::console::json(s)?;
        return Ok(());
    }
    crate::errln!(
        "{} denial(s) read; {} granted record(s) and {} other line(s) ignored",
        s.denials,
        s.granted_ignored,
        s.other_lines
    )?;
    for u in &s.unreadable {
        crate::errln!("unreadable avc record, skipped: {u}")?;
    }
    for r in &s.refused {
        crate::errln!("refused: {}\n    because {}", r.rule, r.reason)?;
    }
    if let Some(m) = &s.module {
        crate::errln!("wrote {m} with {} rule(s):", s.rules.len())?;
        for r in &s.rules {
            crate::errln!("    {r}")?;
        }
    }
    match s.compiled {
        Some(true) => crate::errln!("checkmodule -M -m compiles it")?,
        Some(false) => {}
        None if s.module.is_some() => {
            crate::errln!("not compiled here: install checkpolicy (checkmodule) to check it")?
        }
        None => {}
    }
    if let Some(p) = &s.profile {
        crate::errln!("added the module to {p}")?;
    }
    Ok(())
}

/// Write a file, refusing to replace different bytes without `force`.
fn write_new(path: &Path, bytes: &[u8], force: bool) -> anyhow::Result<()> {
    if let Ok(existing) = std::fs::read(path) {
        if existing != bytes && !force {
            return Err(UserError(format!(
                "{} exists with other content: not overwriting it (use --force, or another -n or -o)",
                path.display()
            ))
            .into());
        }
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing into {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Compile the module with checkmodule, when it is installed, before it is
/// written: a module we wrote that does not compile is our bug.
fn compile_check(name: &str, te: &str) -> anyhow::Result<Option<bool>> {
    let Some(checkmodule) = crate::cmd::find("checkmodule") else {
        return Ok(None);
    };
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join(format!("{name}.te"));
    std::fs::write(&src, te)?;
    // checkmodule wants the output named after the module.
    let out = crate::cmd::run(
        std::process::Command::new(checkmodule)
            .args(["-M", "-m", "-o"])
            .arg(tmp.path().join(format!("{name}.mod")))
            .arg(&src),
    )?;
    if !out.success() {
        anyhow::bail!(
            "the module for {name} does not compile (a bug in rtaudio-tuning; please report it with the log):\n{}",
            out.text()
        );
    }
    Ok(Some(true))
}

/// Append a `[[selinux.module]]` entry to the profile, keeping everything the
/// user wrote; the result must still be a valid profile.
fn add_to_profile(profile: &Path, profile_dir: &Path, te: &Path, name: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(profile)
        .map_err(|e| UserError(format!("reading {}: {e}", profile.display())))?;
    let base = profile_dir
        .canonicalize()
        .with_context(|| format!("resolving {}", profile_dir.display()))?;
    let te_real = te
        .canonicalize()
        .with_context(|| format!("resolving {}", te.display()))?;
    let rel = te_real.strip_prefix(&base).map_err(|_| {
        UserError(format!(
            "{} is outside the profile's folder {}: write the module there (leave out -o) so the profile can name it",
            te.display(),
            profile_dir.display()
        ))
    })?;
    let rel = rel.to_string_lossy();
    let mut new = text.clone();
    if !new.ends_with('\n') {
        new.push('\n');
    }
    new.push_str(&format!(
        "\n# Added by rtaudio-tuning selinux from-audit.\n[[selinux.module]]\nname = \"{name}\"\nfile = \"{rel}\"\n"
    ));
    let loaded = crate::profile::parse_text(
        profile.display().to_string(),
        new.clone(),
        Some(profile_dir),
    );
    if loaded.report.has_errors() {
        return Err(UserError(format!(
            "adding the module would make {} invalid; it was not changed:\n{}",
            profile.display(),
            crate::report::format(&loaded.report, &loaded.source())
        ))
        .into());
    }
    write_new(profile, new.as_bytes(), true)
}
