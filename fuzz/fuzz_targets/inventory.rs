//! Inventory text in (its profile inline, as from standard input): the
//! validator never panics, its report is well formed, and a fleet it accepts
//! renders, one kickstart per host.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtaudio_tuning::fleet;

fuzz_target!(|data: &[u8]| {
    // `fleet::load` refuses text that is not UTF-8 before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loaded = fleet::parse_text("fuzz.toml".into(), text.to_owned(), None);
    rtaudio_tuning_fuzz::check_report(&loaded.report, &loaded.source());
    // Without a folder no profile file is read, so there is no report of its own.
    assert!(
        loaded.profile.is_none(),
        "a profile file was read without a folder"
    );
    let Some(f) = &loaded.fleet else {
        // Refused: always with a reason the user can read.
        assert!(
            loaded.report.has_errors(),
            "the inventory was refused without an error"
        );
        return;
    };
    assert!(
        !loaded.report.has_errors(),
        "a fleet was returned with errors"
    );
    assert!(f.hosts.iter().all(|h| h.variant < f.variants.len()));
    let Some(none) = rtaudio_tuning::selinux::Compiled::without_modules(f.base()) else {
        return;
    };
    let rendered = match rtaudio_tuning::render::fleet::render(f, &none) {
        Ok(r) => r,
        Err(e) => panic!("a fleet the validator accepted does not render: {e}"),
    };
    assert_eq!(rendered.hashes.len(), rendered.artifacts.len());
    for h in &f.hosts {
        let ks = rtaudio_tuning::render::fleet::kickstart_path(h);
        assert!(
            rendered.artifacts.iter().any(|a| a.path == ks),
            "host kickstart {ks} is not among the artifacts"
        );
    }
});
