//! The agent vm-test installs in the guest (`vm-agent`, hidden): it runs
//! `check` as the musician through PAM (`runuser`, so pam_limits applies as at
//! a login) and as root (what only root may read), and a short `latency` run,
//! and prints the results as one JSON line between markers on the serial
//! console, where the host reads them.

use std::io::Write as _;
use std::process::Command;

use super::{BEGIN, END, GUEST_BIN};

fn json_of(cmd: &mut Command) -> serde_json::Value {
    match crate::cmd::run(cmd) {
        Ok(o) => serde_json::from_str(&o.stdout).unwrap_or_else(|e| {
            serde_json::json!({ "error": format!("{}: not JSON ({e}): {}", crate::cmd::cmdline(cmd), o.text()) })
        }),
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    }
}

pub fn run(user: &str, profile: &str) -> anyhow::Result<i32> {
    let check = json_of(Command::new("runuser").args([
        "-u",
        user,
        "--",
        GUEST_BIN,
        "check",
        "--json",
        "--profile",
        profile,
    ]));
    let check_root = json_of(Command::new(GUEST_BIN).args([
        "check",
        "--json",
        "--user",
        user,
        "--profile",
        profile,
    ]));
    let latency = json_of(Command::new(GUEST_BIN).args(["latency", "--duration", "3", "--json"]));
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let doc = serde_json::json!({
        "check": check,
        "check_root": check_root,
        "latency": latency,
        "cmdline": cmdline.trim(),
    });
    // One line, so kernel messages on the same console cannot split it.
    let line = format!("\n{BEGIN}\n{}\n{END}\n", serde_json::to_string(&doc)?);
    let mut console = std::fs::OpenOptions::new().write(true).open("/dev/ttyS0")?;
    console.write_all(line.as_bytes())?;
    console.flush()?;
    Ok(crate::exit::OK)
}
