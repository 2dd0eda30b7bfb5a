//! Strict grammars for every profile value that reaches a shell, a kickstart, a spec,
//! a TOML file or a Containerfile. Each check returns the problem and how to fix it;
//! the messages live here, in one place.

/// What is wrong with a value, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub fix: String,
}

use num_bigint::BigUint;

pub type Check = Result<(), Problem>;

fn problem(message: impl Into<String>, fix: impl Into<String>) -> Check {
    Err(Problem {
        message: message.into(),
        fix: fix.into(),
    })
}

/// Show a value in a message, with control characters escaped so that a newline
/// in a hostile value cannot forge lines of our output; a long value by its
/// head and tail, so that a message stays a line whatever the value's size.
pub fn shown(value: &str) -> String {
    crate::text::quoted(value, 200)
}

/// Profile name: names files, the image and the SELinux module.
pub fn profile_name(v: &str) -> Check {
    let ok = !v.is_empty()
        && v.len() <= 32
        && v.starts_with(|c: char| c.is_ascii_lowercase())
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        problem(
            format!("{} is not a valid profile name", shown(v)),
            "use 1 to 32 characters: a lowercase letter first, then lowercase letters, digits or '-'",
        )
    }
}

/// User and group names as shadow's useradd/groupadd accept them by default
/// (`[a-z_][a-z0-9_-]*`, at most 32 characters), without the trailing `$` of
/// Samba machine accounts.
pub fn account_name(v: &str, what: &str) -> Check {
    let ok = !v.is_empty()
        && v.len() <= 32
        && v.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        problem(
            format!("{} is not a valid {what} name", shown(v)),
            "use 1 to 32 characters: a lowercase letter or '_' first, then lowercase letters, digits, '_' or '-' (as useradd accepts)",
        )
    }
}

/// Accounts that exist on every Fedora/EL system (setup's /etc/passwd and the
/// common system users): a musician's account must not be one of them.
const SYSTEM_USERS: &[&str] = &[
    "root",
    "bin",
    "daemon",
    "adm",
    "lp",
    "sync",
    "shutdown",
    "halt",
    "mail",
    "operator",
    "games",
    "ftp",
    "nobody",
    "dbus",
    "polkitd",
    "rtkit",
    "pipewire",
    "sshd",
    "chrony",
    "tss",
    "avahi",
    "colord",
    "geoclue",
    "gdm",
    "sddm",
    "systemd-network",
    "systemd-resolve",
    "systemd-timesync",
    "systemd-coredump",
    "systemd-oom",
    "unbound",
    "dnsmasq",
    "qemu",
    "usbmuxd",
    "saslauth",
];

/// Why `name` cannot be a musician's account, if it cannot.
pub fn reserved_user(name: &str) -> Option<&'static str> {
    if name == "root" {
        Some("audio software must not run as root")
    } else if SYSTEM_USERS.contains(&name) || name.starts_with("systemd-") {
        Some("it is a system account that already exists")
    } else {
        None
    }
}

/// Groups that grant administrative power: making them the realtime group
/// would hand that power to every musician.
const PRIVILEGED_GROUPS: &[&str] = &[
    "root",
    "bin",
    "daemon",
    "sys",
    "adm",
    "tty",
    "disk",
    "lp",
    "mem",
    "kmem",
    "wheel",
    "shadow",
    "systemd-journal",
    "utmp",
    "kvm",
    "sudo",
    "input",
    "video",
    "dialout",
    "floppy",
    "cdrom",
    "tape",
];

pub fn unprivileged_group(name: &str) -> Check {
    if PRIVILEGED_GROUPS.contains(&name) {
        problem(
            format!("{} is a system group with its own privileges", shown(name)),
            "use a group of its own for realtime limits, e.g. \"realtime\"",
        )
    } else {
        Ok(())
    }
}

/// Why a kernel argument is refused: it changes how the system boots or hands
/// out root, rather than tuning the kernel.
///
/// The policy goes by families, not by a list of spellings. The name is
/// compared the way its readers compare it: the kernel treats `-` and `_` alike
/// in parameter names (Documentation/admin-guide/kernel-parameters.rst,
/// "Hyphens (dashes) and underscores are equivalent"), and so does systemd
/// (src/basic/proc-cmdline.c, `relaxed_equal_char`); an `rd.` prefix gives the
/// initrd the same switch (kernel-command-line(7): `rd.systemd.unit=`,
/// `rd.emergency`, ...; proc-cmdline.c strips it there). Names are case
/// sensitive (kernel-parameters.rst: "ALL kernel parameters ... are CASE
/// SENSITIVE").
///
/// - **Not a kernel parameter** (a capital letter): "if it doesn't recognize a
///   parameter and it doesn't contain a '.', the parameter gets passed to init:
///   parameters with '=' go into init's environment" (kernel-parameters.rst):
///   `LD_PRELOAD=`, `SYSTEMD_*=` would change what PID 1 runs.
/// - **Boot flow**: `init=`, `rdinit=`, `root=` and the other root file system
///   and resume switches, `initrd=`, `ip=`, `nfsroot=` (kernel-parameters.txt),
///   the runlevels `single`, `s`, `S`, `1`..`5`, `emergency`, `rescue`, `-b`
///   (kernel-command-line(7); proc-cmdline.c `rlmap`; `-b` and `--` never pass
///   [`karg`], whose names start with a letter or digit).
/// - **The initrd** (`rd.*`: dracut.cmdline(7) and systemd in the initrd):
///   `rd.shell`, `rd.break`, `rd.emergency`, `rd.debug`, `rd.systemd.*`, ...
///   run as root before anything else is up. Only its module lists
///   (`rd.driver.blacklist|pre|post`, `rd.modules_load`) pass.
/// - **The service manager** (`systemd.*`, kernel-command-line(7)):
///   `systemd.unit`, `systemd.wants`, `systemd.mask`, `systemd.debug_shell`,
///   `systemd.run*`, `systemd.confirm_spawn`, `systemd.crash_shell`,
///   `systemd.setenv` (every unit's environment), `systemd.set_credential`
///   (passwords), `systemd.volatile`, ... Only its CPU affinity (tuning), log
///   and status switches pass.
/// - **Security switches** (kernel-parameters.txt): `selinux`, `enforcing`,
///   `checkreqprot`, `security`, `lsm`, `apparmor`, `audit`, `lockdown`,
///   `module.sig_enforce`, `ima*`, `evm`, `efi` (its debug switches),
///   `efivar_ssdt` and `acpi_rsdp` (foreign ACPI tables), `nokaslr`,
///   `norandmaps`, `nosmap`, `nosmep`, `hardened_usercopy`,
///   `sysrq_always_enabled`, `dis_ucode_ldr`, `initcall_blacklist`, the kernel
///   debuggers (`kgdboc`, `kgdbwait`, `kgdbcon`, `kgdbdbgp`, `ekgdboc`, `kdb`),
///   and the parameters of the security modules themselves (`apparmor.*`,
///   `ima.*`, `loadpin.*`, `lockdown.*`, ...); `rodata=`, `clearcpuid=`,
///   arm64's `id_aa64*` overrides and `firmware_class.path=`.
/// - **Tracing from boot** (`ftrace*`, `trace_*`, `kprobe_event`,
///   `tp_printk`, ...): probes copy kernel memory into buffers and the log.
/// - **Module lists** (`modprobe.blacklist`, `module_blacklist`,
///   `rd.driver.blacklist`) may keep any module from loading but a security or
///   integrity one (TPM, dm-crypt, dm-verity, trusted and encrypted keys).
///
/// CPU vulnerability mitigations (`mitigations=off`, ...), control-flow
/// protection and the IOMMU are not refused: they trade protection for
/// latency or a driver, which is the studio's call; [`weakening_karg`] warns
/// about them.
pub fn forbidden_karg(arg: &str) -> Option<&'static str> {
    const BOOT: &str = "changes how the system boots (its root file system, init or target), which the installer and boot loader own";
    const RUNLEVEL: &str =
        "boots into a rescue or emergency shell or another target instead of the system";
    const INITRD: &str = "steers the initramfs (dracut, systemd in the initrd): its shells, breakpoints and units run as root before anything else is up";
    const SYSTEMD: &str = "steers the service manager (units, shells, commands, credentials, environment): systemd runs what it names as root";
    const SECURITY: &str = "turns off or weakens a security protection of the kernel (SELinux, audit, module signatures, lockdown, integrity, address randomisation)";
    const DEBUGGER: &str = "opens a kernel debugger on a console: root for anyone at that port";
    const BLACKLIST: &str = "keeps a security or integrity module (TPM, dm-crypt, dm-verity, trusted or encrypted keys) from loading";
    const SYSCTL: &str = "sets a sysctl from the kernel command line, outside the sysctl policy: put it in [sysctl], where it is checked (and where systemd-sysctl applies it)";
    const TRACING: &str = "turns on kernel tracing from boot: probes and events copy kernel memory into trace buffers and the kernel log, and cost latency";
    const ENVIRONMENT: &str = "is not a kernel parameter (they are lowercase): the kernel hands it to init (PID 1) as an environment variable or argument";
    let (raw_key, value) = arg.split_once('=').unwrap_or((arg, ""));
    let key = raw_key.replace('-', "_");
    let (initrd, name) = match key.strip_prefix("rd.") {
        Some(rest) => (true, rest),
        None => (false, key.as_str()),
    };
    // The name before the first dot: a module's (`module.param`) or a
    // program's namespace (`systemd.unit`).
    let space = name.split_once('.').map_or("", |(m, _)| m);
    match name {
        "init" | "rdinit" | "initrd" | "noinitrd" | "retain_initrd" | "root" | "rootfstype"
        | "rootflags" | "ro" | "rw" | "resume" | "resume_offset" | "resumeflags" | "noresume"
        | "hibernate" | "nfsroot" | "ip" | "BOOT_IMAGE"
        // Another /usr, root hash or fallback root: systemd's fstab- and
        // veritysetup-generators (kernel-command-line(7)), dracut's
        // rootfallback= and netroot=, the kernel's nfsaddrs= alias of ip=,
        // and ostree=, which picks the deployment an image-mode host boots.
        | "mount.usr" | "mount.usrfstype" | "mount.usrflags" | "roothash" | "usrhash"
        | "rootfallback" | "netroot" | "nfsaddrs" | "ostree"
        // systemd as PID 1 takes `container=` from its environment, which
        // unknown dot-less arguments reach (src/basic/virt.c detect_container).
        | "container" | "container_uuid" => return Some(BOOT),
        "single" | "s" | "S" | "1" | "2" | "3" | "4" | "5" | "emergency" | "rescue" => {
            return Some(RUNLEVEL);
        }
        // The same switches turning a protection on are the studio's call.
        "audit" | "selinux" | "enforcing" if value == "1" => return None,
        "module.sig_enforce" if matches!(value, "1" | "y" | "Y") => return None,
        "lockdown" if matches!(value, "integrity" | "confidentiality") => return None,
        "ima_appraise" if value == "enforce" => return None,
        "selinux"
        | "enforcing"
        | "checkreqprot"
        | "security"
        | "lsm"
        | "apparmor"
        | "audit"
        | "lockdown"
        | "module.sig_enforce"
        | "evm"
        | "integrity_audit"
        | "efi"
        | "efi_no_storage_paranoia"
        | "efivar_ssdt"
        | "acpi_rsdp"
        | "nokaslr"
        | "norandmaps"
        | "nosmap"
        | "nosmep"
        | "hardened_usercopy"
        | "sysrq_always_enabled"
        | "dis_ucode_ldr"
        | "initcall_blacklist"
        // Kernel text and read-only data writable (kernel-parameters.txt
        // `rodata=`), and CPU feature bits cleared at boot, SMAP and SMEP
        // among them (`clearcpuid=`, x86 Documentation/arch/x86/cpuinfo.rst).
        | "rodata"
        | "clearcpuid"
        // Device firmware read from another folder (firmware_class.path=,
        // admin-guide: firmware-guide/fw_search_path.rst): a device runs it,
        // with DMA to all memory.
        | "firmware_class.path" => return Some(SECURITY),
        // Another fstab or LUKS setup: systemd's fstab- and
        // cryptsetup-generators read `fstab=`, `luks=` and `luks.*`
        // (kernel-command-line(7)); the `rd.` forms are the initrd's.
        "fstab" | "luks" => return Some(BOOT),
        _ if space == "luks" => return Some(BOOT),
        // Kernel tracing from boot (kernel-parameters.txt: ftrace=,
        // trace_event=, kprobe_event=, tp_printk, ...): probes that copy
        // kernel memory into trace buffers and the log, and latency.
        _ if tracing(name) => return Some(TRACING),
        // arm64's raw ID register overrides (`id_aa64mmfr1.vh=0`,
        // arch/arm64/kernel/pi/idreg-override.c) hide CPU features from the
        // kernel, protections such as PAN and BTI among them.
        _ if name.starts_with("id_aa64")
            || name.starts_with("id_isar")
            || space == "arm64_sw" =>
        {
            return Some(SECURITY);
        }
        // Kernel addresses printed unhashed (lib/vsprintf.c
        // `no_hash_pointers`), which undoes address randomisation; FIPS mode
        // turned off on a host installed with it (crypto/fips.c `fips=`).
        "no_hash_pointers" => return Some(SECURITY),
        "hash_pointers" if value == "never" => return Some(SECURITY),
        "fips" if matches!(value, "0" | "n" | "no" | "off") => return Some(SECURITY),
        // A sysctl written into /proc/sys at boot (fs/proc/proc_sysctl.c
        // `process_sysctl_arg`): `sysctl.kernel.modprobe=` names a program
        // the kernel runs as root. Sysctls belong in [sysctl], where each is
        // held to the sysctl policy.
        _ if space == "sysctl" => return Some(SYSCTL),
        // ostree's prepare-root reads `ostree.prepare-root.*` (composefs=0
        // turns off the signed root's integrity) and any `androidboot.*`
        // picks another deployment (otcore-prepare-root.c).
        _ if space == "ostree" || space == "androidboot" => return Some(BOOT),
        // Every kgdb and kdb switch, whatever its suffix or module spelling
        // (kgdboc.kgdboc=, kgdboc_earlycon, kgdbts, kdb.cmd_enable).
        _ if name.starts_with("kgdb")
            || name.starts_with("ekgdb")
            || name == "kdb"
            || space == "kdb"
            || space == "kgdboc" =>
        {
            return Some(DEBUGGER);
        }
        "modprobe.blacklist" | "module_blacklist" | "driver.blacklist" => {
            return value
                .split(',')
                .any(|m| security_module(&m.replace('-', "_")))
                .then_some(BLACKLIST);
        }
        _ => {}
    }
    // obsolete_checksetup() (init/main.c) matches a __setup name as a prefix
    // of the token, and handlers such as disable_randmaps() ignore the rest:
    // `norandmapsx` is `norandmaps`.
    if [
        "norandmaps",
        "sysrq_always_enabled",
        "nosmap",
        "nosmep",
        "nokaslr",
    ]
    .iter()
    .any(|p| name.starts_with(p))
    {
        return Some(SECURITY);
    }
    if name.starts_with("ima_")
        || name == "ima"
        || matches!(
            space,
            "apparmor"
                | "selinux"
                | "ima"
                | "evm"
                | "integrity"
                | "lockdown"
                | "loadpin"
                | "ipe"
                | "yama"
                | "landlock"
                | "tomoyo"
                | "smack"
                | "safesetid"
                | "lsm"
        )
    {
        return Some(SECURITY);
    }
    if initrd && !matches!(name, "driver.pre" | "driver.post" | "modules_load") {
        return Some(INITRD);
    }
    if space == "systemd" && !systemd_tuning(name) {
        return Some(SYSTEMD);
    }
    if raw_key.chars().any(|c| c.is_ascii_uppercase()) {
        return Some(ENVIRONMENT);
    }
    None
}

/// Boot-time tracing switches (kernel-parameters.txt, trace/ftrace.rst,
/// trace/kprobetrace.rst, trace/boottime-trace.rst).
fn tracing(name: &str) -> bool {
    // The clock and the buffer's size turn nothing on.
    if matches!(name, "trace_clock" | "trace_buf_size") {
        return false;
    }
    name.starts_with("ftrace")
        || name.starts_with("trace_")
        || name.starts_with("stacktrace")
        || name.starts_with("tp_printk")
        || name.starts_with("traceoff_on_warning")
        || matches!(
            name,
            "kprobe_event" | "alloc_snapshot" | "trace_instance" | "dump_on_oops"
        )
}

/// How to do without a kernel argument [`forbidden_karg`] refuses: a
/// `sysctl.KEY=VALUE` moves to `[sysctl]`, where the sysctl policy holds;
/// anything else is left to a machine's admin.
pub fn forbidden_karg_fix(arg: &str) -> String {
    match arg.strip_prefix("sysctl.").and_then(|kv| kv.split_once('=')) {
        Some((key, value)) => format!(
            "move it to the profile's [sysctl] section: \"{}\" = \"{value}\"",
            sysctl_normalize(key)
        ),
        None => "remove it: this tool tunes kernels, it does not change how the system boots or lift its protections (a machine that needs it gets it by hand, with grubby)".into(),
    }
}

/// The `systemd.*` switches that tune or only log (kernel-command-line(7)):
/// the CPUs the service manager and its children run on, and its messages.
fn systemd_tuning(name: &str) -> bool {
    matches!(
        name,
        "systemd.cpu_affinity"
            | "systemd.log_level"
            | "systemd.log_target"
            | "systemd.log_color"
            | "systemd.log_location"
            | "systemd.log_time"
            | "systemd.show_status"
            | "systemd.status_unit_format"
    ) || name.starts_with("systemd.journald.")
}

/// Modules that enforce security or integrity: a TPM, disk encryption and
/// verity, the trusted and encrypted key types, and the security modules.
fn security_module(m: &str) -> bool {
    m.starts_with("tpm")
        || matches!(
            m,
            "dm_crypt"
                | "dm_verity"
                | "dm_integrity"
                | "trusted"
                | "encrypted_keys"
                | "apparmor"
                | "selinux"
                | "ima"
                | "evm"
                | "integrity"
                | "lockdown"
                | "loadpin"
                | "ipe"
                | "yama"
                | "landlock"
        )
}

/// Kernel arguments that are tuning, but trade a protection for speed: CPU
/// vulnerability mitigations (kernel-parameters.txt `mitigations=` and the
/// switches it groups) and memory hardening (`init_on_alloc`, `init_on_free`,
/// `randomize_kstack_offset`). Some studios want them off for latency; the
/// render warns.
pub fn weakening_karg(arg: &str) -> Option<&'static str> {
    let key = arg
        .split_once('=')
        .map_or(arg, |(k, _)| k)
        .replace('-', "_");
    // Control-flow protection (x86 `ibt=`, `cfi=`; arm64 `arm64.nobti`,
    // `arm64.nopauth`, `arm64.nomte`) and the IOMMU, which keeps devices
    // (Thunderbolt and USB4 audio interfaces among them) from reaching all
    // memory by DMA (kernel-parameters.txt `iommu=`, `iommu.passthrough=`,
    // `iommu.strict=`, `intel_iommu=`, `amd_iommu=`). Some drivers and
    // latency guides want them off.
    // Only the values that turn a protection off warn: `intel_iommu=on`
    // turns one on.
    let value = arg.split_once('=').map_or("", |(_, v)| v);
    let off = |v: &str| matches!(v, "off" | "0" | "n" | "no" | "N");
    let on = |v: &str| matches!(v, "on" | "1" | "y" | "yes" | "Y");
    let listed = |words: &[&str]| value.split(',').any(|w| words.contains(&w));
    // Mitigations turned off (kernel-parameters.txt, `mitigations=off` and
    // the switches it stands for), TSX turned on, memory hardening off;
    // `mitigations=auto,nosmt` or `spectre_v2=on` turn protections on.
    let mitigation = match key.as_str() {
        "nospectre_v1"
        | "nospectre_v2"
        | "nospectre_bhb"
        | "nopti"
        | "nospec_store_bypass_disable" => true,
        "tsx" => value == "on",
        "ssbd" => value == "force-off",
        "mitigations"
        | "pti"
        | "kpti"
        | "spectre_v2"
        | "spectre_v2_user"
        | "spectre_bhi"
        | "spec_store_bypass_disable"
        | "l1tf"
        | "mds"
        | "tsx_async_abort"
        | "mmio_stale_data"
        | "retbleed"
        | "srbds"
        | "gather_data_sampling"
        | "reg_file_data_sampling"
        | "spec_rstack_overflow"
        | "indirect_target_selection"
        | "tsa"
        | "vmscape"
        | "kvm.nx_huge_pages"
        | "init_on_alloc"
        | "init_on_free"
        | "randomize_kstack_offset" => listed(&["off", "0", "n", "no"]),
        _ => false,
    };
    let control_flow = match key.as_str() {
        "ibt" | "cfi" => off(value),
        "arm64.nobti" | "arm64.nopauth" | "arm64.nomte" => true,
        _ => false,
    };
    let iommu = match key.as_str() {
        "iommu" => listed(&["off", "pt", "soft"]),
        "intel_iommu" | "amd_iommu" => listed(&["off", "tboot_noforce"]),
        "iommu.passthrough" => on(value),
        "iommu.strict" => off(value),
        // Interrupt remapping keeps a device from raising interrupts it
        // should not (kernel-parameters.txt `intremap=`).
        "intremap" => off(value),
        _ => false,
    };
    if mitigation {
        Some(
            "changes CPU vulnerability mitigations or memory hardening: turned off, they buy latency by letting local programs read memory that is not theirs",
        )
    } else if control_flow {
        Some(
            "changes the kernel's control-flow protection (indirect branch tracking, CFI, pointer authentication, memory tagging): off, an exploited bug is easier to turn into code",
        )
    } else if iommu {
        Some(
            "changes the IOMMU: off or in passthrough, a device (a Thunderbolt audio interface too) can read and write all memory by DMA",
        )
    } else {
        None
    }
}

/// RPM package names (`Name:` tag rules: alphanumerics and `-._+`, not starting
/// with a separator).
pub fn package_name(v: &str) -> Check {
    let ok = !v.is_empty()
        && v.len() <= 128
        && v.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '+'));
    if ok {
        Ok(())
    } else {
        problem(
            format!("{} is not a valid package name", shown(v)),
            "use an RPM package name: letters, digits and '-', '.', '_', '+', starting with a letter or digit (no versions, globs or spaces)",
        )
    }
}

/// A package name, or a comps group `@name` / environment `@^name`, for lists that
/// only reach `%packages`, a blueprint and `dnf install`.
pub fn package_or_group(v: &str) -> Check {
    if let Some(g) = v.strip_prefix("@^").or_else(|| v.strip_prefix('@')) {
        let ok = !g.is_empty()
            && g.len() <= 128
            && g.starts_with(|c: char| c.is_ascii_alphanumeric())
            && g.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        return if ok {
            Ok(())
        } else {
            problem(
                format!("{} is not a valid package group", shown(v)),
                "write a comps group as @id or an environment as @^id, e.g. \"@audio\"",
            )
        };
    }
    package_name(v)
}

fn is_karg_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

fn is_karg_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ',' | ':' | '/' | '=' | '+' | '@')
}

/// A PipeWire node name with `*` for any text: what WirePlumber names ALSA
/// nodes (`alsa_output.pci-0000_00_1f.3.analog-stereo`), no quotes or
/// backslashes, which SPA-JSON strings would read as escapes.
pub fn alsa_node_pattern(v: &str) -> Check {
    let ok = !v.is_empty()
        && v.len() <= 128
        && v.starts_with("alsa_")
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '*'));
    if ok {
        Ok(())
    } else {
        problem(
            format!("{} is not an ALSA node name", shown(v)),
            "write the node's name as `wpctl inspect` shows it, alsa_input.* or alsa_output.*, with * for any text: letters, digits and _-.:*",
        )
    }
}

/// An ALSA hardware device as jackd opens it: `hw:CARD`, `hw:CARD,DEV` or
/// `hw:CARD,DEV,SUBDEV`, CARD a number or a card id (letters, digits, `_`).
pub fn alsa_hw_device(v: &str) -> Check {
    let ok = v.strip_prefix("hw:").is_some_and(|rest| {
        let parts: Vec<&str> = rest.split(',').collect();
        parts.len() <= 3
            && !parts[0].is_empty()
            && parts[0].len() <= 32
            && parts[0]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && parts[1..]
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
    });
    if ok {
        Ok(())
    } else {
        problem(
            format!("{} is not an ALSA hardware device", shown(v)),
            "write hw:CARD, hw:CARD,DEVICE: a card number or its id from /proc/asound/cards, e.g. \"hw:0\" or \"hw:USB\"",
        )
    }
}

/// One kernel command-line token: `key` or `key=value`, no quoting, no spaces.
/// Keys are parameter names (`module.param` allowed); values are the characters
/// real parameters use (cpu lists, `isolcpus=managed_irq,domain,2-3`,
/// `console=ttyS0,115200n8`, `root=UUID=...`).
pub fn karg(v: &str) -> Check {
    let (key, value) = match v.split_once('=') {
        Some((k, val)) => (k, Some(val)),
        None => (v, None),
    };
    let key_ok = !key.is_empty()
        && key.len() <= 64
        && key.starts_with(|c: char| c.is_ascii_alphanumeric())
        && key.chars().all(is_karg_key_char);
    let value_ok = value.is_none_or(|val| val.len() <= 256 && val.chars().all(is_karg_value_char));
    if key_ok && value_ok {
        Ok(())
    } else {
        problem(
            format!("{} is not a valid kernel argument", shown(v)),
            "write one token per list entry, `name` or `name=value`: letters, digits and _-. in the name; letters, digits and _-.,:/=+@ in the value; no spaces, quotes or newlines",
        )
    }
}

/// The key of a kernel argument (`isolcpus` of `isolcpus=2-3`), with `-` and `_`
/// treated alike as the kernel does.
pub fn karg_key(v: &str) -> String {
    v.split_once('=').map_or(v, |(k, _)| k).replace('-', "_")
}

/// The kernel keeps this many bytes of its command line, the terminating NUL
/// included, and drops the rest: COMMAND_LINE_SIZE on x86_64
/// (arch/x86/include/asm/setup.h) and arm64 (arch/arm64/include/uapi/asm/setup.h).
pub const COMMAND_LINE_SIZE: usize = 2048;

/// Room left for what the installer and boot loader put on the same line:
/// `BOOT_IMAGE=(hd0,gpt2)/vmlinuz-<release>` (about 70), `root=UUID=<36>` (46),
/// `ro`, `rootflags=subvol=root` (Fedora's btrfs), `rd.lvm.lv=` twice and
/// `rd.luks.uuid=luks-<36>` (about 130), `resume=UUID=<36>` (48),
/// `crashkernel=` (EL, about 50), `rhgb quiet`, a `console=`: some 400 bytes,
/// rounded up.
pub const INSTALLER_RESERVE: usize = 512;

/// The longest kernel command line of our own: COMMAND_LINE_SIZE without its
/// NUL, the installer's reserve and the space between the two.
pub const MAX_OWN_COMMAND_LINE: usize = COMMAND_LINE_SIZE - 1 - INSTALLER_RESERVE - 1;

/// The kernel arguments this tool adds, joined as the command line has them,
/// must fit beside the installer's.
pub fn command_line(args: &[String]) -> Check {
    let len = args.iter().map(String::len).sum::<usize>() + args.len().saturating_sub(1);
    if len <= MAX_OWN_COMMAND_LINE {
        Ok(())
    } else {
        problem(
            format!(
                "the kernel command line this profile asks for is {len} characters; at most {MAX_OWN_COMMAND_LINE} fit beside the installer's own (the kernel keeps {COMMAND_LINE_SIZE} bytes, COMMAND_LINE_SIZE, and {INSTALLER_RESERVE} are left for root=, BOOT_IMAGE=, rd.lvm.lv= and the like)"
            ),
            "drop kernel arguments, or shorten kernel.isolate_cpus with ranges (\"2-15\" rather than \"2,3,4,...\"): what does not fit is silently cut off at boot",
        )
    }
}

/// Highest CPU number accepted in a cpu list (the kernel's NR_CPUS maximum).
pub const MAX_CPU: u32 = 8191;

/// A cpu list as the kernel writes and reads them (`0-3,8,10-11`), parsed into
/// sorted, de-duplicated CPU numbers.
pub fn cpu_list(v: &str) -> Result<Vec<u32>, Problem> {
    let bad = || Problem {
        message: format!("{} is not a valid cpu list", shown(v)),
        fix: format!(
            "write CPU numbers and ranges separated by commas, e.g. \"2-3\" or \"1,3,5-7\" (CPUs 0 to {MAX_CPU}, each range low-high)"
        ),
    };
    if v.is_empty() {
        return Err(bad());
    }
    // A set of MAX_CPU + 1 flags: "0-8191" repeated 40,000 times is 8,192
    // flags, not 300 million numbers to sort.
    let mut set = vec![false; MAX_CPU as usize + 1];
    for part in v.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let num = |s: &str| -> Option<u32> {
            if s.is_empty() || s.len() > 4 || !s.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            s.parse().ok().filter(|n| *n <= MAX_CPU)
        };
        let (Some(lo), Some(hi)) = (num(lo), num(hi)) else {
            return Err(bad());
        };
        if lo > hi {
            return Err(bad());
        }
        set[lo as usize..=hi as usize].fill(true);
    }
    Ok((0..=MAX_CPU).filter(|&c| set[c as usize]).collect())
}

/// The canonical form of a cpu list (`1,2,3,5` -> `1-3,5`).
pub fn cpu_list_string(cpus: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// Top-level sysctl namespaces (`/proc/sys/*`).
const SYSCTL_ROOTS: &[&str] = &[
    "abi", "crypto", "debug", "dev", "fs", "kernel", "net", "sunrpc", "user", "vm",
];

/// A sysctl.d(5) key: `/`- or `.`-separated path under a known `/proc/sys` root.
pub fn sysctl_key(v: &str) -> Check {
    let segs: Vec<&str> = v.split(['.', '/']).collect();
    let ok = v.len() <= 128
        && segs.len() >= 2
        && SYSCTL_ROOTS.contains(&segs[0])
        && segs.iter().all(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    if ok {
        Ok(())
    } else {
        problem(
            format!("{} is not a valid sysctl key", shown(v)),
            format!(
                "use a dotted path under one of {}, e.g. \"vm.swappiness\"",
                SYSCTL_ROOTS.join(", ")
            ),
        )
    }
}

/// Where a sysctl key lives under /proc/sys, as sysctl.d(5) and systemd's
/// `sysctl_normalize()` (src/shared/sysctl-util.c) read it: when the first
/// separator is a `.`, dots and slashes swap (`net.ipv4.conf.eth0/100.rp_filter`
/// is `net/ipv4/conf/eth0.100/rp_filter`); when it is a `/`, the key is the
/// path already.
pub fn sysctl_path(key: &str) -> String {
    match key.find(['.', '/']) {
        Some(i) if key.as_bytes()[i] == b'.' => swap_separators(key),
        _ => key.to_string(),
    }
}

/// The one spelling of a sysctl key the profile keeps, compares and renders:
/// dots between names, a slash inside a name (`kernel.printk` for
/// `kernel/printk`, `net.ipv4.conf.eth0/100.rp_filter` for
/// `net/ipv4/conf/eth0.100/rp_filter`). sysctl.d(5) reads it back to the same
/// path, since a [`sysctl_key`]'s first name (its /proc/sys root) has no dot.
pub fn sysctl_normalize(key: &str) -> String {
    swap_separators(&sysctl_path(key))
}

fn swap_separators(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '.' => '/',
            '/' => '.',
            c => c,
        })
        .collect()
}

/// Why a sysctl is refused: it runs a program as root or lifts a protection,
/// rather than tuning. `key` is normalised ([`sysctl_normalize`]). From the
/// kernel's Documentation/admin-guide/sysctl/:
///
/// - kernel.rst: `modprobe` and `hotplug` (programs the kernel runs as root),
///   `poweroff_cmd` (likewise), `core_pattern` (a `|` pipes every core dump to
///   a program run as root; systemd-coredump owns the key, so it is refused
///   whatever the value), `usermodehelper.*` (the capabilities of those
///   programs), `kptr_restrict`, `dmesg_restrict`, `perf_event_paranoid`,
///   `unprivileged_bpf_disabled`, `kexec_load_disabled` and `kexec_load_limit_*`,
///   `randomize_va_space`, `sysrq` (the magic SysRq keys), `stack_erasing`,
///   `yama.*` (Documentation/admin-guide/LSM/Yama.rst), `apparmor*`;
/// - fs.rst: `suid_dumpable`, `protected_hardlinks`, `protected_symlinks`,
///   `protected_fifos`, `protected_regular`;
/// - vm.rst: `mmap_min_addr`, `mmap_rnd_bits`, `mmap_rnd_compat_bits`,
///   `unprivileged_userfaultfd`;
/// - net.rst: `core.bpf_jit_harden`, `core.bpf_jit_kallsyms`,
///   `core.bpf_jit_enable` (2 dumps JIT images to the kernel log);
///   ip-sysctl.rst: `ipv4.ip_unprivileged_port_start` (any user binds a
///   privileged port);
/// - tty: `dev.tty.ldisc_autoload`, `dev.tty.legacy_tiocsti` (typing into
///   another's terminal).
///
/// Tuning keys that realtime setups change, `kernel.sched_rt_runtime_us`,
/// `kernel.nmi_watchdog`, `kernel.timer_migration`, `vm.swappiness`, stay.
pub fn forbidden_sysctl(key: &str) -> Option<&'static str> {
    const RUNS: &str = "makes the kernel run a program as root";
    const LIFTS: &str = "lifts a protection of the kernel against local users";
    match key {
        "kernel.modprobe" | "kernel.hotplug" | "kernel.poweroff_cmd" | "kernel.core_pattern" => {
            Some(RUNS)
        }
        _ if key.starts_with("kernel.usermodehelper.") => Some(RUNS),
        // An interpreter registered here runs for every matching binary, as
        // root for setuid ones with flag C (admin-guide/binfmt-misc.rst).
        _ if key == "fs.binfmt_misc" || key.starts_with("fs.binfmt_misc.") => Some(RUNS),
        // io_uring is off by default on EL for its attack surface.
        "kernel.io_uring_disabled" => Some(LIFTS),
        "kernel.kptr_restrict"
        | "kernel.dmesg_restrict"
        | "kernel.perf_event_paranoid"
        | "kernel.unprivileged_bpf_disabled"
        | "kernel.kexec_load_disabled"
        | "kernel.randomize_va_space"
        | "kernel.sysrq"
        | "kernel.stack_erasing"
        | "fs.suid_dumpable"
        | "vm.mmap_min_addr"
        | "vm.mmap_rnd_bits"
        | "vm.mmap_rnd_compat_bits"
        | "vm.unprivileged_userfaultfd"
        | "net.core.bpf_jit_harden"
        | "net.core.bpf_jit_kallsyms"
        | "net.core.bpf_jit_enable"
        | "net.ipv4.ip_unprivileged_port_start"
        | "dev.tty.ldisc_autoload"
        | "dev.tty.legacy_tiocsti" => Some(LIFTS),
        _ if key.starts_with("fs.protected_")
            || key.starts_with("kernel.yama.")
            || key.starts_with("kernel.apparmor")
            || key.starts_with("kernel.kexec_load_limit") =>
        {
            Some(LIFTS)
        }
        _ => None,
    }
}

/// A sysctl value: a number or words of digits, letters and `_.:,/-` separated by
/// single spaces (e.g. `kernel.printk = 4 4 1 7`).
pub fn sysctl_value(v: &str) -> Check {
    let ok = !v.is_empty()
        && v.len() <= 256
        && !v.starts_with(' ')
        && !v.ends_with(' ')
        && !v.contains("  ")
        && v.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '.' | ':' | ',' | '/' | '-')
        });
    if ok {
        Ok(())
    } else {
        problem(
            format!("{} is not a valid sysctl value", shown(v)),
            "use an integer, or words of letters, digits and _.:,/- separated by single spaces",
        )
    }
}

/// A dnf/kickstart repository URL. `$releasever`, `$basearch` and `$arch` are
/// allowed because dnf and anaconda expand them; nothing else that a shell, a
/// kickstart line or a .repo file would read specially is. Exactly one URL:
/// dnf reads `baseurl` and `gpgkey` as lists split at commas and whitespace
/// (libdnf5/conf/option_string_list.cpp, delimiters `" ,\n"`, items trimmed),
/// so `A,B` would add a second mirror and a second trusted key.
pub fn repo_url(v: &str) -> Check {
    let scheme_ok = ["https://", "http://", "ftp://", "file:///"]
        .iter()
        .any(|s| v.starts_with(s) && v.len() > s.len());
    let mut rest = v;
    let mut chars_ok = true;
    while let Some(i) = rest.find('$') {
        chars_ok &= rest[..i].chars().all(is_url_char);
        let after = &rest[i + 1..];
        match ["releasever", "basearch", "arch"]
            .iter()
            .find(|var| after.starts_with(**var))
        {
            Some(var) => rest = &after[var.len()..],
            None => {
                chars_ok = false;
                rest = "";
            }
        }
    }
    chars_ok &= rest.chars().all(is_url_char);
    if scheme_ok && chars_ok && v.len() <= 512 {
        Ok(())
    } else {
        problem(
            format!("{} is not a valid repository URL", shown(v)),
            "use one http(s)://, ftp:// or file:/// URL of letters, digits and -._~:/?=&%+@ ($releasever and $basearch are allowed; no commas or spaces, which make dnf read a list), e.g. \"https://example.org/kernel-rt/fedora-$releasever-$basearch/\"",
        )
    }
}

/// An OpenPGP public key as `gpg --armor --export` writes it: one
/// `PUBLIC KEY BLOCK`, printable ASCII lines ended by LF, the body base64.
/// It is shipped as a file and written into a `.repo`'s folder, so it may
/// carry nothing else; a secret key is refused before anything copies it.
pub fn armored_public_key(text: &str) -> Check {
    const BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
    const END: &str = "-----END PGP PUBLIC KEY BLOCK-----";
    let fix = "export the public half of the signing key: gpg --armor --export FINGERPRINT > keys/studio.asc";
    if text.contains("PRIVATE KEY BLOCK") || text.contains("SECRET KEY BLOCK") {
        return problem(
            "this file holds a secret key: it would be shipped to every machine",
            format!(
                "{fix} (never --export-secret-keys), and take the secret key out of the profile's folder"
            ),
        );
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let bad_char = text
        .chars()
        .find(|c| !(c.is_ascii_graphic() || *c == ' ' || *c == '\n'));
    if let Some(c) = bad_char {
        return problem(
            format!("the key holds the character {c:?}, which armored keys never carry"),
            fix,
        );
    }
    let begin = lines.iter().position(|l| *l == BEGIN);
    let end = lines.iter().position(|l| *l == END);
    let (Some(b), Some(e)) = (begin, end) else {
        return problem("this is not an armored OpenPGP public key", fix);
    };
    let outside = lines[..b]
        .iter()
        .chain(&lines[e + 1..])
        .any(|l| !l.is_empty());
    if e < b || outside || lines.iter().filter(|l| **l == BEGIN).count() != 1 {
        return problem(
            "the file must hold exactly one armored public key block and nothing around it",
            fix,
        );
    }
    // Armor headers (`Comment: ...`), a blank line, base64, the `=` checksum.
    let body = &lines[b + 1..e];
    let data_start = body.iter().position(|l| l.is_empty()).map_or(0, |i| i + 1);
    let base64 = |l: &&str| {
        l.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
    };
    if body[data_start..].is_empty() || !body[data_start..].iter().all(base64) {
        return problem("the key block's body is not base64", fix);
    }
    Ok(())
}

/// The URL of a repository's signing key: a [`repo_url`] that nobody on the
/// network path can swap, `https://` or a local `file:///`. dnf trusts every
/// package the key signed, so a key fetched over `http://` or `ftp://` lets
/// whoever answers instead install anything as root.
pub fn gpgkey_url(v: &str) -> Check {
    untampered_url(
        v,
        "serve the signing key over https:// (or ship it and use file:///etc/pki/rpm-gpg/...)",
    )
}

/// The URL of the kernel-rt repository: a [`repo_url`] over `https://` or a
/// local `file:///`. Anaconda installs the kickstart's packages without
/// checking their signatures (pyanaconda dnf_manager.py `_create_base`:
/// `gpgcheck = False`), so during an install only the channel vouches for the
/// kernel it fetches from there.
pub fn kernel_repo_url(v: &str) -> Check {
    untampered_url(
        v,
        "serve the repository over https:// (the installer does not check package signatures), or use a local file:/// mirror",
    )
}

fn untampered_url(v: &str, fix: &str) -> Check {
    repo_url(v)?;
    if v.starts_with("https://") || v.starts_with("file:///") {
        Ok(())
    } else {
        problem(
            format!(
                "{} is fetched over a channel anyone on the way can change",
                shown(v)
            ),
            fix,
        )
    }
}

fn is_url_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '.' | '_' | '~' | ':' | '/' | '?' | '=' | '&' | '%' | '+' | '@'
        )
}

/// A crypt(3) hash as `/etc/shadow` stores it (`$id$[params$]salt$hash`):
/// never a plain-text password.
pub fn password_hash(v: &str) -> Check {
    let fields: Vec<&str> = v.split('$').collect();
    let id_ok = fields.len() >= 4
        && fields[0].is_empty()
        && ["1", "2a", "2b", "2y", "5", "6", "7", "y", "gy"].contains(&fields[1]);
    let chars_ok = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '$' | '.' | '/' | '=' | ','));
    let last_ok = fields.last().is_some_and(|h| h.len() >= 20);
    if id_ok && chars_ok && last_ok && v.len() <= 512 {
        Ok(())
    } else {
        problem(
            "password_hash is not a crypt(3) hash",
            "put a hash here, never a password: generate one with `openssl passwd -6` or `mkpasswd -m yescrypt`, or leave the key out to lock the account",
        )
    }
}

/// The key types sshd takes in authorized_keys (sshd(8), AUTHORIZED_KEYS FILE
/// FORMAT), DSA gone.
pub const SSH_KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// An OpenSSH public key line: `type base64 [comment]`, no options prefix.
/// The base64 blob is the key in the SSH wire format (RFC 4253 6.6, RFC 5656
/// 3.1, RFC 8709 4, OpenSSH PROTOCOL.u2f): its first string names its type,
/// which must be the stated one, and the fields of that type follow, each a
/// u32 big-endian length and that many bytes, nothing after them. sshd
/// ignores a line whose blob is not such a key, so the account would have no
/// way in.
pub fn ssh_key(v: &str) -> Check {
    let mut parts = v.splitn(3, ' ');
    let ty = parts.next().unwrap_or("");
    let blob = parts.next().unwrap_or("");
    let comment = parts.next().unwrap_or("");
    let ok = SSH_KEY_TYPES.contains(&ty)
        && blob.len() >= 16
        && blob
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        && comment.len() <= 256
        && comment.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || (c.is_alphanumeric() && !crate::text::is_foreign_line_break(c))
                || matches!(
                    c,
                    ' ' | '@'
                        | '.'
                        | '_'
                        | '-'
                        | '+'
                        | ':'
                        | '('
                        | ')'
                        | '\''
                        | ','
                        | '/'
                        | '='
                        | '<'
                        | '>'
                        | '#'
                )
        });
    if !ok {
        return problem(
            "not a valid OpenSSH public key",
            format!(
                "paste one public key line (`TYPE BASE64 [comment]`, TYPE one of {}); the comment may use letters, digits, spaces and @._-+:()',/=<>#",
                SSH_KEY_TYPES.join(", ")
            ),
        );
    }
    let fix = "paste the whole line of the key's .pub file (`ssh-keygen -l -f KEY.pub` checks it)";
    let Some(bytes) = base64_decode(blob) else {
        return problem(format!("the {ty} key's data is not canonical base64"), fix);
    };
    match ssh_blob_type(&bytes) {
        Ok(embedded) if embedded == ty.as_bytes() => Ok(()),
        Ok([]) => problem(format!("the {ty} key's data names no key type"), fix),
        Ok(embedded) => problem(
            format!(
                "the key's data is a {} key, but the line says {ty}",
                shown(&String::from_utf8_lossy(embedded))
            ),
            fix,
        ),
        Err(why) => problem(format!("the {ty} key's data {why}"), fix),
    }
}

/// The key type named by an SSH public key blob, after checking that the
/// fields of that type follow it with lengths that fit.
fn ssh_blob_type(blob: &[u8]) -> Result<&[u8], &'static str> {
    let mut rest = blob;
    let mut field = || ssh_string(&mut rest);
    let ty = field()?;
    let point = |curve: &[u8]| match curve {
        b"nistp256" => 65,
        b"nistp384" => 97,
        _ => 133,
    };
    match ty {
        b"ssh-ed25519" | b"sk-ssh-ed25519@openssh.com" => {
            if field()?.len() != 32 {
                return Err("does not hold a 32-byte Ed25519 key");
            }
        }
        b"ssh-rsa" => {
            let e = ssh_mpint(field()?)?;
            let n = ssh_mpint(field()?)?;
            // Fedora's and EL's sshd refuse moduli under 2048 bits: their
            // crypto-policies set `RequiredRSASize 2048` (DEFAULT.pol and
            // FIPS.pol min_rsa_size; auth2-pubkey.c sshkey_check_rsa_length),
            // and OpenSSH any over 16384 (SSHBUF_MAX_BIGNUM); no private key
            // matches an even exponent.
            if e.bits() < 2 || !e.bit(0) || !(2048..=16384).contains(&n.bits()) || !n.bit(0) {
                return Err(
                    "does not hold an RSA key of 2048 to 16384 bits (Fedora's and EL's sshd refuse smaller ones)",
                );
            }
        }
        b"ecdsa-sha2-nistp256"
        | b"ecdsa-sha2-nistp384"
        | b"ecdsa-sha2-nistp521"
        | b"sk-ecdsa-sha2-nistp256@openssh.com" => {
            let curve = field()?;
            let named = ty
                .strip_prefix(b"sk-")
                .unwrap_or(ty)
                .strip_prefix(b"ecdsa-sha2-")
                .map(|c| c.strip_suffix(b"@openssh.com").unwrap_or(c));
            let q = field()?;
            if named != Some(curve) || q.len() != point(curve) || q.first() != Some(&4) {
                return Err("does not hold a point on the curve its type names");
            }
            ec_public_point(curve, &q[1..])?;
        }
        _ => return Ok(ty),
    }
    if ty.starts_with(b"sk-") {
        // Read as a C string (sshkey_deserialize_sk, sshbuf_get_cstring):
        // empty or holding a NUL, it is refused.
        let application = field()?;
        if application.is_empty() || application.contains(&0) {
            return Err("names no application (a security key's is \"ssh:\")");
        }
    }
    if !rest.is_empty() {
        return Err("has bytes after the key");
    }
    Ok(ty)
}

/// An SSH mpint (RFC 4251 5) as OpenSSH reads it
/// (`sshbuf_get_bignum2_bytes_direct`, sshbuf-getput-crypto.c): a set top bit
/// is a negative number, which it refuses; leading zero bytes are skipped.
fn ssh_mpint(b: &[u8]) -> Result<BigUint, &'static str> {
    // Its encoded length, leading zeros included, is bounded
    // (sshbuf_get_bignum2_bytes_direct: SSHBUF_MAX_BIGNUM + 1 bytes).
    if b.len() > 16384 / 8 + 1 {
        return Err("holds a number larger than OpenSSH reads");
    }
    if b.first().is_some_and(|&d| d & 0x80 != 0) {
        return Err("holds a negative number where a key needs a positive one");
    }
    Ok(BigUint::from_bytes_be(b))
}

/// The NIST prime curves as SEC 2 defines them (`openssl ecparam -name
/// prime256v1 -param_enc explicit -text` prints the same): the field prime
/// p, the constant b of y^2 = x^3 - 3x + b, and the group order n.
const NIST_CURVES: &[(&[u8], &str, &str, &str)] = &[
    (
        b"nistp256",
        "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
        "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
        "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
    ),
    (
        b"nistp384",
        "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
        "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    ),
    (
        b"nistp521",
        "1ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "51953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00",
        "1fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
    ),
];

/// An uncompressed point `x || y` that sshd accepts as a public key: on the
/// curve (OpenSSL's `EC_POINT_oct2point`), and as OpenSSH's
/// `sshkey_ec_validate_public` (sshkey.c) wants it: x and y above half the
/// order's bits and below `n - 1`. The curves' cofactor is 1, so a point on
/// the curve has order n, which is its last check (`nQ == infinity`).
fn ec_public_point(curve: &[u8], xy: &[u8]) -> Result<(), &'static str> {
    const OFF: &str = "does not hold a point on the curve its type names";
    let Some(&(_, p, b, n)) = NIST_CURVES.iter().find(|c| c.0 == curve) else {
        return Err(OFF);
    };
    let hex = |h: &str| BigUint::parse_bytes(h.as_bytes(), 16).expect("a curve constant");
    let (p, b, n) = (hex(p), hex(b), hex(n));
    let (x, y) = xy.split_at(xy.len() / 2);
    let (x, y) = (BigUint::from_bytes_be(x), BigUint::from_bytes_be(y));
    if x >= p || y >= p {
        return Err(OFF);
    }
    // y^2 = x^3 - 3x + b (mod p), with -3x written as + 3(p - x).
    let three = BigUint::from(3u8);
    let right = (&x * &x * &x + &three * (&p - &x) + &b) % &p;
    if (&y * &y) % &p != right {
        return Err(OFF);
    }
    let half = n.bits() / 2;
    let below = &n - 1u8;
    if x.bits() <= half || y.bits() <= half || x >= below || y >= below {
        return Err(
            "holds a point OpenSSH refuses as a public key (a coordinate too small or too large)",
        );
    }
    Ok(())
}

/// The next SSH string of `rest` (a u32 big-endian length, then the bytes).
fn ssh_string<'b>(rest: &mut &'b [u8]) -> Result<&'b [u8], &'static str> {
    let (len, tail) = rest.split_first_chunk::<4>().ok_or("is cut short")?;
    let len = u32::from_be_bytes(*len) as usize;
    if len > tail.len() {
        return Err("is cut short (a length runs past its end)");
    }
    let (f, tail) = tail.split_at(len);
    *rest = tail;
    Ok(f)
}

/// Standard base64 (RFC 4648 4) as OpenSSH reads a key (its `b64_pton`):
/// whole groups of four, `=` padding only at the end, and the unused bits of
/// the last group zero.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let b = s.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return None;
    }
    let pad = b.iter().rev().take_while(|&&c| c == b'=').count();
    if pad > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    let groups = b.len() / 4;
    for (i, g) in b.chunks(4).enumerate() {
        let used = if i + 1 == groups { 4 - pad } else { 4 };
        let mut n = 0u32;
        for (j, &c) in g.iter().enumerate() {
            n = (n << 6) | if j < used { sextet(c)? } else { 0 };
        }
        let bytes = n.to_be_bytes();
        let keep = used * 6 / 8;
        // The bits past the last whole byte must be zero (canonical form).
        if used < 4 && n & (0xff_ffff >> (keep * 8)) != 0 {
            return None;
        }
        out.extend_from_slice(&bytes[1..1 + keep]);
    }
    Some(out)
}

/// An IRQ-thread match pattern: matched as a substring of the IRQ's action names
/// (`/sys/kernel/irq/N/actions`), e.g. `snd_hda_intel`, `xhci_hcd`, `snd`.
pub fn irq_match(v: &str) -> Check {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
    if ok {
        Ok(())
    } else {
        problem(
            format!("{} is not a valid IRQ match", shown(v)),
            "use part of a driver or action name as /proc/interrupts shows it (letters, digits, _-.:), e.g. \"snd_hda_intel\" or \"xhci_hcd\"",
        )
    }
}

/// An SELinux module name: it becomes a file name and a `module NAME 1.0;` line.
pub fn selinux_module_name(v: &str) -> Check {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.starts_with(|c: char| c.is_ascii_lowercase())
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok && crate::sepolicy::is_keyword(v) {
        // `module allow 1.0;` is a syntax error to checkmodule.
        problem(
            format!(
                "{} is a keyword of the policy language, not a module name",
                shown(v)
            ),
            "choose another name, e.g. with a _local suffix (\"studio_local\")",
        )
    } else if ok {
        Ok(())
    } else {
        problem(
            format!("{} is not a valid SELinux module name", shown(v)),
            "use 1 to 64 characters: a lowercase letter first, then lowercase letters, digits or '_'",
        )
    }
}

/// A path relative to the profile's folder that cannot leave it: no absolute
/// paths, no `..`, only plain file-name characters.
pub fn relative_path(v: &str, ext: &str) -> Check {
    let ok = !v.is_empty()
        && v.len() <= 255
        && !v.starts_with('/')
        && v.ends_with(ext)
        && v.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && !seg.starts_with('-')
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        });
    if ok {
        Ok(())
    } else {
        problem(
            format!("{} is not a path inside the profile's folder", shown(v)),
            format!(
                "write a relative path ending in {ext} made of folder and file names (letters, digits, _-.), without '..' or a leading '/', e.g. \"{}\"",
                if ext == ".asc" {
                    "keys/studio.asc".to_string()
                } else {
                    format!("selinux/studio_local{ext}")
                }
            ),
        )
    }
}

/// A label that `inet_aton(3)`, which getaddrinfo and the firmware's
/// resolvers follow, reads as a number: decimal, octal (`0177`) or hex
/// (`0x7f000001`). A name whose last label is one is an address in disguise
/// (`0x7f000001` is 127.0.0.1, `0x7f.1` too).
fn numeric_label(l: &str) -> bool {
    let hex = l
        .strip_prefix("0x")
        .or_else(|| l.strip_prefix("0X"))
        .is_some_and(|h| h.chars().all(|c| c.is_ascii_hexdigit()));
    hex || (!l.is_empty() && l.chars().all(|c| c.is_ascii_digit()))
}

/// A fleet host's name: its hostname (`network --hostname`) and the name of its
/// files. RFC 1123 labels, lowercase so that two hosts cannot differ only in
/// case, dot-separated, at most 64 characters (Linux's HOST_NAME_MAX). The
/// last label is not all digits: "a valid host name can never have the
/// dotted-decimal form #.#.#.#, since at least the highest-level component
/// label will be alphabetic" (RFC 1123 2.1), so `10.0.0.5` names no host.
pub fn host_name(v: &str) -> Check {
    if v.rsplit('.').next().is_some_and(numeric_label) {
        return problem(
            format!("{} is a number or an address, not a host name", shown(v)),
            "give the machine a name with a letter in its last label, e.g. \"studio-07\"; its address goes in [host.network]",
        );
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if v.len() <= 64 && v.split('.').all(label_ok) {
        Ok(())
    } else {
        problem(
            format!("{} is not a valid host name", shown(v)),
            "use at most 64 characters: lowercase letters, digits and '-' (not first or last), in labels separated by '.', e.g. \"studio-07\"",
        )
    }
}

/// An Ethernet MAC address, `52:54:00:12:34:56` (or with '-'), normalised to
/// lowercase with ':'.
pub fn mac_address(v: &str) -> Result<String, Problem> {
    let parts: Vec<&str> = v.split([':', '-']).collect();
    let same_sep = !(v.contains(':') && v.contains('-'));
    if same_sep
        && parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
    {
        let mac = parts.join(":").to_ascii_lowercase();
        if mac == "00:00:00:00:00:00" {
            return Err(Problem {
                message: format!("{} is the null address, not a machine's", shown(v)),
                fix: "copy the address of the machine's network card from `ip link` (link/ether)"
                    .into(),
            });
        }
        // The group bit: a multicast address (ff:ff:ff:ff:ff:ff, the
        // broadcast, included) is never a machine's own.
        if u8::from_str_radix(&mac[..2], 16).is_ok_and(|b| b & 1 == 1) {
            return Err(Problem {
                message: format!("{} is a multicast address, not a machine's", shown(v)),
                fix: "copy the address of the machine's network card from `ip link` (link/ether)"
                    .into(),
            });
        }
        Ok(mac)
    } else {
        Err(Problem {
            message: format!("{} is not a MAC address", shown(v)),
            fix: "write six pairs of hex digits separated by ':', e.g. \"52:54:00:12:34:56\" (`ip link` shows it)".into(),
        })
    }
}

/// An install disk as anaconda's `ignoredisk --only-use` takes it: a kernel
/// device name (`sda`, `nvme0n1`) or a stable `disk/by-id|by-path/...` name.
pub fn install_disk(v: &str) -> Check {
    let kernel_name = !v.is_empty()
        && v.len() <= 32
        && v.starts_with(|c: char| c.is_ascii_lowercase())
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let stable = ["disk/by-id/", "disk/by-path/"].iter().any(|p| {
        v.strip_prefix(p).is_some_and(|rest| {
            !rest.is_empty()
                && rest.len() <= 200
                && !rest.starts_with('.')
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '+'))
        })
    });
    if kernel_name || stable {
        Ok(())
    } else {
        problem(
            format!("{} is not an install disk name", shown(v)),
            "write a kernel device name (\"sda\", \"nvme0n1\") or \"disk/by-id/NAME\" as `ls /dev/disk/by-id` shows it",
        )
    }
}

/// A URL that PXE firmware, iPXE, GRUB and pxelinux read as it is:
/// `http(s)://HOST[:PORT]/PATH` with letters, digits and `._~-/` only (iPXE
/// expands `${...}`; `$`, `&`, `;`, quotes and spaces are GRUB syntax). HOST is
/// a DNS name or an IPv4 address a machine can be reached at; PORT, when
/// given, is 1 to 65535 (RFC 3986 3.2: `http://:/` names no server).
pub fn plain_http_url(v: &str) -> Check {
    let rest = v
        .strip_prefix("http://")
        .or_else(|| v.strip_prefix("https://"));
    let chars_ok = v.len() <= 512
        && rest.is_some_and(|r| {
            r.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | ':' | '/' | '-')
            })
        });
    let authority = rest.map_or("", |r| r.split('/').next().unwrap_or(""));
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.chars().all(|c| c.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n))
    });
    let host_ok = if host
        .split('.')
        .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_digit()))
    {
        // Dotted digits are an address: one a machine can be reached at.
        ipv4(host).is_ok_and(|a| unusable_ipv4(a).is_none())
    } else {
        // A name, not a number in another spelling (RFC 1123 2.1: its last
        // label is not numeric).
        !host.rsplit('.').next().is_some_and(numeric_label)
            && host.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
    };
    if chars_ok && port_ok && host_ok {
        Ok(())
    } else {
        problem(
            format!("{} is not a plain http(s) URL", shown(v)),
            "write http://HOST[:PORT]/PATH with letters, digits and ._~-/ only (no $ variables, query, user or spaces; HOST a name or an address machines reach, PORT 1 to 65535): PXE firmware and GRUB read it as it is",
        )
    }
}

/// An IPv4 address, dotted quad.
pub fn ipv4(v: &str) -> Result<std::net::Ipv4Addr, Problem> {
    v.parse().map_err(|_| Problem {
        message: format!("{} is not an IPv4 address", shown(v)),
        fix: "write four numbers from 0 to 255 separated by dots, e.g. \"10.0.0.1\"".into(),
    })
}

/// Why an IPv4 address is no machine's on a network (RFC 6890's special-purpose
/// registry): "this network" `0.0.0.0/8` (`0.0.0.0` included), loopback
/// `127.0.0.0/8`, link-local `169.254.0.0/16` (assigned by the link itself,
/// never in an inventory), multicast `224.0.0.0/4`, reserved `240.0.0.0/4`
/// and the limited broadcast `255.255.255.255`.
pub fn unusable_ipv4(a: std::net::Ipv4Addr) -> Option<&'static str> {
    if a.is_broadcast() {
        Some("the limited broadcast address")
    } else if a.octets()[0] == 0 {
        Some("in 0.0.0.0/8, \"this network\", which no machine is reached at")
    } else if a.is_loopback() {
        Some("a loopback address: every machine is its own 127.0.0.1")
    } else if a.is_link_local() {
        Some("a link-local address, which a machine picks for itself when no one gives it one")
    } else if a.is_multicast() {
        Some("a multicast address, for groups, not for one machine")
    } else if a.octets()[0] >= 240 {
        Some("in 240.0.0.0/4, reserved and not routed")
    } else {
        None
    }
}

/// An IPv4 address with its prefix length, `10.0.0.21/24`.
pub fn ipv4_cidr(v: &str) -> Result<(std::net::Ipv4Addr, u8), Problem> {
    let bad = || Problem {
        message: format!("{} is not an IPv4 address with a prefix length", shown(v)),
        fix: "write the address and the network's prefix length, e.g. \"10.0.0.21/24\"".into(),
    };
    let (a, p) = v.split_once('/').ok_or_else(bad)?;
    let addr = a.parse().map_err(|_| bad())?;
    let prefix: u8 = p.parse().map_err(|_| bad())?;
    if !(1..=32).contains(&prefix) || p.starts_with('0') {
        return Err(bad());
    }
    Ok((addr, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_giving_switches_found_by_review_are_refused() {
        for k in [
            "norandmapsx",
            "sysrq_always_enabledx",
            "kgdboc.kgdboc=kms,kbd",
            "kgdboc_earlycon",
            "kgdbts=V1F100",
            "kdb.cmd_enable=1",
            "mount.usr=/dev/sdb1",
            "roothash=abc",
            "rootfallback=/dev/sdb1",
            "netroot=nfs:10.0.0.1:/x",
            "nfsaddrs=dhcp",
            "ostree=/ostree/boot.1/x",
            "container=other",
        ] {
            assert!(forbidden_karg(k).is_some(), "{k}");
        }
        assert!(forbidden_sysctl("fs.binfmt_misc.register").is_some());
        assert!(forbidden_karg("threadirqs").is_none());
        assert!(forbidden_karg("nosoftlockup").is_none());
    }

    #[test]
    fn account_names() {
        assert!(account_name("musician", "user").is_ok());
        assert!(account_name("_pw", "user").is_ok());
        for bad in [
            "bob;reboot",
            "Bob",
            "1abc",
            "",
            "a b",
            "x$",
            &"a".repeat(33),
        ] {
            assert!(account_name(bad, "user").is_err(), "{bad}");
        }
    }

    #[test]
    fn kernel_args() {
        for good in [
            "threadirqs",
            "preempt=full",
            "isolcpus=managed_irq,domain,2-3",
            "console=ttyS0,115200n8",
            "amd_pstate=passive",
            "root=UUID=0a1b-2c",
            "rd.driver.blacklist=nouveau",
        ] {
            assert!(karg(good).is_ok(), "{good}");
        }
        for bad in [
            "quiet\nfoo",
            "a b",
            "x=\"y\"",
            "$(reboot)",
            "=x",
            "a;b",
            "x=`id`",
            "",
        ] {
            assert!(karg(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kernel_arguments_that_hand_out_root() {
        for bad in [
            "init=/bin/sh",
            "rdinit=/bin/sh",
            "S",
            "s",
            "single",
            "1",
            "3",
            "emergency",
            "rescue",
            "rd.emergency",
            "rd.rescue",
            "rd.shell",
            "rd.break",
            "rd.break=pre-mount",
            "rd.debug",
            "rd.systemd.unit=emergency.target",
            "rd.systemd-unit=x",
            "systemd.unit=rescue.target",
            "systemd.wants=debug-shell.service",
            "rd.systemd.wants=x",
            "systemd.debug_shell",
            "systemd.debug-shell=ttyS0",
            "rd.systemd.debug_shell",
            "systemd.mask=auditd.service",
            "systemd.run=/bin/sh",
            "systemd.run_success_action=none",
            "rd.systemd.run=x",
            "systemd.confirm_spawn",
            "systemd.crash_shell",
            "systemd.setenv=LD_PRELOAD=/x.so",
            "systemd.set_credential=passwd.plaintext-password.root:x",
            "selinux=0",
            "enforcing=0",
            "security=none",
            "lsm=capability",
            "apparmor=0",
            "apparmor.enabled=0",
            "audit=0",
            "module.sig_enforce=0",
            "module.sig-enforce=n",
            "lockdown=none",
            "ima_appraise=off",
            "ima_policy=tcb",
            "ima.ahash_minsize=1",
            "evm=fix",
            "efi=debug",
            "efivar_ssdt=x",
            "nokaslr",
            "norandmaps",
            "sysrq_always_enabled",
            "sysrq-always-enabled",
            "kgdboc=ttyS0",
            "kgdbwait",
            "initcall_blacklist=selinux_init",
            "modprobe.blacklist=nouveau,tpm_tis",
            "module_blacklist=dm-crypt",
            "rd.driver.blacklist=dm_verity",
            "LD_PRELOAD=/tmp/x.so",
            "SYSTEMD_PROC_CMDLINE=x",
            "INIT=/bin/sh",
            "BOOT_IMAGE=x",
            "root=/dev/sda1",
            "rodata=off",
            "clearcpuid=smap,smep",
            "id_aa64mmfr1.vh=0",
            "id_aa64pfr1.bt=0",
            "firmware_class.path=/home/x",
            "firmware-class.path=/home/x",
            "fstab=no",
            "rd.fstab=no",
            "luks=no",
            "luks.uuid=x",
            "luks.key=/x",
            "ftrace=function",
            "ftrace_dump_on_oops",
            "trace_event=sched:*",
            "trace_options=sym-addr",
            "tp_printk",
            "kprobe_event=p,vfs_read",
            "traceoff_on_warning",
            "stacktrace",
            "stacktrace_filter=vfs_read",
            // Found by review: sysctls from the command line, arm64's raw
            // switch overrides, unhashed pointers, FIPS off, ostree's root.
            "sysctl.kernel.modprobe=/home/musician/x",
            "sysctl.vm.swappiness=10",
            "sysctl.kernel/yama/ptrace_scope=0",
            "arm64_sw.nokaslr=1",
            "arm64_sw.rodataoff=1",
            "no_hash_pointers",
            "hash_pointers=never",
            "fips=0",
            "ostree.prepare-root.composefs=0",
            "androidboot.slot_suffix=_b",
        ] {
            assert!(forbidden_karg(bad).is_some(), "{bad}");
        }
        for good in [
            "threadirqs",
            "preempt=full",
            "nosoftlockup",
            "skew_tick=1",
            "irqaffinity=0-1",
            "console=ttyS0,115200n8",
            "modprobe.blacklist=nouveau",
            "rd.driver.blacklist=nouveau",
            "rd.driver.pre=snd_usb_audio",
            "systemd.cpu_affinity=0-1",
            "snd_hda_intel.power_save=0",
            "usbcore.autosuspend=-1",
            "mitigations=off",
            "imaginary=1",
            "quiet",
            // Protections turned on, and tracing switches that turn nothing on.
            "audit=1",
            "selinux=1",
            "enforcing=1",
            "module.sig_enforce=1",
            "lockdown=integrity",
            "ima_appraise=enforce",
            "fips=1",
            "hash_pointers=always",
            "trace_clock=global",
            "trace_buf_size=1M",
        ] {
            assert!(forbidden_karg(good).is_none(), "{good}");
        }
        assert!(weakening_karg("mitigations=off").is_some());
        assert!(weakening_karg("nospectre-v2").is_some());
        assert!(weakening_karg("threadirqs").is_none());
        for weak in [
            "ibt=off",
            "cfi=off",
            "arm64.nobti",
            "arm64.nopauth",
            "arm64.nomte",
            "iommu=off",
            "iommu=pt",
            "intel_iommu=off",
            "amd_iommu=off",
            "intel_iommu=on,tboot_noforce",
            "iommu.passthrough=1",
            "iommu.strict=0",
        ] {
            assert!(forbidden_karg(weak).is_none(), "{weak}");
            assert!(weakening_karg(weak).is_some(), "{weak}");
        }
        assert_eq!(
            forbidden_karg_fix("sysctl.kernel/yama/ptrace_scope=0"),
            "move it to the profile's [sysctl] section: \"kernel.yama.ptrace_scope\" = \"0\""
        );
        assert!(forbidden_karg_fix("init=/bin/sh").starts_with("remove it"));
        for weak in [
            "indirect_target_selection=off",
            "tsa=off",
            "vmscape=off",
            "kvm.nx_huge_pages=off",
            "intremap=off",
            "tsx=on",
            "init_on_free=0",
        ] {
            assert!(weakening_karg(weak).is_some(), "{weak}");
        }
        for strong in [
            "mitigations=auto,nosmt",
            "spectre_v2=on",
            "pti=on",
            "l1tf=full,force",
            "init_on_alloc=1",
            "randomize_kstack_offset=on",
            "tsx=off",
            "intel_iommu=on",
            "amd_iommu=on",
            "iommu=force",
            "iommu.strict=1",
            "iommu.passthrough=0",
            "ibt=warn",
            "cfi=kcfi",
        ] {
            assert!(weakening_karg(strong).is_none(), "{strong}");
        }
    }

    #[test]
    fn command_line_length() {
        let arg = format!("x={}", "a".repeat(248));
        assert!(command_line(&vec![arg.clone(); 6]).is_ok());
        let err = command_line(&vec![arg; 7]).unwrap_err();
        assert!(err.message.contains("1756 characters"), "{}", err.message);
        assert!(err.message.contains("at most 1534"), "{}", err.message);
    }

    #[test]
    fn sysctl_keys_have_one_spelling() {
        assert_eq!(sysctl_path("kernel.printk"), "kernel/printk");
        assert_eq!(sysctl_path("kernel/printk"), "kernel/printk");
        assert_eq!(
            sysctl_path("net.ipv4.conf.eth0/100.rp_filter"),
            "net/ipv4/conf/eth0.100/rp_filter"
        );
        assert_eq!(
            sysctl_normalize("net/ipv4/conf/eth0.100/rp_filter"),
            "net.ipv4.conf.eth0/100.rp_filter"
        );
        assert_eq!(sysctl_normalize("vm/swappiness"), "vm.swappiness");
        assert_eq!(
            forbidden_sysctl("kernel.core_pattern"),
            forbidden_sysctl(&sysctl_normalize("kernel/core_pattern"))
        );
        for bad in [
            "kernel.modprobe",
            "kernel.core_pattern",
            "kernel.yama.ptrace_scope",
            "fs.suid_dumpable",
            "fs.protected_symlinks",
            "kernel.usermodehelper.bset",
            "vm.mmap_min_addr",
        ] {
            assert!(forbidden_sysctl(bad).is_some(), "{bad}");
        }
        assert!(forbidden_sysctl("kernel.sched_rt_runtime_us").is_none());
        assert!(forbidden_sysctl("vm.swappiness").is_none());
    }

    #[test]
    fn ssh_key_blobs() {
        // The public half of a real ssh-keygen -t ed25519 key, and the same
        // blob said to be another type.
        let ed = "AAAAC3NzaC1lZDI1NTE5AAAAINLr1vnNYXpZ5XYIyd7svm3MvsgHVBtif696iNVDiEN7";
        assert!(ssh_key(&format!("ssh-ed25519 {ed} me@studio")).is_ok());
        assert!(ssh_key(&format!("ssh-rsa {ed}")).is_err());
        assert!(ssh_key("ssh-ed25519 AAAAAAAAAAAAAAAA").is_err());
        // Cut short, padded wrongly, trailing bits set.
        assert!(ssh_key(&format!("ssh-ed25519 {}", &ed[..40])).is_err());
        assert!(ssh_key(&format!("ssh-ed25519 {ed}=")).is_err());
        // Real ssh-keygen keys (2048-bit RSA, the three NIST curves) with
        // comments of the characters people put there; a 1024-bit one, which
        // Fedora's crypto-policies refuse (RequiredRSASize 2048).
        let rsa1024 = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDs2suSPTdvngOzeZsoM4aWdxiOwIlMRKMPa3IdmQUnbwa3Qwl8pYHYvrMLmgweT6ekQLM0Rg7JqvKaQm4owNKf8X1ZQVqfwv1hoiWft/FLQfAm2ctft2WsYjYkMMhCmelFDZVmPw1YWeLnIplfzkkEZSr6IAWmYnaItrFDlq3OKQ==";
        assert!(ssh_key(rsa1024).unwrap_err().message.contains("2048"));
        let comment = "Jane's laptop (studio, A/B=1) <jane@example.com> jörg #2";
        for key in [
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCwRgf4HHAQGBT4/K5EtUu4rEwKK7+3g0YIlBUrRRadvXD5ElhuLQfNk978ivntAztVaCbVMgLeCBIYEzOJGPytTvduvcsO0zvc9bfkg1wMPn/ykHXnbHmQB+rTYCPpykFuc5CNf9NCo8e0ax2i3OJrijpRAgD6GrPhR/DcLMpBYK09iB/Gv4Nf8lKMoqEOF+QFDOPlwTNELc4nEs+x2QO5RzifXPeYRJaZ/DmYy7hlmyOQrPZVHsSkihCSItj26VYnCkCZNWv3MvMmSWc7Ec+c7rGLG2qg8yBohbuEHWm/AJoR/NousZ8LxKPEWKeR/Gy7agiasi7Am+9GWgwK8bzv",
            "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBI/qsnAl9YIzLHJ/v9oAM2jeAbmoxv0eAugnEEpMWVF8O1Q+PjW+wdfHkob5rrs3+BJMXoZdRJQEOuXcw3+vJ1w=",
            "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBP95zhOmHwNnZMDtO6Ri2XLpMu0E/gDgff9vG8U3O4y33vFKc8nu0MJWbJWtSgy599kkEpi8ssa0/Ew+7jS5LY3Au4wpVz338S1rBCIo3rRUf88QY7W3DUXahRyotBQ/VA==",
            "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAGNH3CdmYgXkWe2pJxI9UfmVprJ91VjEXceuJgz+nuDCvOqajRuX9g791PVdf0jejjUCa10X7dXycGdy2LRnAWUuAB/SCVbM5Ku/PgmsRLqoKMucdQTWWoSnuGY3HaVpPPVvpp7b6EUgkRvYxC8BHgRiiZGzW/kqQx+YwudkJ4kYIvbCw==",
        ] {
            assert_eq!(ssh_key(&format!("{key} {comment}")), Ok(()), "{key}");
        }
        // What sshd refuses: the P-256 point with y's last bit flipped (off
        // the curve), the RSA modulus without its sign byte (negative), a
        // 768-bit modulus (openssl genrsa 768), an even exponent.
        for (bad, why) in [
            (
                "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBI/qsnAl9YIzLHJ/v9oAM2jeAbmoxv0eAugnEEpMWVF8O1Q+PjW+wdfHkob5rrs3+BJMXoZdRJQEOuXcw3+vJ10=",
                "curve",
            ),
            (
                "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgOzay5I9N2+eA7N5mygzhpZ3GI7AiUxEow9rch2ZBSdvBrdDCXylgdi+swuaDB5Pp6RAszRGDsmq8ppCbijA0p/xfVlBWp/C/WGiJZ+38UtB8CbZy1+3ZaxiNiQwyEKZ6UUNlWY/DVhZ4ucimV/OSQRlKvogBaZidoi2sUOWrc4p",
                "negative",
            ),
            (
                "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAYQCuKSR++IzhRx/jt+pmKeRkFRpvPLNvNmL7R3Dw1dTvRx5etVq20FPvjXme2R8CpLCtBYBrMPUnWvqXvclZNMp9gYB5RlCR6CpGIlWqEo3jz4UTKwtFI9ZuF5FY86ITu70=",
                "2048",
            ),
            (
                "ssh-rsa AAAAB3NzaC1yc2EAAAADAQAAAAAAgQDs2suSPTdvngOzeZsoM4aWdxiOwIlMRKMPa3IdmQUnbwa3Qwl8pYHYvrMLmgweT6ekQLM0Rg7JqvKaQm4owNKf8X1ZQVqfwv1hoiWft/FLQfAm2ctft2WsYjYkMMhCmelFDZVmPw1YWeLnIplfzkkEZSr6IAWmYnaItrFDlq3OKQ==",
                "2048",
            ),
        ] {
            let e = ssh_key(bad).unwrap_err();
            assert!(e.message.contains(why), "{bad}: {}", e.message);
        }
        // The point at x = 0 is not on P-256; small coordinates are refused
        // even where a point exists.
        assert!(ec_public_point(b"nistp256", &[0; 64]).is_err());
        for bad_comment in ["a\"b", "a\\b", "a`id`", "a$HOME", "a;b"] {
            assert!(
                ssh_key(&format!("ssh-ed25519 {ed} {bad_comment}")).is_err(),
                "{bad_comment}"
            );
        }
        assert_eq!(base64_decode("TWE="), Some(b"Ma".to_vec()));
        assert_eq!(base64_decode("TWF="), None);
        assert_eq!(base64_decode("TQ=="), Some(b"M".to_vec()));
        assert_eq!(base64_decode("T==="), None);
        assert_eq!(base64_decode("TW=E"), None);
    }

    #[test]
    fn addresses_machines_are_reached_at() {
        for bad in [
            "0.0.0.0",
            "0.0.0.7",
            "127.0.0.1",
            "169.254.1.1",
            "224.0.0.1",
            "239.1.1.1",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(unusable_ipv4(bad.parse().unwrap()).is_some(), "{bad}");
        }
        assert!(unusable_ipv4("10.0.0.1".parse().unwrap()).is_none());
        assert!(mac_address("00:00:00:00:00:00").is_err());
        assert!(mac_address("ff:ff:ff:ff:ff:ff").is_err());
        assert!(host_name("10.0.0.5").is_err());
        assert!(host_name("42").is_err());
        assert!(host_name("studio-01.lab").is_ok());
        assert!(host_name("0x7f000001").is_err());
        assert!(host_name("studio.0x1").is_err());
        assert!(host_name("studio-0x1").is_ok());
        for bad in [
            "http://0x7f000001/x",
            "http://0X7F000001/x",
            "http://0x7f.1/x",
            "http://0177.0.0.1/x",
            "http://2130706433/x",
            "http://127.1/x",
            "http://pxe.lab.0x0/x",
            "http://:/",
            "http:///x",
            "http://x:/",
            "http://x:0/",
            "http://x:65536/",
            "http://0.0.0.0/x",
            "http://127.0.0.1/x",
            "http://1.2.3/x",
            "http://-x/",
            "http://a..b/",
        ] {
            assert!(plain_http_url(bad).is_err(), "{bad}");
        }
        for good in [
            "http://10.0.0.1/fleet",
            "http://pxe.lab:8080/x",
            "http://0xcafe.lab/x",
            "https://x",
        ] {
            assert!(plain_http_url(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn one_url_each() {
        assert!(repo_url("https://a.example/x,https://b.example/y").is_err());
        assert!(repo_url("https://a.example/x https://b.example/y").is_err());
    }

    #[test]
    fn cpu_lists() {
        // Found by the fuzzing work: ranges were expanded before duplicates
        // went, so this 280 KB list took 60 s and 1.3 GB.
        let huge = vec!["0-8191"; 40_000].join(",");
        assert_eq!(cpu_list(&huge).unwrap().len(), MAX_CPU as usize + 1);
        assert_eq!(cpu_list("2-3").unwrap(), vec![2, 3]);
        assert_eq!(cpu_list("5,1-2,2").unwrap(), vec![1, 2, 5]);
        assert_eq!(cpu_list_string(&[1, 2, 3, 5, 7, 8]), "1-3,5,7-8");
        for bad in ["", "3-1", "a", "1,,2", "-1", "1-", "99999", "1 2"] {
            assert!(cpu_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sysctl_grammar() {
        assert!(sysctl_key("vm.swappiness").is_ok());
        assert!(sysctl_key("net/ipv4/conf/eth0/rp_filter").is_ok());
        assert!(sysctl_key("kernel.sched_rt_runtime_us").is_ok());
        for bad in ["swappiness", "vm..x", "foo.bar", "vm.x;y", "vm.x y"] {
            assert!(sysctl_key(bad).is_err(), "{bad}");
        }
        assert!(sysctl_value("-1").is_ok());
        assert!(sysctl_value("4 4 1 7").is_ok());
        for bad in ["", "1\n2", "a;b", " 1", "$(x)"] {
            assert!(sysctl_value(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_armored_public_key_and_nothing_else() {
        let key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQGNBGsWQQ0BDADLynny+/=\n=ab12\n-----END PGP PUBLIC KEY BLOCK-----\n";
        assert!(armored_public_key(key).is_ok());
        let with_header = key.replace("BLOCK-----\n\n", "BLOCK-----\nComment: studio\n\n");
        assert!(armored_public_key(&with_header).is_ok());
        for bad in [
            String::new(),
            "not a key\n".to_string(),
            key.replace("PUBLIC", "PRIVATE"),
            key.replace("\n=ab12", "\r\n=ab12"),
            key.replace("mQGN", "mQ GN;rm"),
            format!("{key}{key}"),
            format!("echo hi\n{key}"),
            key.replace("-----END PGP PUBLIC KEY BLOCK-----\n", ""),
            key.replace("mQGN", "m\u{2028}QGN"),
        ] {
            assert!(armored_public_key(&bad).is_err(), "{bad:?}");
        }
        let secret = armored_public_key(&key.replace("PUBLIC", "PRIVATE")).unwrap_err();
        assert!(secret.message.contains("secret key"), "{}", secret.message);
    }

    #[test]
    fn repo_urls() {
        assert!(repo_url("https://example.org/rt/fedora-$releasever-$basearch/").is_ok());
        assert!(repo_url("http://mirror.example/rt/").is_ok());
        assert!(gpgkey_url("https://example.org/RPM-GPG-KEY").is_ok());
        assert!(gpgkey_url("file:///etc/pki/rpm-gpg/RPM-GPG-KEY-rt").is_ok());
        for bad in [
            "http://example.org/KEY",
            "ftp://example.org/KEY",
            "https://a/K,https://b/K",
        ] {
            assert!(gpgkey_url(bad).is_err(), "{bad}");
        }
        assert!(repo_url("file:///srv/repo").is_ok());
        for bad in [
            "example.org",
            "https://x/$(id)",
            "https://a b",
            "https://x/\"",
            "https://",
        ] {
            assert!(repo_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_stay_inside() {
        assert!(relative_path("selinux/x.te", ".te").is_ok());
        for bad in [
            "/etc/x.te",
            "../x.te",
            "a/../../x.te",
            "x.txt",
            "a//x.te",
            "-x.te",
        ] {
            assert!(relative_path(bad, ".te").is_err(), "{bad}");
        }
    }

    #[test]
    fn hashes_and_keys() {
        assert!(password_hash("$6$saltsalt$WmQ5Z1Yx0Zs2q3v4w5x6y7z8A9B0C1D2E3F4G5H6I7J8K9L0M1N2O3P4Q5R6S7T8U9V0W1X2Y3Z4a5b6c7d8e9f0").is_ok());
        assert!(password_hash("hunter2").is_err());
        assert!(ssh_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDn7 me@studio").is_err());
        assert!(ssh_key("command=\"x\" ssh-ed25519 AAAA").is_err());
        assert!(package_or_group("@audio").is_ok());
        assert!(package_or_group("@^workstation-product-environment").is_ok());
        assert!(package_or_group("kernel-rt;rm").is_err());
    }
}
