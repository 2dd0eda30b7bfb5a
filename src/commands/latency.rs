//! `latency`: measure the scheduling latency of a realtime thread.

use crate::cli::LatencyArgs;
use crate::{UserError, profile};

pub(super) fn latency_cmd(
    LatencyArgs {
        duration,
        interval,
        priority,
        cpus,
        buffer,
        rate,
        histogram,
        json,
    }: LatencyArgs,
) -> anyhow::Result<i32> {
    use std::io::IsTerminal as _;
    if !(duration.is_finite() && duration > 0.0 && duration <= 86_400.0) {
        return Err(UserError(format!(
            "--duration {duration}: give seconds, more than 0 and at most a day"
        ))
        .into());
    }
    let cpus = match cpus {
        Some(list) => Some(
            profile::grammar::cpu_list(&list)
                .map_err(|p| UserError(format!("--cpus {list}: {}; {}", p.message, p.fix)))?
                .into_iter()
                .map(|c| c as usize)
                .collect(),
        ),
        None => None,
    };
    crate::latency::run(&crate::latency::Options {
        duration: std::time::Duration::from_secs_f64(duration),
        interval_us: interval,
        priority,
        cpus,
        buffer_frames: buffer,
        rate_hz: rate,
        histogram,
        json,
        progress: !json
            && crate::console::verbosity() > crate::console::Verbosity::Quiet
            && std::io::stderr().is_terminal(),
    })
}
