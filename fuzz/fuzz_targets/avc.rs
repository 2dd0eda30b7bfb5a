//! What `selinux from-audit` does with a log before it touches a file: read
//! the AVC records, group the denials into rules, judge each rule, and write
//! the module text. Every line is counted once, every denial lands in one
//! rule, and the module declares its name and holds only module statements
//! (a log cannot inject a line into it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtaudio_tuning::selinux::{self, audit, rules};

const NAME: &str = "fuzzlocal";

fuzz_target!(|data: &[u8]| {
    // `from-audit` reads logs lossily: process titles may not be UTF-8.
    let text = String::from_utf8_lossy(data);
    let parsed = audit::parse(&text);
    assert_eq!(
        parsed.denials.len() + parsed.granted + parsed.unreadable.len() + parsed.other,
        text.lines().count()
    );
    for d in &parsed.denials {
        assert!(!d.perms.is_empty(), "{d:?}");
        assert!(
            !d.source_type().is_empty() && !d.target_type().is_empty(),
            "{d:?}"
        );
    }

    let rules = rules::group(&parsed.denials);
    assert_eq!(
        rules.iter().map(|r| r.denials).sum::<usize>(),
        parsed.denials.len()
    );
    for r in &rules {
        assert!(!r.perms.is_empty(), "{r:?}");
        let _ = rules::danger(r);
    }
    if rules.is_empty() {
        return;
    }
    let te = rules::Module::new(NAME, "# fuzz\n", rules).te();
    assert_eq!(selinux::module_header(&te).as_deref(), Ok(NAME), "{te}");
    for line in te.lines() {
        let ok = line.is_empty()
            || line.starts_with('#')
            || line.starts_with(&format!("module {NAME} "))
            || line == "require {"
            || line == "}"
            || (line.starts_with("\ttype ") && line.ends_with(';'))
            || (line.starts_with("\tclass ") && line.ends_with("};"))
            || (line.starts_with("allow ") && line.ends_with(';'));
        assert!(ok, "a line that is no module statement: {line:?}\n{te}");
    }
});
