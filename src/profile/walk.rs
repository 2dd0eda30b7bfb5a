//! The spanned-walker toolkit the profile and the inventory are read with:
//! a TOML document with positions ([`document`], bounded before a tree is
//! built), and [`Cx`] and [`Section`], which read the tree key by key, check
//! every key against a schema and every value against its grammar, and
//! report all problems at once with their key path and span.

use std::ops::RangeInclusive;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::Span;
use super::grammar::{self, Check, shown};
use crate::report::Report;

pub(crate) type Val<'i> = Spanned<DeValue<'i>>;

pub(crate) struct Cx<'r> {
    pub(crate) rep: &'r mut Report,
}

#[derive(Clone)]
pub(crate) struct Section<'a, 'i> {
    pub(crate) path: String,
    pub(crate) table: &'a DeTable<'i>,
    pub(crate) span: Span,
}

/// `kernel.args`, `users[0].name`, `sysctl."vm.swappiness"`.
pub(crate) fn join(path: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

pub(crate) fn type_name(v: &DeValue) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

pub(crate) fn int_value(v: &DeValue) -> Option<i64> {
    match v {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    }
}

impl<'a, 'i> Section<'a, 'i> {
    pub(crate) fn get(&self, key: &str) -> Option<&'a Val<'i>> {
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(_, v)| v)
    }

    pub(crate) fn key(&self, key: &str) -> String {
        join(&self.path, key)
    }
}

impl Cx<'_> {
    pub(crate) fn check_keys(&mut self, s: &Section, allowed: &[&str]) {
        for (k, _) in s.table.iter() {
            let name = k.get_ref().as_ref();
            if allowed.contains(&name) {
                continue;
            }
            let near = allowed
                .iter()
                .map(|a| (strsim::levenshtein(a, name), *a))
                .filter(|(d, _)| *d <= 2)
                .min();
            let fix = match near {
                Some((_, a)) => format!(
                    "did you mean `{a}`? known keys here: {}",
                    allowed.join(", ")
                ),
                None => format!("remove it; known keys here: {}", allowed.join(", ")),
            };
            let where_ = if s.path.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in [{}]", s.path)
            };
            self.rep.error(
                s.key(name),
                Some(k.span()),
                format!("unknown key {} {where_}", shown(name)),
                fix,
            );
        }
    }

    pub(crate) fn wrong_type(&mut self, key: String, v: &Val, expected: &str, fix: &str) {
        self.rep.error(
            key,
            Some(v.span()),
            format!("expected {expected}, found {}", type_name(v.get_ref())),
            fix.to_string(),
        );
    }

    pub(crate) fn table<'a, 'i>(
        &mut self,
        s: &Section<'a, 'i>,
        key: &str,
    ) -> Option<Section<'a, 'i>> {
        let v = s.get(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some(Section {
                path: s.key(key),
                table: t,
                span: v.span(),
            }),
            _ => {
                self.wrong_type(
                    s.key(key),
                    v,
                    "a table",
                    &format!("write it as a [{}] section", s.key(key)),
                );
                None
            }
        }
    }

    pub(crate) fn tables<'a, 'i>(
        &mut self,
        s: &Section<'a, 'i>,
        key: &str,
    ) -> Vec<Section<'a, 'i>> {
        let Some(v) = s.get(key) else {
            return Vec::new();
        };
        let fix = format!("write each entry as a [[{}]] section", s.key(key));
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(s.key(key), v, "an array of tables", &fix);
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}[{i}]", s.key(key));
            match item.get_ref() {
                DeValue::Table(t) => out.push(Section {
                    path,
                    table: t,
                    span: item.span(),
                }),
                _ => self.wrong_type(path, item, "a table", &fix),
            }
        }
        out
    }

    pub(crate) fn string_with(
        &mut self,
        s: &Section,
        key: &str,
        check: impl Fn(&str) -> Check,
    ) -> Option<(String, Span)> {
        self.parsed(s, key, |v| check(v).map(|()| v.to_string()))
    }

    /// A string value read by a grammar that also gives its meaning (a MAC
    /// address normalised, an IP address parsed).
    pub(crate) fn parsed<T>(
        &mut self,
        s: &Section,
        key: &str,
        parse: impl Fn(&str) -> Result<T, grammar::Problem>,
    ) -> Option<(T, Span)> {
        let v = s.get(key)?;
        match v.get_ref() {
            DeValue::String(text) => match parse(text) {
                Ok(x) => Some((x, v.span())),
                Err(p) => {
                    self.rep.error(s.key(key), Some(v.span()), p.message, p.fix);
                    None
                }
            },
            _ => {
                self.wrong_type(s.key(key), v, "a string", "put the value in double quotes");
                None
            }
        }
    }

    pub(crate) fn string(
        &mut self,
        s: &Section,
        key: &str,
        default: &str,
        check: impl Fn(&str) -> Check,
    ) -> String {
        self.string_with(s, key, check)
            .map_or_else(|| default.to_string(), |(v, _)| v)
    }

    pub(crate) fn choice<T: Copy>(
        &mut self,
        s: &Section,
        key: &str,
        default: T,
        choices: &[(&str, T)],
    ) -> T {
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let check = |v: &str| -> Check {
            if names.contains(&v) {
                Ok(())
            } else {
                let near = crate::text::nearest(v, names.iter().copied());
                Err(grammar::Problem {
                    message: format!(
                        "{} is not one of {}{}",
                        shown(v),
                        names.join(", "),
                        near.map_or(String::new(), |n| format!(" (did you mean \"{n}\"?)"))
                    ),
                    fix: match near {
                        Some(n) => format!("write \"{n}\"; the values are: {}", names.join(", ")),
                        None => format!("use one of: {}", names.join(", ")),
                    },
                })
            }
        };
        match self.string_with(s, key, check) {
            Some((v, _)) => choices
                .iter()
                .find(|(n, _)| *n == v)
                .map_or(default, |(_, t)| *t),
            None => default,
        }
    }

    pub(crate) fn int(
        &mut self,
        s: &Section,
        key: &str,
        range: RangeInclusive<i64>,
        fix: &str,
    ) -> Option<(i64, Span)> {
        let v = s.get(key)?;
        match int_value(v.get_ref()) {
            Some(n) if range.contains(&n) => Some((n, v.span())),
            Some(n) => {
                self.rep.error(
                    s.key(key),
                    Some(v.span()),
                    format!("{n} is outside {} to {}", range.start(), range.end()),
                    fix.to_string(),
                );
                None
            }
            None if matches!(v.get_ref(), DeValue::Integer(_)) => {
                self.rep.error(
                    s.key(key),
                    Some(v.span()),
                    "integer too large",
                    fix.to_string(),
                );
                None
            }
            None => {
                self.wrong_type(s.key(key), v, "an integer", fix);
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, s: &Section, key: &str, default: bool) -> bool {
        let Some(v) = s.get(key) else {
            return default;
        };
        match v.get_ref() {
            DeValue::Boolean(b) => *b,
            _ => {
                self.wrong_type(
                    s.key(key),
                    v,
                    "a boolean",
                    "write true or false, without quotes",
                );
                default
            }
        }
    }

    /// An array of strings, each checked; returns the good ones with their spans.
    pub(crate) fn strings(
        &mut self,
        s: &Section,
        key: &str,
        check: impl Fn(&str) -> Check,
    ) -> Option<Vec<(String, Span)>> {
        let v = s.get(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(
                s.key(key),
                v,
                "an array of strings",
                &format!("write a list, e.g. {} = [\"a\", \"b\"]", key),
            );
            return Some(Vec::new());
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}[{i}]", s.key(key));
            match item.get_ref() {
                DeValue::String(text) => match check(text) {
                    Ok(()) => out.push((text.to_string(), item.span())),
                    Err(p) => self.rep.error(path, Some(item.span()), p.message, p.fix),
                },
                _ => self.wrong_type(path, item, "a string", "put each entry in double quotes"),
            }
        }
        Some(out)
    }

    /// An array of integers in a range.
    pub(crate) fn ints(
        &mut self,
        s: &Section,
        key: &str,
        range: RangeInclusive<i64>,
        fix: &str,
    ) -> Vec<(i64, Span)> {
        let Some(v) = s.get(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(s.key(key), v, "an array of integers", fix);
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}[{i}]", s.key(key));
            match int_value(item.get_ref()) {
                Some(n) if range.contains(&n) => out.push((n, item.span())),
                Some(n) => self.rep.error(
                    path,
                    Some(item.span()),
                    format!("{n} is outside {} to {}", range.start(), range.end()),
                    fix.to_string(),
                ),
                None => self.wrong_type(path, item, "an integer", fix),
            }
        }
        out
    }

    /// Report the second and later occurrences of equal values in a list.
    pub(crate) fn no_duplicates<T: PartialEq + std::fmt::Display>(
        &mut self,
        key: &str,
        items: &[(T, Span)],
    ) {
        for (i, (v, span)) in items.iter().enumerate() {
            if items[..i].iter().any(|(w, _)| w == v) {
                self.rep.error(
                    format!("{key}[{i}]"),
                    Some(span.clone()),
                    format!("{v} is listed twice"),
                    "remove the repeated entry",
                );
            }
        }
    }
}

/// The most values (keys with their values, list items, table headers and
/// the parts of dotted keys, each a table) a profile or an inventory may
/// hold. A document's tree takes about a hundred bytes a value, and every
/// value is checked, copied into each host's variant and rendered: bytes alone
/// do not bound that (`["a","a",...]` holds a value every four bytes, and
/// `[a.a.a...]` a table every two). A table or a list counts as two values,
/// since it is a map or a vector besides. A room of
/// [`crate::fleet::MAX_HOSTS`] hosts of thirty values each fits (a host with
/// its name, MAC, disk, a static network and kernel overrides counts about
/// twenty-five).
pub const MAX_VALUES: usize = 300_000;

/// A TOML document with positions, or its syntax errors in the report.
pub(crate) fn document<'i>(text: &'i str, rep: &mut Report) -> Option<Spanned<DeTable<'i>>> {
    if let Some(span) = too_many_values(text) {
        rep.error(
            "(size)",
            Some(span),
            format!("the document holds more than {MAX_VALUES} values (keys, list items, tables and lists, which count two); this is the first past the limit"),
            "split it (an inventory into several rooms), or write lists shorter: a kernel command line, a package list or a CPU list never needs this many",
        );
        return None;
    }
    let (doc, errors) = DeTable::parse_recoverable(text);
    if errors.is_empty() {
        return Some(doc);
    }
    let mut deep = deepest_keys(text, errors.iter().filter(|e| e.span().is_none()).count());
    for e in errors {
        let (span, what) = match e.span() {
            Some(span) => (Some(span), ""),
            None => (deep.next(), " (a dotted key of too many parts)"),
        };
        rep.error(
            "(syntax)",
            span,
            format!("TOML syntax error: {}{what}", e.message().trim()),
            "fix the TOML syntax at this position (strings in double quotes, one key per line, [section] headers)",
        );
    }
    None
}

/// Where the document's values pass [`MAX_VALUES`], if they do: counted on
/// the lexer's tokens (which keep `,` `=` `[` `.` inside strings and comments
/// out of the count) as they stream, before any tree is built. Every value
/// follows a `=` or a `,`, or opens a list; a table header counts as its
/// bracket, and every dot of a key as the table it makes (a float's dot
/// counts too, which only errs on the safe side); tables and lists count two.
fn too_many_values(text: &str) -> Option<Span> {
    use toml_parser::lexer::TokenKind;
    let mut n = 0usize;
    for t in toml_parser::Source::new(text).lex() {
        n += match t.kind() {
            TokenKind::Equals | TokenKind::Comma => 1,
            // A table or a list: a map or a vector besides its value.
            TokenKind::LeftSquareBracket | TokenKind::Dot => 2,
            _ => continue,
        };
        if n > MAX_VALUES {
            let span = t.span();
            return Some(span.start()..span.end());
        }
    }
    None
}

/// The places of the `n` dotted keys with the most parts, in the order they
/// appear. The toml crate refuses a key of too many parts ("recursion limit",
/// toml's src/de/parser/key.rs) with no position, and it is the only error
/// it reports without one: the keys it refused are the deepest ones.
fn deepest_keys(text: &str, n: usize) -> std::vec::IntoIter<Span> {
    use toml_parser::parser::{EventKind, RecursionGuard, parse_document};
    if n == 0 {
        return Vec::new().into_iter();
    }
    // (parts, span) of every dotted key; a key ends at the first event that
    // is neither a part, a dot nor the whitespace between them.
    let mut keys: Vec<(usize, Span)> = Vec::new();
    let mut current: Option<(usize, Span)> = None;
    let mut on_event = |e: toml_parser::parser::Event| match e.kind() {
        EventKind::SimpleKey => {
            let span = e.span();
            match &mut current {
                Some((parts, key)) => {
                    *parts += 1;
                    key.end = span.end();
                }
                None => current = Some((1, span.start()..span.end())),
            }
        }
        EventKind::KeySep | EventKind::Whitespace => {}
        _ => keys.extend(current.take().filter(|(parts, _)| *parts > 1)),
    };
    let tokens = toml_parser::Source::new(text).lex().into_vec();
    // The same depth guard as the toml crate's, so that the nesting refused
    // there cannot exhaust the stack here.
    parse_document(
        &tokens,
        &mut RecursionGuard::new(&mut on_event, 80),
        &mut (),
    );
    keys.extend(current.filter(|(parts, _)| *parts > 1));
    let mut by_depth: Vec<usize> = (0..keys.len()).collect();
    by_depth.sort_by_key(|&i| std::cmp::Reverse(keys[i].0));
    by_depth.truncate(n);
    by_depth.sort_unstable();
    by_depth
        .into_iter()
        .map(|i| keys[i].1.clone())
        .collect::<Vec<_>>()
        .into_iter()
}
