//! Text that leaves the tool: into files other programs read line by line, and
//! onto a user's terminal. Two rules, kept here so that every writer and every
//! message applies the same ones.
//!
//! **Line breaks.** Our files are read by more than one parser, and they do not
//! agree on where a line ends. bash and rpm's spec reader end lines at `\n` only;
//! pykickstart, and so Anaconda, splits a kickstart with Python's
//! `str.splitlines()`, which also ends lines at `\r`, `\v`, `\f`, `\x1c`, `\x1d`,
//! `\x1e`, NEL (U+0085), LINE SEPARATOR (U+2028) and PARAGRAPH SEPARATOR (U+2029)
//! (Python's documentation of `str.splitlines`); systemd's `read_line()` ends
//! them at `\r` and NUL too (src/basic/fileio.c). A byte that one reader takes
//! as a line break and another does not lets a value that looks like one line
//! to us open a `%post` section for Anaconda. So none of them may reach a
//! rendered file: only `\n` ends a line there.
//!
//! **Terminals.** A user-supplied byte printed raw can move the cursor, rewrite
//! the title, hide text or forge lines of our output (CSI, OSC, a bare `\r`).
//! [`for_terminal`] escapes every control and bidirectional-formatting
//! character before it is printed.

use std::borrow::Cow;

/// Whether `c` ends a line for some reader of our files (besides `\n`), or ends
/// a C string (NUL).
pub fn is_foreign_line_break(c: char) -> bool {
    matches!(
        c,
        '\0' | '\r'
            | '\u{0b}'
            | '\u{0c}'
            | '\u{1c}'
            | '\u{1d}'
            | '\u{1e}'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// The first character of `s` that some reader takes as a line break (or NUL),
/// other than `\n`: its byte offset and the character.
pub fn foreign_line_break(s: &str) -> Option<(usize, char)> {
    s.char_indices().find(|&(_, c)| is_foreign_line_break(c))
}

/// The same for bytes that need not be UTF-8 (a byte that is not part of valid
/// UTF-8 is not a line break to any of our readers, and is left to them).
pub fn foreign_line_break_bytes(b: &[u8]) -> Option<(usize, char)> {
    let mut offset = 0;
    for chunk in b.utf8_chunks() {
        if let Some((i, c)) = foreign_line_break(chunk.valid()) {
            return Some((offset + i, c));
        }
        offset += chunk.valid().len() + chunk.invalid().len();
    }
    None
}

/// 1-based line (counted by `\n`, as the user's editor counts it) of a byte
/// offset in `s`.
pub fn line_of(s: &str, offset: usize) -> usize {
    s.as_bytes()[..offset.min(s.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A character's name for messages: `carriage return (U+000D)`.
pub fn char_name(c: char) -> String {
    let name = match c {
        '\0' => "NUL",
        '\r' => "carriage return",
        '\u{0b}' => "vertical tab",
        '\u{0c}' => "form feed",
        '\u{1c}' => "file separator",
        '\u{1d}' => "group separator",
        '\u{1e}' => "record separator",
        '\u{85}' => "next line (NEL)",
        '\u{2028}' => "line separator",
        '\u{2029}' => "paragraph separator",
        c if c.is_control() => "control character",
        _ => "character",
    };
    format!("{name} (U+{:04X})", c as u32)
}

/// Whether printing `c` raw could change what a terminal shows beyond the
/// character itself: C0 and C1 controls and DEL (tab and newline aside), line
/// and paragraph separators, and the bidirectional controls that reorder text
/// (the "Trojan Source" characters, CVE-2021-42574).
fn unsafe_on_terminal(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// The first character of `s` that [`for_terminal`] would escape (besides
/// `\n` and `\t`): for text that is kept as written, where an escape would
/// change it, and so must be refused instead.
pub fn first_unsafe_on_terminal(s: &str) -> Option<(usize, char)> {
    s.char_indices().find(|&(_, c)| unsafe_on_terminal(c))
}

/// `s` with every character that could act on a terminal escaped as Rust writes
/// it (`\r`, `\u{1b}`), so what the user sees is what the input holds.
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_on_terminal) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_on_terminal(c) {
            match c {
                '\r' => out.push_str("\\r"),
                '\0' => out.push_str("\\0"),
                _ => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`for_terminal`] for one line of evidence: newlines and tabs escaped too.
pub fn one_line(s: &str) -> String {
    for_terminal(s).replace('\n', "\\n").replace('\t', "\\t")
}

/// `s` cut to about `max` characters, its head and tail around `…`: a message
/// that quotes a value of a mebibyte stays a line.
pub fn clip(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let n = s.chars().count();
    if n <= max {
        return Cow::Borrowed(s);
    }
    let half = max / 2;
    let head_end = s.char_indices().nth(half).map_or(s.len(), |(i, _)| i);
    let tail_start = s.char_indices().nth(n - half).map_or(s.len(), |(i, _)| i);
    Cow::Owned(format!("{}…{}", &s[..head_end], &s[tail_start..]))
}

/// `value` quoted as Rust's `{:?}` quotes it, escapes and all, in about `max`
/// characters: a longer one as its head and tail and its length,
/// `"head"…"tail" (N characters)`. Escapes are counted as they are shown, so a
/// value of control characters is cut as short as a plain one.
pub fn quoted(value: &str, max: usize) -> String {
    let shown = |c: char| c.escape_debug().len();
    // The prefix of `chars` whose escapes fit in `budget` characters.
    let fits = |chars: &mut dyn Iterator<Item = char>, budget: usize| {
        let (mut used, mut bytes) = (0, 0);
        for c in chars {
            used += shown(c);
            if used > budget {
                return (bytes, false);
            }
            bytes += c.len_utf8();
        }
        (bytes, true)
    };
    if let (_, true) = fits(&mut value.chars(), max) {
        return format!("{value:?}");
    }
    let (head, _) = fits(&mut value.chars(), max / 2);
    let (tail, _) = fits(&mut value.chars().rev(), max / 2);
    format!(
        "{:?}…{:?} ({} characters)",
        &value[..head],
        &value[value.len() - tail..],
        value.chars().count()
    )
}

/// JSON text safe to print on a terminal: serde_json escapes C0 controls in
/// strings, but writes DEL, C1 controls (U+009B is a CSI to some terminals)
/// and the bidirectional controls raw. Outside its strings JSON is ASCII, so
/// any such character is inside a string, where `\uXXXX` means the same.
pub fn json_for_terminal(json: &str) -> Cow<'_, str> {
    if !json.chars().any(unsafe_on_terminal) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if unsafe_on_terminal(c) {
            // Every such character is in the Basic Multilingual Plane.
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_break_of_python_splitlines_is_foreign() {
        // The characters str.splitlines() splits on, from Python's documentation.
        for c in [
            '\r', '\u{0b}', '\u{0c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}',
            '\u{2029}',
        ] {
            let s = format!("a{c}%post");
            assert_eq!(foreign_line_break(&s), Some((1, c)), "{c:?}");
        }
        assert_eq!(foreign_line_break("a\nb\tc"), None);
        assert_eq!(foreign_line_break("x\0"), Some((1, '\0')));
    }

    #[test]
    fn bytes_are_searched_past_invalid_utf8() {
        assert_eq!(foreign_line_break_bytes(b"ab\xffc\rd"), Some((4, '\r')));
        assert_eq!(foreign_line_break_bytes(b"\xc2\x85"), Some((0, '\u{85}')));
        assert_eq!(foreign_line_break_bytes(b"\xff\xfe\n"), None);
    }

    #[test]
    fn lines_count_newlines_only() {
        assert_eq!(line_of("a\nb\rc\nd", 4), 2);
        assert_eq!(line_of("abc", 99), 1);
    }

    #[test]
    fn terminal_escapes_are_made_visible() {
        assert_eq!(for_terminal("plain text\n"), "plain text\n");
        assert_eq!(
            for_terminal("a\x1b]0;title\x07b"),
            "a\\u{1b}]0;title\\u{7}b"
        );
        assert_eq!(for_terminal("ok\rfake"), "ok\\rfake");
        assert_eq!(for_terminal("\u{202e}gnp.exe"), "\\u{202e}gnp.exe");
        assert_eq!(for_terminal("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(one_line("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(char_name('\r'), "carriage return (U+000D)");
    }

    #[test]
    fn long_text_is_clipped_in_the_middle() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("abcdefghijkl", 4), "ab…kl");
        assert_eq!(clip("ééééééé", 6), "ééé…ééé");
        assert_eq!(clip("éééééé", 6), "éééééé");
        assert_eq!(quoted("a\nb", 10), r#""a\nb""#);
        assert_eq!(
            quoted("abcdefghijkl", 8),
            r#""abcd"…"ijkl" (12 characters)"#
        );
        // Escapes count as shown: four of \u{1b} are 32 characters.
        assert_eq!(
            quoted(&"\x1b".repeat(9), 32),
            r#""\u{1b}\u{1b}"…"\u{1b}\u{1b}" (9 characters)"#
        );
    }

    #[test]
    fn json_keeps_no_raw_terminal_control() {
        let json = serde_json::to_string("a\u{9b}31m\u{202e}\u{7f}\x1b").unwrap();
        let safe = json_for_terminal(&json);
        assert_eq!(safe, r#""a\u009b31m\u202e\u007f\u001b""#);
        let back: String = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, "a\u{9b}31m\u{202e}\u{7f}\x1b");
    }
}

/// The known name nearest to `name`, when one is near enough to be what was
/// meant (a typo: `perfomance`, `kickstrt`); None otherwise.
pub fn nearest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (strsim::normalized_damerau_levenshtein(name, k), k))
        .filter(|(s, _)| *s >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// " (did you mean X?)" for the name nearest to `name`, or nothing.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    nearest(name, known).map_or(String::new(), |k| format!(" (did you mean {k}?)"))
}

/// `n` and the noun, in the singular for one: "1 problem", "3 problems".
pub fn count(n: usize, noun: &str) -> String {
    format!("{n} {}", plural(n, noun))
}

/// The noun for `n` of it: "problem" for one, "problems" otherwise.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        noun.to_string()
    } else {
        format!("{noun}s")
    }
}

#[cfg(test)]
mod near_tests {
    use super::*;

    #[test]
    fn typos_find_the_name_meant_and_nothing_else() {
        let governors = ["performance", "schedutil", "ondemand", "powersave"];
        assert_eq!(nearest("perfomance", governors), Some("performance"));
        assert_eq!(nearest("ondemnad", governors), Some("ondemand"));
        assert_eq!(nearest("turbo", governors), None);
        assert_eq!(count(1, "problem"), "1 problem");
        assert_eq!(count(0, "problem"), "0 problems");
    }
}
