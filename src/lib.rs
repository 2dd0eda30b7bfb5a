//! rtaudio-tuning: one declarative profile renders a realtime audio workstation.

pub mod artifact;
pub mod check;
pub mod cli;
pub mod cmd;
pub mod commands;
pub mod console;
pub mod fleet;
pub mod jobs;
pub mod latency;
pub mod limits_conf;
pub mod load;
pub mod output;
pub mod profile;
pub mod progress;
pub mod render;
pub mod repo;
pub mod report;
pub mod rpmbuild;
pub mod selinux;
pub mod sepolicy;
pub mod text;
pub mod validate;
pub mod vm;

pub use commands::run;

/// Exit codes (DESIGN.md).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const BAD_INPUT: i32 = 2;
    pub const TOOL_MISSING: i32 = 3;
    /// Standard output or error was closed by its reader (`| head`): 128 +
    /// SIGPIPE, as for a command a SIGPIPE ended (see [`crate::console`]).
    pub const CLOSED: i32 = 141;
}

/// A needed external tool is missing: exit 3, with how to install it.
#[derive(Debug, thiserror::Error)]
#[error("unavailable: {0}")]
pub struct ToolMissing(pub String);

/// A mistake of the user's (bad arguments, a refused overwrite): exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

/// The exit code for an error that reached the top.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.downcast_ref::<console::Closed>().is_some() {
        exit::CLOSED
    } else if err.downcast_ref::<UserError>().is_some()
        || err.downcast_ref::<output::Refusal>().is_some()
    {
        exit::BAD_INPUT
    } else if err.downcast_ref::<ToolMissing>().is_some() {
        exit::TOOL_MISSING
    } else {
        exit::FAILED
    }
}
