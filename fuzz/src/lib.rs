//! What every fuzz target asserts about a report: the user is always told
//! where and what, and printing it (text or JSON) never panics.

use rtaudio_tuning::report::{self, Report, Source};

/// Every entry names a key, and its span (when it has one) lies within the
/// text it points into; both printed forms of the report can be built.
pub fn check_report(rep: &Report, source: &Source) {
    for e in &rep.entries {
        assert!(!e.key.is_empty(), "a report entry without a key: {e:?}");
        if let Some(span) = &e.span {
            assert!(
                span.start <= span.end && span.end <= source.text.len(),
                "span {span:?} outside the text ({} bytes): {e:?}",
                source.text.len()
            );
        }
    }
    let text = report::format(rep, source);
    assert_eq!(text.is_empty(), rep.entries.is_empty());
    assert_eq!(report::json_entries(rep, source).len(), rep.entries.len());
}
