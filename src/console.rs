//! Standard output and standard error: everything the tool prints goes through
//! [`write`] (the `out!`, `outln!`, `err!` and `errln!` macros), so that a
//! reader that went away (`rtaudio-tuning validate --list | head -1`) ends the
//! command quietly.
//!
//! Rust's runtime ignores SIGPIPE, so a write to a closed pipe fails with EPIPE
//! and `println!` panics on it (exit 101, "failed printing to stdout"). Giving
//! SIGPIPE back its default action would end the process at once, in the
//! middle of whatever it was doing: the render lock beside the output folder,
//! the temporary tree `validate PROFILE` renders into and the virtual machine
//! of `vm-test` would be left behind. Here EPIPE becomes the error [`Closed`]
//! instead: it unwinds the command like any other error, so everything held is
//! given back, and `main` exits with [`crate::exit::CLOSED`] without a word
//! (128 + SIGPIPE, the status a shell shows for a command a SIGPIPE ended).

use std::fmt;
use std::io::{self, Write as _};
use std::sync::atomic::{AtomicU8, Ordering};

/// How much the tool says on standard error beside its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// `--quiet`: only what went wrong.
    Quiet = 0,
    Normal = 1,
    /// `--verbose`: each step as it ends.
    Verbose = 2,
}

static VERBOSITY: AtomicU8 = AtomicU8::new(Verbosity::Normal as u8);

/// Set from the global options, once, before the command runs.
pub fn configure(global: &crate::cli::GlobalOptions) {
    let v = if global.quiet {
        Verbosity::Quiet
    } else if global.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    VERBOSITY.store(v as u8, Ordering::Relaxed);
    // anstream strips styles from a stream that is not a terminal, and when
    // NO_COLOR is set (https://no-color.org), unless told `always`.
    let choice = match global.color {
        crate::cli::ColorWhen::Auto => anstream::ColorChoice::Auto,
        crate::cli::ColorWhen::Always => anstream::ColorChoice::Always,
        crate::cli::ColorWhen::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
}

pub fn verbosity() -> Verbosity {
    match VERBOSITY.load(Ordering::Relaxed) {
        0 => Verbosity::Quiet,
        2 => Verbosity::Verbose,
        _ => Verbosity::Normal,
    }
}

/// Whether standard error is a terminal that shows colour: progress lines
/// that redraw themselves are drawn only there.
pub fn stderr_is_terminal() -> bool {
    io::IsTerminal::is_terminal(&io::stderr())
}

/// The width to wrap prose to when standard output is a terminal (at least
/// 60 columns, at most 120, for reading); None when it is not one.
pub fn stdout_width() -> Option<usize> {
    let out = io::stdout();
    if !io::IsTerminal::is_terminal(&out) {
        return None;
    }
    let cols = rustix::termios::tcgetwinsize(&out).map_or(100, |w| usize::from(w.ws_col));
    Some(if cols == 0 { 100 } else { cols.clamp(60, 120) })
}

/// The styles of the tool's own words (clap's are its own).
pub mod style {
    use anstyle::{AnsiColor, Style};
    pub const ERROR: Style = AnsiColor::Red.on_default().bold();
    pub const WARNING: Style = AnsiColor::Yellow.on_default().bold();
    pub const NOTE: Style = AnsiColor::Cyan.on_default().bold();
    pub const GOOD: Style = AnsiColor::Green.on_default().bold();
    pub const DIM: Style = Style::new().dimmed();
    pub const EMPH: Style = Style::new().bold();
    /// The gutter and caret of a source snippet, as rustc draws them.
    pub const GUTTER: Style = AnsiColor::Blue.on_default().bold();
}

/// `text` in `style` (the style is stripped where colour is off).
pub fn paint(style: anstyle::Style, text: impl fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// Standard output or standard error was closed by its reader.
#[derive(Debug, thiserror::Error)]
#[error("standard {0} was closed")]
pub struct Closed(&'static str);

#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Out,
    Err,
}

/// Write to a stream: a closed pipe is [`Closed`], any other failure an error
/// naming the stream.
pub fn write(stream: Stream, args: fmt::Arguments) -> anyhow::Result<()> {
    let (name, result) = match stream {
        Stream::Out => ("output", anstream::stdout().lock().write_fmt(args)),
        Stream::Err => ("error", anstream::stderr().lock().write_fmt(args)),
    };
    check(name, result)
}

/// Flush standard output (it is line buffered: a last line without a newline
/// waits there).
pub fn flush() -> anyhow::Result<()> {
    check("output", io::stdout().lock().flush())
}

fn check(name: &'static str, result: io::Result<()>) -> anyhow::Result<()> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(Closed(name).into()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("writing to standard {name}"))),
    }
}

/// The envelope of every command's `--json` document (README, "JSON
/// documents"): `schema`, the version of this command's document, which
/// changes only when a field changes meaning or goes away; `command`; the
/// tool's `version`; `ok`, whether the command did what was asked (its exit
/// code is 0); then the command's own fields.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Envelope<'a, T: serde::Serialize + ?Sized> {
    schema: u32,
    command: &'a str,
    version: &'static str,
    ok: bool,
    #[serde(flatten)]
    payload: &'a T,
}

/// Print `payload` (a struct: its fields follow the envelope's) as the one
/// JSON document of `command`.
pub fn document<T: serde::Serialize + ?Sized>(
    command: &str,
    schema: u32,
    ok: bool,
    payload: &T,
) -> anyhow::Result<()> {
    json(&Envelope {
        schema,
        command,
        version: env!("CARGO_PKG_VERSION"),
        ok,
        payload,
    })
}

/// A command that stopped before it could do its work (bad arguments, an
/// unreadable file, a missing tool): the envelope and its problems alone.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Refusal<'a> {
    /// What stopped it; an error that is not a profile's has an empty key.
    pub problems: Vec<crate::report::JsonEntry<'a>>,
}

/// Print the document of a command that stopped on `err` (with `--json`):
/// its envelope with `ok: false` and the error as its one problem.
pub fn refusal(command: &str, schema: u32, err: &anyhow::Error) -> anyhow::Result<()> {
    let entry = crate::report::Entry {
        severity: crate::report::Severity::Error,
        key: String::new(),
        message: format!("{err:#}"),
        fix: String::new(),
        span: None,
    };
    let problems = vec![crate::report::JsonEntry {
        entry: std::borrow::Cow::Owned(entry),
        file: "",
        line: None,
        column: None,
    }];
    document(command, schema, false, &Refusal { problems })
}

/// The JSON Schema of `command`'s document: the envelope, `command` and
/// `schema` pinned to their values, and `T`'s fields after them; or, when the
/// command stopped before its work, the envelope and `problems` alone.
pub fn document_schema<T: serde::Serialize + schemars::JsonSchema + 'static>(
    command: &str,
    schema: u32,
) -> serde_json::Value {
    let pin = |mut s: serde_json::Value| {
        s["properties"]["command"] = serde_json::json!({ "const": command });
        s["properties"]["schema"] = serde_json::json!({ "const": schema });
        s["properties"]["version"]["description"] = "The tool's version.".into();
        s["properties"]["ok"]["description"] =
            "Whether the command did what was asked: true exactly when its exit code is 0.".into();
        s
    };
    let mut done = pin(schemars::schema_for!(Envelope<'static, T>).to_value());
    let mut stopped = pin(schemars::schema_for!(Envelope<'static, Refusal<'static>>).to_value());
    stopped["properties"]["ok"] = serde_json::json!({ "const": false });
    let mut defs = serde_json::Map::new();
    for s in [&mut done, &mut stopped] {
        if let Some(m) = s.as_object_mut() {
            if let Some(serde_json::Value::Object(d)) = m.remove("$defs") {
                defs.extend(d);
            }
            m.remove("$schema");
        }
    }
    done["title"] = "the command's result".into();
    stopped["title"] = "the command stopped before its work".into();
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("rtaudio-tuning {command} --json, schema {schema}"),
        "anyOf": [done, stopped],
        "$defs": defs,
    })
}

/// A JSON document on standard output, pretty and safe for a terminal.
pub fn json(doc: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(doc)?;
    write(
        Stream::Out,
        format_args!("{}\n", crate::text::json_for_terminal(&text)),
    )
}

/// `print!` through [`write`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::console::write($crate::console::Stream::Out, format_args!($($arg)*))
    };
}

/// `println!` through [`write`].
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => { $crate::out!("{}\n", format_args!($($arg)*)) };
}

/// `eprint!` through [`write`].
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::console::write($crate::console::Stream::Err, format_args!($($arg)*))
    };
}

/// A note on standard error, left out under `--quiet`.
#[macro_export]
macro_rules! noteln {
    ($($arg:tt)*) => {
        if $crate::console::verbosity() > $crate::console::Verbosity::Quiet {
            $crate::errln!($($arg)*)
        } else {
            Ok(())
        }
    };
}

/// A line on standard error only under `--verbose`.
#[macro_export]
macro_rules! verboseln {
    ($($arg:tt)*) => {
        if $crate::console::verbosity() == $crate::console::Verbosity::Verbose {
            $crate::errln!($($arg)*)
        } else {
            Ok(())
        }
    };
}

/// `eprintln!` through [`write`].
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::err!("{}\n", format_args!($($arg)*)) };
}
