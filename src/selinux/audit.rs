//! AVC records out of what users paste: raw audit.log lines, `ausearch -m avc`
//! output (plain or `-i`), and journal lines that carry an `avc:` record.

use crate::sepolicy::is_name;

/// One `avc: denied` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub perms: Vec<String>,
    pub comm: Option<String>,
    pub scontext: String,
    pub tcontext: String,
    pub tclass: String,
    /// `permissive=1`: logged but allowed (the domain or the system was permissive).
    pub permissive: bool,
}

impl Denial {
    /// The type field of a context (`user:role:type:level`).
    pub fn source_type(&self) -> &str {
        context_type(&self.scontext)
    }
    pub fn target_type(&self) -> &str {
        context_type(&self.tcontext)
    }
}

fn context_type(ctx: &str) -> &str {
    ctx.split(':').nth(2).unwrap_or("")
}

/// What one line of a log is.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Denial(Denial),
    /// An `avc: granted` record (setenforce, setbool...): not a denial.
    Granted,
    /// An `avc:` record that could not be read: its text, escaped for a
    /// terminal and cut to [`SHOWN_CHARS`] characters.
    Unreadable(String),
    /// No AVC record (other audit records, ausearch separators, unrelated
    /// log lines).
    Other,
}

/// How much of an unreadable record is shown.
pub const SHOWN_CHARS: usize = 200;

/// One line of a log, read.
pub fn line(raw: &str) -> Line {
    let line = raw.trim();
    let Some(at) = line.find("avc:") else {
        return Line::Other;
    };
    if !from_the_kernel_or_audit(&line[..at]) {
        return Line::Other;
    }
    let rest = line[at + 4..].trim_start();
    if rest.starts_with("granted") {
        return Line::Granted;
    }
    match parse_record(rest) {
        Some(d) => Line::Denial(d),
        None => Line::Unreadable(shown(line)),
    }
}

/// Whether the text before `avc:` is the header of a record the kernel or the
/// audit daemon wrote: an audit.log/ausearch record (`type=AVC msg=audit(...):`,
/// `type=USER_AVC msg=audit(...): pid=... msg='`), a kernel log line
/// (`[ 12.3] audit: type=1400 audit(...):`, after a syslog header and the
/// `kernel:` tag), a journal line of auditd (`audit[PID]: AVC`), or nothing (a
/// bare record). Anything else is some program's message that merely holds
/// `avc:` (sshd logs `Invalid user NAME` for any name a stranger tries), and a
/// rule read from it would be the stranger's. A local user who can forge the
/// `kernel:` tag (`logger -t kernel`) is not told apart here: read the audit
/// log (ausearch) rather than the syslog where that matters.
fn from_the_kernel_or_audit(prefix: &str) -> bool {
    use std::sync::OnceLock;
    static HEADER: OnceLock<pcre2::bytes::Regex> = OnceLock::new();
    let re = HEADER.get_or_init(|| {
        // A syslog or journal header: month, day, time, an optional host.
        let syslog = r"(?:\S+\s+\d+\s+\d\d:\d\d:\d\d(?:\.\d+)?\s+(?:[^\s:]+\s+)?|\d{4}-\d\d-\d\dT\S+\s+(?:[^\s:]+\s+)?)?";
        let stamp = r"audit\([0-9./: ]+\)\s*:\s*";
        let kernel = format!(r"(?:\[[^\]]*\]\s*)*(?:audit:\s*)?(?:type=1400\s+)?{stamp}");
        let auditd = format!(
            r"(?:node=\S+\s+)?type=AVC\s+msg={stamp}|(?:node=\S+\s+)?type=USER_AVC\s+msg={stamp}pid=\d+\s[^']*msg='"
        );
        let journal = r"audit\[\d+\]:\s*(?:AVC\s+|USER_AVC\s+pid=\d+\s[^']*msg=')";
        let pattern = format!(
            r"^(?:{syslog}kernel:\s*{kernel}|{syslog}{journal}|{kernel}|{auditd}|)$"
        );
        pcre2::bytes::RegexBuilder::new()
            .build(&pattern)
            .expect("the record header pattern compiles")
    });
    // A header longer than any real one is not a header (and bounds the match).
    prefix.len() <= 512 && re.is_match(prefix.as_bytes()).unwrap_or(false)
}

/// A record as it may be printed: escaped (a log can hold terminal escapes),
/// on one line, cut to a bounded length.
fn shown(line: &str) -> String {
    let cut: String = line.chars().take(SHOWN_CHARS).collect();
    crate::text::one_line(&cut)
}

/// What reading a log found.
#[derive(Debug, Default)]
pub struct Parsed {
    pub denials: Vec<Denial>,
    pub granted: usize,
    /// Lines with an `avc:` record that could not be read, with their line number.
    pub unreadable: Vec<(usize, String)>,
    pub other: usize,
}

/// Read every line of a text held whole (the fuzz target and tests; the
/// command streams its input through [`line`]); never fails.
pub fn parse(text: &str) -> Parsed {
    let mut out = Parsed::default();
    for (i, raw) in text.lines().enumerate() {
        match line(raw) {
            Line::Denial(d) => out.denials.push(d),
            Line::Granted => out.granted += 1,
            Line::Unreadable(shown) => out.unreadable.push((i + 1, shown)),
            Line::Other => out.other += 1,
        }
    }
    out
}

/// `denied  { perm ... } for  key=value ...`
fn parse_record(rest: &str) -> Option<Denial> {
    let rest = rest.strip_prefix("denied")?.trim_start();
    let rest = rest.strip_prefix('{')?;
    let (perms, rest) = rest.split_once('}')?;
    let perms: Vec<String> = perms.split_whitespace().map(String::from).collect();
    if perms.is_empty() || !perms.iter().all(|p| is_name(p)) {
        return None;
    }
    let mut comm = None;
    let (mut scontext, mut tcontext, mut tclass, mut permissive) = (None, None, None, false);
    for (key, value) in fields(rest) {
        match key {
            "comm" => comm = Some(value),
            "scontext" => scontext = Some(value.to_string()),
            "tcontext" => tcontext = Some(value.to_string()),
            "tclass" => tclass = Some(value.to_string()),
            "permissive" => permissive = value == "1",
            _ => {}
        }
    }
    let (scontext, tcontext, tclass) = (scontext?, tcontext?, tclass?);
    if !context(&scontext) || !context(&tcontext) || !is_name(&tclass) {
        return None;
    }
    Some(Denial {
        perms,
        comm: comm.map(comm_shown),
        scontext,
        tcontext,
        tclass,
        permissive,
    })
}

/// A context whose user, role and type are names a module can use; the level
/// is not used and not read.
fn context(ctx: &str) -> bool {
    let mut parts = ctx.split(':');
    let (Some(user), Some(role), Some(ty)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    is_name(user) && is_name(role) && is_name(ty)
}

/// The kernel cuts a command name to 15 bytes (TASK_COMM_LEN, include/linux/sched.h);
/// a longer one, or one with control characters, was not written by a kernel.
/// It only goes into a comment of the module: kept, escaped and cut.
fn comm_shown(comm: &str) -> String {
    let cut = comm
        .char_indices()
        .nth(64)
        .map_or(comm, |(i, _)| &comm[..i]);
    crate::text::one_line(cut)
}

/// `key=value` pairs; values may be double-quoted (raw logs) or bare
/// (`ausearch -i`), and a quoted value may hold spaces.
fn fields(s: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq]
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("");
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        out.push((key, value));
        rest = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = r#"type=AVC msg=audit(1700000000.123:456): avc:  denied  { read write } for  pid=1234 comm="jackd" name="timer" dev="devtmpfs" ino=1234 scontext=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 tcontext=system_u:object_r:device_t:s0 tclass=chr_file permissive=0"#;

    #[test]
    fn reads_the_three_forms() {
        let journal = "Nov 23 10:00:00 studio kernel: audit: type=1400 audit(1700000000.123:456): avc:  denied  { open } for  pid=1 comm=\"pipewire\" scontext=system_u:system_r:init_t:s0 tcontext=system_u:object_r:sound_device_t:s0 tclass=chr_file permissive=1";
        let interpreted = "type=AVC msg=audit(11/23/2026 10:00:00.123:456) : avc:  denied  { getattr } for  pid=1 comm=rtkit-daemon path=/proc/1 scontext=system_u:system_r:rtkit_daemon_t:s0 tcontext=system_u:system_r:init_t:s0 tclass=dir permissive=0 ";
        let text = format!(
            "----\ntime->Mon Nov 23 10:00:00 2026\n{RAW}\n{journal}\n{interpreted}\navc: denied {{ x\nnonsense from sshd: avc: denied {{ open }} for scontext=a:b:c_t tcontext=a:b:d_t tclass=file\n\navc:  granted  {{ setenforce }} for pid=1\n"
        );
        let p = parse(&text);
        assert_eq!(p.denials.len(), 3);
        assert_eq!(p.denials[0].perms, ["read", "write"]);
        assert_eq!(p.denials[0].comm.as_deref(), Some("jackd"));
        assert_eq!(p.denials[0].source_type(), "unconfined_t");
        assert_eq!(p.denials[0].target_type(), "device_t");
        assert!(p.denials[1].permissive);
        assert_eq!(p.denials[2].comm.as_deref(), Some("rtkit-daemon"));
        assert_eq!(p.denials[2].tclass, "dir");
        assert_eq!(p.granted, 1);
        assert_eq!(p.unreadable.len(), 1);
        assert_eq!(p.unreadable[0].0, 6);
        // A program's message holding `avc:` is no record.
        assert_eq!(p.other, 4);
    }

    #[test]
    fn only_records_of_the_kernel_or_audit_are_read() {
        let rec = "avc:  denied  { write } for  pid=1 comm=\"x\" scontext=system_u:system_r:jackd_t:s0 tcontext=system_u:object_r:etc_t:s0 tclass=file permissive=0";
        for forged in [
            format!("Dec 02 07:30:01 studio sshd[4242]: Invalid user {rec} from 203.0.113.9"),
            format!("Dec 02 07:30:01 studio sshd[4242]: Invalid user audit(1.2:3): {rec}"),
            format!("Dec 02 07:30:01 studio logger: type=AVC msg=audit(1.2:3): {rec}"),
            format!("type=USER_CMD msg=audit(1.2:3): {rec}"),
        ] {
            assert_eq!(line(&forged), Line::Other, "{forged}");
        }
        for real in [
            format!("type=AVC msg=audit(1700000000.123:456): {rec}"),
            format!("node=studio type=AVC msg=audit(12/02/2026 07:30:01.123:456) : {rec}"),
            format!("[   12.345678] audit: type=1400 audit(1700000000.123:456): {rec}"),
            format!("Apr 2 07:30:01 localhost kernel: audit: type=1400 audit(1.2:3): {rec}"),
            format!("Jul 2 07:30:01 localhost audit[812]: AVC {rec}"),
            rec.to_string(),
        ] {
            assert!(matches!(line(&real), Line::Denial(_)), "{real}");
        }
    }

    #[test]
    fn hostile_fields_are_unreadable_not_rules() {
        for bad in [
            "avc: denied { read } for scontext=a:b:c;rm:s0 tcontext=a:b:t:s0 tclass=file",
            "avc: denied { re$ad } for scontext=a:b:c:s0 tcontext=a:b:t:s0 tclass=file",
            "avc: denied { read } for scontext=a:b:c:s0 tcontext=a:b:t:s0 tclass=fi}le",
            "avc: denied { read } for scontext=a:b:c:s0 tclass=file",
        ] {
            assert_eq!(parse(bad).unreadable.len(), 1, "{bad}");
        }
    }
}
