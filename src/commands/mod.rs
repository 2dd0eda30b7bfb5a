//! The application layer: one module per subcommand, each turning its
//! arguments into work and printing its report or its JSON document.

mod check;
mod docs;
mod fleet;
mod init;
mod latency;
mod render;
mod rpm;
pub mod schema;
mod validate;

use crate::cli::{Cli, Command, SelinuxCommand};
use crate::{console, errln, report, text};

/// Run a parsed command line; returns the exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    console::configure(&cli.global);
    let json = json_document(&cli.command);
    match dispatch(cli.command) {
        // With --json, a command that stopped on an error still prints its
        // one document (the error as its problem), on standard output.
        Err(e) if !e.is::<console::Closed>() => match json {
            Some((command, schema)) => {
                console::refusal(command, schema, &e)?;
                Ok(crate::exit_code(&e))
            }
            None => Err(e),
        },
        r => r,
    }
}

/// The document a command prints with `--json` (its name and schema), if it
/// was asked for one.
fn json_document(command: &Command) -> Option<(&'static str, u32)> {
    let (name, schema, json) = match command {
        Command::Render { write, .. } => ("render", 1, write.json),
        Command::Fleet { write, .. } => ("fleet", 1, write.json),
        Command::Validate { json, .. } => ("validate", 1, *json),
        Command::Rpm { json, .. } => ("rpm", 1, *json),
        Command::Check { json, .. } => ("check", 1, *json),
        Command::Latency(a) => ("latency", 1, a.json),
        Command::VmTest { json, .. } => ("vm-test", 2, *json),
        Command::Selinux(SelinuxCommand::FromAudit { json, .. }) => {
            ("selinux from-audit", 1, *json)
        }
        Command::Init { .. }
        | Command::Completions { .. }
        | Command::Man { .. }
        | Command::Schema { .. } => return None,
    };
    json.then_some((name, schema))
}

fn dispatch(command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Init { path, force } => init::init(&path, force),
        Command::Render {
            profile,
            output,
            write,
        } => {
            let profile = crate::load::choose(profile.given())?;
            render::render(profile.as_deref(), &output, write)
        }
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
                crate::jobs::set_limit(usize::from(n));
            }
            if list {
                return validate::list_validators(json);
            }
            let target = crate::load::choose(target.given())?;
            validate::validate_cmd(target.as_deref(), &only, &skip, json, strict, require_all)
        }
        Command::Rpm {
            target,
            output,
            repo,
            bump_release,
            strict,
            json,
        } => {
            let target = crate::load::choose(target.given())?;
            rpm::rpm_cmd(
                target.as_deref(),
                output.as_deref(),
                repo.as_deref(),
                bump_release,
                strict,
                json,
            )
        }
        Command::Check {
            profile,
            profile_flag,
            user,
            root,
            list,
            strict,
            skip,
            only,
            json,
        } => {
            if list {
                return check::list_checks(json);
            }
            // `--profile` without a value: the profile the other commands
            // would use.
            let profile = match (profile, profile_flag) {
                (Some(p), _) | (None, Some(Some(p))) => Some(p),
                (None, Some(None)) => Some(crate::load::choose(None)?.unwrap_or_default()),
                (None, None) => None,
            };
            let chosen =
                crate::check::select(&only, &skip, profile.is_some()).map_err(crate::UserError)?;
            check::check_cmd(
                &chosen,
                profile.as_deref(),
                user.as_deref(),
                root.as_deref(),
                json,
                strict,
            )
        }
        Command::Latency(args) => latency::latency_cmd(args),
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
            capture,
            via,
        } => {
            // The guest gets the profile as a file: the embedded default is
            // written to a temporary one.
            let given = crate::load::choose(profile.given())?;
            let embedded;
            let profile = match given {
                Some(p) => p,
                None => {
                    embedded = tempfile::Builder::new()
                        .prefix("rtaudio-tuning-default-")
                        .suffix(".toml")
                        .tempfile()?;
                    std::fs::write(embedded.path(), crate::profile::DEFAULT_PROFILE)?;
                    embedded.path().to_path_buf()
                }
            };
            crate::vm::run(&crate::vm::Options {
                profile: &profile,
                tree: tree.as_deref(),
                kernel: kernel.as_deref(),
                initrd: initrd.as_deref(),
                rootfs: rootfs.as_deref(),
                accel,
                timeout: std::time::Duration::from_secs(timeout),
                keep,
                json,
                capture: capture.as_deref(),
                via,
            })
        }
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { output } => docs::man(output.as_deref()),
        Command::Schema { name, output } => schema::schema_cmd(name.as_deref(), output.as_deref()),
        Command::Fleet {
            inventory,
            output,
            changed_only,
            bump_release,
            write,
        } => fleet::fleet_cmd(&inventory, &output, changed_only, bump_release, write),
        Command::Selinux(SelinuxCommand::FromAudit {
            input,
            name,
            output,
            add_to,
            allow_dangerous,
            force,
            json,
        }) => crate::selinux::from_audit::run(crate::selinux::from_audit::Options {
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
        "{}: {}{}; nothing was written",
        text::one_line(source),
        text::count(problems, "problem"),
        if strict {
            " (--strict: warnings count)"
        } else {
            ""
        }
    )
}
