//! PipeWire's and WirePlumber's drop-ins (`pipewire.conf.d/*.conf`,
//! `wireplumber.conf.d/*.conf`) read as they read them: SPA-JSON, the relaxed
//! JSON of spa/include/spa/utils/json-core.h (bare words for keys and values,
//! `=`, `:` and `,` as separators, `#` comments, the top level an object
//! without braces); then typed: each section and key one we render, with a
//! value of its type and range. PipeWire and WirePlumber ignore a section or
//! key they do not know, so a misspelt one would be a setting silently lost.

/// A parsed value. Numbers stay words: SPA-JSON does not tell them apart.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Word(String),
    Str(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    fn int(&self) -> Option<i64> {
        match self {
            Value::Word(w) => w.parse().ok(),
            _ => None,
        }
    }
}

/// Nesting deeper than this is refused (the drop-ins we render nest 5 deep).
const MAX_DEPTH: usize = 32;

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
}

impl Parser<'_> {
    /// Skip white space, separators and comments.
    fn skip(&mut self) {
        while let Some(&c) = self.text.get(self.at) {
            match c {
                b'\n' => {
                    self.line += 1;
                    self.at += 1;
                }
                b' ' | b'\t' | b'\r' | b':' | b'=' | b',' => self.at += 1,
                b'#' => {
                    while self.text.get(self.at).is_some_and(|&c| c != b'\n') {
                        self.at += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn error(&self, what: impl std::fmt::Display) -> String {
        format!("line {}: {what}", self.line)
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deep"));
        }
        self.skip();
        match self.text.get(self.at) {
            None => Err(self.error("a value is missing at the end of the file")),
            Some(b'{') => {
                self.at += 1;
                Ok(Value::Object(self.members(Some(b'}'), depth)?))
            }
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    self.skip();
                    match self.text.get(self.at) {
                        Some(b']') => {
                            self.at += 1;
                            return Ok(Value::Array(items));
                        }
                        None => return Err(self.error("an array is not closed with ]")),
                        _ => items.push(self.value(depth + 1)?),
                    }
                }
            }
            Some(b'"') => self.string().map(Value::Str),
            Some(&c) if matches!(c, b'}' | b']') => {
                Err(self.error(format!("unexpected {}", c as char)))
            }
            Some(_) => self.word().map(Value::Word),
        }
    }

    /// Key-value pairs up to `close` (or the end of the file, for the top
    /// level).
    fn members(&mut self, close: Option<u8>, depth: usize) -> Result<Vec<(String, Value)>, String> {
        let mut out = Vec::new();
        loop {
            self.skip();
            match (self.text.get(self.at), close) {
                (None, None) => return Ok(out),
                (None, Some(c)) => {
                    return Err(self.error(format!("an object is not closed with {}", c as char)));
                }
                (Some(&c), Some(want)) if c == want => {
                    self.at += 1;
                    return Ok(out);
                }
                (Some(b'"'), _) => {
                    let key = self.string()?;
                    out.push((key, self.value(depth + 1)?));
                }
                (Some(b'{' | b'[' | b'}' | b']'), _) => {
                    return Err(self.error("expected a key"));
                }
                _ => {
                    let key = self.word()?;
                    out.push((key, self.value(depth + 1)?));
                }
            }
        }
    }

    /// A bare word: up to white space or one of `"#{[:,=]}` (json-core.h).
    fn word(&mut self) -> Result<String, String> {
        let start = self.at;
        while let Some(&c) = self.text.get(self.at) {
            if matches!(
                c,
                b' ' | b'\t'
                    | b'\r'
                    | b'\n'
                    | b'"'
                    | b'#'
                    | b'{'
                    | b'['
                    | b':'
                    | b','
                    | b'='
                    | b']'
                    | b'}'
            ) {
                break;
            }
            if c == b'\\' || c < 0x20 || c == 0x7f {
                return Err(
                    self.error("a bare word holds a backslash or a control character: quote it")
                );
            }
            self.at += 1;
        }
        String::from_utf8(self.text[start..self.at].to_vec()).map_err(|_| self.error("not UTF-8"))
    }

    fn string(&mut self) -> Result<String, String> {
        self.at += 1;
        let start = self.at;
        while let Some(&c) = self.text.get(self.at) {
            match c {
                b'"' => {
                    let s = String::from_utf8(self.text[start..self.at].to_vec())
                        .map_err(|_| self.error("not UTF-8"))?;
                    self.at += 1;
                    return Ok(s);
                }
                b'\\' => self.at += 2,
                b'\n' => return Err(self.error("a string runs past the end of its line")),
                _ => self.at += 1,
            }
        }
        Err(self.error("a string is not closed with \""))
    }
}

/// Parse a whole drop-in: its top level is an object without braces.
pub fn parse(text: &str) -> Result<Vec<(String, Value)>, String> {
    let mut p = Parser {
        text: text.as_bytes(),
        at: 0,
        line: 1,
    };
    p.members(None, 0)
}

/// The type of a key's value.
#[derive(Clone, Copy)]
enum Kind {
    Int(i64, i64),
    Ints(i64, i64, usize),
}

const CONTEXT_PROPERTIES: &[(&str, Kind)] = &[
    ("default.clock.rate", Kind::Int(1, 768_000)),
    ("default.clock.allowed-rates", Kind::Ints(1, 768_000, 32)),
    ("default.clock.quantum", Kind::Int(1, 65536)),
    ("default.clock.min-quantum", Kind::Int(1, 65536)),
    ("default.clock.max-quantum", Kind::Int(1, 65536)),
    ("default.clock.quantum-limit", Kind::Int(1, 65536)),
];

const MODULE_RT_ARGS: &[(&str, Kind)] = &[
    ("rt.prio", Kind::Int(1, 99)),
    ("nice.level", Kind::Int(-20, 19)),
];

const ALSA_PROPS: &[(&str, Kind)] = &[
    ("session.suspend-timeout-seconds", Kind::Int(0, 86_400)),
    ("api.alsa.period-size", Kind::Int(16, 8192)),
    ("api.alsa.headroom", Kind::Int(0, 8192)),
];

fn typed(path: &str, v: &Value, kind: Kind, problems: &mut Vec<String>) {
    match (kind, v) {
        (Kind::Int(lo, hi), v) => match v.int() {
            Some(n) if (lo..=hi).contains(&n) => {}
            Some(n) => problems.push(format!("{path}: {n} is outside {lo} to {hi}")),
            None => problems.push(format!("{path}: expected an integer")),
        },
        (Kind::Ints(lo, hi, most), Value::Array(items)) => {
            if items.is_empty() || items.len() > most {
                problems.push(format!("{path}: expected 1 to {most} entries"));
            }
            for (i, item) in items.iter().enumerate() {
                typed(&format!("{path}[{i}]"), item, Kind::Int(lo, hi), problems);
            }
        }
        (Kind::Ints(..), _) => problems.push(format!("{path}: expected an array of integers")),
    }
}

fn object<'v>(path: &str, v: &'v Value, problems: &mut Vec<String>) -> &'v [(String, Value)] {
    match v {
        Value::Object(members) => members,
        _ => {
            problems.push(format!("{path}: expected an object {{ ... }}"));
            &[]
        }
    }
}

fn keys(
    path: &str,
    members: &[(String, Value)],
    known: &[(&str, Kind)],
    problems: &mut Vec<String>,
) {
    for (k, v) in members {
        match known.iter().find(|(name, _)| name == k) {
            Some((_, kind)) => typed(&format!("{path}.{k}"), v, *kind, problems),
            None => problems.push(format!(
                "{path}: unknown key {k} (this file sets {})",
                known.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            )),
        }
    }
}

fn int_of(members: &[(String, Value)], key: &str) -> Option<i64> {
    members
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.int())
}

/// A `pipewire.conf.d` drop-in of ours.
pub fn check_pipewire(text: &str) -> Vec<String> {
    let top = match parse(text) {
        Ok(t) => t,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    for (section, v) in &top {
        match section.as_str() {
            "context.properties" => {
                let members = object(section, v, &mut problems);
                keys(section, members, CONTEXT_PROPERTIES, &mut problems);
                let q = |k| int_of(members, k);
                if let (Some(min), Some(q), Some(max)) = (
                    q("default.clock.min-quantum"),
                    q("default.clock.quantum"),
                    q("default.clock.max-quantum"),
                ) && !(min <= q && q <= max)
                {
                    problems.push(format!(
                        "{section}: min-quantum {min} <= quantum {q} <= max-quantum {max} does not hold: PipeWire clamps the quantum"
                    ));
                }
                // src/pipewire/settings.c ignores allowed-rates without the rate.
                if let (Some(rate), Some((_, Value::Array(rates)))) = (
                    q("default.clock.rate"),
                    members.iter().find(|(k, _)| k == "default.clock.allowed-rates"),
                ) && !rates.iter().any(|r| r.int() == Some(rate))
                {
                    problems.push(format!(
                        "{section}.default.clock.allowed-rates leaves out default.clock.rate {rate}: PipeWire ignores the list"
                    ));
                }
            }
            "context.properties.rules" => rules(section, v, CONTEXT_PROPERTIES, &mut problems),
            "module.rt.args" => {
                let members = object(section, v, &mut problems);
                keys(section, members, MODULE_RT_ARGS, &mut problems);
            }
            other => problems.push(format!(
                "unknown section {other} (this file sets context.properties, context.properties.rules and module.rt.args); PipeWire would ignore it"
            )),
        }
    }
    problems
}

/// A list of match rules (`[ { matches = [ {..} ] actions = { update-props
/// = {..} } } ]`), as PipeWire's `*.rules` sections and WirePlumber's
/// `monitor.alsa.rules` have them; `props` types what update-props sets.
fn rules(section: &str, v: &Value, props: &[(&str, Kind)], problems: &mut Vec<String>) {
    let Value::Array(rules) = v else {
        problems.push(format!("{section}: expected an array of rules [ ... ]"));
        return;
    };
    for (i, rule) in rules.iter().enumerate() {
        let path = format!("{section}[{i}]");
        let members = object(&path, rule, problems);
        let mut has = (false, false);
        for (k, v) in members {
            match k.as_str() {
                "matches" => {
                    has.0 = true;
                    match v {
                        Value::Array(m) if !m.is_empty() => {
                            for (j, m) in m.iter().enumerate() {
                                object(&format!("{path}.matches[{j}]"), m, problems);
                            }
                        }
                        _ => problems.push(format!(
                            "{path}.matches: expected a non-empty array of objects"
                        )),
                    }
                }
                "actions" => {
                    has.1 = true;
                    for (a, set) in object(&format!("{path}.actions"), v, problems) {
                        if a != "update-props" {
                            problems.push(format!(
                                "{path}.actions: unknown action {a} (this file uses update-props)"
                            ));
                            continue;
                        }
                        let set = object(&format!("{path}.actions.update-props"), set, problems);
                        keys(
                            &format!("{path}.actions.update-props"),
                            set,
                            props,
                            problems,
                        );
                    }
                }
                other => problems.push(format!(
                    "{path}: unknown key {other} (a rule has matches and actions)"
                )),
            }
        }
        if !(has.0 && has.1) {
            problems.push(format!("{path}: a rule needs both matches and actions"));
        }
    }
}

/// A `wireplumber.conf.d` drop-in of ours (WirePlumber 0.5).
pub fn check_wireplumber(text: &str) -> Vec<String> {
    let top = match parse(text) {
        Ok(t) => t,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    for (section, v) in &top {
        if section != "monitor.alsa.rules" {
            problems.push(format!(
                "unknown section {section} (this file sets monitor.alsa.rules); WirePlumber would ignore it"
            ));
            continue;
        }
        rules(section, v, ALSA_PROPS, &mut problems);
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spa_json_as_json_core_reads_it() {
        let top = parse("a.b = { x = 1, \"y\": [ 2 3 ] } # note\nc \"s t\"\n").unwrap();
        assert_eq!(
            top,
            [
                (
                    "a.b".to_string(),
                    Value::Object(vec![
                        ("x".into(), Value::Word("1".into())),
                        (
                            "y".into(),
                            Value::Array(vec![Value::Word("2".into()), Value::Word("3".into())])
                        ),
                    ])
                ),
                ("c".to_string(), Value::Str("s t".into())),
            ]
        );
        for bad in [
            "a = {", "a = [ 1", "a = \"x", "a = }", "a", "a = b\\c", "{ }",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        // Bounded on hostile nesting.
        assert!(parse(&format!("a = {}", "[".repeat(100_000))).is_err());
    }

    const PIPEWIRE: &str = "context.properties = {\n    default.clock.rate = 48000\n    default.clock.allowed-rates = [ 44100 48000 ]\n    default.clock.quantum = 256\n    default.clock.min-quantum = 32\n    default.clock.max-quantum = 2048\n}\ncontext.properties.rules = [\n    {\n        matches = [ { cpu.vm.name = !null } ]\n        actions = { update-props = { default.clock.min-quantum = 32 } }\n    }\n]\nmodule.rt.args = {\n    rt.prio = 88\n    nice.level = -11\n}\n";

    #[test]
    fn pipewire_drop_ins_are_typed() {
        assert_eq!(check_pipewire(PIPEWIRE), Vec::<String>::new());
        let one = |text: String, want: &str| {
            let p = check_pipewire(&text);
            assert!(p.len() == 1 && p[0].contains(want), "{want}: {p:?}");
        };
        one(
            PIPEWIRE.replace("clock.rate", "clock.rat"),
            "unknown key default.clock.rat",
        );
        one(
            PIPEWIRE.replace("[ 44100 48000 ]", "[ 44100 ]"),
            "leaves out default.clock.rate 48000",
        );
        one(
            PIPEWIRE.replace("quantum = 256", "quantum = 4096"),
            "does not hold",
        );
        one(
            PIPEWIRE.replace("rt.prio = 88", "rt.prio = 120"),
            "120 is outside 1 to 99",
        );
        one(
            PIPEWIRE.replace("nice.level = -11", "nice.level = low"),
            "expected an integer",
        );
        one(
            PIPEWIRE.replace("module.rt.args", "module.rt.arg"),
            "unknown section module.rt.arg",
        );
        one(
            PIPEWIRE.replace(
                "= { default.clock.min-quantum = 32 }",
                "= { default.clock.min-quantun = 32 }",
            ),
            "context.properties.rules[0].actions.update-props: unknown key default.clock.min-quantun",
        );
    }

    const WIREPLUMBER: &str = "monitor.alsa.rules = [\n  {\n    matches = [\n      { node.name = \"~alsa_output.*\" }\n    ]\n    actions = {\n      update-props = {\n        session.suspend-timeout-seconds = 0\n      }\n    }\n  }\n]\n";

    #[test]
    fn wireplumber_drop_ins_are_typed() {
        assert_eq!(check_wireplumber(WIREPLUMBER), Vec::<String>::new());
        let one = |text: String, want: &str| {
            let p = check_wireplumber(&text);
            assert!(p.len() == 1 && p[0].contains(want), "{want}: {p:?}");
        };
        one(
            WIREPLUMBER.replace("update-props", "update-prop"),
            "unknown action update-prop",
        );
        one(
            WIREPLUMBER.replace("timeout-seconds = 0", "timeout-seconds = -1"),
            "is outside",
        );
        let p = check_wireplumber(&WIREPLUMBER.replace("matches", "match"));
        assert_eq!(
            p,
            [
                "monitor.alsa.rules[0]: unknown key match (a rule has matches and actions)",
                "monitor.alsa.rules[0]: a rule needs both matches and actions"
            ]
        );
        one(
            WIREPLUMBER.replace("monitor.alsa.rules", "monitor.alsa.rule"),
            "unknown section",
        );
    }
}
