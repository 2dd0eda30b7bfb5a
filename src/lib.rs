//! rtaudio-tuning: one declarative profile renders a realtime audio workstation.

pub mod check;
pub mod cli;
pub mod cmd;
pub mod console;
pub mod fleet;
pub mod jobs;
pub mod latency;
pub mod limits_conf;
pub mod load;
pub mod output;
pub mod profile;
pub mod render;
pub mod report;
pub mod rpmbuild;
pub mod selinux;
pub mod text;
pub mod validate;
pub mod vm;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use cli::{Cli, Command, SelinuxCommand};

/// Exit codes (DESIGN.md).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const BAD_INPUT: i32 = 2;
    pub const TOOL_MISSING: i32 = 3;
    /// Standard output or error was closed by its reader (`| head`): 128 +
    /// SIGPIPE, as for a command a SIGPIPE ended (see [`crate::console`]).
    pub const CLOSED: i32 = 141;
}

/// A needed external tool is missing: exit 3, with how to install it.
#[derive(Debug, thiserror::Error)]
#[error("unavailable: {0}")]
pub struct ToolMissing(pub String);

/// A mistake of the user's (bad arguments, a refused overwrite): exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

/// Run a parsed command line; returns the exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Init { path, force } => init(&path, force),
        Command::Render {
            profile,
            output,
            write,
        } => render(profile.as_deref(), &output, write),
        Command::Validate {
            target,
            list,
            skip,
            only,
            json,
            strict,
            require_all,
            jobs,
        } => {
            if let Some(n) = jobs {
                jobs::set_limit(usize::from(n));
            }
            if list {
                return list_validators(json);
            }
            let target = target.expect("clap requires a target without --list");
            validate_cmd(&target, &only, &skip, json, strict, require_all)
        }
        Command::Rpm {
            target,
            output,
            strict,
        } => rpm_cmd(&target, &output, strict),
        Command::Check {
            profile,
            user,
            root,
            list,
            skip,
            only,
            json,
        } => {
            if list {
                return list_checks(json);
            }
            let chosen = check::select(&only, &skip, profile.is_some()).map_err(UserError)?;
            check_cmd(
                &chosen,
                profile.as_deref(),
                user.as_deref(),
                root.as_deref(),
                json,
            )
        }
        Command::Latency {
            duration,
            interval,
            priority,
            cpus,
            buffer,
            rate,
            histogram,
            json,
        } => {
            use std::io::IsTerminal as _;
            if !(duration.is_finite() && duration > 0.0 && duration <= 86_400.0) {
                return Err(UserError(format!(
                    "--duration {duration}: give seconds, more than 0 and at most a day"
                ))
                .into());
            }
            let cpus = match cpus {
                Some(list) => Some(
                    profile::grammar::cpu_list(&list)
                        .map_err(|p| UserError(format!("--cpus {list}: {}; {}", p.message, p.fix)))?
                        .into_iter()
                        .map(|c| c as usize)
                        .collect(),
                ),
                None => None,
            };
            latency::run(&latency::Options {
                duration: std::time::Duration::from_secs_f64(duration),
                interval_us: interval,
                priority,
                cpus,
                buffer_frames: buffer,
                rate_hz: rate,
                histogram,
                json,
                progress: !json && std::io::stderr().is_terminal(),
            })
        }
        Command::VmTest {
            profile,
            tree,
            kernel,
            initrd,
            rootfs,
            accel,
            timeout,
            keep,
            json,
        } => vm::run(&vm::Options {
            profile: &profile,
            tree: tree.as_deref(),
            kernel: kernel.as_deref(),
            initrd: initrd.as_deref(),
            rootfs: rootfs.as_deref(),
            accel,
            timeout: std::time::Duration::from_secs(timeout),
            keep,
            json,
        }),
        Command::VmAgent { user, profile } => vm::agent_run(&user, &profile),
        Command::Fleet {
            inventory,
            output,
            changed_only,
            write,
        } => fleet_cmd(&inventory, &output, changed_only, write),
        Command::Selinux(SelinuxCommand::FromAudit {
            input,
            name,
            output,
            add_to,
            allow_dangerous,
            force,
            json,
        }) => selinux::from_audit::run(selinux::from_audit::Options {
            input: &input,
            name: &name,
            output: output.as_deref(),
            add_to: add_to.as_deref(),
            allow_dangerous,
            force,
            json,
        }),
    }
}

/// The exit code for an error that reached the top.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.downcast_ref::<console::Closed>().is_some() {
        exit::CLOSED
    } else if err.downcast_ref::<UserError>().is_some()
        || err.downcast_ref::<output::Refusal>().is_some()
    {
        exit::BAD_INPUT
    } else if err.downcast_ref::<ToolMissing>().is_some() {
        exit::TOOL_MISSING
    } else {
        exit::FAILED
    }
}

fn init(path: &Path, force: bool) -> anyhow::Result<i32> {
    if path.as_os_str() == "-" {
        out!("{}", profile::DEFAULT_PROFILE)?;
        return Ok(exit::OK);
    }
    // As for `render`: never through a link, and --force replaces only what
    // is ours to replace, a profile (edited or not), never another file.
    match path.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Ok(m) if m.is_file() && force => {
            if let Err(why) = is_profile(path) {
                return Err(UserError(format!(
                    "{} is not a profile ({why}): not replacing it, --force replaces only a profile; give another path, or remove it yourself if you mean to",
                    path.display()
                ))
                .into());
            }
        }
        Ok(m) if m.is_file() => {
            return Err(UserError(format!(
                "{} exists: not overwriting it (use --force to replace it, or give another path)",
                path.display()
            ))
            .into());
        }
        _ => {
            return Err(UserError(format!(
                "{} exists and is not a file (a folder, a symbolic link, a device): not replacing it, with or without --force; give another path",
                path.display()
            ))
            .into());
        }
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(profile::DEFAULT_PROFILE.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    let shown = text::one_line(&path.display().to_string());
    errln!("wrote {shown}: edit it, then run `rtaudio-tuning render {shown} -o out`")?;
    Ok(exit::OK)
}

/// Whether the file at `path` is a profile `init --force` may replace: UTF-8
/// TOML of at most a profile's size with a top-level `version`, the one key a
/// profile must have. `Err` says why not.
fn is_profile(path: &Path) -> Result<(), String> {
    let text = std::fs::File::open(path)
        .map_err(|e| e.to_string())
        .and_then(|f| {
            profile::read_text(f, "profile", "", profile::MAX_PROFILE_BYTES, "")
                .map_err(|_| "larger than a profile, or not UTF-8".to_string())
        })?;
    let table: toml::Table = text.parse().map_err(|_| "not TOML".to_string())?;
    if table.contains_key("version") {
        Ok(())
    } else {
        Err("no top-level `version` key".into())
    }
}

/// The last line when input was refused: how many problems, nothing written.
pub(crate) fn refused(
    source: &str,
    reports: &[&report::Report],
    strict: bool,
) -> anyhow::Result<()> {
    let problems: usize = reports
        .iter()
        .map(|r| {
            let t = r.tally();
            t.errors + if strict { t.warnings } else { 0 }
        })
        .sum();
    errln!(
        "{}: {problems} problem(s){}; nothing was written",
        text::one_line(source),
        if strict {
            " (--strict: warnings count)"
        } else {
            ""
        }
    )
}

#[derive(Serialize)]
struct FleetJson<'a> {
    ok: bool,
    inventory: &'a str,
    output: Option<String>,
    hosts: usize,
    variants: usize,
    files: usize,
    changed_hosts: Vec<&'a str>,
    problems: Vec<report::JsonEntry<'a>>,
}

fn fleet_cmd(
    path: &Path,
    out: &Path,
    changed_only: bool,
    cli::WriteOptions {
        force,
        strict,
        json,
    }: cli::WriteOptions,
) -> anyhow::Result<i32> {
    let mut loaded = fleet::load(path)?;
    // The base profile's SELinux modules are compiled once; hosts cannot
    // change them, so every variant renders the same compiled modules.
    let mut compiled = selinux::Compiled::default();
    if let Some(f) = loaded.fleet.as_mut() {
        let mut rep = report::Report::default();
        match selinux::compile(f.base(), &mut rep) {
            Ok(c) => compiled = c,
            Err(selinux::CompileError::Unavailable(what)) => {
                return Err(ToolMissing(format!("install {what}")).into());
            }
            Err(selinux::CompileError::Report) => loaded.fleet = None,
        }
        match loaded.profile.as_mut() {
            Some(p) => p.report.append(rep),
            None => loaded.report.append(rep),
        }
    }
    let fatal = loaded.is_fatal(strict) || loaded.fleet.is_none();
    let mut problems = Vec::new();
    let profile_source = loaded.profile.as_ref().map(|p| p.source());
    let inventory_source = loaded.source();
    if let (Some(p), Some(source)) = (&loaded.profile, &profile_source) {
        problems.extend(report::json_entries(&p.report, source));
        if !json && !p.report.entries.is_empty() {
            err!("{}", report::format(&p.report, &p.source()))?;
        }
    }
    problems.extend(report::json_entries(&loaded.report, &inventory_source));
    if !json && !loaded.report.entries.is_empty() {
        err!("{}", report::format(&loaded.report, &loaded.source()))?;
    }
    let print_json = |ok: bool, hosts, variants, files, changed: Vec<&str>| {
        let doc = FleetJson {
            ok,
            inventory: &loaded.source_name,
            output: ok.then(|| out.display().to_string()),
            hosts,
            variants,
            files,
            changed_hosts: changed,
            problems,
        };
        console::json(&doc)
    };
    let Some(f) = loaded.fleet.as_ref().filter(|_| !fatal) else {
        if json {
            print_json(false, 0, 0, 0, Vec::new())?;
        } else {
            let mut reports = vec![&loaded.report];
            reports.extend(loaded.profile.as_ref().map(|p| &p.report));
            refused(&loaded.source_name, &reports, strict)?;
        }
        return Ok(exit::BAD_INPUT);
    };
    let rendered = fleet::render(f, &compiled)?;
    let changes = output::write_tree_hashed(out, &rendered.artifacts, &rendered.hashes, force)?;
    let written: std::collections::HashSet<&str> = changes
        .written
        .iter()
        .chain(&changes.removed)
        .map(String::as_str)
        .collect();
    // Hosts whose kickstart was written anew, then hosts no longer in the
    // inventory (their kickstart was removed).
    let mut changed: Vec<&str> = f
        .hosts
        .iter()
        .filter(|h| written.contains(fleet::kickstart_path(h).as_str()))
        .map(|h| h.name.as_str())
        .collect();
    changed.extend(
        changes
            .removed
            .iter()
            .filter_map(|p| p.strip_prefix("hosts/").and_then(|n| n.strip_suffix(".ks"))),
    );
    if json {
        print_json(
            true,
            f.hosts.len(),
            f.variants.len(),
            rendered.artifacts.len(),
            changed,
        )?;
    } else if changed_only {
        for h in &changed {
            outln!("{h}")?;
        }
    } else {
        errln!(
            "rendered {} hosts ({} variants of profile \"{}\", {} changed) as {} files to {}",
            f.hosts.len(),
            f.variants.len(),
            f.base().name,
            changed.len(),
            rendered.artifacts.len(),
            text::one_line(&out.display().to_string())
        )?;
    }
    Ok(exit::OK)
}

#[derive(Serialize)]
struct RenderJson<'a> {
    ok: bool,
    profile: &'a str,
    output: Option<String>,
    files: usize,
    problems: Vec<report::JsonEntry<'a>>,
}

/// With `--json`, a failure that is not a profile problem (an unreadable
/// profile, a refused overwrite) still prints the JSON document.
fn json_failure(profile: &str, err: anyhow::Error) -> anyhow::Result<i32> {
    if err.is::<console::Closed>() {
        return Err(err);
    }
    let code = exit_code(&err);
    let doc = serde_json::json!({
        "ok": false,
        "profile": profile,
        "output": null,
        "files": 0,
        "problems": [{
            "severity": "error",
            "key": "",
            "message": format!("{err:#}"),
            "fix": "",
            "file": profile,
            "line": null,
            "column": null,
        }],
    });
    console::json(&doc)?;
    Ok(code)
}

fn render(
    path: Option<&Path>,
    out: &Path,
    cli::WriteOptions {
        force,
        strict,
        json,
    }: cli::WriteOptions,
) -> anyhow::Result<i32> {
    let profile_name = path.map_or_else(
        || profile::DEFAULT_PROFILE_NAME.to_string(),
        |p| p.display().to_string(),
    );
    let (loaded, compiled, fatal) = match load::load_and_compile(path, strict, json, true) {
        Ok(x) => x,
        Err(e) if json => return json_failure(&profile_name, e),
        Err(e) => return Err(e),
    };
    let source = loaded.source();
    let print_json = |ok: bool, files: usize| -> anyhow::Result<()> {
        let doc = RenderJson {
            ok,
            profile: &loaded.source_name,
            output: ok.then(|| out.display().to_string()),
            files,
            problems: report::json_entries(&loaded.report, &source),
        };
        console::json(&doc)
    };
    let profile = match (&loaded.profile, fatal) {
        (Some(p), false) => p,
        _ => {
            if json {
                print_json(false, 0)?;
            }
            return Ok(exit::BAD_INPUT);
        }
    };
    let artifacts = render::render_all(profile, &compiled)?;
    match output::write_tree(out, &artifacts, force) {
        Ok(_) => {}
        Err(e) if json => return json_failure(&profile_name, e),
        Err(e) => return Err(e),
    }
    if json {
        print_json(true, artifacts.len())?;
    } else {
        errln!(
            "rendered profile \"{}\" ({} files) to {}",
            profile.name,
            artifacts.len(),
            text::one_line(&out.display().to_string())
        )?;
    }
    Ok(exit::OK)
}

/// A rendered tree to work on: the folder given, or a profile rendered into a
/// temporary folder (kept alive by `_tmp`).
struct TreeDir {
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

/// `Err(code)`: the profile was refused and its report printed.
fn tree_dir(target: &Path, strict: bool, json: bool) -> anyhow::Result<Result<TreeDir, i32>> {
    if target.is_dir() {
        return Ok(Ok(TreeDir {
            dir: target.to_path_buf(),
            _tmp: None,
        }));
    }
    let (loaded, compiled, fatal) = load::load_and_compile(Some(target), strict, json, true)?;
    let profile = match (&loaded.profile, fatal) {
        (Some(p), false) => p,
        _ => {
            if json {
                let source = loaded.source();
                console::json(&report::json_entries(&loaded.report, &source))?;
            }
            return Ok(Err(exit::BAD_INPUT));
        }
    };
    let tmp = tempfile::Builder::new()
        .prefix("rtaudio-tuning-")
        .tempdir()?;
    let dir = tmp.path().join(&profile.name);
    output::write_tree(&dir, &render::render_all(profile, &compiled)?, false)?;
    Ok(Ok(TreeDir {
        dir,
        _tmp: Some(tmp),
    }))
}

#[derive(Serialize)]
struct ValidatorInfo {
    name: &'static str,
    description: &'static str,
}

fn list_validators(json: bool) -> anyhow::Result<i32> {
    if json {
        let list: Vec<ValidatorInfo> = validate::VALIDATORS
            .iter()
            .map(|v| ValidatorInfo {
                name: v.name,
                description: v.description,
            })
            .collect();
        console::json(&list)?;
    } else {
        for v in validate::VALIDATORS {
            outln!("{:<12} {}", v.name, v.description)?;
        }
    }
    Ok(exit::OK)
}

fn validate_cmd(
    target: &Path,
    only: &[String],
    skip: &[String],
    json: bool,
    strict: bool,
    require_all: bool,
) -> anyhow::Result<i32> {
    use std::io::IsTerminal as _;
    let chosen = validate::select(only, skip).map_err(UserError)?;
    let tree_dir = match tree_dir(target, strict, json)? {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    let tree = validate::Tree::read(&tree_dir.dir)?;
    if !json && std::io::stderr().is_terminal() {
        errln!(
            "running {} validators on {} ...",
            chosen.len(),
            text::one_line(&target.display().to_string())
        )?;
    }
    let start = std::time::Instant::now();
    let mut results = validate::run_all(&tree, &chosen);
    if strict {
        for r in &mut results {
            if r.outcome.status == validate::Status::Pass && !r.outcome.warnings.is_empty() {
                r.outcome.status = validate::Status::Fail;
                r.outcome.details = std::mem::take(&mut r.outcome.warnings);
                r.outcome.summary = format!(
                    "{} (warnings are failures under --strict)",
                    r.outcome.summary
                );
            }
        }
    }
    let count = |s: validate::Status| results.iter().filter(|r| r.outcome.status == s).count();
    let (failed, unavailable, passed) = (
        count(validate::Status::Fail),
        count(validate::Status::Unavailable),
        count(validate::Status::Pass),
    );
    if json {
        console::json(&results)?;
    } else {
        for r in &results {
            let status = match r.outcome.status {
                validate::Status::Pass => "pass",
                validate::Status::Fail => "FAIL",
                validate::Status::Unavailable => "unavailable",
            };
            outln!("{status:<12} {:<12} {}", r.name, r.outcome.summary)?;
            for d in &r.outcome.details {
                for line in d.lines() {
                    outln!("{:<25}{line}", "")?;
                }
            }
            for w in &r.outcome.warnings {
                outln!("{:<25}warning: {w}", "")?;
            }
        }
        outln!(
            "{passed} passed, {failed} failed, {unavailable} unavailable ({:.1} s)",
            start.elapsed().as_secs_f64()
        )?;
    }
    Ok(if failed > 0 {
        exit::FAILED
    } else if unavailable > 0 && require_all {
        exit::TOOL_MISSING
    } else {
        exit::OK
    })
}

fn rpm_cmd(target: &Path, out: &Path, strict: bool) -> anyhow::Result<i32> {
    let Some(rpmbuild_bin) = cmd::find("rpmbuild") else {
        return Err(ToolMissing(
            "install rpm (rpmbuild): apt-get install rpm, or dnf install rpm-build".into(),
        )
        .into());
    };
    let tree_dir = match tree_dir(target, strict, false)? {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    let rpm_dir = tree_dir.dir.join("rpm");
    if !rpm_dir.join("rtaudio-tuning.spec").is_file() {
        return Err(UserError(format!(
            "{} has no rpm/rtaudio-tuning.spec: give a folder written by `render`, or a profile",
            tree_dir.dir.display()
        ))
        .into());
    }
    let top = tempfile::Builder::new()
        .prefix("rtaudio-tuning-rpmbuild-")
        .tempdir()?;
    let built = rpmbuild::build(&rpmbuild_bin, &rpm_dir, top.path())?;
    let name = built.file_name().expect("an rpm file name").to_owned();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let dest = out.join(&name);
    let staged = tempfile::NamedTempFile::new_in(out)
        .with_context(|| format!("writing into {}", out.display()))?;
    std::fs::copy(&built, staged.path()).with_context(|| format!("copying {}", built.display()))?;
    staged
        .persist(&dest)
        .with_context(|| format!("writing {}", dest.display()))?;
    outln!("{}", text::one_line(&dest.display().to_string()))?;
    Ok(exit::OK)
}

#[derive(Serialize)]
struct CheckInfo {
    id: &'static str,
    group: &'static str,
    description: &'static str,
}

fn list_checks(json: bool) -> anyhow::Result<i32> {
    if json {
        let list: Vec<CheckInfo> = check::CHECKS
            .iter()
            .map(|c| CheckInfo {
                id: c.id,
                group: c.group,
                description: c.description,
            })
            .collect();
        console::json(&list)?;
    } else {
        for c in check::CHECKS {
            outln!("{:<22} {:<8} {}", c.id, c.group, c.description)?;
        }
    }
    Ok(exit::OK)
}

fn check_cmd(
    checks: &[&'static check::Entry],
    profile: Option<&Path>,
    user: Option<&str>,
    root: Option<&Path>,
    json: bool,
) -> anyhow::Result<i32> {
    let loaded = match profile {
        Some(p) => {
            let (loaded, compiled, fatal) = load::load_and_compile(Some(p), false, json, false)?;
            if fatal {
                return Ok(exit::BAD_INPUT);
            }
            Some((loaded, compiled))
        }
        None => None,
    };
    let no_modules = selinux::Compiled::default();
    if let Some(r) = root {
        if !r.is_dir() {
            return Err(UserError(format!("--root {}: not a folder", r.display())).into());
        }
    }
    let out = check::run(&check::Options {
        checks,
        root,
        user,
        profile: loaded.as_ref().and_then(|(l, _)| l.profile.as_ref()),
        compiled: loaded.as_ref().map_or(&no_modules, |(_, c)| c),
    })?;
    if json {
        console::json(&out)?;
    } else {
        out!("{}", check::format(&out))?;
    }
    Ok(if out.failed > 0 {
        exit::FAILED
    } else {
        exit::OK
    })
}
