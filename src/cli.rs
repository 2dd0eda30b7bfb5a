//! Command-line types only (clap derive); `lib.rs` acts on them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "rtaudio-tuning",
    version,
    about = "One declarative profile renders a realtime audio workstation for Fedora and EL 10",
    long_about = "One declarative profile renders a realtime audio workstation: a kickstart for \
                  installs and live spins, an RPM for existing machines, an osbuild blueprint, a \
                  bootc image and plain drop-ins, all carrying the same settings.\n\n\
                  Exit codes: 0 success, 1 a check failed or an unexpected error, 2 bad input \
                  or usage, 3 a needed external tool is missing."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the default profile, with a comment on every key.
    Init {
        /// Where to write it ("-" for standard output).
        #[arg(default_value = "studio.toml")]
        path: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Render every artifact of a profile into a folder.
    Render {
        /// The profile (default: the embedded default profile).
        profile: Option<PathBuf>,
        /// The output folder; replaced whole, atomically.
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        /// Replace the folder even if its files were edited by hand or it was
        /// not written by rtaudio-tuning.
        #[arg(long)]
        force: bool,
        /// Treat warnings as errors.
        #[arg(long)]
        strict: bool,
        /// Print the result as JSON on standard output.
        #[arg(long)]
        json: bool,
    },
}
