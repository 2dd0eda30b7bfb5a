//! Command-line types only (clap derive); `lib.rs` acts on them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// `--version`: the crate's version, and the commit of a build from git.
fn long_version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| rtaudio_tuning_build_info::long_version(env!("CARGO_PKG_VERSION")))
}

#[derive(Debug, Parser)]
#[command(
    name = "rtaudio-tuning",
    version = long_version(),
    about = "One declarative profile renders a realtime audio workstation for Fedora and EL 10",
    long_about = "One declarative profile renders a realtime audio workstation: a kickstart for \
                  installs and live spins, an RPM for existing machines, an osbuild blueprint, a \
                  bootc image and plain drop-ins, all carrying the same settings.\n\n\
                  Exit codes: 0 success, 1 a check failed or an unexpected error, 2 bad input \
                  or usage, 3 a needed external tool is missing."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after its name.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct GlobalOptions {
    /// Say only what went wrong: no progress, notes or summaries on
    /// standard error (the result on standard output stays).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more: each validator's, phase's or host's step as it ends, and
    /// the tools run.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Colour on standard error and in human reports: auto (when writing
    /// to a terminal and NO_COLOR is unset), always or never.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        value_name = "WHEN"
    )]
    pub color: ColorWhen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// The profile a command works on: the positional argument or `--profile`
/// (the same thing spelled two ways; give one). Without either, the
/// command uses `./studio.toml` when there is one (what `init` writes), else
/// the embedded default, and says which.
#[derive(Debug, Clone, clap::Args)]
pub struct ProfileArg {
    /// The profile (default: ./studio.toml when present, else the embedded
    /// default profile).
    #[arg(value_name = "PROFILE")]
    pub profile: Option<PathBuf>,
    /// The profile, spelled as an option.
    #[arg(long = "profile", value_name = "PROFILE", conflicts_with = "profile")]
    pub profile_flag: Option<PathBuf>,
}

impl ProfileArg {
    pub fn given(&self) -> Option<&std::path::Path> {
        self.profile.as_deref().or(self.profile_flag.as_deref())
    }
}

/// A rendered folder or a profile, positional, or a profile as `--profile`
/// (give one); without either, as [`ProfileArg`].
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArg {
    /// A folder written by `render`, or a profile (default: ./studio.toml
    /// when present, else the embedded default profile).
    #[arg(value_name = "DIR|PROFILE")]
    pub target: Option<PathBuf>,
    /// The profile, spelled as an option.
    #[arg(long = "profile", value_name = "PROFILE", conflicts_with = "target")]
    pub profile_flag: Option<PathBuf>,
}

impl TargetArg {
    pub fn given(&self) -> Option<&std::path::Path> {
        self.target.as_deref().or(self.profile_flag.as_deref())
    }
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
        #[command(flatten)]
        profile: ProfileArg,
        /// The output folder; replaced whole, atomically.
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        #[command(flatten)]
        write: WriteOptions,
    },
    /// Run the real validators on a rendered folder, or on a profile (rendered
    /// to a temporary folder first).
    Validate {
        #[command(flatten)]
        target: TargetArg,
        /// List the validators and what each checks.
        #[arg(long)]
        list: bool,
        /// Leave this validator out (repeat, or separate with commas).
        #[arg(long, value_name = "NAME", value_delimiter = ',')]
        skip: Vec<String>,
        /// Run only this validator (repeat, or separate with commas).
        #[arg(long, value_name = "NAME", value_delimiter = ',')]
        only: Vec<String>,
        /// Print the result as one JSON document.
        #[arg(long)]
        json: bool,
        /// Treat warnings (the profile's and the tools') as failures.
        #[arg(long)]
        strict: bool,
        /// Fail (exit 3) when a validator is unavailable because a tool is missing.
        #[arg(long)]
        require_all: bool,
        /// Run at most N validators, and N tool processes inside each, at once
        /// (default: no limit).
        #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
    },
    /// Build the noarch rtaudio-tuning RPM with rpmbuild.
    Rpm {
        #[command(flatten)]
        target: TargetArg,
        /// Where to put the package.
        #[arg(short, long, value_name = "DIR", required_unless_present = "repo")]
        output: Option<PathBuf>,
        /// Put it in a dnf repository instead (created, or updated): the new
        /// release beside the one before it, signed with [rpm] gpg_key, with a
        /// .repo file for clients when [rpm] repo_url is set.
        #[arg(long, value_name = "DIR", conflicts_with = "output")]
        repo: Option<PathBuf>,
        /// When the repository already holds this release with other content
        /// (or a newer one), build with the next release instead of refusing.
        #[arg(long, requires = "repo")]
        bump_release: bool,
        /// Treat the profile's warnings as errors.
        #[arg(long)]
        strict: bool,
        /// Print the result as JSON on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Verify a live machine (or a captured one) for realtime audio, against a
    /// profile when one is given.
    Check {
        /// Judge the machine against this profile too.
        #[arg(value_name = "PROFILE")]
        profile: Option<PathBuf>,
        /// The same, as an option; without a value: ./studio.toml when
        /// present, else the embedded default profile.
        #[arg(long = "profile", value_name = "PROFILE", conflicts_with = "profile")]
        profile_flag: Option<Option<PathBuf>>,
        /// The musician to judge (default: the user running the check).
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// Read a captured machine (a folder with proc/, sys/, etc/) instead of /.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// List the checks: id, group and what each checks.
        #[arg(long)]
        list: bool,
        /// Fail (exit 1) on warnings too: a machine that should be exactly
        /// as the profile says, or a fleet gate.
        #[arg(long)]
        strict: bool,
        /// Leave this check out, or every check of this group (repeat, or
        /// separate with commas).
        #[arg(long, value_name = "ID", value_delimiter = ',')]
        skip: Vec<String>,
        /// Run only this check, or the checks of this group (repeat, or
        /// separate with commas).
        #[arg(long, value_name = "ID", value_delimiter = ',')]
        only: Vec<String>,
        /// Print the result as JSON on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Measure scheduling latency the way cyclictest does: SCHED_FIFO threads
    /// waking at absolute times, memory locked, CPUs kept out of deep C-states.
    Latency(LatencyArgs),
    /// Boot the profile's artifacts in a VM and verify them from inside.
    VmTest {
        /// The profile: rendered, applied to the guest, and judged against.
        #[command(flatten)]
        profile: ProfileArg,
        /// Apply this rendered folder instead of rendering the profile.
        #[arg(long, value_name = "DIR")]
        tree: Option<PathBuf>,
        /// The guest's kernel (with --initrd and --rootfs; default: Debian's).
        #[arg(long, value_name = "VMLINUZ", requires_all = ["initrd", "rootfs"])]
        kernel: Option<PathBuf>,
        /// The guest's initramfs.
        #[arg(long, value_name = "INITRD", requires_all = ["kernel", "rootfs"])]
        initrd: Option<PathBuf>,
        /// The guest's root file system, a folder.
        #[arg(long, value_name = "DIR", requires_all = ["kernel", "initrd"])]
        rootfs: Option<PathBuf>,
        /// QEMU's accelerator; auto falls back to tcg within seconds.
        #[arg(long, value_enum, default_value = "auto")]
        accel: crate::vm::Accel,
        /// Give up on a guest that has not answered after this many seconds.
        #[arg(long, default_value_t = 900, value_name = "S")]
        timeout: u64,
        /// Keep the guest's disk image and serial log.
        #[arg(long)]
        keep: bool,
        /// Print the verdict as JSON on standard output.
        #[arg(long)]
        json: bool,
        /// Also write the booted guest, as `check --root` reads it, to this
        /// new folder (a fixture of a machine running the profile).
        #[arg(long, value_name = "DIR")]
        capture: Option<PathBuf>,
        /// The delivery paths to prove, one after another (repeat or separate
        /// with commas; default: every one the profile renders): rpm installs,
        /// upgrades and erases the package in the booted guest; kickstart runs
        /// the installation kickstart as Anaconda does; image-mode runs a fleet
        /// host's snippet twice on the image's files; rootfs copies the drop-ins.
        #[arg(long, value_enum, value_delimiter = ',', value_name = "PATH")]
        via: Vec<crate::vm::Via>,
    },
    /// Local SELinux policy modules.
    #[command(subcommand)]
    Selinux(SelinuxCommand),
    /// Render a room of machines from one inventory: a kickstart per host, the
    /// shared artifacts once, image-mode snippets, PXE files and index.json.
    Fleet {
        /// The inventory (TOML; see examples/fleet/room.toml).
        inventory: PathBuf,
        /// The output folder; replaced whole, atomically. Unchanged files are
        /// kept as they are.
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        /// Print only the names of the hosts whose files changed, one per line.
        #[arg(long)]
        changed_only: bool,
        /// With [rpm] repo_url: when repo/ already holds this release with
        /// other content, build the package with the next release instead of
        /// refusing (as `rpm --repo --bump-release`).
        #[arg(long)]
        bump_release: bool,
        #[command(flatten)]
        write: WriteOptions,
    },
    /// Print a shell's completion script for this command line.
    #[command(after_help = "Install one:\n  \
        bash: rtaudio-tuning completions bash > ~/.local/share/bash-completion/completions/rtaudio-tuning\n  \
        zsh:  rtaudio-tuning completions zsh > ~/.zfunc/_rtaudio-tuning  (with fpath+=~/.zfunc)\n  \
        fish: rtaudio-tuning completions fish > ~/.config/fish/completions/rtaudio-tuning.fish")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the JSON Schema of a command's --json document (without a
    /// name: the names), or write every one into a new folder.
    Schema {
        /// The document: render, fleet, validate, validate-list, rpm, check,
        /// check-list, latency, vm-test, selinux-from-audit, and profile (the
        /// profile's own schema, for editors).
        #[arg(conflicts_with = "output")]
        name: Option<String>,
        /// A new (or empty) folder for every schema, NAME.schema.json.
        #[arg(short, long, value_name = "DIR")]
        output: Option<PathBuf>,
    },
    /// Write the manual pages: rtaudio-tuning.1 and one per subcommand.
    Man {
        /// A new (or empty) folder to write them into; without it, the
        /// page of the whole command goes to standard output.
        #[arg(short, long, value_name = "DIR")]
        output: Option<PathBuf>,
    },
}

/// The agent vm-test runs inside the guest: `rtaudio-tuning vm-agent --plan
/// PLAN`. Not a command of [`Cli`], so that help, completions and manual
/// pages leave it out; `main` parses it when the first argument names it.
#[derive(Debug, Parser)]
#[command(name = "rtaudio-tuning vm-agent")]
pub struct AgentCli {
    /// The host's plan: the phases of this guest (the boot's command line
    /// names the one to run).
    #[arg(long)]
    pub plan: String,
}

/// The first argument that makes the command line the agent's.
pub const AGENT: &str = "vm-agent";

/// How `render` and `fleet` write their tree and report.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct WriteOptions {
    /// Replace the folder even if its files were edited by hand or it was
    /// not written by rtaudio-tuning.
    #[arg(long)]
    pub force: bool,
    /// Treat warnings as errors.
    #[arg(long)]
    pub strict: bool,
    /// Print the result as JSON on standard output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SelinuxCommand {
    /// Turn AVC denials (audit.log, `ausearch -m avc` output, journal lines) into
    /// a local policy module, as audit2allow would, refusing dangerous rules.
    FromAudit {
        /// The log: a file, a pipe, or "-" for standard input; at most 64 MiB
        /// are read (narrow a larger one: ausearch -m avc -ts recent).
        input: PathBuf,
        /// The module's name.
        #[arg(short, long)]
        name: String,
        /// Where to write NAME.te (default: the profile's selinux/ with --add-to,
        /// else the current folder).
        #[arg(short, long, value_name = "DIR")]
        output: Option<PathBuf>,
        /// Add the module to this profile, keeping its comments and layout.
        #[arg(long, value_name = "PROFILE")]
        add_to: Option<PathBuf>,
        /// Write rules that open security-critical access too.
        #[arg(long)]
        allow_dangerous: bool,
        /// Replace an existing NAME.te instead of merging the new rules into it.
        #[arg(long)]
        force: bool,
        /// Print the result as JSON on standard output.
        #[arg(long)]
        json: bool,
    },
}

/// `latency`'s arguments.
#[derive(Debug, clap::Args)]
pub struct LatencyArgs {
    /// How long to measure: seconds, or with cyclictest's units (90s, 5m,
    /// 2h, 1d).
    #[arg(short = 'D', long, default_value = "10", value_name = "TIME", value_parser = duration_seconds)]
    pub duration: f64,
    /// The wake-up interval, in microseconds.
    #[arg(long, default_value_t = 1000, value_name = "US")]
    pub interval: u64,
    /// SCHED_FIFO priority of the measuring threads.
    #[arg(long, default_value_t = 80, value_name = "P")]
    pub priority: i32,
    /// The CPUs to measure on (a cpu list, e.g. 2-3; default: all).
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,
    /// Judge the result against an audio period of this many frames.
    #[arg(long, value_name = "FRAMES")]
    pub buffer: Option<u32>,
    /// The sample rate of that period (default 48000).
    #[arg(long, value_name = "HZ", requires = "buffer")]
    pub rate: Option<u32>,
    /// Write a histogram (microseconds, count per CPU) to this file.
    #[arg(long, value_name = "FILE")]
    pub histogram: Option<PathBuf>,
    /// Print the result as JSON on standard output.
    #[arg(long)]
    pub json: bool,
}

/// A duration as cyclictest's `-D` takes it: a number of seconds, or one
/// with the unit `s`, `m`, `h` or `d` appended.
fn duration_seconds(v: &str) -> Result<f64, String> {
    let (number, unit) = match v.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&v[..i], c),
        _ => (v, 's'),
    };
    let scale = match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        'd' => 86_400.0,
        _ => {
            return Err(format!(
                "the unit {unit:?} is not one of s, m, h or d (e.g. 90s, 5m)"
            ));
        }
    };
    number.parse::<f64>().map(|n| n * scale).map_err(|_| {
        format!(
            "{v:?} is not a duration: give seconds, or a number with s, m, h or d (e.g. 90s, 5m)"
        )
    })
}
