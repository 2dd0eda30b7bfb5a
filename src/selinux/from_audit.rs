//! `selinux from-audit`: AVC denials in, a local policy module out, optionally
//! added to a profile. A module that exists already (the same name again, as
//! audit2allow users work: denials keep coming) gets the new rules merged in.

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Component, Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use super::audit::{self, Line};
use super::rules::{self, Grouper, Module, Rule};
use crate::text::for_terminal;
use crate::{UserError, exit};

/// The most of a log read: a day of a busy machine's AVC records is a few
/// MiB; more is a whole audit.log or a stream that never ends (`/dev/zero`,
/// `yes`).
pub const MAX_INPUT: u64 = 64 << 20;
/// The longest line read as a record: the kernel's audit records are at most
/// 8970 bytes (MAX_AUDIT_MESSAGE_LENGTH, include/uapi/linux/audit.h), a
/// journal line adds little. A longer line is counted as unreadable, never
/// held whole.
pub const MAX_LINE: usize = 64 << 10;
/// Unreadable records listed; the rest are counted.
const LISTED: usize = 50;

pub struct Options<'a> {
    pub input: &'a Path,
    pub name: &'a str,
    pub output: Option<&'a Path>,
    pub add_to: Option<&'a Path>,
    pub allow_dangerous: bool,
    pub force: bool,
    pub json: bool,
}

/// The JSON Schema of `selinux from-audit --json`.
pub fn summary_schema() -> serde_json::Value {
    crate::console::document_schema::<Summary>("selinux from-audit", 1)
}

#[derive(Serialize, schemars::JsonSchema)]
struct Summary {
    module: Option<String>,
    profile: Option<String>,
    /// The module existed and the new rules were merged into it.
    merged: bool,
    denials: usize,
    granted_ignored: usize,
    other_lines: usize,
    unreadable: Vec<String>,
    /// Unreadable records beyond those listed.
    unreadable_more: usize,
    rules: Vec<String>,
    refused: Vec<Refused>,
    compiled: Option<bool>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Refused {
    rule: String,
    /// The part of the policy that refused it (`writes`, `capabilities`, ...).
    part: &'static str,
    reason: String,
}

/// What a log held, read line by line.
#[derive(Default)]
struct Log {
    rules: Grouper,
    denials: usize,
    granted: usize,
    other: usize,
    unreadable: Vec<String>,
    unreadable_total: usize,
}

impl Log {
    fn line(&mut self, lineno: usize, bytes: &[u8]) {
        // Most lines of a log are no AVC record: told without decoding them.
        if !bytes.windows(4).any(|w| w == b"avc:") {
            self.other += 1;
            return;
        }
        match audit::line(&String::from_utf8_lossy(bytes)) {
            Line::Denial(d) => {
                self.denials += 1;
                self.rules.add(&d);
            }
            Line::Granted => self.granted += 1,
            Line::Unreadable(s) => self.unreadable(lineno, s),
            Line::Other => self.other += 1,
        }
    }

    fn unreadable(&mut self, lineno: usize, shown: String) {
        self.unreadable_total += 1;
        if self.unreadable.len() < LISTED {
            self.unreadable.push(format!("line {lineno}: {shown}"));
        }
    }
}

pub fn run(o: Options) -> anyhow::Result<i32> {
    crate::profile::grammar::selinux_module_name(o.name).map_err(|p| {
        UserError(format!(
            "-n {}: {}; {}",
            crate::text::one_line(o.name),
            p.message,
            p.fix
        ))
    })?;
    let log = read_log(o.input)?;
    if log.denials == 0 {
        return Err(UserError(format!(
            "{} holds no `avc: denied` record that can be read ({} lines read, {} of them unreadable); give audit.log lines, `ausearch -m avc` output or journal lines with avc: records",
            shown_path(o.input),
            log.other + log.granted + log.unreadable_total,
            log.unreadable_total
        ))
        .into());
    }
    let (mut keep, mut refused): (Vec<Rule>, Vec<Refused>) = (Vec::new(), Vec::new());
    for rule in log.rules.rules() {
        match rules::danger(&rule) {
            Some(r) if !o.allow_dangerous => refused.push(Refused {
                rule: rule.statement(),
                part: r.part.as_str(),
                reason: r.reason,
            }),
            _ => keep.push(rule),
        }
    }

    let mut summary = Summary {
        module: None,
        profile: None,
        merged: false,
        denials: log.denials,
        granted_ignored: log.granted,
        other_lines: log.other,
        unreadable_more: log.unreadable_total - log.unreadable.len(),
        unreadable: log.unreadable,
        rules: keep.iter().map(Rule::statement).collect(),
        refused,
        compiled: None,
    };
    if keep.is_empty() {
        report(&summary, o.json, false)?;
        if !o.json {
            crate::errln!(
                "error: every rule was refused; nothing written (--allow-dangerous writes them anyway)"
            )?;
        }
        return Ok(exit::FAILED);
    }

    let plan = plan(&o)?;
    let header = format!(
        "# Written by rtaudio-tuning {} (selinux from-audit) from {}.\n# Review every rule: each one widens what a program may do.\n",
        env!("CARGO_PKG_VERSION"),
        crate::text::count(log.denials, "AVC denial")
    );
    let existing = if o.force {
        None
    } else {
        existing_module(&plan.te_path, o.name)?
    };
    summary.merged = existing.is_some();
    let module = match existing {
        Some(mut m) => {
            m.merge(keep);
            m
        }
        None => Module::new(o.name, &header, keep),
    };
    summary.rules = module.rules.iter().map(Rule::statement).collect();
    let te = module.te();
    let shown_te = shown_path(&plan.te_path);
    // Kept comments of a merged module are the user's text: held to the rule
    // a profile's module is held to, before anything is written.
    if let Some(p) = super::te_problem(&shown_te, &te) {
        return Err(UserError(format!(
            "{p}; the merged module could not be carried by a profile, so nothing was written: fix the file, or use --force to replace it"
        ))
        .into());
    }
    summary.compiled = compile_check(o.name, &te, summary.merged)?;

    // Everything is known and checked: now write, the module first, then the
    // profile; a profile that cannot be written takes a new module back.
    let created = !plan.te_path.exists();
    write_file(&plan.te_path, te.as_bytes())?;
    summary.module = Some(plan.te_path.display().to_string());
    if let Some((profile, new_text)) = &plan.profile_edit
        && let Err(e) = write_file(profile, new_text.as_bytes())
    {
        if created {
            let _ = std::fs::remove_file(&plan.te_path);
        }
        return Err(e);
    }
    summary.profile = o.add_to.map(|p| p.display().to_string());
    report(&summary, o.json, true)?;
    Ok(exit::OK)
}

/// A path for a message: the user's own bytes, escaped.
fn shown_path(p: &Path) -> String {
    for_terminal(&p.display().to_string()).into_owned()
}

/// Read the log: stdin, a regular file or a FIFO, at most [`MAX_INPUT`]
/// bytes, line by line with lines cut at [`MAX_LINE`], so memory is bounded
/// by the rules found, not by the input.
fn read_log(input: &Path) -> anyhow::Result<Log> {
    let shown = shown_path(input);
    if input.as_os_str() == "-" {
        return read_lines(std::io::stdin().lock(), "standard input");
    }
    let refuse = |why: String| -> anyhow::Error { UserError(format!("{shown}: {why}")).into() };
    let meta = std::fs::metadata(input).map_err(|e| refuse(format!("cannot read it: {e}")))?;
    let ft = meta.file_type();
    if ft.is_dir() {
        return Err(refuse(
            "is a folder; give a log file (e.g. /var/log/audit/audit.log), a pipe, or - for standard input".into(),
        ));
    }
    if !(ft.is_file() || ft.is_fifo()) {
        return Err(refuse(
            "is a device or socket, not a log; give a log file, a pipe, or - for standard input"
                .into(),
        ));
    }
    if ft.is_file() && meta.len() > MAX_INPUT {
        return Err(too_large(&shown));
    }
    // Opened without blocking unless it is a FIFO (whose reader waits for a
    // writer), then checked again: the path may have changed in between.
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    if !ft.is_fifo() {
        open.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let f = open
        .open(input)
        .map_err(|e| refuse(format!("cannot read it: {e}")))?;
    let now = f.metadata().map_err(|e| refuse(e.to_string()))?.file_type();
    if !(now.is_file() && ft.is_file() || now.is_fifo() && ft.is_fifo()) {
        return Err(refuse("changed while it was opened".into()));
    }
    read_lines(f, &shown)
}

fn too_large(shown: &str) -> anyhow::Error {
    UserError(format!(
        "{shown} is larger than {} MiB, the most a log is read: give the AVC records only, e.g. `ausearch -m avc,user_avc -ts recent` (or `-ts today`, `-c jackd`) piped to `rtaudio-tuning selinux from-audit -`",
        MAX_INPUT >> 20
    ))
    .into()
}

fn read_lines(r: impl Read, shown: &str) -> anyhow::Result<Log> {
    let mut r = BufReader::with_capacity(MAX_LINE, r);
    let mut log = Log::default();
    // A line that spans the reader's buffers, gathered up to MAX_LINE bytes.
    let mut partial: Vec<u8> = Vec::new();
    let (mut total, mut lineno, mut overlong) = (0u64, 0usize, false);
    loop {
        let buf = match r.fill_buf() {
            Ok([]) => break,
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(UserError(format!("reading {shown}: {e}")).into()),
        };
        total += buf.len() as u64;
        if total > MAX_INPUT {
            return Err(too_large(shown));
        }
        let mut lines = buf.split(|&b| b == b'\n').peekable();
        while let Some(piece) = lines.next() {
            let last = lines.peek().is_none();
            if !overlong && partial.len() + piece.len() > MAX_LINE {
                overlong = true;
                partial.clear();
            }
            if last {
                // No newline yet: the line goes on in the next buffer.
                if !overlong {
                    partial.extend_from_slice(piece);
                }
                break;
            }
            lineno += 1;
            if overlong {
                log.unreadable(
                    lineno,
                    format!("a line longer than {} KiB, not read", MAX_LINE >> 10),
                );
            } else if partial.is_empty() {
                log.line(lineno, piece);
            } else {
                partial.extend_from_slice(piece);
                log.line(lineno, &partial);
            }
            partial.clear();
            overlong = false;
        }
        let n = buf.len();
        r.consume(n);
    }
    if overlong {
        log.unreadable(
            lineno + 1,
            format!("a line longer than {} KiB, not read", MAX_LINE >> 10),
        );
    } else if !partial.is_empty() {
        log.line(lineno + 1, &partial);
    }
    Ok(log)
}

fn report(s: &Summary, json: bool, ok: bool) -> anyhow::Result<()> {
    if json {
        crate::console::document("selinux from-audit", 1, ok, s)?;
        return Ok(());
    }
    crate::errln!(
        "{} read; {} and {} ignored",
        crate::text::count(s.denials, "denial"),
        crate::text::count(s.granted_ignored, "granted record"),
        crate::text::count(s.other_lines, "other line")
    )?;
    for u in &s.unreadable {
        crate::errln!("unreadable avc record, skipped: {u}")?;
    }
    if s.unreadable_more > 0 {
        crate::errln!(
            "and {} more unreadable {}",
            s.unreadable_more,
            crate::text::plural(s.unreadable_more, "record")
        )?;
    }
    for r in &s.refused {
        crate::errln!(
            "refused: {}\n    by the policy's {} part: {}",
            r.rule,
            r.part,
            r.reason
        )?;
    }
    if !s.refused.is_empty() && s.module.is_some() {
        crate::errln!(
            "{} refused and left out; review them: --allow-dangerous writes them too",
            crate::text::count(s.refused.len(), "rule")
        )?;
    }
    if let Some(m) = &s.module {
        let how = if s.merged { "merged into" } else { "wrote" };
        crate::errln!(
            "{how} {} with {}:",
            for_terminal(m),
            crate::text::count(s.rules.len(), "rule")
        )?;
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
        crate::errln!("the module is in {}", for_terminal(p))?;
    }
    Ok(())
}

/// Where the module goes, and the profile's new text when it gains an entry.
struct Plan {
    te_path: PathBuf,
    profile_edit: Option<(PathBuf, String)>,
}

fn plan(o: &Options) -> anyhow::Result<Plan> {
    let Some(profile) = o.add_to else {
        let dir = o.output.unwrap_or(Path::new("."));
        return Ok(Plan {
            te_path: dir.join(format!("{}.te", o.name)),
            profile_edit: None,
        });
    };
    let shown = shown_path(profile);
    let loaded = crate::profile::load(crate::profile::ProfileSource::File(profile))
        .map_err(|e| UserError(format!("{e:#}")))?;
    // Through a symlink, the profile edited is the real file, and the files
    // a profile names are relative to the real file's folder (`render` reads
    // them so): the module goes beside the real file, not beside the link.
    let real = profile
        .canonicalize()
        .with_context(|| format!("resolving {shown}"))?;
    let profile_dir = match real.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(current) = &loaded.profile else {
        return Err(UserError(format!(
            "{shown} is not a valid profile; fix it first (nothing was written):\n{}",
            crate::report::format(&loaded.report, &loaded.source())
        ))
        .into());
    };
    if let Some(m) = current.selinux.module.iter().find(|m| m.name == o.name) {
        // The module is listed: its file gets the new rules, the profile
        // stays as it is.
        let te_path = profile_dir.join(&m.file);
        if let Some(out) = o.output {
            let wanted = out.join(format!("{}.te", o.name));
            let same = wanted == te_path
                || matches!((wanted.canonicalize(), te_path.canonicalize()), (Ok(a), Ok(b)) if a == b);
            if !same {
                return Err(UserError(format!(
                    "{shown} lists module {} with file {}: leave out -o to merge the new rules into it",
                    o.name, m.file
                ))
                .into());
            }
        }
        return Ok(Plan {
            te_path,
            profile_edit: None,
        });
    }
    let out_dir = o
        .output
        .map_or_else(|| profile_dir.join("selinux"), Path::to_path_buf);
    let rel = inside(&profile_dir, &out_dir.join(format!("{}.te", o.name))).ok_or_else(|| {
        UserError(format!(
            "{} is outside the profile's folder {}: write the module there (leave out -o) so the profile can name it",
            shown_path(&out_dir),
            shown_path(&profile_dir)
        ))
    })?;
    crate::profile::grammar::relative_path(&rel, ".te").map_err(|p| {
        UserError(format!(
            "the module's path {}: {}; {}",
            for_terminal(&rel),
            p.message,
            p.fix
        ))
    })?;
    let mut new = loaded.text.clone();
    if !new.ends_with('\n') {
        new.push('\n');
    }
    new.push_str(&format!(
        "\n# Added by rtaudio-tuning selinux from-audit.\n[[selinux.module]]\nname = \"{}\"\nfile = \"{rel}\"\n",
        o.name
    ));
    if !appends_module(&loaded.text, &new, o.name, &rel) {
        return Err(UserError(format!(
            "{shown} cannot take a [[selinux.module]] table at its end (is [selinux] written as an inline table?); nothing was written: add `[[selinux.module]]\\nname = \"{}\"\\nfile = \"{rel}\"` by hand",
            o.name
        ))
        .into());
    }
    Ok(Plan {
        te_path: profile_dir.join(&rel),
        profile_edit: Some((real, new)),
    })
}

/// Whether `new` holds exactly `old`'s TOML plus one `[[selinux.module]]`
/// entry `{ name, file }` at the end of that array: the profile was valid,
/// the entry's values are, so the new profile is (its module file is written
/// before the profile is).
fn appends_module(old: &str, new: &str, name: &str, file: &str) -> bool {
    let (Ok(mut expected), Ok(got)) = (old.parse::<toml::Table>(), new.parse::<toml::Table>())
    else {
        return false;
    };
    let mut entry = toml::Table::new();
    entry.insert("name".into(), name.into());
    entry.insert("file".into(), file.into());
    let selinux = expected
        .entry("selinux")
        .or_insert_with(|| toml::Table::new().into());
    let Some(modules) = selinux
        .as_table_mut()
        .map(|t| {
            t.entry("module")
                .or_insert_with(|| toml::Value::Array(vec![]))
        })
        .and_then(toml::Value::as_array_mut)
    else {
        return false;
    };
    modules.push(entry.into());
    expected == got
}

/// `path` relative to `dir`, resolving what exists of it (a path that does not
/// exist yet must not climb out with `..`); `None` when it is outside.
fn inside(dir: &Path, path: &Path) -> Option<String> {
    let base = dir.canonicalize().ok()?;
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        rest.push(existing.file_name()?.to_os_string());
        existing = match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
    }
    let mut full = existing.canonicalize().ok()?;
    for part in rest.iter().rev() {
        if Path::new(part)
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return None;
        }
        full.push(part);
    }
    Some(full.strip_prefix(&base).ok()?.to_str()?.to_string())
}

/// The module already at `path`, read to merge into; `None` if there is none.
fn existing_module(path: &Path, name: &str) -> anyhow::Result<Option<Module>> {
    let shown = shown_path(path);
    let text = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(UserError(format!("{shown}: {e}")).into()),
        Ok(m) if !m.is_file() => {
            return Err(UserError(format!("{shown} is not a regular file")).into());
        }
        Ok(m) if m.len() > 1 << 20 => {
            return Err(UserError(format!(
                "{shown} is larger than 1 MiB: not a module to merge into"
            ))
            .into());
        }
        Ok(_) => {
            std::fs::read_to_string(path).map_err(|e| UserError(format!("reading {shown}: {e}")))?
        }
    };
    let fix = "merge by hand, give another -n, or use --force to replace the file";
    let m = Module::parse(&text).map_err(|(line, why)| {
        UserError(format!(
            "{shown} line {line}: {why}; the new rules can only be merged into a module from-audit wrote: {fix}"
        ))
    })?;
    if m.name != name {
        return Err(UserError(format!(
            "{shown} declares module {}, not {name}: {fix}",
            for_terminal(&m.name)
        ))
        .into());
    }
    Ok(Some(m))
}

/// Write `bytes` to `path`, a new file or an existing one; through a symlink
/// the real file is written. An existing file keeps its mode, owner and hard
/// links: it is replaced by a rename of a finished, synced file beside it
/// (atomic) when it has one link and the new file can be given its owner;
/// otherwise (hard links, which a rename would split, or an owner we cannot
/// give) it is rewritten in place, once the whole new content is known.
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let shown = shown_path(path);
    let real = match path.canonicalize() {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => path.to_path_buf(),
        Err(e) => return Err(UserError(format!("{shown}: {e}")).into()),
    };
    let dir = match real.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let old = std::fs::metadata(&real).ok();
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("writing into {}", dir.display()))?;
    let mut in_place = false;
    if let Some(m) = &old {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
        let owner = rustix::fs::fchown(
            tmp.as_file(),
            Some(rustix::fs::Uid::from_raw(m.uid())),
            Some(rustix::fs::Gid::from_raw(m.gid())),
        );
        in_place = m.nlink() > 1 || owner.is_err();
    } else {
        // A new file gets what the umask leaves of rw for everyone, as any
        // editor's would (the temporary file is 0600).
        use std::os::unix::fs::PermissionsExt as _;
        let umask = crate::output::current_umask();
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o666 & !umask))?;
    }
    if in_place {
        drop(tmp);
        // Hard links stay linked only if the file itself is rewritten, which
        // is not atomic: on a failure (a full disk) its old bytes go back.
        let before = std::fs::read(&real).with_context(|| format!("reading {shown}"))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&real)
            .with_context(|| format!("writing {shown}"))?;
        let rewrite = |f: &mut std::fs::File, b: &[u8]| -> std::io::Result<()> {
            use std::io::{Seek as _, SeekFrom};
            f.seek(SeekFrom::Start(0))?;
            f.write_all(b)?;
            f.set_len(b.len() as u64)?;
            f.sync_all()
        };
        if let Err(e) = rewrite(&mut f, bytes) {
            let restored = rewrite(&mut f, &before);
            return Err(UserError(match restored {
                Ok(()) => format!("{shown}: {e}; it was left as it was"),
                Err(r) => format!("{shown}: {e}, and its old contents could not be put back ({r})"),
            })
            .into());
        }
        return Ok(());
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&real)
        .with_context(|| format!("writing {shown}"))?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Compile the module with checkmodule, when it is installed, before it is
/// written. A new module is made of names the AVC reader accepted, so one
/// that does not compile is our bug; a merged one holds the user's file.
fn compile_check(name: &str, te: &str, merged: bool) -> anyhow::Result<Option<bool>> {
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
        let why = super::checkmodule_errors(&out.text(), &format!("{name}.te")).join("; ");
        if merged {
            return Err(UserError(format!(
                "with the new rules merged in, checkmodule rejects the module: {why}; nothing was written: fix the module, or use --force to replace it"
            ))
            .into());
        }
        anyhow::bail!(
            "the module for {name} does not compile (a bug in rtaudio-tuning; please report it with the log): {why}"
        );
    }
    Ok(Some(true))
}
