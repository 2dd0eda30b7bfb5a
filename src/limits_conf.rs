//! limits.conf(5) lines as pam_limits reads them: the one grammar behind
//! `validate`'s dropins validator and `check`'s limits. It follows linux-pam's
//! modules/pam_limits/pam_limits.c (`parse_config_file`, `split`,
//! `parse_uid_range` and `process_limit`, at commit ddab692c8409):
//!
//! - white space (C `isspace`) before the first word is skipped, and the line
//!   ends at its first `#`;
//! - the domain, the type and the item are the first three words, split on
//!   spaces and tabs only; the value is all the rest, spaces and tabs trimmed
//!   (since Linux-PAM 1.6.0 and 1.6.1, commits eec4358a and 9228077d: earlier
//!   sscanf took one word), so in `@audio - rtprio 95 x` the value is `95 x`;
//! - the type, the item and the value are lowercased;
//! - a domain holding `:` is an id range, and one pam_limits cannot read makes
//!   it skip the line;
//! - four parts make an entry; two, the second starting with `-`, say "no
//!   limits" (pam_limits stops reading and sets none for a user it applies
//!   to); any other line is skipped.
//!
//! A value is read as `strtoull` (or `strtol`) reads it: as far as its digits
//! go, so `4G` is 4 and a value without digits makes pam_limits skip the line.

/// Which kind of entry decided a limit; a lower one is not replaced by a
/// higher one (pam_limits' `LIMITS_DEF_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    User,
    Group,
    /// `%group`, for maxlogins.
    AllGroup,
    /// `%`, for maxlogins.
    All,
    /// `*`.
    Default,
}

/// An id range of a domain (`MIN:MAX`, `MIN:`, `:ID`), ids cut to 32 bits as
/// pam_limits stores them in a uid_t.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    One(u32),
    From(u32),
    Between(u32, u32),
}

impl Range {
    pub fn holds(self, id: u32) -> bool {
        match self {
            Range::One(x) => id == x,
            Range::From(lo) => id >= lo,
            Range::Between(lo, hi) => lo <= id && id <= hi,
        }
    }
}

/// What a domain names, apart from the user whose name it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain<'a> {
    /// `*`: everyone.
    Everyone,
    /// A user's name: it matches that user only.
    Name,
    /// `@group`.
    Group(&'a str),
    /// `@MIN:MAX`, `@MIN:` (the user's primary gid), `@:GID` (a group).
    Gids(Range),
    /// `%`: every login, for maxlogins.
    AllLogins,
    /// `%group`, for maxlogins.
    LoginGroup(&'a str),
    /// `%:GID`, or `%MIN:MAX` (which pam_limits does not support).
    LoginGids(Range),
    /// `MIN:MAX`, `MIN:`, `:UID`.
    Uids(Range),
}

/// The account a line is matched against.
pub struct Member<'a> {
    pub name: &'a str,
    pub uid: Option<u32>,
    /// The primary gid (ranges of `@` compare it).
    pub gid: Option<u32>,
    /// The names of its groups, the primary one included.
    pub groups: &'a [String],
    /// The gids of its groups, the primary one included.
    pub gids: &'a [u32],
}

/// One line of a limits file, as pam_limits splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// `domain type item value`.
    Entry(Entry<'a>),
    /// `domain -`: pam_limits sets no limits for a user this applies to.
    NoLimits { text: &'a str, domain: Domain<'a> },
    /// A line pam_limits skips: it has this many parts (1 or 3, or 2 with
    /// another type than `-`).
    Incomplete { parts: usize },
    /// A domain with a `:` that is no range pam_limits reads: it skips the line.
    BadRange { domain: &'a str },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The domain as written, and what it names.
    pub text: &'a str,
    pub domain: Domain<'a>,
    /// The type, the item and the value, lowercased.
    pub kind: String,
    pub item: String,
    pub value: String,
}

/// How an item's value is read and what it limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An rlimit given in its own unit (a count, bytes, microseconds).
    Count,
    /// An rlimit given in KiB.
    KiB,
    /// An rlimit given in minutes (cpu).
    Minutes,
    /// RLIMIT_NICE, given as the nice value itself (-20..19).
    Nice,
    /// maxlogins, maxsyslogins: not rlimits, any type.
    Logins,
    /// priority: the nice value to run at, set by the last line.
    Priority,
    /// nonewprivs: 0 or 1, any type.
    Flag,
}

impl Kind {
    /// Has a soft and a hard value (`getrlimit`).
    pub fn is_rlimit(self) -> bool {
        matches!(self, Kind::Count | Kind::KiB | Kind::Minutes | Kind::Nice)
    }
}

/// The items pam_limits knows (`process_limit`), with how each is read.
pub const ITEMS: &[(&str, Kind)] = &[
    ("cpu", Kind::Minutes),
    ("fsize", Kind::KiB),
    ("data", Kind::KiB),
    ("stack", Kind::KiB),
    ("core", Kind::KiB),
    ("rss", Kind::KiB),
    ("nproc", Kind::Count),
    ("nofile", Kind::Count),
    ("memlock", Kind::KiB),
    ("as", Kind::KiB),
    ("locks", Kind::Count),
    ("sigpending", Kind::Count),
    ("msgqueue", Kind::Count),
    ("nice", Kind::Nice),
    ("rtprio", Kind::Count),
    ("rttime", Kind::Count),
    ("maxlogins", Kind::Logins),
    ("maxsyslogins", Kind::Logins),
    ("priority", Kind::Priority),
    ("nonewprivs", Kind::Flag),
];

/// How an item is read; None for an item pam_limits does not know.
pub fn item_kind(item: &str) -> Option<Kind> {
    ITEMS
        .iter()
        .find(|(name, _)| *name == item)
        .map(|(_, k)| *k)
}

/// A limit's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Soft,
    Hard,
    /// `-`: both.
    Both,
}

/// A value as pam_limits takes it, in the unit the file gives it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// `unlimited`, `infinity`, `-1`, `-` (for maxlogins, -1), or a number
    /// that reaches RLIM_INFINITY in bytes or seconds.
    Unlimited,
    Count(u64),
    Int(i32),
    Flag(bool),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Unlimited => f.write_str("unlimited"),
            Value::Count(n) => write!(f, "{n}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Flag(b) => write!(f, "{}", u8::from(*b)),
        }
    }
}

/// What an entry sets, if pam_limits takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    pub item: &'static str,
    pub kind: Kind,
    /// None for the items whose type pam_limits ignores.
    pub limit_type: Option<Type>,
    pub value: Value,
    /// The end of the value its reading left (`G` of `4G`, ` x` of `95 x`).
    pub unread: String,
}

/// Why pam_limits skips an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    UnknownItem,
    UnknownType,
    /// The value has no number where one is read.
    Value,
    /// `%` domains set maxlogins only.
    LoginsOnly,
    /// `%MIN:MAX` and `%MIN:`: ranges are not matched against `%`.
    LoginRange,
}

/// C `isspace` in the C locale.
fn c_space(c: char) -> bool {
    c == ' ' || ('\t'..='\r').contains(&c)
}

/// How `strtoul` and its kin read a number in base 10: white space, a sign,
/// digits (whether negative, the digits, what is left); None without digits.
fn c_number(s: &str) -> Option<(bool, &str, &str)> {
    let t = s.trim_start_matches(c_space);
    let (negative, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    (digits > 0).then(|| (negative, &t[..digits], &t[digits..]))
}

/// `strtoull`: a negative number wraps; one past u64 is u64::MAX, and
/// `overflow` (ERANGE) says so.
fn strtoull(s: &str) -> Option<(u64, bool, &str)> {
    let (negative, digits, rest) = c_number(s)?;
    Some(match digits.parse::<u64>() {
        Ok(n) if negative => (n.wrapping_neg(), false, rest),
        Ok(n) => (n, false, rest),
        Err(_) => (u64::MAX, true, rest),
    })
}

/// `strtol`, which stops at LONG_MIN and LONG_MAX, then cut to an int as
/// pam_limits does.
fn strtol_int(s: &str) -> Option<(i32, &str)> {
    let (negative, digits, rest) = c_number(s)?;
    let magnitude = digits.parse::<u64>().map_or(i128::MAX, i128::from);
    let n = if negative { -magnitude } else { magnitude };
    Some((n.clamp(i32::MIN.into(), i32::MAX.into()) as i32, rest))
}

/// `parse_uid_range`: None without a `:`; Err when pam_limits cannot read it.
fn id_range(domain: &str) -> Option<Result<Range, ()>> {
    let (before, max) = domain.split_once(':')?;
    let min = before.strip_prefix(['@', '%']).unwrap_or(before);
    // strtoul's ids must end where the range says: the minimum at the `:`,
    // the maximum at the end, and neither past unsigned long.
    let id = |s: &str| match strtoull(s) {
        Some((n, false, "")) => Ok(n as u32),
        _ => Err(()),
    };
    Some(match (min.is_empty(), max.is_empty()) {
        (true, true) => Err(()),
        (true, false) => id(max).map(Range::One),
        (false, true) => id(min).map(Range::From),
        (false, false) => id(min).and_then(|lo| Ok(Range::Between(lo, id(max)?))),
    })
}

fn domain(text: &str) -> Result<Domain<'_>, ()> {
    if let Some(range) = id_range(text) {
        return range.map(|r| match text.as_bytes()[0] {
            b'@' => Domain::Gids(r),
            b'%' => Domain::LoginGids(r),
            _ => Domain::Uids(r),
        });
    }
    Ok(match text {
        "*" => Domain::Everyone,
        "%" => Domain::AllLogins,
        _ => match (text.strip_prefix('@'), text.strip_prefix('%')) {
            (Some(g), _) => Domain::Group(g),
            (_, Some(g)) => Domain::LoginGroup(g),
            _ => Domain::Name,
        },
    })
}

/// One line (without its `\n`); None for a blank or comment line.
pub fn line(raw: &str) -> Option<Line<'_>> {
    // The C string ends at a NUL byte.
    let raw = raw.split('\0').next().unwrap_or_default();
    let code = raw.trim_start_matches(c_space);
    let code = code.split('#').next().unwrap_or_default();
    if code.is_empty() {
        return None;
    }
    let word_end = |s: &str| s.find([' ', '\t']).unwrap_or(s.len());
    let mut rest = code;
    let mut words = Vec::new();
    for _ in 0..3 {
        rest = rest.trim_start_matches([' ', '\t']);
        if rest.is_empty() {
            break;
        }
        let end = word_end(rest);
        words.push(&rest[..end]);
        // strtok ends a word at one delimiter, which it eats.
        rest = rest.get(end + 1..).unwrap_or_default();
    }
    let value = rest.trim_matches([' ', '\t']);
    let parts = words.len() + usize::from(words.len() == 3 && !value.is_empty());
    let text = words[0];
    let Ok(domain) = domain(text) else {
        return Some(Line::BadRange { domain: text });
    };
    Some(match parts {
        4 => Line::Entry(Entry {
            text,
            domain,
            kind: words[1].to_ascii_lowercase(),
            item: words[2].to_ascii_lowercase(),
            value: value.to_ascii_lowercase(),
        }),
        2 if words[1].starts_with('-') => Line::NoLimits { text, domain },
        _ => Line::Incomplete { parts },
    })
}

/// The lines of a file by their number, blank and comment lines left out.
/// Only `\n` ends a line: a `\r` before it is part of the value.
pub fn lines(text: &str) -> impl Iterator<Item = (usize, Line<'_>)> {
    text.split('\n')
        .enumerate()
        .filter_map(|(n, l)| line(l).map(|l| (n + 1, l)))
}

impl Domain<'_> {
    /// The kind of entry this domain makes for `m`, if it applies to `m`
    /// (`text` is the domain as written: a user's own name comes first).
    pub fn source_for(&self, text: &str, m: &Member) -> Option<Source> {
        if text == m.name {
            return Some(Source::User);
        }
        let in_group = |g: &str| m.groups.iter().any(|x| x == g);
        let in_gid = |gid: u32| m.gids.contains(&gid);
        match *self {
            Domain::Everyone => Some(Source::Default),
            Domain::Name => None,
            Domain::Group(g) => in_group(g).then_some(Source::Group),
            Domain::Gids(Range::One(gid)) => in_gid(gid).then_some(Source::Group),
            Domain::Gids(r) => m.gid.is_some_and(|g| r.holds(g)).then_some(Source::Group),
            Domain::AllLogins => Some(Source::All),
            Domain::LoginGroup(g) => in_group(g).then_some(Source::AllGroup),
            Domain::LoginGids(Range::One(gid)) => in_gid(gid).then_some(Source::AllGroup),
            Domain::LoginGids(_) => None,
            Domain::Uids(r) => m.uid.is_some_and(|u| r.holds(u)).then_some(Source::User),
        }
    }

    /// Whether a `domain -` line stops pam_limits for `m`. Here `*` and `%`
    /// apply to no one, and a `%` range is a range of uids (pam_limits treats
    /// every domain without `@` so).
    pub fn stops_for(&self, text: &str, m: &Member) -> bool {
        if text == m.name {
            return true;
        }
        match *self {
            Domain::Group(g) => m.groups.iter().any(|x| x == g),
            Domain::Gids(Range::One(gid)) => m.gids.contains(&gid),
            Domain::Gids(r) => m.gid.is_some_and(|g| r.holds(g)),
            Domain::Uids(r) | Domain::LoginGids(r) => m.uid.is_some_and(|u| r.holds(u)),
            _ => false,
        }
    }
}

impl Entry<'_> {
    /// What pam_limits sets from this entry, or why it skips it.
    pub fn effect(&self) -> Result<Effect, Skip> {
        // parse_config_file leaves these out before it reads the rest.
        if matches!(
            self.domain,
            Domain::LoginGids(Range::From(_) | Range::Between(..))
        ) {
            return Err(Skip::LoginRange);
        }
        let Some(&(item, kind)) = ITEMS.iter().find(|(name, _)| *name == self.item) else {
            return Err(Skip::UnknownItem);
        };
        let limit_type = match self.kind.as_str() {
            _ if matches!(kind, Kind::Logins | Kind::Flag) => None,
            "soft" => Some(Type::Soft),
            "hard" => Some(Type::Hard),
            "-" => Some(Type::Both),
            _ => return Err(Skip::UnknownType),
        };
        let v = self.value.as_str();
        let unlimited = matches!(v, "-1" | "-" | "unlimited" | "infinity");
        let (value, unread) = match kind {
            Kind::Flag => match v {
                "0" => (Value::Flag(false), ""),
                "1" => (Value::Flag(true), ""),
                // pam_limits warns and goes on with 0.
                _ => (Value::Flag(false), v),
            },
            Kind::Count | Kind::KiB | Kind::Minutes | Kind::Logins if unlimited => {
                (Value::Unlimited, "")
            }
            Kind::Nice | Kind::Priority | Kind::Logins => {
                let (n, rest) = strtol_int(v).ok_or(Skip::Value)?;
                let n = if kind == Kind::Nice {
                    n.clamp(-20, 19)
                } else {
                    n
                };
                (Value::Int(n), rest)
            }
            Kind::Count | Kind::KiB | Kind::Minutes => {
                let (n, _, rest) = strtoull(v).ok_or(Skip::Value)?;
                // RLIM_INFINITY is u64::MAX; KiB and minutes that reach it
                // once in bytes and seconds are unlimited too.
                let unit = match kind {
                    Kind::KiB => 1024,
                    Kind::Minutes => 60,
                    _ => 1,
                };
                let value = if n == u64::MAX || (unit > 1 && n >= u64::MAX / unit) {
                    Value::Unlimited
                } else {
                    Value::Count(n)
                };
                (value, rest)
            }
        };
        let login_domain = matches!(
            self.domain,
            Domain::AllLogins | Domain::LoginGroup(_) | Domain::LoginGids(_)
        );
        if login_domain && item != "maxlogins" {
            return Err(Skip::LoginsOnly);
        }
        Ok(Effect {
            item,
            kind,
            limit_type,
            value,
            unread: unread.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(raw: &str) -> Entry<'_> {
        match line(raw) {
            Some(Line::Entry(e)) => e,
            other => panic!("{raw:?}: {other:?}"),
        }
    }

    #[test]
    fn words_and_the_value_as_pam_limits_splits_them() {
        let e = entry("\u{b} @Audio\t-  RTPRIO   95 Extra \t# comment");
        assert_eq!(
            (e.text, e.kind.as_str(), e.item.as_str(), e.value.as_str()),
            ("@Audio", "-", "rtprio", "95 extra")
        );
        assert_eq!(e.domain, Domain::Group("Audio"));
        let fx = e.effect().unwrap();
        assert_eq!((fx.value, fx.unread.as_str()), (Value::Count(95), " extra"));
        assert_eq!(line("   # only a comment"), None);
        assert_eq!(line(""), None);
        assert_eq!(line("@audio - rtprio"), Some(Line::Incomplete { parts: 3 }));
        assert_eq!(line("@audio"), Some(Line::Incomplete { parts: 1 }));
        assert_eq!(line("@audio soft"), Some(Line::Incomplete { parts: 2 }));
        assert!(matches!(
            line("@audio -"),
            Some(Line::NoLimits { text: "@audio", .. })
        ));
        assert!(matches!(line("@audio --x  "), Some(Line::NoLimits { .. })));
        // Only spaces and tabs split words: a \r stays in the value, which
        // strtoull reads up to it, and `unlimited\r` is no keyword.
        let e = entry("* - rtprio 95\r");
        assert_eq!(e.effect().unwrap().unread, "\r");
        assert_eq!(entry("* - memlock unlimited\r").effect(), Err(Skip::Value));
        // A NUL ends the C string.
        assert_eq!(entry("* - rtprio 9\u{0}5").value, "9");
    }

    #[test]
    fn values_as_strtoull_and_strtol_read_them() {
        let fx = |raw: &str| entry(raw).effect();
        let value = |raw: &str| fx(raw).map(|f| f.value);
        assert_eq!(value("* - memlock 4G"), Ok(Value::Count(4)));
        assert_eq!(fx("* - memlock 4G").unwrap().unread, "g");
        assert_eq!(value("* - memlock lots"), Err(Skip::Value));
        assert_eq!(value("* - memlock -"), Ok(Value::Unlimited));
        assert_eq!(value("* - memlock Infinity"), Ok(Value::Unlimited));
        assert_eq!(value("* - rtprio -5"), Ok(Value::Count(u64::MAX - 4)));
        assert_eq!(value("* - rtprio +7"), Ok(Value::Count(7)));
        assert_eq!(
            value("* - rtprio 99999999999999999999"),
            Ok(Value::Unlimited)
        );
        // KiB that reach RLIM_INFINITY in bytes.
        assert_eq!(
            value(&format!("* - memlock {}", u64::MAX / 1024)),
            Ok(Value::Unlimited)
        );
        assert_eq!(value("* - memlock 4194304"), Ok(Value::Count(4_194_304)));
        // nice is an integer, clamped; -1 and unlimited are no keywords there.
        assert_eq!(value("* - nice -1"), Ok(Value::Int(-1)));
        assert_eq!(value("* - nice -25"), Ok(Value::Int(-20)));
        assert_eq!(value("* - nice unlimited"), Err(Skip::Value));
        assert_eq!(
            value("* - priority -99999999999999999999"),
            Ok(Value::Int(i32::MIN))
        );
        assert_eq!(value("* - maxlogins unlimited"), Ok(Value::Unlimited));
        assert_eq!(value("* - nonewprivs 1"), Ok(Value::Flag(true)));
        assert_eq!(fx("* - nonewprivs 2").unwrap().unread, "2");
        // Types: soft, hard, -; maxlogins and nonewprivs take any.
        assert_eq!(fx("* both rtprio 1"), Err(Skip::UnknownType));
        assert_eq!(fx("* both maxlogins 1").unwrap().limit_type, None);
        assert_eq!(fx("* HARD rtprio 1").unwrap().limit_type, Some(Type::Hard));
        assert_eq!(fx("* - rtpriority 1"), Err(Skip::UnknownItem));
        assert!(fx("* - rttime 1000").is_ok());
        // `%` domains set maxlogins only, and not by range.
        assert!(fx("%audio - maxlogins 4").is_ok());
        assert_eq!(fx("%audio - rtprio 4"), Err(Skip::LoginsOnly));
        assert_eq!(fx("%1:5 - maxlogins 4"), Err(Skip::LoginRange));
    }

    #[test]
    fn domains_and_who_they_apply_to() {
        let groups = ["audio".to_string(), "musician".to_string()];
        let m = Member {
            name: "musician",
            uid: Some(1000),
            gid: Some(1000),
            groups: &groups,
            gids: &[63, 1000],
        };
        let source = |raw: &str| {
            let e = entry(raw);
            e.domain.source_for(e.text, &m)
        };
        assert_eq!(source("musician - rtprio 1"), Some(Source::User));
        assert_eq!(source("other - rtprio 1"), None);
        assert_eq!(source("@audio - rtprio 1"), Some(Source::Group));
        assert_eq!(source("@realtime - rtprio 1"), None);
        assert_eq!(source("@:63 - rtprio 1"), Some(Source::Group));
        assert_eq!(source("@900:1000 - rtprio 1"), Some(Source::Group));
        assert_eq!(source("@1001: - rtprio 1"), None);
        assert_eq!(source("1000: - rtprio 1"), Some(Source::User));
        assert_eq!(source(":1000 - rtprio 1"), Some(Source::User));
        assert_eq!(source("2000:1000 - rtprio 1"), None);
        assert_eq!(source("* - rtprio 1"), Some(Source::Default));
        assert_eq!(source("% - maxlogins 1"), Some(Source::All));
        assert_eq!(source("%audio - maxlogins 1"), Some(Source::AllGroup));
        for bad in [":", "@:", "1:2:3", "x:1", "1:x", "99999999999999999999:"] {
            assert_eq!(
                line(&format!("{bad} - rtprio 1")),
                Some(Line::BadRange { domain: bad }),
                "{bad}"
            );
        }
        // `domain -`: `*` stops no one, a `%` range is one of uids.
        let stops = |raw: &str| match line(raw) {
            Some(Line::NoLimits { text, domain }) => domain.stops_for(text, &m),
            other => panic!("{other:?}"),
        };
        assert!(stops("musician -"));
        assert!(stops("@audio -"));
        assert!(stops("%:1000 -"));
        assert!(!stops("* -"));
        assert!(!stops("% -"));
        assert!(!stops("@realtime -"));
    }
}
