//! The /proc, /sys and /etc parsers of `check`. The whole input goes to each
//! parser, so that a seed of one kind (a /proc/interrupts, an /etc/passwd)
//! also reaches the others; for pam_limits it is split into files at form
//! feeds. The users asked about are `musician`, `root` and the first field of
//! the first lines, so that passwd and group seeds name a user they hold;
//! the first lines are also kernel releases.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtaudio_tuning::check::parse;
use rtaudio_tuning::profile::grammar;

fuzz_target!(|data: &[u8]| {
    // `check` reads every file as bytes, lossily.
    let text = String::from_utf8_lossy(data);

    for line in parse::interrupts(&text) {
        assert!(!line.irq.is_empty() && line.irq.bytes().all(|b| b.is_ascii_digit()));
        assert!(line.devices.iter().all(|d| !d.is_empty()), "{line:?}");
    }

    let mut users = vec!["musician", "root"];
    users.extend(text.lines().take(8).filter_map(|l| l.split(':').next()));
    let files: Vec<(String, String)> = text
        .split('\u{c}')
        .enumerate()
        .map(|(i, t)| (format!("limits.d/{i}.conf"), t.to_string()))
        .collect();
    for user in users {
        let ids = parse::passwd_user(&text, user);
        if let Some((uid, _)) = ids {
            // The line that gave the uid has that uid: its name is found.
            assert!(
                parse::passwd_name(&text, uid).is_some(),
                "uid {uid} of {user:?}"
            );
        }
        let groups = parse::user_groups(&text, user, ids.map(|(_, gid)| gid));
        for (i, g) in groups.iter().enumerate() {
            assert!(!groups[..i].contains(g), "group {g} twice");
        }
        let who = rtaudio_tuning::limits_conf::Member {
            name: user,
            uid: ids.map(|(uid, _)| uid),
            gid: ids.map(|(_, gid)| gid),
            groups: &groups,
            gids: &[],
        };
        let limits = parse::Limits::new(&files, &who);
        for l in limits.soft.values().chain(limits.hard.values()) {
            let digits = l.value.strip_prefix('-').unwrap_or(&l.value);
            assert!(
                l.value == "unlimited"
                    || (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())),
                "limit value {:?}",
                l.value
            );
            parse::limit_number(&l.value);
        }
    }

    if let Some((comm, _policy, _priority)) = parse::proc_stat(&text) {
        assert!(text.contains(comm.as_str()));
    }

    for (k, v) in parse::key_values(&text) {
        assert!(!k.contains(['=', '\n', '\0']), "key {k:?}");
        assert!(!v.contains(['\n', '\0']), "value {v:?}");
    }

    // A release that is accepted may name a file beneath /boot, and only that.
    for release in text.lines().take(16) {
        if let Ok(r) = parse::kernel_release(release) {
            assert!(r.len() <= parse::RELEASE_MAX && r != "." && r != "..");
            assert!(!r.contains(['/', '\0', '\n']), "release {r:?}");
        }
    }

    for list in std::iter::once(text.as_ref()).chain(text.lines().take(16)) {
        if let Some(cpus) = parse::cpu_list(list) {
            assert!(cpus.windows(2).all(|w| w[0] < w[1]), "not sorted: {list:?}");
            assert!(cpus.iter().all(|c| *c <= grammar::MAX_CPU));
            // Its canonical form reads back as the same CPUs.
            let canonical = grammar::cpu_list_string(&cpus);
            assert_eq!(
                parse::cpu_list(&canonical),
                Some(cpus),
                "{list:?} -> {canonical:?}"
            );
        }
    }
});
