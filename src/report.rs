//! One report type for everything a user can get wrong: each entry has a severity,
//! the key path into the profile, the byte span it points at, a message and a fix.
//! A report is fatal when it has an error, or a warning under `--strict`.
//!
//! A report stays small whatever the input: a hostile profile of 1 MiB holds a
//! few hundred thousand mistakes, or one line of a mebibyte, and an inventory 32
//! times that. So a report keeps the first [`KEPT`] entries in source order and
//! counts the rest; the text form lists the first [`PRINTED`] and says how many
//! more there are; keys, messages and fixes are clipped; and the echoed source
//! line is a window of at most [`WINDOW`] columns around the span. Line numbers
//! come from an index of line starts built once per report, so positions cost a
//! binary search each, not a scan of the text.
//!
//! Everything printed that came from the user (the source line, the key, which
//! may be a quoted TOML key holding any character, the file name, values quoted
//! in messages) goes through [`crate::text`]'s terminal escaping first.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::Write as _;
use std::ops::{AddAssign, Range};

use serde::Serialize;
use unicode_width::UnicodeWidthChar as _;

use crate::text::{clip, for_terminal, one_line};

/// Entries the text form prints; the others are counted in one last line.
pub const PRINTED: usize = 50;
/// Entries a report keeps (and `--json` lists), the first in source order.
pub const KEPT: usize = 1000;
/// Characters kept of a key path, and of a message or a fix.
pub const KEY_CHARS: usize = 200;
const TEXT_CHARS: usize = 3000;
/// Columns of a source line echoed under an entry, and of them at most this
/// many before the span when the line is longer.
pub const WINDOW: usize = 100;
const CONTEXT: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Entry {
    pub severity: Severity,
    /// Path into the profile, e.g. `users[0].name` or `sysctl."vm.swappiness"`.
    pub key: String,
    #[serde(skip)]
    pub span: Option<Range<usize>>,
    pub message: String,
    pub fix: String,
}

/// How many errors and warnings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub errors: usize,
    pub warnings: usize,
}

impl Tally {
    fn count(&mut self, severity: Severity) {
        match severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
        }
    }

    fn of<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Tally {
        let mut t = Tally::default();
        for e in entries {
            t.count(e.severity);
        }
        t
    }

    pub fn total(&self) -> usize {
        self.errors + self.warnings
    }
}

impl AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.errors += other.errors;
        self.warnings += other.warnings;
    }
}

#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Report {
    pub entries: Vec<Entry>,
    /// Entries past the first [`KEPT`] in source order: counted, not kept.
    #[serde(skip)]
    omitted: Tally,
}

/// The order entries are listed in: source order (entries without a span
/// last), errors before warnings at the same place.
fn order(e: &Entry) -> (usize, std::cmp::Reverse<Severity>) {
    (
        e.span.as_ref().map_or(usize::MAX, |s| s.start),
        std::cmp::Reverse(e.severity),
    )
}

impl Report {
    pub fn push(
        &mut self,
        severity: Severity,
        key: impl Into<String>,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let bounded = |s: String, max| match clip(&s, max) {
            Cow::Borrowed(_) => s,
            Cow::Owned(c) => c,
        };
        self.entries.push(Entry {
            severity,
            key: bounded(key.into(), KEY_CHARS),
            span,
            message: bounded(message.into(), TEXT_CHARS),
            fix: bounded(fix.into(), TEXT_CHARS),
        });
        // Past twice the bound, the entries are put in order and the first
        // KEPT kept: a stable sort keeps equal places in the order found, so
        // what stays is what an unbounded report would list first.
        if self.entries.len() >= 2 * KEPT {
            self.entries.sort_by_key(order);
            let dropped = Tally::of(&self.entries[KEPT..]);
            self.entries.truncate(KEPT);
            self.omitted += dropped;
        }
    }

    pub fn error(
        &mut self,
        key: impl Into<String>,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.push(Severity::Error, key, span, message, fix);
    }

    pub fn warning(
        &mut self,
        key: impl Into<String>,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.push(Severity::Warning, key, span, message, fix);
    }

    /// Every entry of `other`, after this report's.
    pub fn append(&mut self, other: Report) {
        let (entries, omitted) = other.into_parts();
        for e in entries {
            self.push(e.severity, e.key, e.span, e.message, e.fix);
        }
        self.omitted += omitted;
    }

    /// The entries kept, and how many were past the bound.
    pub fn into_parts(self) -> (Vec<Entry>, Tally) {
        (self.entries, self.omitted)
    }

    /// Count entries that were found but not kept (past another report's
    /// bound).
    pub fn add_omitted(&mut self, omitted: Tally) {
        self.omitted += omitted;
    }

    pub fn has_errors(&self) -> bool {
        self.omitted.errors > 0 || self.entries.iter().any(|e| e.severity == Severity::Error)
    }

    pub fn is_fatal(&self, strict: bool) -> bool {
        self.has_errors() || (strict && !self.entries.is_empty())
    }

    /// How many errors and warnings were found, listed or not.
    pub fn tally(&self) -> Tally {
        let mut t = Tally::of(&self.entries);
        t += self.omitted;
        t
    }

    /// The first [`KEPT`] entries in [`order`], and a tally of the others.
    pub fn listed(&self) -> (Vec<&Entry>, Tally) {
        let mut v: Vec<&Entry> = self.entries.iter().collect();
        v.sort_by_key(|e| order(e));
        let mut rest = self.omitted;
        if v.len() > KEPT {
            rest += Tally::of(v.drain(KEPT..));
        }
        (v, rest)
    }
}

/// The text a report points into, for line:column and the quoted source line.
pub struct Source<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// Where each line of a text starts, found once: a position's line is then a
/// binary search. Positions asked for in order on one line (a one-line profile
/// with many errors) count characters from the previous one, not from the
/// line's start.
pub struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
    /// The last position asked for: byte offset and its 1-based column.
    last: Cell<(usize, usize)>,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines {
            text,
            starts,
            last: Cell::new((0, 1)),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(self.text, offset.min(self.text.len()));
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        let (from, col) = match self.last.get() {
            (last, col) if (start..=offset).contains(&last) => (last, col),
            _ => (start, 1),
        };
        let col = col + self.text[from..offset].chars().count();
        self.last.set((offset, col));
        (line, col)
    }

    /// The byte range of a 1-based line, without its `\n` (nor the `\r` of a
    /// CRLF ending).
    fn range(&self, line: usize) -> Range<usize> {
        let start = self.starts[line - 1];
        let end = self.starts.get(line).map_or(self.text.len(), |&s| s - 1);
        let end = if self.text[start..end].ends_with('\r') {
            end - 1
        } else {
            end
        };
        start..end
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// How one character of an echoed line is shown, and how many columns that
/// takes: a tab as four spaces (as rustc shows it, so that the caret below
/// lines up), a control character escaped, a wide character as two columns.
fn cell(c: char) -> (String, usize) {
    if c == '\t' {
        return ("    ".into(), 4);
    }
    let mut buf = [0; 4];
    match for_terminal(c.encode_utf8(&mut buf)) {
        Cow::Owned(escaped) => {
            let width = escaped.len();
            (escaped, width)
        }
        Cow::Borrowed(s) => (s.to_string(), c.width().unwrap_or(0)),
    }
}

/// A source line as echoed under an entry: at most [`WINDOW`] columns of it
/// around the span (`…` where it was cut), the column the caret starts at and
/// how many carets mark the span.
struct Echo {
    text: String,
    caret_at: usize,
    carets: usize,
}

/// `line` echoed around the span `start..end` (byte offsets into `line`, on
/// character boundaries). Only the characters near the span are looked at, so
/// a line of a mebibyte costs what a short one does.
fn echo(line: &str, start: usize, end: usize) -> Echo {
    // Up to WINDOW columns on each side of the span's start, then cut to
    // WINDOW in all: CONTEXT columns before it at least, when there are.
    let mut before: Vec<(String, usize)> = Vec::new();
    let mut before_w = 0;
    let mut cut_before = false;
    for c in line[..start].chars().rev() {
        let (s, w) = cell(c);
        if before_w + w > WINDOW {
            cut_before = true;
            break;
        }
        before_w += w;
        before.push((s, w));
    }
    let mut after: Vec<(String, usize, bool)> = Vec::new();
    let mut after_w = 0;
    let mut cut_after = false;
    for (i, c) in line[start..].char_indices() {
        let (s, w) = cell(c);
        if after_w + w > WINDOW {
            cut_after = true;
            break;
        }
        after_w += w;
        after.push((s, w, start + i < end));
    }
    if before_w + after_w > WINDOW {
        let budget = before_w.min(CONTEXT.max(WINDOW.saturating_sub(after_w)));
        let mut used = 0;
        let keep = before
            .iter()
            .take_while(|(_, w)| {
                used += w;
                used <= budget
            })
            .count();
        cut_before |= keep < before.len();
        before.truncate(keep);
        before_w = before.iter().map(|(_, w)| w).sum();
        let budget = WINDOW - before_w;
        let mut used = 0;
        let keep = after
            .iter()
            .take_while(|(_, w, _)| {
                used += w;
                used <= budget
            })
            .count();
        cut_after |= keep < after.len();
        after.truncate(keep);
    }
    let mut text = String::new();
    if cut_before {
        text.push('…');
    }
    for (s, _) in before.iter().rev() {
        text.push_str(s);
    }
    for (s, _, _) in &after {
        text.push_str(s);
    }
    if cut_after {
        text.push('…');
    }
    let span_w: usize = after.iter().filter(|a| a.2).map(|a| a.1).sum();
    Echo {
        text,
        caret_at: usize::from(cut_before) + before_w,
        carets: span_w.max(1),
    }
}

/// The line that stands for what a report holds and does not list.
fn omitted_message(rest: Tally) -> String {
    format!(
        "{} more {} and {} not listed",
        rest.errors,
        crate::text::plural(rest.errors, "error"),
        crate::text::count(rest.warnings, "warning")
    )
}

const OMITTED_FIX: &str = "fix the problems listed and run again to see the rest";

/// Render a report for a terminal, one block per entry, compiler style:
///
/// ```text
/// error: users[0].name: "bob;reboot" is not a valid user name
///   --> studio.toml:12:8
///    |
/// 12 | name = "bob;reboot"
///    |        ^^^^^^^^^^^^
///    = fix: ...
/// ```
///
/// After [`PRINTED`] entries, one line counts the others.
pub fn format(report: &Report, source: &Source) -> String {
    render(report, source, false)
}

/// [`format`] with rustc's colours (error red, warning yellow, the gutter and
/// carets blue), for standard error: the stream strips them where colour is
/// off. Text that goes anywhere else (an error message, JSON) is [`format`].
pub fn format_styled(report: &Report, source: &Source) -> String {
    render(report, source, true)
}

fn render(report: &Report, source: &Source, styled: bool) -> String {
    use crate::console::style;
    let paint = |s: anstyle::Style, text: &str| {
        if styled {
            crate::console::paint(s, text)
        } else {
            text.to_string()
        }
    };
    let lines = Lines::new(source.text);
    let name = one_line(source.name);
    let (listed, mut rest) = report.listed();
    if listed.len() > PRINTED {
        rest += Tally::of(listed[PRINTED..].iter().copied());
    }
    let mut out = String::new();
    for e in listed.iter().take(PRINTED) {
        let sev = match e.severity {
            Severity::Error => paint(style::ERROR, "error"),
            Severity::Warning => paint(style::WARNING, "warning"),
        };
        let _ = writeln!(
            out,
            "{sev}: {}: {}",
            one_line(&e.key),
            for_terminal(&e.message)
        );
        let fix = for_terminal(&e.fix);
        match &e.span {
            Some(span) => {
                let (line, col) = lines.line_col(span.start);
                let range = lines.range(line);
                let at = |offset: usize| {
                    floor_char_boundary(source.text, offset.min(source.text.len()))
                        .clamp(range.start, range.end)
                        - range.start
                };
                let (start, end) = (at(span.start), at(span.end));
                let shown = echo(&source.text[range], start, end.max(start));
                let width = line.to_string().len();
                let pad = " ".repeat(width);
                let bar = paint(style::GUTTER, "|");
                let arrow = paint(style::GUTTER, "-->");
                let _ = writeln!(out, "{pad}{arrow} {name}:{line}:{col}");
                let _ = writeln!(out, "{pad} {bar}");
                let _ = writeln!(
                    out,
                    "{} {bar} {}",
                    paint(style::GUTTER, &line.to_string()),
                    shown.text
                );
                let caret = match e.severity {
                    Severity::Error => style::ERROR,
                    Severity::Warning => style::WARNING,
                };
                let _ = writeln!(
                    out,
                    "{pad} {bar} {}{}",
                    " ".repeat(shown.caret_at),
                    paint(caret, &"^".repeat(shown.carets))
                );
                let _ = writeln!(out, "{pad} {} fix: {fix}", paint(style::GUTTER, "="));
            }
            None => {
                let _ = writeln!(out, "  {} {name}", paint(style::GUTTER, "-->"));
                let _ = writeln!(out, "   {} fix: {fix}", paint(style::GUTTER, "="));
            }
        }
        out.push('\n');
    }
    if rest.total() > 0 {
        let _ = writeln!(
            out,
            "... and {}: {OMITTED_FIX} (--json lists the first {KEPT})\n",
            omitted_message(rest)
        );
    }
    out
}

/// The JSON form of one entry: the serialized entry plus file, line and column.
#[derive(Serialize, schemars::JsonSchema)]
pub struct JsonEntry<'a> {
    #[serde(flatten)]
    pub entry: Cow<'a, Entry>,
    pub file: &'a str,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

/// The entries a report lists, then, when it holds more, one entry without a
/// key that counts them.
pub fn json_entries<'a>(report: &'a Report, source: &'a Source) -> Vec<JsonEntry<'a>> {
    let lines = Lines::new(source.text);
    let (listed, rest) = report.listed();
    let mut v: Vec<JsonEntry> = listed
        .into_iter()
        .map(|entry| {
            let lc = entry.span.as_ref().map(|s| lines.line_col(s.start));
            JsonEntry {
                entry: Cow::Borrowed(entry),
                file: source.name,
                line: lc.map(|x| x.0),
                column: lc.map(|x| x.1),
            }
        })
        .collect();
    if rest.total() > 0 {
        v.push(JsonEntry {
            entry: Cow::Owned(Entry {
                severity: if rest.errors > 0 {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                key: String::new(),
                span: None,
                message: omitted_message(rest),
                fix: OMITTED_FIX.into(),
            }),
            file: source.name,
            line: None,
            column: None,
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Line and column as a scan from the start finds them.
    fn scanned(text: &str, offset: usize) -> (usize, usize) {
        let before = &text[..floor_char_boundary(text, offset.min(text.len()))];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (
            before.matches('\n').count() + 1,
            before[line_start..].chars().count() + 1,
        )
    }

    /// Columns `s` takes on a terminal, as [`cell`] counts them.
    fn width(s: &str) -> usize {
        s.chars().map(|c| c.width().unwrap_or(0)).sum()
    }

    /// Characters of every kind an echoed line can hold: controls, tabs,
    /// wide and zero-width characters, bidirectional controls.
    fn line_char() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => proptest::char::range('a', 'z'),
            1 => proptest::sample::select(vec![
                '\t', '\r', '\u{1b}', '\u{7}', '\u{7f}', '\u{9b}', '\u{202e}', '\u{2028}',
                '漢', '😀', '\u{301}', '\u{200b}', '"', ' ',
            ]),
        ]
    }

    proptest! {
        #[test]
        fn positions_are_those_a_scan_finds(
            text in proptest::collection::vec(
                prop_oneof![Just('\n'), Just('é'), Just('\r'), proptest::char::range('a', 'c')],
                0..200,
            ).prop_map(|v| v.into_iter().collect::<String>()),
            offsets in proptest::collection::vec(0usize..220, 1..20),
        ) {
            let lines = Lines::new(&text);
            // In any order: the remembered position must not mislead.
            for &o in &offsets {
                prop_assert_eq!(lines.line_col(o), scanned(&text, o), "offset {}", o);
            }
        }

        #[test]
        fn the_echo_is_bounded_escaped_and_the_caret_is_under_the_span(
            line in proptest::collection::vec(line_char(), 0..400)
                .prop_map(|v| v.into_iter().collect::<String>()),
            a in 0usize..1700,
            len in 0usize..300,
        ) {
            let start = floor_char_boundary(&line, a.min(line.len()));
            let end = floor_char_boundary(&line, (start + len).min(line.len()));
            let shown = echo(&line, start, end);
            prop_assert!(width(&shown.text) <= WINDOW + 2, "{:?}", shown.text);
            prop_assert!(
                !shown.text.chars().any(|c| c.is_control()
                    || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2028}' | '\u{2029}')),
                "{:?}", shown.text
            );
            prop_assert!(shown.carets >= 1);
            prop_assert!(shown.caret_at + shown.carets <= WINDOW + 2);
            // The text from the caret's column on starts with the span's
            // first character as shown (a zero-width character before it
            // belongs to the column before).
            let mut col = 0;
            let at = shown
                .text
                .char_indices()
                .find(|&(_, c)| {
                    let w = c.width().unwrap_or(0);
                    let here = col >= shown.caret_at && w > 0;
                    col += w;
                    here
                })
                .map_or(shown.text.len(), |(i, _)| i);
            prop_assert_eq!(width(&shown.text[..at]), shown.caret_at);
            if let Some(c) = line[start..].chars().next() {
                let first = cell(c).0;
                prop_assert!(
                    shown.text[at..].starts_with(&first)
                        // A zero-width first character shares its column.
                        || c.width() == Some(0),
                    "caret at {} in {:?}, span starts with {:?}", shown.caret_at, shown.text, c
                );
            }
        }

        #[test]
        fn a_report_keeps_the_first_entries_in_source_order(
            places in proptest::collection::vec(
                (0usize..5000, proptest::bool::ANY).prop_map(|(at, e)| {
                    (if e { Severity::Error } else { Severity::Warning }, at)
                }),
                0..4500,
            ),
        ) {
            let mut report = Report::default();
            for (n, &(severity, at)) in places.iter().enumerate() {
                report.push(severity, format!("k{n}"), Some(at..at + 1), "m", "f");
            }
            let mut all: Vec<(usize, &(Severity, usize))> = places.iter().enumerate().collect();
            all.sort_by_key(|(_, (s, at))| (*at, std::cmp::Reverse(*s)));
            let (listed, rest) = report.listed();
            let want: Vec<String> = all.iter().take(KEPT).map(|(n, _)| format!("k{n}")).collect();
            let got: Vec<String> = listed.iter().map(|e| e.key.clone()).collect();
            prop_assert_eq!(got, want);
            let errors = places.iter().filter(|(s, _)| *s == Severity::Error).count();
            prop_assert_eq!(report.tally(), Tally { errors, warnings: places.len() - errors });
            prop_assert_eq!(rest.total(), places.len().saturating_sub(KEPT));
            prop_assert_eq!(report.has_errors(), errors > 0);
        }
    }

    #[test]
    fn a_long_line_is_echoed_as_a_window_around_the_span() {
        let line = format!(
            "{}name = \"bad\"{}",
            "x".repeat(1 << 20),
            "y".repeat(1 << 20)
        );
        let start = line.find("name").unwrap();
        let text = format!("version = 1\n{line}\n");
        let mut report = Report::default();
        report.error("name", Some(12 + start..12 + start + 4), "bad", "fix");
        let out = format(
            &report,
            &Source {
                name: "p.toml",
                text: &text,
            },
        );
        assert!(out.len() < 1000, "{out}");
        assert!(
            out.contains(&format!("--> p.toml:2:{}", start + 1)),
            "{out}"
        );
        let echoed = out.lines().find(|l| l.starts_with("2 | ")).unwrap();
        let carets = out.lines().find(|l| l.contains('^')).unwrap();
        let col = carets.find('^').unwrap();
        // Columns, not bytes: `…` is one column of three bytes.
        let under: String = echoed.chars().skip(col).take(4).collect();
        assert_eq!(under, "name", "{out}");
        assert!(
            echoed.starts_with("2 | …") && echoed.ends_with('…'),
            "{out}"
        );
        assert_eq!(carets.trim_start_matches([' ', '|']).len(), 4);
    }

    #[test]
    fn text_lists_the_first_entries_and_counts_the_rest() {
        let text = "a = 1\n".repeat(3000);
        let mut report = Report::default();
        for i in 0..3000 {
            report.error(format!("k{i}"), Some(i * 6..i * 6 + 1), "bad", "fix");
            report.warning(format!("w{i}"), Some(i * 6..i * 6 + 1), "odd", "fix");
        }
        let source = Source {
            name: "p.toml",
            text: &text,
        };
        let out = format(&report, &source);
        assert_eq!(out.matches("\nerror: ").count() + 1, 25);
        assert_eq!(out.matches("\nwarning: ").count(), 25);
        assert!(
            out.contains("... and 2975 more errors and 2975 warnings not listed"),
            "{out}"
        );
        let json = json_entries(&report, &source);
        assert_eq!(json.len(), KEPT + 1);
        let last = serde_json::to_value(&json[KEPT]).unwrap();
        assert_eq!(
            last["message"],
            "2500 more errors and 2500 warnings not listed"
        );
        assert_eq!(last["key"], "");
    }

    #[test]
    fn keys_messages_and_names_reach_the_terminal_escaped() {
        let text = "[sysctl]\n\"a\u{1b}[2J\" = \"\u{1b}]0;x\u{7}\"\r\n";
        let mut report = Report::default();
        report.error(
            "sysctl.\"a\u{1b}[2J\"",
            Some(9..16),
            "\"a\u{9b}31m\" is bad\rforged",
            "fix",
        );
        let out = format(
            &report,
            &Source {
                name: "p\u{1b}.toml",
                text,
            },
        );
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        assert!(out.contains("sysctl.\"a\\u{1b}[2J\""), "{out}");
        assert!(out.contains("p\\u{1b}.toml:2:1"), "{out}");
        // The CRLF ending is not echoed; the bare escape is.
        assert!(
            out.contains("2 | \"a\\u{1b}[2J\" = \"\\u{1b}]0;x\\u{7}\"\n"),
            "{out}"
        );
        assert!(out.contains("  | ^^^^^^^^^^^^\n"), "{out}");
    }

    #[test]
    fn a_caret_under_wide_characters_lines_up() {
        let text = "name = \"漢字漢字\" # x\n";
        let mut report = Report::default();
        let at = text.find('#').unwrap();
        report.error("name", Some(at..at + 1), "bad", "fix");
        let out = format(
            &report,
            &Source {
                name: "p.toml",
                text,
            },
        );
        let carets = out.lines().find(|l| l.contains('^')).unwrap();
        // `1 | name = "` is 11 columns, four wide characters 8, `" ` 2.
        assert_eq!(carets.find('^'), Some(4 + 7 + 1 + 8 + 2), "{out}");
    }
}
