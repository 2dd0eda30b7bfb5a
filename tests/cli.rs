//! The command line around the profile, through the real binary: which
//! profile a command uses when given none, completions and manual pages,
//! --quiet and --verbose, progress and colour on a terminal (a pseudo-terminal
//! made by util-linux's `script`) and none on a pipe, check --strict, and
//! --version.

mod common;

use std::fs;
use std::path::Path;
use std::process::Output;

use common::*;

/// A run of the binary in `dir`, standard output and error piped.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    run(bin().current_dir(dir).args(args).env_remove("NO_COLOR"))
}

/// A run of the binary on a pseudo-terminal `cols` wide, as a person at a
/// terminal runs it: standard output and error both go to the terminal, and
/// what it shows comes back as one text (with `\r\n` line ends).
fn run_on_terminal(dir: &Path, args: &[&str], cols: u16, env: &[(&str, &str)]) -> (i32, String) {
    let script = tool("script", "bsdutils (util-linux)");
    let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_rtaudio-tuning"))
        .chain(args.iter().copied())
        .map(|a| {
            assert!(
                a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/._-=,".contains(&b)),
                "quote {a:?} for the shell"
            );
            a.to_string()
        })
        .collect();
    let command = format!("stty cols {cols}; {}", quoted.join(" "));
    let mut cmd = std::process::Command::new(script);
    cmd.current_dir(dir)
        .env_remove("NO_COLOR")
        .env("TERM", "xterm-256color")
        // -e: script exits with the command's status.
        .args(["-qec", &command, "/dev/null"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("running script");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

const ESC: &str = "\u{1b}[";

fn machine(name: &str) -> std::path::PathBuf {
    repo().join("tests/fixtures/machines").join(name)
}

#[test]
fn without_a_profile_commands_use_studio_toml_here_else_the_default_and_say_which() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // No studio.toml: the embedded default, said on standard error.
    let o = run_in(dir, &["render", "-o", "out"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("using the embedded default profile"),
        "{}",
        stderr(&o)
    );
    assert!(dir.join("out/kickstart/studio.ks").is_file());

    // init writes ./studio.toml; the user edits it; render takes it.
    let o = run_in(dir, &["init"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = fs::read_to_string(dir.join("studio.toml")).unwrap();
    let edited = text.replacen("name = \"studio\"", "name = \"booth\"", 1);
    assert_ne!(text, edited, "the default profile's name line moved");
    fs::write(dir.join("studio.toml"), edited).unwrap();
    let o = run_in(dir, &["render", "-o", "out2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("using ./studio.toml"), "{}", stderr(&o));
    assert!(dir.join("out2/kickstart/booth.ks").is_file());

    // validate and check --profile take the same one; JSON names it.
    let o = run_in(dir, &["validate", "--only", "dropins", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["target"], "studio.toml");
    let root = machine("rt-hda");
    let root = root.to_str().unwrap();
    let o = run_in(
        dir,
        &[
            "check",
            "--profile",
            "--root",
            root,
            "--user",
            "musician",
            "--json",
        ],
    );
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["profile"], "booth", "{}", stdout(&o));

    // PROFILE and --profile are one argument spelled two ways.
    let o = run_in(dir, &["render", "--profile", "studio.toml", "-o", "out3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("using"), "{}", stderr(&o));
    assert!(dir.join("out3/kickstart/booth.ks").is_file());
    let o = run_in(
        dir,
        &[
            "render",
            "studio.toml",
            "--profile",
            "studio.toml",
            "-o",
            "out4",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!dir.join("out4").exists());
    let o = run_in(
        dir,
        &[
            "check",
            "studio.toml",
            "--root",
            root,
            "--user",
            "musician",
            "--json",
        ],
    );
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["profile"], "booth", "{}", stdout(&o));

    // --quiet leaves out the note and the summary, not the result.
    let o = run_in(dir, &["-q", "render", "-o", "out5"]);
    assert!(o.status.success());
    assert_eq!(stderr(&o), "");
    assert!(dir.join("out5/kickstart/booth.ks").is_file());

    // A broken ./studio.toml is refused, named, never replaced by the default.
    fs::write(
        dir.join("studio.toml"),
        "version = 1\nname = \"Bad Name\"\n",
    )
    .unwrap();
    let o = run_in(dir, &["render", "-o", "out6"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("studio.toml:2:"), "{}", stderr(&o));
    assert!(!dir.join("out6").exists());
}

#[test]
fn completions_and_manual_pages_come_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let bash = tool("bash", "bash");
    for shell in ["bash", "zsh", "fish"] {
        let o = run_in(tmp.path(), &["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let text = stdout(&o);
        for sub in ["render", "validate", "fleet", "vm-test", "completions"] {
            assert!(text.contains(sub), "{shell} completion lacks {sub}");
        }
        assert!(
            !text.contains("vm-agent"),
            "{shell} completes a hidden command"
        );
    }
    // The bash script loads and registers the command.
    let script = tmp.path().join("completion.bash");
    fs::write(
        &script,
        stdout(&run_in(tmp.path(), &["completions", "bash"])),
    )
    .unwrap();
    let o = run(std::process::Command::new(&bash).args([
        "-c",
        "source \"$1\" && complete -p rtaudio-tuning",
        "bash",
        script.to_str().unwrap(),
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("rtaudio-tuning"), "{}", stdout(&o));
    // What bash offers as the user presses Tab: subcommands, then a
    // subcommand's own options.
    let complete = |words: &str| {
        let o = run(std::process::Command::new(&bash).args([
            "-c",
            "source \"$1\"; shift; COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); \
             _rtaudio__tuning rtaudio-tuning \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\"; \
             printf '%s\\n' \"${COMPREPLY[@]}\"",
            "bash",
            script.to_str().unwrap(),
        ]).args(words.split(' ')));
        assert!(o.status.success(), "{words}: {}", stderr(&o));
        stdout(&o)
    };
    assert!(
        complete("rtaudio-tuning val")
            .lines()
            .any(|l| l == "validate")
    );
    assert!(
        complete("rtaudio-tuning check --st")
            .lines()
            .any(|l| l == "--strict")
    );
    assert!(
        complete("rtaudio-tuning render --pro")
            .lines()
            .any(|l| l == "--profile")
    );
    assert!(
        complete("rtaudio-tuning completions fi")
            .lines()
            .any(|l| l == "fish")
    );
    let o = run_in(tmp.path(), &["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));

    // Manual pages: one per visible command, into a new folder.
    let o = run_in(tmp.path(), &["man", "-o", "man1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pages = listing(&tmp.path().join("man1"));
    for page in [
        "rtaudio-tuning.1",
        "rtaudio-tuning-render.1",
        "rtaudio-tuning-check.1",
        "rtaudio-tuning-selinux-from-audit.1",
    ] {
        assert!(pages.contains(&page.to_string()), "{page} not in {pages:?}");
    }
    assert!(!pages.iter().any(|p| p.contains("vm-agent")), "{pages:?}");
    let render = fs::read_to_string(tmp.path().join("man1/rtaudio-tuning-render.1")).unwrap();
    assert!(
        render.starts_with(".ie") || render.contains(".TH"),
        "{render}"
    );
    assert!(render.contains("\\-\\-profile"), "{render}");
    // Again, into a folder that holds other pages too: ours are replaced,
    // theirs kept; a file of ours' name that is not our page is refused, and
    // then nothing changes.
    let man1 = tmp.path().join("man1");
    fs::write(man1.join("ls.1"), "their page").unwrap();
    let o = run_in(tmp.path(), &["man", "-o", "man1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(man1.join("ls.1")).unwrap(), "their page");
    assert_eq!(listing(&man1).len(), pages.len() + 1);
    fs::write(man1.join("rtaudio-tuning-render.1"), "not ours").unwrap();
    let before = tree(&man1);
    let o = run_in(tmp.path(), &["man", "-o", "man1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("rtaudio-tuning-render.1"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tree(&man1), before);
    let o = run_in(tmp.path(), &["man"]);
    assert!(
        stdout(&o).contains(".TH rtaudio-tuning 1"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn progress_and_colour_on_a_terminal_and_nothing_extra_on_a_pipe() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    render(None, &dir.join("out"));
    let args = ["validate", "out", "--only", "dropins,consistency,bootc"];

    // A terminal: the progress line redraws itself, verdicts are coloured.
    let (code, shown) = run_on_terminal(dir, &args, 100, &[]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("validating"), "{shown}");
    assert!(shown.contains("\r"), "{shown}");
    assert!(
        shown.contains(&format!("{ESC}32m")),
        "no green pass: {shown}"
    );

    // NO_COLOR: no colour, still progress.
    let (_, shown) = run_on_terminal(dir, &args, 100, &[("NO_COLOR", "1")]);
    assert!(!shown.contains(&format!("{ESC}32m")), "{shown}");
    assert!(shown.contains("validating"), "{shown}");

    // --quiet on a terminal: no progress line.
    let mut quiet = vec!["-q"];
    quiet.extend(args);
    let (_, shown) = run_on_terminal(dir, &quiet, 100, &[]);
    assert!(!shown.contains("validating"), "{shown}");
    assert!(shown.contains("3 passed"), "{shown}");

    // A pipe: the report alone, without escapes.
    let o = run_in(dir, &args);
    assert!(o.status.success());
    assert!(!stderr(&o).contains("validating"), "{}", stderr(&o));
    assert!(!stdout(&o).contains(ESC) && !stderr(&o).contains(ESC));
    // --color always colours a pipe too.
    let mut always = vec!["--color", "always"];
    always.extend(args);
    let o = run_in(dir, &always);
    assert!(stdout(&o).contains(&format!("{ESC}32m")), "{}", stdout(&o));
    // --verbose: a line per validator as it ends, on a pipe as well.
    let mut verbose = vec!["--verbose"];
    verbose.extend(args);
    let o = run_in(dir, &verbose);
    let err = stderr(&o);
    for name in ["dropins", "consistency", "bootc"] {
        assert!(
            err.lines().any(|l| l.contains(&format!("pass {name}:"))),
            "{name}: {err}"
        );
    }

    // Diagnostics: coloured on a terminal, carets under the right columns
    // after a tab and wide characters either way.
    fs::write(
        dir.join("bad.toml"),
        "version = 1\n[cpu]\n\"日本\" = 1\ngovernor\t=\t\"perfomance\"\n",
    )
    .unwrap();
    let (code, shown) = run_on_terminal(dir, &["render", "bad.toml", "-o", "x"], 100, &[]);
    assert_eq!(code, 2, "{shown}");
    assert!(shown.contains(&format!("{ESC}31merror")), "{shown}");
    let o = run_in(dir, &["render", "bad.toml", "-o", "x"]);
    let err = stderr(&o);
    assert!(!err.contains(ESC), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    let at = |start: &str| lines.iter().position(|l| l.starts_with(start)).unwrap();
    // `4 | governor    =    "perfomance"`: the tab is four columns.
    let src = at("4 | ");
    let value_col = unicode_width::UnicodeWidthStr::width(
        &lines[src][..lines[src].find("\"perfomance").unwrap()],
    );
    assert_eq!(lines[src + 1].find('^'), Some(value_col), "{err}");
    assert_eq!(lines[src + 1].matches('^').count(), "\"perfomance\"".len());
    // `3 | "日本" = 1`: two wide characters are four columns.
    let src = at("3 | ");
    assert_eq!(lines[src + 1].matches('^').count(), 6, "{err}");
    assert!(err.contains("did you mean \"performance\""), "{err}");
}

#[test]
fn check_strict_fails_on_warnings_and_wraps_to_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let root = machine("rt-hda");
    let root = root.to_str().unwrap();
    let base = ["check", "--root", root, "--user", "musician"];
    let o = run_in(tmp.path(), &base);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("1 warning,"), "{}", stdout(&o));
    let mut strict = base.to_vec();
    strict.push("--strict");
    let o = run_in(tmp.path(), &strict);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("--strict: 1 warning fails the check"),
        "{}",
        stdout(&o)
    );
    strict.push("--json");
    let o = run_in(tmp.path(), &strict);
    assert_eq!(o.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (doc["ok"].as_bool(), doc["strict"].as_bool()),
        (Some(false), Some(true))
    );

    // A terminal 80 columns wide: prose wraps to it (fixes, commands to
    // copy, stay whole); a pipe keeps each on one line.
    let plain = machine("stock-plain");
    let plain = plain.to_str().unwrap();
    let args = ["check", "--root", plain, "--user", "musician"];
    let (_, shown) = run_on_terminal(tmp.path(), &args, 80, &[("NO_COLOR", "1")]);
    let wide: Vec<&str> = shown
        .lines()
        .filter(|l| l.chars().count() > 80 && !l.trim_start().starts_with("fix:"))
        .collect();
    assert!(wide.is_empty(), "lines wider than the terminal: {wide:#?}");
    let o = run_in(tmp.path(), &args);
    assert!(
        stdout(&o)
            .lines()
            .any(|l| l.chars().count() > 80 && !l.contains("fix:")),
        "the pipe's lines were wrapped:\n{}",
        stdout(&o)
    );
}

#[test]
fn version_names_the_commit_of_a_build_from_git() {
    let o = run(bin().arg("--version"));
    assert!(o.status.success());
    let v = stdout(&o);
    assert!(
        v.starts_with(&format!("rtaudio-tuning {}", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    let head = std::process::Command::new("git")
        .current_dir(repo())
        .args(["rev-parse", "--short=12", "HEAD"])
        .output();
    match head {
        Ok(h) if h.status.success() => {
            let commit = String::from_utf8_lossy(&h.stdout).trim().to_string();
            assert!(v.contains(&format!("(git {commit})")), "{v} lacks {commit}");
        }
        // A source tarball: the version alone.
        _ => assert!(!v.contains("git"), "{v}"),
    }
}

#[test]
fn a_studio_toml_that_is_not_a_file_is_refused_not_replaced_by_the_default() {
    let tmp = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("gone.toml", tmp.path().join("studio.toml")).unwrap();
    let o = run_in(tmp.path(), &["render", "-o", "out"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("studio.toml"), "{}", stderr(&o));
    assert!(!tmp.path().join("out").exists());
    fs::remove_file(tmp.path().join("studio.toml")).unwrap();
    fs::create_dir(tmp.path().join("studio.toml")).unwrap();
    let o = run_in(tmp.path(), &["validate", "--only", "dropins"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
