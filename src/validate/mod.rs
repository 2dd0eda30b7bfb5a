//! `validate`: named validators over a rendered tree. Each runs a real tool or
//! checks a typed schema, and reports pass, fail, or unavailable (a tool is
//! missing: never a pass), with the tools' warnings beside (fatal under
//! `--strict`). They run concurrently.

mod blueprint;
mod bootc;
pub mod consistency;
mod dropins;
mod fleet;
mod kickstart;
mod live;
mod rpm_spec;
mod scriptlets;
mod selinux;
pub mod spa_json;
mod tree;
mod units;

use serde::Serialize;

pub use tree::Tree;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Unavailable,
    /// Nothing of its kind in the tree (no fleet, no SELinux module, no live
    /// spin): nothing was checked, which is not a pass.
    #[serde(rename = "n/a")]
    NotApplicable,
}

/// What one validator found.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Outcome {
    pub status: Status,
    /// One line: what was checked, or what is wrong.
    pub summary: String,
    /// The problems found, with the tools' own messages, one per entry.
    pub details: Vec<String>,
    /// What the tools warned about without failing.
    pub warnings: Vec<String>,
}

impl Outcome {
    pub fn pass(summary: impl Into<String>) -> Self {
        Outcome {
            status: Status::Pass,
            summary: summary.into(),
            details: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub fn fail(summary: impl Into<String>, details: Vec<String>) -> Self {
        Outcome {
            status: Status::Fail,
            summary: summary.into(),
            details,
            warnings: Vec::new(),
        }
    }

    pub fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }

    /// The tree has nothing this validator checks; `why` says what.
    pub fn not_applicable(why: impl Into<String>) -> Self {
        Outcome {
            status: Status::NotApplicable,
            summary: why.into(),
            details: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// A needed tool is missing; `install` says how to get it.
    pub fn unavailable(install: impl Into<String>) -> Self {
        Outcome {
            status: Status::Unavailable,
            summary: format!("unavailable: install {}", install.into()),
            details: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Pass when `problems` is empty, else fail with them.
    pub fn from_problems(
        ok: impl Into<String>,
        failed: impl Into<String>,
        problems: Vec<String>,
    ) -> Self {
        if problems.is_empty() {
            Outcome::pass(ok)
        } else {
            Outcome::fail(failed, problems)
        }
    }
}

pub struct Validator {
    pub name: &'static str,
    pub description: &'static str,
    pub run: fn(&Tree) -> Outcome,
}

/// Every validator, in the order they are reported.
pub const VALIDATORS: &[Validator] = &[
    Validator {
        name: "kickstart",
        description: "pykickstart's ksvalidator with the kickstart's handler (#version=) on every kickstart (the live one only on Fedora); ksflatten succeeds",
        run: kickstart::validate,
    },
    Validator {
        name: "live",
        description: "the live spin kickstart enables livesys and livesys-late, holds one kernel (counting the kernel Anaconda adds) and lorax's live package set, empties /etc/machine-id; no live kickstart for an EL target",
        run: live::validate,
    },
    Validator {
        name: "rpm-spec",
        description: "rpmbuild builds the package (Fedora's path macros defined); its scriptlets hold no unexpanded macro; rpmlint with Fedora's configuration reports no error",
        run: rpm_spec::validate,
    },
    Validator {
        name: "scriptlets",
        description: "every shell body (RPM scriptlets, kickstart %pre/%post, Containerfile RUN, scripts units run) passes bash -n and shellcheck",
        run: scriptlets::validate,
    },
    Validator {
        name: "units",
        description: "systemd-analyze verify on every unit and drop-in; its Unknown key and Failed to parse lines count as failures",
        run: units::validate,
    },
    Validator {
        name: "selinux",
        description: "each module compiles with checkmodule -M -m (MCS) and packages with semodule_package",
        run: selinux::validate,
    },
    Validator {
        name: "blueprint",
        description: "osbuild blueprint: typed schema (unknown keys fail), image-builder's file path policy, enabled services provided by a listed package",
        run: blueprint::validate,
    },
    Validator {
        name: "bootc",
        description: "bootc: kargs.d files with exactly bootc's schema, one kernel, Containerfile instructions parse, lint is the last RUN",
        run: bootc::validate,
    },
    Validator {
        name: "dropins",
        description: "limits.d, sysusers.d, sysctl.d, udev rules and environment files parse with their own grammar",
        run: dropins::validate,
    },
    Validator {
        name: "fleet",
        description: "a fleet tree: index.json's hashes match, every PXE menu entry names a kickstart of the tree, iPXE gotos have labels, grub-script-check accepts the GRUB fragment",
        run: fleet::validate,
    },
    Validator {
        name: "consistency",
        description: "the same drop-in bytes and the same kernel arguments in rootfs/, the RPM, the kickstarts, the blueprint and the bootc image",
        run: consistency::validate,
    },
];

/// Each tool found on PATH, or the outcome that names only the missing ones,
/// each with the package that has it: `(tool, package)`.
pub(crate) fn tools<const N: usize>(
    wanted: [(&str, &str); N],
) -> Result<[std::path::PathBuf; N], Outcome> {
    let found = wanted.map(|(tool, _)| crate::cmd::find(tool));
    if found.iter().all(Option::is_some) {
        return Ok(found.map(|f| f.expect("found")));
    }
    // Missing tools by package, in the order given.
    let mut by_package: Vec<(&str, Vec<&str>)> = Vec::new();
    for ((tool, package), f) in wanted.iter().zip(&found) {
        if f.is_some() {
            continue;
        }
        match by_package.iter_mut().find(|(p, _)| p == package) {
            Some((_, tools)) => tools.push(tool),
            None => by_package.push((package, vec![tool])),
        }
    }
    let parts: Vec<String> = by_package
        .iter()
        .map(|(package, tools)| format!("{package} ({})", tools.join(", ")))
        .collect();
    Err(Outcome::unavailable(parts.join(" and ")))
}

/// Copy the tree's files under `prefix` into a new temporary folder, keeping
/// their relative paths: tools get files as they are in the tree now.
pub(crate) fn write_temp(tree: &Tree, prefix: &str) -> anyhow::Result<tempfile::TempDir> {
    let tmp = tempfile::Builder::new()
        .prefix("rtaudio-tuning-validate-")
        .tempdir()?;
    write_temp_into(tree, prefix, tmp.path())?;
    Ok(tmp)
}

/// Copy the tree's files under `prefix` into `dir`, keeping their paths.
pub(crate) fn write_temp_into(
    tree: &Tree,
    prefix: &str,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    for (rel, bytes) in tree.under(prefix) {
        let path = dir.join(rel);
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// A tool's output without the temporary folder's path and without blank lines.
pub(crate) fn tidy(text: &str, tmp: &std::path::Path) -> String {
    let prefix = format!("{}/", tmp.display());
    text.replace(&prefix, "")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// One validator's result, as reported.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Checked {
    pub name: &'static str,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub seconds: f64,
}

/// Which validators to run: all but `skip`, or only `only` when given.
pub fn select<'a>(only: &[String], skip: &[String]) -> Result<Vec<&'a Validator>, String> {
    let known: Vec<&str> = VALIDATORS.iter().map(|v| v.name).collect();
    for name in only.iter().chain(skip) {
        if !known.contains(&name.as_str()) {
            return Err(format!(
                "no validator named {name:?}{}; the validators are: {}",
                crate::text::did_you_mean(name, known.iter().copied()),
                known.join(", ")
            ));
        }
    }
    if let Some(both) = only.iter().find(|o| skip.contains(o)) {
        return Err(format!(
            "--only {both} and --skip {both} together: give the validator to one of them"
        ));
    }
    Ok(VALIDATORS
        .iter()
        .filter(|v| only.is_empty() || only.iter().any(|o| o == v.name))
        .filter(|v| !skip.iter().any(|s| s == v.name))
        .collect())
}

/// Run validators concurrently, up to the job limit; results in registry order.
/// Run `validators` on `tree` at once (within the job limit); `on_done` hears
/// of each as it ends (the progress line). Results in the order given.
pub fn run_all(
    tree: &Tree,
    validators: &[&Validator],
    on_done: &(dyn Fn(&Checked) + Sync),
) -> Vec<Checked> {
    crate::jobs::map(validators.to_vec(), |v| {
        let start = std::time::Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (v.run)(tree)))
            .unwrap_or_else(|_| {
                Outcome::fail(
                    "the validator crashed (a bug in rtaudio-tuning; please report it)",
                    Vec::new(),
                )
            });
        let checked = Checked {
            name: v.name,
            outcome,
            seconds: start.elapsed().as_secs_f64(),
        };
        on_done(&checked);
        checked
    })
}

#[cfg(test)]
mod tools_tests {
    use super::*;

    #[test]
    fn unavailable_names_only_the_missing_tools() {
        let out = tools([
            ("sh", "dash"),
            ("no-such-tool-a", "pkg-one"),
            ("no-such-tool-b", "pkg-one"),
            ("no-such-tool-c", "pkg-two"),
        ])
        .unwrap_err();
        assert_eq!(out.status, Status::Unavailable);
        assert_eq!(
            out.summary,
            "unavailable: install pkg-one (no-such-tool-a, no-such-tool-b) and pkg-two (no-such-tool-c)"
        );
        assert!(tools([("sh", "dash")]).is_ok());
    }
}
