//! Every shell body we emit through `bash -n` and shellcheck: the RPM's
//! scriptlets (macros expanded by rpmspec), the kickstarts' %pre/%post, the
//! Containerfile's shell-form RUN lines, and the scripts units run.

use std::process::Command;

use super::{Outcome, Tree, tidy, write_temp};
use crate::cmd;

/// RPM sections that hold shell scriptlets.
const RPM_SCRIPTLETS: &[&str] = &[
    "%pre",
    "%post",
    "%preun",
    "%postun",
    "%pretrans",
    "%posttrans",
];

/// Split an expanded spec into its scriptlets: (section, body).
fn rpm_scriptlets(spec: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in spec.lines() {
        let word = line.split_whitespace().next().unwrap_or("");
        let is_section = word.starts_with('%')
            && word.len() > 1
            && word[1..].chars().all(|c| c.is_ascii_lowercase())
            && !line.starts_with("%{");
        if is_section {
            if let Some(done) = current.take() {
                out.push(done);
            }
            if RPM_SCRIPTLETS.contains(&word) {
                current = Some((format!("rpm {word}"), String::new()));
            }
            continue;
        }
        if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out.extend(current);
    out
}

/// A kickstart's %pre and %post bodies (interpreter /bin/sh).
fn kickstart_scripts(name: &str, ks: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in ks.lines() {
        if line.trim() == "%end" {
            out.extend(current.take());
            continue;
        }
        let word = line.split_whitespace().next().unwrap_or("");
        if matches!(word, "%pre" | "%post" | "%pre-install") {
            if line.contains("--interpreter")
                && !line.contains("--interpreter=/bin/sh")
                && !line.contains("--interpreter=/bin/bash")
            {
                continue;
            }
            current = Some((format!("{name} {word}"), String::new()));
            continue;
        }
        if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

/// The Containerfile's shell-form RUN commands, continuation lines joined.
fn containerfile_runs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let mut full = line.to_string();
        while full.ends_with('\\') {
            full.pop();
            match lines.next() {
                Some((_, next)) => full.push_str(next),
                None => break,
            }
        }
        let trimmed = full.trim_start();
        let Some(rest) = trimmed
            .strip_prefix("RUN ")
            .or_else(|| trimmed.strip_prefix("run "))
        else {
            continue;
        };
        let rest = rest.trim();
        if rest.starts_with('[') {
            continue; // exec form: no shell involved
        }
        out.push((
            format!("bootc/Containerfile:{} RUN", i + 1),
            format!("{rest}\n"),
        ));
    }
    out
}

/// Scripts our units run with `ExecStart=/bin/sh FILE` or directly, found in rootfs.
fn unit_scripts(tree: &Tree) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (rel, bytes) in tree.under("rootfs/") {
        if !rel.contains("/systemd/system/") {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        for line in text.lines() {
            let Some(exec) = line.strip_prefix("ExecStart=") else {
                continue;
            };
            let words: Vec<&str> = exec
                .trim_start_matches(['-', '@', ':', '+', '!'])
                .split_whitespace()
                .collect();
            let script = match words.as_slice() {
                [
                    "/bin/sh" | "/usr/bin/sh" | "/bin/bash" | "/usr/bin/bash",
                    file,
                    ..,
                ] => *file,
                [file, ..] => *file,
                [] => continue,
            };
            if let Some(body) = tree.text(&format!("rootfs{script}")) {
                out.push((
                    format!(
                        "rootfs{script} (ExecStart of {})",
                        rel.rsplit('/').next().unwrap_or(rel)
                    ),
                    body.to_string(),
                ));
            }
        }
    }
    out
}

pub fn validate(tree: &Tree) -> Outcome {
    let [bash, shellcheck, rpmspec] = match super::tools([
        ("bash", "bash"),
        ("shellcheck", "shellcheck"),
        ("rpmspec", "rpm, to expand the spec's macros"),
    ]) {
        Ok(found) => found,
        Err(unavailable) => return unavailable,
    };
    let mut problems = Vec::new();
    let mut scripts: Vec<(String, String)> = Vec::new();

    if tree.text("rpm/rtaudio-tuning.spec").is_some() {
        let staged = match write_temp(tree, "rpm/") {
            Ok(t) => t,
            Err(e) => return Outcome::fail(format!("cannot stage rpm/: {e:#}"), Vec::new()),
        };
        let mut c = Command::new(&rpmspec);
        c.arg("-P");
        for (k, v) in crate::rpmbuild::FEDORA_MACROS {
            c.arg("--define").arg(format!("{k} {v}"));
        }
        c.arg("--define")
            .arg(format!(
                "_sourcedir {}",
                staged.path().join("rpm").display()
            ))
            .arg(staged.path().join("rpm/rtaudio-tuning.spec"));
        match cmd::run_checked(&mut c) {
            Ok(o) => scripts.extend(rpm_scriptlets(&o.stdout)),
            Err(e) => problems.push(tidy(&e.to_string(), staged.path())),
        }
    }
    for (rel, bytes) in tree.under("kickstart/").chain(tree.under("hosts/")) {
        if rel.ends_with(".ks") {
            scripts.extend(kickstart_scripts(rel, &String::from_utf8_lossy(bytes)));
        }
    }
    // A fleet's image-mode snippets are whole scripts, run by bash.
    for (rel, bytes) in tree.under("image-mode/") {
        let text = String::from_utf8_lossy(bytes);
        let body = text.strip_prefix("#!/bin/bash\n").unwrap_or(&text);
        scripts.push((rel.to_string(), body.to_string()));
    }
    if let Some(text) = tree.text("bootc/Containerfile") {
        scripts.extend(containerfile_runs(text));
    }
    scripts.extend(unit_scripts(tree));
    // A fleet's hosts of one kind share their %post: each distinct body is
    // checked once, under the name of the first file that has it.
    let mut seen = std::collections::HashSet::new();
    let total = scripts.len();
    scripts.retain(|(_, body)| seen.insert(body.clone()));
    let shared = total - scripts.len();

    let tmp = match tempfile::Builder::new()
        .prefix("rtaudio-tuning-scripts-")
        .tempdir()
    {
        Ok(t) => t,
        Err(e) => {
            return Outcome::fail(format!("cannot create a temporary folder: {e}"), Vec::new());
        }
    };
    let mut cmds = Vec::new();
    let mut labels = Vec::new();
    for (i, (label, body)) in scripts.iter().enumerate() {
        // The scripts run with /bin/sh (RPM, anaconda, podman's RUN, our units):
        // check them as POSIX sh, the stricter dialect.
        let path = tmp.path().join(format!("{i:02}.sh"));
        if let Err(e) = std::fs::write(&path, format!("#!/bin/sh\n{body}")) {
            return Outcome::fail(format!("cannot write {}: {e}", path.display()), Vec::new());
        }
        let mut syntax = Command::new(&bash);
        syntax.arg("-n").arg(&path);
        cmds.push(syntax);
        labels.push(format!("{label}: bash -n"));
        let mut sc = Command::new(&shellcheck);
        sc.args(["--shell=sh", "--format=gcc"]).arg(&path);
        cmds.push(sc);
        labels.push(format!("{label}: shellcheck"));
    }
    for (label, result) in labels.iter().zip(cmd::run_parallel(cmds)) {
        match result {
            Err(e) => problems.push(e.to_string()),
            Ok(o) if !o.success() => {
                problems.push(format!("{label}:\n{}", tidy(&o.text(), tmp.path())))
            }
            Ok(_) => {}
        }
    }
    Outcome::from_problems(
        if shared > 0 {
            format!(
                "{} distinct shell bodies ({total} in all) pass bash -n and shellcheck",
                scripts.len()
            )
        } else {
            format!("{} shell bodies pass bash -n and shellcheck", scripts.len())
        },
        format!("{} of {} checks failed", problems.len(), scripts.len() * 2),
        problems,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_specs_kickstarts_and_containerfiles() {
        let spec = "Name: x\n%description\nhi\n%pre\necho pre\n%post\necho post\nif true; then :; fi\n%files\n/etc/x\n%changelog\n";
        let s = rpm_scriptlets(spec);
        assert_eq!(
            s,
            vec![
                ("rpm %pre".into(), "echo pre\n".into()),
                (
                    "rpm %post".into(),
                    "echo post\nif true; then :; fi\n".into()
                )
            ]
        );
        let ks = "text\n%packages\nvim\n%end\n%post --erroronfail\nset -eu\necho a\n%end\n%post --interpreter=/usr/bin/python3\nprint(1)\n%end\n";
        assert_eq!(
            kickstart_scripts("a.ks", ks),
            vec![("a.ks %post".into(), "set -eu\necho a\n".into())]
        );
        let cf = "FROM x\nRUN a && \\\n    b\nRUN [\"/bin/true\"]\nCOPY a /\nRUN c\n";
        let runs = containerfile_runs(cf);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].1, "a &&     b\n");
        assert!(runs[1].0.ends_with(":6 RUN"));
    }
}
