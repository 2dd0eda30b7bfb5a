//! AVC records out of what users paste: raw audit.log lines, `ausearch -m avc`
//! output (plain or `-i`), and journal lines that carry an `avc:` record.

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

/// What reading a log found.
#[derive(Debug, Default)]
pub struct Parsed {
    pub denials: Vec<Denial>,
    /// `avc: granted` records (setenforce, setbool...): not denials, ignored.
    pub granted: usize,
    /// Lines with an `avc:` record that could not be read, with their line number.
    pub unreadable: Vec<(usize, String)>,
    /// Lines without an AVC record (other audit records, ausearch separators,
    /// unrelated log lines): ignored.
    pub other: usize,
}

/// Read every line; never fails: what is not an AVC record is counted.
pub fn parse(text: &str) -> Parsed {
    let mut out = Parsed::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let Some(at) = line.find("avc:") else {
            out.other += 1;
            continue;
        };
        let rest = line[at + 4..].trim_start();
        if rest.starts_with("granted") {
            out.granted += 1;
            continue;
        }
        match parse_record(rest) {
            Some(d) => out.denials.push(d),
            None => out
                .unreadable
                .push((i + 1, line.chars().take(200).collect())),
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
            "scontext" => scontext = Some(value),
            "tcontext" => tcontext = Some(value),
            "tclass" => tclass = Some(value),
            "permissive" => permissive = value == "1",
            _ => {}
        }
    }
    let (scontext, tcontext, tclass) = (scontext?, tcontext?, tclass?);
    let valid = |ctx: &str| ctx.split(':').count() >= 3 && is_name(context_type(ctx));
    if !valid(&scontext) || !valid(&tcontext) || !is_name(&tclass) {
        return None;
    }
    Some(Denial {
        perms,
        comm,
        scontext,
        tcontext,
        tclass,
        permissive,
    })
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `key=value` pairs; values may be double-quoted (raw logs) or bare
/// (`ausearch -i`), and a quoted value may hold spaces.
fn fields(s: &str) -> Vec<(&str, String)> {
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
                Some(end) => (q[..end].to_string(), &q[end + 1..]),
                None => (q.to_string(), ""),
            }
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
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
            "----\ntime->Mon Nov 23 10:00:00 2026\n{RAW}\n{journal}\n{interpreted}\nnonsense avc: denied {{ x\n\navc:  granted  {{ setenforce }} for pid=1\n"
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
        assert_eq!(p.other, 3);
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
