//! Profile text in: the validator never panics, its report is well formed,
//! and a profile it accepts renders.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtaudio_tuning::{profile, render};

fuzz_target!(|data: &[u8]| {
    // `profile::load` refuses text that is not UTF-8 before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loaded = profile::parse_text("fuzz.toml".into(), text.to_owned(), None);
    rtaudio_tuning_fuzz::check_report(&loaded.report, &loaded.source());
    if let Some(p) = &loaded.profile {
        assert!(
            !loaded.report.has_errors(),
            "a profile was returned with errors"
        );
        // Without a folder, a profile names no module files it could read.
        let Some(none) = rtaudio_tuning::selinux::Compiled::without_modules(p) else {
            return;
        };
        if let Err(e) = render::render_all(p, &none) {
            panic!("a profile the validator accepted does not render: {e}");
        }
    }
});
