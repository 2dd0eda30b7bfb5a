//! One report type for everything a user can get wrong: each entry has a severity,
//! the key path into the profile, the byte span it points at, a message and a fix.
//! A report is fatal when it has an error, or a warning under `--strict`.

use std::fmt::Write as _;
use std::ops::Range;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub severity: Severity,
    /// Path into the profile, e.g. `users[0].name` or `sysctl."vm.swappiness"`.
    pub key: String,
    #[serde(skip)]
    pub span: Option<Range<usize>>,
    pub message: String,
    pub fix: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub entries: Vec<Entry>,
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
        self.entries.push(Entry {
            severity,
            key: key.into(),
            span,
            message: message.into(),
            fix: fix.into(),
        });
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

    pub fn has_errors(&self) -> bool {
        self.entries.iter().any(|e| e.severity == Severity::Error)
    }

    pub fn is_fatal(&self, strict: bool) -> bool {
        self.has_errors() || (strict && !self.entries.is_empty())
    }

    /// Entries in source order (entries without a span last), errors before warnings
    /// at the same place.
    pub fn sorted(&self) -> Vec<&Entry> {
        let mut v: Vec<&Entry> = self.entries.iter().collect();
        v.sort_by_key(|e| {
            (
                e.span.as_ref().map_or(usize::MAX, |s| s.start),
                std::cmp::Reverse(e.severity),
            )
        });
        v
    }
}

/// The text a report points into, for line:column and the quoted source line.
pub struct Source<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

impl Source<'_> {
    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    fn line_text(&self, line: usize) -> &str {
        self.text.lines().nth(line - 1).unwrap_or("")
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

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
pub fn format(report: &Report, source: &Source) -> String {
    let mut out = String::new();
    for e in report.sorted() {
        let sev = match e.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{sev}: {}: {}", e.key, e.message);
        match &e.span {
            Some(span) => {
                let (line, col) = source.line_col(span.start);
                let text = source.line_text(line);
                let width = line.to_string().len();
                let pad = " ".repeat(width);
                let _ = writeln!(out, "{pad}--> {}:{line}:{col}", source.name);
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(out, "{line} | {text}");
                let span_chars = source.text[floor_char_boundary(source.text, span.start)
                    ..floor_char_boundary(source.text, span.end.min(source.text.len()))]
                    .lines()
                    .next()
                    .map_or(1, |l| l.chars().count().max(1));
                let avail = text.chars().count().saturating_sub(col - 1).max(1);
                let _ = writeln!(
                    out,
                    "{pad} | {}{}",
                    " ".repeat(col - 1),
                    "^".repeat(span_chars.min(avail))
                );
                let _ = writeln!(out, "{pad} = fix: {}", e.fix);
            }
            None => {
                let _ = writeln!(out, "  --> {}", source.name);
                let _ = writeln!(out, "   = fix: {}", e.fix);
            }
        }
        out.push('\n');
    }
    out
}

/// The JSON form of one entry: the serialized entry plus file, line and column.
#[derive(Serialize)]
pub struct JsonEntry<'a> {
    #[serde(flatten)]
    pub entry: &'a Entry,
    pub file: &'a str,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

pub fn json_entries<'a>(report: &'a Report, source: &'a Source) -> Vec<JsonEntry<'a>> {
    report
        .sorted()
        .into_iter()
        .map(|entry| {
            let lc = entry.span.as_ref().map(|s| source.line_col(s.start));
            JsonEntry {
                entry,
                file: source.name,
                line: lc.map(|x| x.0),
                column: lc.map(|x| x.1),
            }
        })
        .collect()
}
