//! Denials grouped into allow rules as audit2allow groups them (by source type,
//! target type, `self` when both are equal, and class, merging permissions),
//! rules that would open security-critical access refused with a reason, and
//! the module written as a standalone .te.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::audit::Denial;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub source: String,
    /// The target type, or `self` when it is the source type.
    pub target: String,
    pub class: String,
    pub perms: BTreeSet<String>,
    /// How many denials the rule answers, and which commands caused them.
    pub denials: usize,
    pub comms: BTreeSet<String>,
    /// `source_user -> target_user` where a denial crossed SELinux users
    /// (neither `system_u`): refpolicy's UBAC constraint may be what denied it.
    pub cross_users: BTreeSet<String>,
    /// The comment lines above the rule in a module being merged into, as
    /// they were written there.
    pub kept: Vec<String>,
}

impl Rule {
    pub fn statement(&self) -> String {
        let perms: Vec<&str> = self.perms.iter().map(String::as_str).collect();
        let perms = if perms.len() == 1 {
            perms[0].to_string()
        } else {
            format!("{{ {} }}", perms.join(" "))
        };
        format!(
            "allow {} {}:{} {perms};",
            self.source, self.target, self.class
        )
    }
}

/// Denials gathered into rules one at a time, so a long log needs memory for
/// its rules, not its lines.
#[derive(Default)]
pub struct Grouper {
    rules: BTreeMap<(String, String, String), Rule>,
}

impl Grouper {
    pub fn add(&mut self, d: &Denial) {
        let source = d.source_type();
        let target = if d.target_type() == source {
            "self"
        } else {
            d.target_type()
        };
        let key = (source.to_string(), target.to_string(), d.tclass.clone());
        let rule = self
            .rules
            .entry(key)
            .or_insert_with_key(|(s, t, c)| Rule::new(s.clone(), t.clone(), c.clone()));
        // Copies only what is new: a long log repeats the same denials.
        for p in &d.perms {
            if !rule.perms.contains(p) {
                rule.perms.insert(p.clone());
            }
        }
        rule.denials += 1;
        if let Some(c) = &d.comm
            && !rule.comms.contains(c)
        {
            rule.comms.insert(c.clone());
        }
        let su = d.scontext.split(':').next().unwrap_or("");
        let tu = d.tcontext.split(':').next().unwrap_or("");
        if su != tu && su != "system_u" && tu != "system_u" && !su.is_empty() && !tu.is_empty() {
            rule.cross_users.insert(format!("{su} -> {tu}"));
        }
    }

    pub fn rules(self) -> Vec<Rule> {
        self.rules.into_values().collect()
    }
}

impl Rule {
    fn new(source: String, target: String, class: String) -> Rule {
        Rule {
            source,
            target,
            class,
            perms: BTreeSet::new(),
            denials: 0,
            comms: BTreeSet::new(),
            cross_users: BTreeSet::new(),
            kept: Vec::new(),
        }
    }

    fn key(&self) -> (&str, &str, &str) {
        (&self.source, &self.target, &self.class)
    }
}

pub fn group(denials: &[Denial]) -> Vec<Rule> {
    let mut g = Grouper::default();
    for d in denials {
        g.add(d);
    }
    g.rules()
}

/// Which part of the policy ([`danger`]) refused a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Names,
    Secrets,
    KernelControl,
    Capabilities,
    Processes,
    Programs,
    Devices,
    Writes,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Names => "names",
            Part::Secrets => "secrets",
            Part::KernelControl => "kernel control",
            Part::Capabilities => "capabilities",
            Part::Processes => "processes",
            Part::Programs => "programs",
            Part::Devices => "devices",
            Part::Writes => "writes",
        }
    }
}

/// A rule the policy refuses: the part that refused it and why, in words
/// that name the type, class or permission at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub part: Part,
    pub reason: String,
}

fn refuse(part: Part, reason: String) -> Option<Refusal> {
    Some(Refusal { part, reason })
}

/// Why a name in a rule is not one concrete type, if it is not. A kernel's
/// denial names the types of the two contexts it compared, never an
/// attribute; so a rule may only use a name that is a type. With no policy to
/// ask, a type is known by the names both policies give: every type ends in
/// `_t` (refpolicy's and Fedora's naming convention) and is not one of their
/// attributes ([`crate::sepolicy::is_attribute`]).
fn not_one_type(name: &str) -> Option<&'static str> {
    if crate::sepolicy::is_attribute(name) {
        Some(
            "is an attribute, a set of types: the rule would cover every type in it, `shadow_t` and the SELinux policy's own files included",
        )
    } else if !name.ends_with("_t") {
        Some(
            "is not a type name (types end in `_t`): it may be an attribute, which covers many types",
        )
    } else {
        None
    }
}

/// Types no rule may touch at all: passwords, keys and the SELinux policy.
const SECRETS: &[(&str, &str)] = &[
    ("shadow_t", "holds the password hashes (/etc/shadow)"),
    (
        "security_t",
        "is the SELinux policy interface (/sys/fs/selinux)",
    ),
    ("selinux_config_t", "holds the SELinux configuration"),
    ("policy_config_t", "holds the SELinux policy"),
    ("policy_src_t", "holds the SELinux policy's sources"),
    ("default_context_t", "holds SELinux default contexts"),
    ("file_context_t", "holds SELinux file contexts"),
    ("semanage_store_t", "is the SELinux policy store"),
    (
        "load_policy_exec_t",
        "is the program that loads SELinux policy",
    ),
    ("setfiles_exec_t", "is the program that relabels files"),
    (
        "semanage_exec_t",
        "is the program that changes the SELinux policy",
    ),
    ("krb5_keytab_t", "holds Kerberos service keys (keytabs)"),
    (
        "krb5kdc_principal_t",
        "holds the Kerberos principal database",
    ),
    ("sshd_key_t", "holds the SSH host keys"),
    ("ssh_home_t", "holds users' SSH keys (~/.ssh)"),
    (
        "ssh_agent_tmp_t",
        "is the SSH agent's socket, which signs with the user's keys",
    ),
    ("gpg_secret_t", "holds users' GnuPG keys"),
    (
        "gpg_agent_tmp_t",
        "is the GnuPG agent's socket, which signs with the user's keys",
    ),
    (
        "home_cert_t",
        "holds users' certificates and their private keys (~/.pki)",
    ),
    (
        "xauth_home_t",
        "holds X authority cookies (~/.Xauthority), the key to the user's display",
    ),
    ("iceauth_home_t", "holds ICE authority cookies"),
    ("auth_cache_t", "holds cached logins"),
    (
        "systemd_passwd_var_run_t",
        "is where systemd asks for passwords (disk encryption keys)",
    ),
];

/// Why `t` is a secret ([`SECRETS`], or a name that says so), if it is.
fn secret(t: &str) -> Option<&'static str> {
    if let Some((_, why)) = SECRETS.iter().find(|(s, _)| *s == t) {
        return Some(why);
    }
    if t.starts_with("semanage_") || t.starts_with("selinux_") {
        return Some("belongs to the SELinux policy's store or configuration");
    }
    let stem = t.strip_suffix("_t").unwrap_or(t);
    if stem.ends_with("_key")
        || stem.ends_with("_keys")
        || ["shadow", "keytab", "secret", "_key_", "_keys_"]
            .iter()
            .any(|w| stem.contains(w))
    {
        return Some("holds, by its name, keys, secrets or password hashes");
    }
    None
}

/// The kernel's own domain and its memory: no rule may touch them.
const KERNEL_TYPES: &[(&str, &str)] = &[
    ("kernel_t", "is the kernel's own domain"),
    (
        "memory_device_t",
        "is /dev/mem, /dev/kmem and /dev/port: the machine's physical memory",
    ),
    ("proc_kcore_t", "is the kernel's memory (/proc/kcore)"),
    ("proc_kmsg_t", "is the kernel's log (/proc/kmsg)"),
    (
        "debugfs_t",
        "is the kernel's debugging filesystem (/sys/kernel/debug)",
    ),
    ("tracefs_t", "is the kernel's tracing filesystem"),
];

/// Classes that control the kernel or the whole system, refused entirely.
const KERNEL_CLASSES: &[(&str, &str)] = &[
    (
        "system",
        "loads kernel modules, firmware and kexec images, reads and clears the kernel log, and halts, reboots and controls systemd",
    ),
    (
        "security",
        "controls the SELinux policy: loading it, its mode, its booleans",
    ),
    (
        "kernel_service",
        "lets kernel services act with another domain's context",
    ),
    ("bpf", "loads and runs BPF programs in the kernel"),
    ("perf_event", "profiles the kernel and other processes"),
    (
        "lockdown",
        "is kernel lockdown: what even root may not do to the running kernel",
    ),
    (
        "memprotect",
        "maps memory at address zero, the classic kernel NULL-pointer exploit",
    ),
    (
        "passwd",
        "changes other users' passwords, shells and crontabs, or skips authentication (pam_rootok)",
    ),
    (
        "service",
        "starts, stops, enables and disables systemd units",
    ),
];

/// Single permissions of other classes that control the kernel.
const KERNEL_PERMS: &[(&str, &str, &str)] = &[
    (
        "netlink_audit_socket",
        "nlmsg_write",
        "changes the audit rules or turns auditing off",
    ),
    (
        "netlink_audit_socket",
        "nlmsg_readpriv",
        "reads the audit configuration",
    ),
    (
        "netlink_audit_socket",
        "nlmsg_tty_audit",
        "changes what the audit system records of terminals",
    ),
    ("filesystem", "mount", "mounts a filesystem"),
    ("filesystem", "remount", "remounts a filesystem"),
    ("filesystem", "unmount", "unmounts a filesystem"),
    ("filesystem", "relabelfrom", "relabels a filesystem"),
    ("filesystem", "relabelto", "relabels a filesystem"),
    ("filesystem", "quotamod", "changes disk quotas"),
    (
        "io_uring",
        "override_creds",
        "runs I/O with another process's credentials",
    ),
    (
        "user_namespace",
        "create",
        "makes user namespaces, which open to any process kernel interfaces otherwise kept for root",
    ),
];

const CAP_CLASSES: &[&str] = &["capability", "capability2", "cap_userns", "cap2_userns"];

/// The capabilities an audio program may need.
pub const CAPS_ALLOWED: &[&str] = &[
    // SCHED_FIFO/SCHED_RR and priorities above RLIMIT_RTPRIO.
    "sys_nice",
    // mlock()/mlockall() beyond RLIMIT_MEMLOCK: buffers kept out of swap.
    "ipc_lock",
    // Limits raised past their hard limit (RLIMIT_RTPRIO, RLIMIT_RTTIME,
    // RLIMIT_MEMLOCK), as rtkit and `jackd -R` as root do.
    "sys_resource",
    // CLOCK_REALTIME_ALARM/CLOCK_BOOTTIME_ALARM timers: a scheduled recording.
    "wake_alarm",
    // EPOLLWAKEUP: the machine kept awake while it records or plays.
    "block_suspend",
];

/// What the other capabilities give, for the reason a rule is refused.
const CAPS_REFUSED: &[(&str, &str)] = &[
    ("chown", "changes any file's owner"),
    ("dac_override", "bypasses every file permission"),
    ("dac_read_search", "reads any file and folder"),
    ("fowner", "acts as the owner of any file"),
    ("fsetid", "keeps set-user-ID bits on changed files"),
    ("kill", "signals any user's processes"),
    ("setgid", "becomes any group"),
    ("setuid", "becomes any user, root included"),
    ("setpcap", "hands capabilities on"),
    ("linux_immutable", "clears immutable and append-only flags"),
    ("net_bind_service", "binds privileged ports"),
    ("net_broadcast", "broadcasts and listens to multicast"),
    ("net_admin", "reconfigures the network and the firewall"),
    ("net_raw", "reads and forges raw network traffic"),
    (
        "ipc_owner",
        "bypasses the permissions of shared memory and semaphores",
    ),
    ("sys_module", "loads kernel modules"),
    ("sys_rawio", "does raw I/O to disks, memory and ports"),
    ("sys_chroot", "changes its root folder"),
    ("sys_ptrace", "traces any process"),
    ("sys_pacct", "configures process accounting"),
    (
        "sys_admin",
        "holds most of root's powers (mounts, namespaces, devices)",
    ),
    ("sys_boot", "reboots the machine and loads new kernels"),
    ("sys_time", "sets the system clock"),
    ("sys_tty_config", "configures terminals"),
    ("mknod", "creates device nodes (raw disks, memory)"),
    ("lease", "takes leases on any file"),
    ("audit_write", "writes records into the audit log"),
    ("audit_control", "changes the audit rules"),
    ("setfcap", "gives programs file capabilities"),
    ("mac_override", "overrides the mandatory access control"),
    ("mac_admin", "changes the SELinux policy's labels"),
    ("syslog", "reads and clears the kernel log"),
    ("audit_read", "reads the audit log as it is written"),
    ("perfmon", "profiles the kernel and other processes"),
    ("bpf", "loads BPF programs"),
    ("checkpoint_restore", "restores processes with chosen IDs"),
];

/// Process permissions an audio program may need, on any process.
const PROCESS_ALLOWED: &[&str] = &[
    "fork",
    "sigchld",
    "sigkill",
    "sigstop",
    "signull",
    "signal",
    "getsched",
    "setsched",
    "getsession",
    "getpgid",
    "setpgid",
    "getcap",
    "setcap",
    "getattr",
    "getrlimit",
    "setrlimit",
    "setfscreate",
    "setsockcreate",
    "setkeycreate",
];

/// Process permissions that enter a domain or shape what runs there:
/// allowed only within the source's own family.
const PROCESS_TRANSITIONS: &[&str] = &[
    "transition",
    "dyntransition",
    "share",
    "siginh",
    "rlimitinh",
    "noatsecure",
    "nnp_transition",
    "nosuid_transition",
];

/// Process permissions refused on every target, and why.
const PROCESS_REFUSED: &[(&str, &str)] = &[
    ("setexec", "chooses the domain its next program runs in"),
    ("setcurrent", "changes its own domain while it runs"),
    (
        "execmem",
        "maps memory both writable and executable: data it was sent becomes code, past the policy's control of which files run",
    ),
    (
        "execstack",
        "makes its stack executable: data it was sent becomes code",
    ),
    (
        "execheap",
        "makes its heap executable: data it was sent becomes code",
    ),
];

/// Process permissions on PID 1 that are read-only.
const INIT_READS: &[&str] = &[
    "sigchld",
    "signull",
    "getattr",
    "getsched",
    "getpgid",
    "getsession",
    "getcap",
    "getrlimit",
];

/// Domains that run unconfined or as an administrator: never entered,
/// family or not. Exact names, then parts of names.
const ADMIN_DOMAINS: &[&str] = &[
    "unconfined_t",
    "unconfined_service_t",
    "initrc_t",
    "init_t",
    "kernel_t",
    "sysadm_t",
    "secadm_t",
    "auditadm_t",
    "dbadm_t",
    "logadm_t",
    "webadm_t",
    "rpm_t",
    "rpm_script_t",
    "dpkg_t",
    "dpkg_script_t",
    "setfiles_t",
    "load_policy_t",
    "semanage_t",
    "insmod_t",
    "mount_t",
    "useradd_t",
    "groupadd_t",
    "passwd_t",
    "chkpwd_t",
    "newrole_t",
    "run_init_t",
    "local_login_t",
    "sshd_t",
    "su_t",
    "sudo_t",
    "bootloader_t",
    "fsadm_t",
    "lvm_t",
];
const ADMIN_PARTS: &[&str] = &["unconfined", "sudo", "_su_", "adm_", "_admin"];

fn admin_domain(t: &str) -> bool {
    let name = format!("_{t}");
    ADMIN_DOMAINS.contains(&t) || ADMIN_PARTS.iter().any(|p| name.contains(p))
}

/// Classes whose objects are files, folders and links (access_vectors'
/// `common file`); `chr_file` and `blk_file` are [`Part::Devices`]'.
const FILE_CLASSES: &[&str] = &["file", "dir", "lnk_file", "sock_file", "fifo_file"];

/// Permissions that change a file, a folder or what it holds or is.
pub const WRITES: &[&str] = &[
    "write",
    "append",
    "create",
    "unlink",
    "link",
    "rename",
    "setattr",
    "relabelfrom",
    "relabelto",
    "add_name",
    "remove_name",
    "reparent",
    "rmdir",
    "mounton",
    "swapon",
    "quotaon",
];

/// Types any program may change: its user's data, temporary and runtime
/// files (refpolicy's and Fedora's names).
const USER_TYPES: &[(&str, &str)] = &[
    ("user_home_dir_t", "the user's home folder itself"),
    ("user_home_t", "files in the user's home"),
    (
        "user_tmp_t",
        "the user's temporary and runtime files (/run/user/UID on Fedora)",
    ),
    ("user_tmpfs_t", "the user's shared memory (/dev/shm)"),
    (
        "user_runtime_t",
        "the user's runtime files (/run/user/UID on refpolicy)",
    ),
    ("tmp_t", "/tmp and /var/tmp"),
    ("tmpfs_t", "tmpfs mounts such as /dev/shm"),
    ("sound_device_t", "/dev/snd, the sound devices' folder"),
    ("config_home_t", "~/.config"),
    ("cache_home_t", "~/.cache"),
    ("data_home_t", "~/.local/share"),
    ("xdg_config_t", "~/.config (refpolicy)"),
    ("xdg_cache_t", "~/.cache (refpolicy)"),
    ("xdg_data_t", "~/.local/share (refpolicy)"),
    ("xdg_music_t", "~/Music"),
    ("xdg_documents_t", "~/Documents"),
    ("audio_home_t", "audio settings in the home"),
    ("alsa_home_t", "~/.asoundrc"),
    ("gstreamer_home_t", "GStreamer's registry cache"),
];

/// System types, named for the reason a write to them is refused, also
/// when their name looks like the source's own (`passwd_t` and
/// `passwd_file_t`).
const SYSTEM_TYPES: &[(&str, &str)] = &[
    (
        "passwd_file_t",
        "/etc/passwd and /etc/group, the user accounts",
    ),
    ("etc_t", "/etc, the system's configuration"),
    ("etc_runtime_t", "configuration the system writes into /etc"),
    ("bin_t", "the system's programs (/usr/bin)"),
    ("sbin_t", "the system's programs (/usr/sbin)"),
    ("lib_t", "the system's libraries (/usr/lib)"),
    ("ld_so_t", "the dynamic loader, which every program runs"),
    ("ld_so_cache_t", "the dynamic loader's cache"),
    ("textrel_shlib_t", "system libraries"),
    ("usr_t", "/usr"),
    ("boot_t", "/boot, the kernel and the boot loader"),
    (
        "systemd_unit_file_t",
        "systemd's unit files, which run as root",
    ),
    ("root_t", "the root folder"),
    ("home_root_t", "/home itself"),
    ("home_bin_t", "~/bin, programs the user runs"),
    ("default_t", "files the policy has no label for"),
    ("var_t", "/var"),
    ("var_lib_t", "/var/lib, the system services' state"),
    ("var_log_t", "/var/log, the system's logs"),
    ("var_run_t", "/run, the system's runtime files"),
    ("auditd_log_t", "the audit log"),
    ("modules_object_t", "kernel modules"),
    ("modules_conf_t", "modprobe's configuration"),
    ("proc_t", "the kernel's state (/proc)"),
    ("sysfs_t", "the kernel's devices and settings (/sys)"),
    ("cgroup_t", "the control groups' settings"),
    ("device_t", "/dev"),
    ("cert_t", "the trusted certificates"),
    ("cron_spool_t", "cron jobs"),
    ("system_cron_spool_t", "the system's cron jobs"),
];

/// What a system type is, for a message: a named one, or one known by its
/// name's ending.
fn system_type(t: &str) -> Option<&'static str> {
    if let Some((_, what)) = SYSTEM_TYPES.iter().find(|(s, _)| *s == t) {
        return Some(what);
    }
    if t.ends_with("_exec_t") {
        Some("a program's file")
    } else if t.starts_with("sysctl_") {
        Some("a kernel setting (/proc/sys)")
    } else if t.ends_with("_unit_file_t") {
        Some("systemd unit files, which run as root")
    } else if t.ends_with("_log_t") {
        Some("a log")
    } else if t.ends_with("_conf_t") || t.ends_with("_etc_t") {
        Some("a configuration")
    } else {
        None
    }
}

/// Device types an audio program may open: sound, MIDI and video devices,
/// the GPU its interface draws with, USB and input devices (interfaces and
/// controllers), terminals, clocks and the null, zero and random devices.
pub const DEVICES: &[&str] = &[
    "sound_device_t",
    "null_device_t",
    "zero_device_t",
    "random_device_t",
    "urandom_device_t",
    "dri_device_t",
    "usb_device_t",
    "usbtty_device_t",
    "event_device_t",
    "mouse_device_t",
    "v4l_device_t",
    "clock_device_t",
    "devtty_t",
    "devpts_t",
    "user_devpts_t",
    "ptmx_t",
];

/// What some refused device types are, for the reason.
const DEVICES_REFUSED: &[(&str, &str)] = &[
    (
        "fixed_disk_device_t",
        "a disk: every file on it, past every permission",
    ),
    (
        "removable_device_t",
        "a removable disk: every file on it, past every permission",
    ),
    ("scsi_generic_device_t", "raw SCSI commands to disks"),
    ("kmsg_device_t", "the kernel log (/dev/kmsg)"),
    ("cpu_device_t", "the CPUs' registers and microcode"),
    ("tty_device_t", "consoles and serial lines"),
    ("console_device_t", "the system console"),
    ("tpm_device_t", "the TPM, which holds keys"),
    ("kvm_device_t", "virtual machines"),
    (
        "loop_control_device_t",
        "loop devices: files mounted as disks",
    ),
    ("fuse_device_t", "FUSE: filesystems served by a process"),
    ("device_t", "a device node without a label of its own"),
];

/// Whether `perm` on a device node changes the node itself (udev's work),
/// or runs it: the [`WRITES`] but reading and writing the device.
fn changes_the_node(perm: &str) -> bool {
    (WRITES.contains(&perm) && !matches!(perm, "write" | "append"))
        || matches!(perm, "execute" | "execute_no_trans")
}

/// Whether `target` is of `source`'s family: a type named after it
/// (`jackd_t` -> `jackd_tmp_t`), not its program (`jackd_exec_t`).
fn family(source: &str, target: &str) -> bool {
    let stem = source.strip_suffix("_t").unwrap_or(source);
    target == source
        || (target
            .strip_prefix(stem)
            .and_then(|rest| rest.strip_prefix('_'))
            .is_some_and(|rest| rest.len() > 2 && rest.ends_with("_t"))
            && !target.ends_with("_exec_t"))
}

/// `a`, `b` and `c`.
fn listed(perms: &[&str]) -> String {
    let q: Vec<String> = perms.iter().map(|p| format!("`{p}`")).collect();
    joined(&q)
}

/// The verb for one permission or more.
fn lets(perms: &[&str]) -> &'static str {
    if perms.len() == 1 { "lets" } else { "let" }
}

/// a, b and c.
fn joined(items: &[String]) -> String {
    match items.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Why a rule must not be written without `--allow-dangerous`, if it must
/// not: the from-audit policy.
///
/// A local module may only give an audio program (jackd, PipeWire,
/// WirePlumber, rtkit, a DAW) what such a program needs, so the policy
/// decides from the rule's shape (source, target, class, permissions), not
/// from a list of known bad rules. Class and permission names are those of
/// refpolicy's `policy/flask/access_vectors` (SELinuxProject/refpolicy,
/// 65b9b1f0) and Fedora's (fedora-selinux/selinux-policy, fd1d9962, which
/// adds `swapon` to `common file`). The parts, in the order they are asked;
/// the first that refuses names itself in the reason:
///
/// - **names**: source and target are each one type (ending in `_t`, no
///   attribute): an attribute covers every type in it.
/// - **kernel control**: no access to the kernel's domain and memory
///   ([`KERNEL_TYPES`]: `kernel_t`, `memory_device_t`, `/proc/kcore`); the
///   classes `system` (module_load, syslog_*, reboot, ...), `security`,
///   `kernel_service`, `bpf`, `perf_event`, `lockdown`, `memprotect`,
///   `passwd` and `service` refused whole, each for the reason
///   [`KERNEL_CLASSES`] gives; `load_policy`, `setenforce`, `setbool` in any
///   class; mounting and relabelling filesystems, the audit rules
///   (`netlink_audit_socket` `nlmsg_write`), io_uring's `override_creds` and
///   `user_namespace` `create` ([`KERNEL_PERMS`]).
/// - **secrets**: no access at all to password, key and SELinux policy types
///   ([`SECRETS`]; `semanage_*`, `selinux_*`, names holding `shadow`,
///   `secret`, `keytab` or ending in `_key_t`); no `key` class (kernel
///   keyrings) on another domain's keys.
/// - **capabilities** (`capability`, `capability2`, `cap_userns`,
///   `cap2_userns`): only [`CAPS_ALLOWED`] (`sys_nice`, `ipc_lock`,
///   `sys_resource`, `wake_alarm`, `block_suspend`), and only on `self`: the
///   kernel checks a capability against the process's own type, so a rule
///   naming another target is no kernel's denial.
/// - **processes** (`process`, `process2`): only [`PROCESS_ALLOWED`]
///   (signals, scheduling, process groups, limits, reading attributes) on any
///   process but PID 1 (`init_t`: only reading and `sigchld`); `ptrace` only
///   of its own domain; domain changes ([`PROCESS_TRANSITIONS`]:
///   `transition`, `dyntransition`, `noatsecure`, ...) only into its own
///   family (`jackd_t` -> `jackd_*_t`), never into an administrator's or
///   unconfined domain ([`ADMIN_DOMAINS`], names with `sudo`, `unconfined`,
///   `adm_`); `setexec`, `setcurrent`, and `execmem`, `execstack`, `execheap`
///   (memory both writable and executable turns data into code, past the
///   policy's control of which files run) never.
/// - **programs**: no `entrypoint` (files made a way into a domain); no
///   `execute_no_trans` of another domain's program (`*_exec_t` not its
///   own); no `execmod` (text relocations: executable pages changed); no
///   `execute` of a `memfd_file` or `anon_inode` (code that never was a file).
/// - **devices**: `blk_file` never (a disk, past every permission);
///   `chr_file` only on [`DEVICES`] (sound, video, GPU, USB, input, terminals,
///   clocks, null/zero/random), and there never changing the node itself
///   ([`changes_the_node`]).
/// - **writes**: the permissions that change a file, folder or link
///   ([`WRITES`]: `write`, `append`, `create`, `unlink`, `rename`, `setattr`,
///   `relabelfrom`/`relabelto`, `add_name`, `rmdir`, `mounton`, `swapon`, ...)
///   only on the source's own types (its family, never a
///   [`system_type`] such as `*_exec_t`) and [`USER_TYPES`] (the user's
///   data, temporary and runtime files). On a FIFO or a socket file `write`
///   and `append` talk to whoever reads it and are allowed; creating,
///   removing or relabelling one is a write.
///
/// Other classes (sockets, SysV IPC, D-Bus, `fd`, and `memfd_file` and
/// `anon_inode` but for `execute`) are allowed.
pub fn danger(rule: &Rule) -> Option<Refusal> {
    let target = if rule.target == "self" {
        rule.source.as_str()
    } else {
        rule.target.as_str()
    };
    let perms: Vec<&str> = rule.perms.iter().map(String::as_str).collect();
    let shape = Shape {
        source: &rule.source,
        target,
        class: &rule.class,
        perms: &perms,
    };
    names(rule)
        .or_else(|| shape.kernel_control())
        .or_else(|| shape.secrets())
        .or_else(|| shape.capabilities())
        .or_else(|| shape.processes())
        .or_else(|| shape.programs())
        .or_else(|| shape.devices())
        .or_else(|| shape.writes())
}

fn names(rule: &Rule) -> Option<Refusal> {
    for (side, name) in [("source", &rule.source), ("target", &rule.target)] {
        if side == "target" && name == "self" {
            continue;
        }
        if let Some(why) = not_one_type(name) {
            return refuse(Part::Names, format!("its {side} `{name}` {why}"));
        }
    }
    None
}

/// A rule as the policy sees it: `self` replaced by the source type.
struct Shape<'a> {
    source: &'a str,
    target: &'a str,
    class: &'a str,
    perms: &'a [&'a str],
}

impl Shape<'_> {
    /// The rule's permissions that are in `set`.
    fn among(&self, set: &[&str]) -> Vec<&str> {
        self.perms
            .iter()
            .copied()
            .filter(|p| set.contains(p))
            .collect()
    }

    /// The rule's permissions that are not in `set`.
    fn outside(&self, set: &[&str]) -> Vec<&str> {
        self.perms
            .iter()
            .copied()
            .filter(|p| !set.contains(p))
            .collect()
    }

    fn secrets(&self) -> Option<Refusal> {
        if let Some(why) = secret(self.target) {
            return refuse(Part::Secrets, format!("{} {why}", self.target));
        }
        if self.class == "key" && !family(self.source, self.target) {
            return refuse(
                Part::Secrets,
                format!(
                    "the kernel keyrings of {} hold its keys and tokens; {} may use only its own",
                    self.target, self.source
                ),
            );
        }
        None
    }

    fn kernel_control(&self) -> Option<Refusal> {
        let part = Part::KernelControl;
        if let Some((_, why)) = KERNEL_TYPES.iter().find(|(t, _)| *t == self.target) {
            return refuse(part, format!("{} {why}", self.target));
        }
        if let Some((_, why)) = KERNEL_CLASSES.iter().find(|(c, _)| *c == self.class) {
            return refuse(
                part,
                format!(
                    "the class `{}` {why}; no permission of it is allowed",
                    self.class
                ),
            );
        }
        let policy = self.among(&["load_policy", "setenforce", "setbool"]);
        if !policy.is_empty() {
            return refuse(
                part,
                format!("{} changes the SELinux policy or its mode", listed(&policy)),
            );
        }
        KERNEL_PERMS
            .iter()
            .find(|(c, p, _)| *c == self.class && self.perms.contains(p))
            .and_then(|(c, p, why)| refuse(part, format!("`{p}` on `{c}` {why}")))
    }

    fn capabilities(&self) -> Option<Refusal> {
        if !CAP_CLASSES.contains(&self.class) {
            return None;
        }
        let part = Part::Capabilities;
        if self.target != self.source {
            return refuse(
                part,
                format!(
                    "a capability is checked against the process's own type, so its target is `self`, not {}: no kernel denial names another",
                    self.target
                ),
            );
        }
        let refused: Vec<String> = self
            .outside(CAPS_ALLOWED)
            .into_iter()
            .map(|c| match CAPS_REFUSED.iter().find(|(r, _)| *r == c) {
                Some((_, what)) => format!("`{c}` {what}"),
                None => format!("`{c}`"),
            })
            .collect();
        if refused.is_empty() {
            return None;
        }
        refuse(
            part,
            format!(
                "{}: not what an audio program needs; allowed are {}",
                joined(&refused),
                listed(CAPS_ALLOWED)
            ),
        )
    }

    fn processes(&self) -> Option<Refusal> {
        if !matches!(self.class, "process" | "process2") {
            return None;
        }
        let part = Part::Processes;
        let (source, target) = (self.source, self.target);
        for p in self.perms {
            if let Some((_, why)) = PROCESS_REFUSED.iter().find(|(r, _)| r == p) {
                return refuse(part, format!("`{p}` {why}"));
            }
        }
        if self.perms.contains(&"ptrace") && target != source {
            return refuse(
                part,
                format!(
                    "`ptrace` lets {source} read and change the memory of {target}'s processes"
                ),
            );
        }
        let moves = self.among(PROCESS_TRANSITIONS);
        if !moves.is_empty() && target != source {
            if admin_domain(target) {
                return refuse(
                    part,
                    format!(
                        "{} {} {source} move into {target}, which is an administrator's or unconfined domain",
                        listed(&moves),
                        lets(&moves)
                    ),
                );
            }
            if !family(source, target) {
                return refuse(
                    part,
                    format!(
                        "{} {} {source} move into {target}, outside its own domains ({}_*_t)",
                        listed(&moves),
                        lets(&moves),
                        source.strip_suffix("_t").unwrap_or(source)
                    ),
                );
            }
        }
        if target == "init_t" {
            let acts = self.outside(INIT_READS);
            if !acts.is_empty() {
                return refuse(
                    part,
                    format!(
                        "{} on init_t acts on PID 1 (systemd): stopping, killing or starving it stops the machine",
                        listed(&acts)
                    ),
                );
            }
        }
        let mut known = PROCESS_ALLOWED.to_vec();
        known.extend(PROCESS_TRANSITIONS);
        known.push("ptrace");
        let unknown = self.outside(&known);
        if !unknown.is_empty() {
            return refuse(
                part,
                format!(
                    "{} {} not among the process permissions an audio program needs (signals, scheduling, process groups, limits)",
                    listed(&unknown),
                    if unknown.len() == 1 { "is" } else { "are" }
                ),
            );
        }
        None
    }

    fn programs(&self) -> Option<Refusal> {
        let part = Part::Programs;
        if self.perms.contains(&"entrypoint") {
            return refuse(
                part,
                format!(
                    "`entrypoint` makes {} files an entry point into a domain",
                    self.target
                ),
            );
        }
        if self.perms.contains(&"execute_no_trans")
            && self.target.ends_with("_exec_t")
            && !self
                .target
                .strip_suffix("_exec_t")
                .is_some_and(|stem| family(self.source, &format!("{stem}_t")))
        {
            return refuse(
                part,
                format!(
                    "`execute_no_trans` lets {} run {}, another domain's program, without a domain transition",
                    self.source, self.target
                ),
            );
        }
        if self.perms.contains(&"execmod") {
            return refuse(
                part,
                format!(
                    "`execmod` changes executable code mapped from {} files (text relocations): data becomes code",
                    self.target
                ),
            );
        }
        if self.perms.contains(&"execute") && matches!(self.class, "memfd_file" | "anon_inode") {
            return refuse(
                part,
                format!(
                    "`execute` on a `{}` runs code that never was a file the policy labels",
                    self.class
                ),
            );
        }
        None
    }

    fn devices(&self) -> Option<Refusal> {
        let part = Part::Devices;
        match self.class {
            "blk_file" => refuse(
                part,
                format!(
                    "`blk_file` is a block device ({}): a disk, read and written past every file's permission",
                    self.target
                ),
            ),
            "chr_file" if !DEVICES.contains(&self.target) => {
                let what = DEVICES_REFUSED
                    .iter()
                    .find(|(t, _)| *t == self.target)
                    .map_or(String::new(), |(_, w)| format!(" ({w})"));
                refuse(
                    part,
                    format!(
                        "{}{what} is not a device an audio program uses; allowed are {}",
                        self.target,
                        DEVICES.join(", ")
                    ),
                )
            }
            "chr_file" => {
                let changes: Vec<&str> = self
                    .perms
                    .iter()
                    .copied()
                    .filter(|p| changes_the_node(p))
                    .collect();
                (!changes.is_empty()).then(|| Refusal {
                    part,
                    reason: format!(
                        "{} on {} changes the device node itself, which is udev's work",
                        listed(&changes),
                        self.target
                    ),
                })
            }
            _ => None,
        }
    }

    fn writes(&self) -> Option<Refusal> {
        if !FILE_CLASSES.contains(&self.class) {
            return None;
        }
        let mut writes = self.among(WRITES);
        if matches!(self.class, "fifo_file" | "sock_file") {
            writes.retain(|p| !matches!(*p, "write" | "append"));
        }
        if writes.is_empty() {
            return None;
        }
        let (source, target) = (self.source, self.target);
        let system = system_type(target);
        if USER_TYPES.iter().any(|(t, _)| *t == target)
            || (system.is_none() && family(source, target))
        {
            return None;
        }
        let what = match system {
            Some(what) => format!("{target} ({what}) is a system type"),
            None => format!(
                "{target} is neither {source}'s own type nor a user, temporary or runtime type, so to the policy a system type"
            ),
        };
        let stem = source.strip_suffix("_t").unwrap_or(source);
        refuse(
            Part::Writes,
            format!(
                "{} on {target}:{}: {what}; {source} may change only its own types ({stem}_*_t, not {stem}_exec_t) and the user's data, temporary and runtime files",
                listed(&writes),
                self.class
            ),
        )
    }
}

/// A module as from-audit writes it: `module NAME VERSION;`, comment lines
/// (its header), a `require {}` block, then the rules, sorted, each under its
/// comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The lines above `module NAME VERSION;` (comments, blank lines), as
    /// they were written.
    pub preamble: Vec<String>,
    pub name: String,
    pub version: String,
    pub header: Vec<String>,
    pub rules: Vec<Rule>,
}

impl Module {
    pub fn new(name: &str, header: &str, rules: Vec<Rule>) -> Module {
        Module {
            preamble: Vec::new(),
            name: name.into(),
            version: "1.0".into(),
            header: header.lines().map(String::from).collect(),
            rules,
        }
    }

    /// Read a module this command wrote (hand edits to comments and rules
    /// kept), to merge new rules into it. Anything it did not write is
    /// refused with its line: a merge must not drop a statement.
    pub fn parse(te: &str) -> Result<Module, (usize, String)> {
        let mut lines = te.lines().enumerate().map(|(i, l)| (i + 1, l));
        let (mut preamble, mut header) = (Vec::new(), Vec::new());
        let (name, version) = loop {
            let Some((n, line)) = lines.next() else {
                return Err((1, "the file has no `module NAME VERSION;` line".into()));
            };
            let code = line.trim();
            if code.is_empty() || code.starts_with('#') {
                preamble.push(line.to_string());
                continue;
            }
            match code
                .strip_suffix(';')
                .map(|c| c.split_whitespace().collect::<Vec<_>>())
            {
                Some(w) if w.len() == 3 && w[0] == "module" && version(w[2]) => {
                    break (w[1].to_string(), w[2].to_string());
                }
                _ => {
                    return Err((
                        n,
                        "expected `module NAME VERSION;`, VERSION numbers and dots (1.0)".into(),
                    ));
                }
            }
        };
        let mut rules: Vec<Rule> = Vec::new();
        let mut comments = Vec::new();
        let mut in_require = false;
        let mut seen_require = false;
        for (n, line) in lines {
            let code = line.trim();
            if in_require {
                match code {
                    "}" => in_require = false,
                    c if (c.starts_with("type ") || c.starts_with("class "))
                        && c.ends_with(';') => {}
                    _ => return Err((
                        n,
                        "expected `type NAME;`, `class NAME { ... };` or `}` in the require block"
                            .into(),
                    )),
                }
            } else if code.is_empty() {
                if rules.is_empty() && !seen_require {
                    header.append(&mut comments);
                }
            } else if code.starts_with('#') {
                comments.push(line.to_string());
            } else if code == "require {" && !seen_require {
                header.append(&mut comments);
                (in_require, seen_require) = (true, true);
            } else if let Some(mut rule) = parse_allow(code) {
                if rules.iter().any(|r| r.key() == rule.key()) {
                    return Err((
                        n,
                        "a second rule for the same source, target and class".into(),
                    ));
                }
                rule.kept = std::mem::take(&mut comments);
                rules.push(rule);
            } else {
                return Err((n, "not a statement from-audit writes (`allow SOURCE TARGET:CLASS PERMS;` on one line)".into()));
            }
        }
        if in_require {
            return Err((te.lines().count(), "the require block is not closed".into()));
        }
        if !comments.is_empty() {
            return Err((
                te.lines().count(),
                "comments after the last rule belong to no rule".into(),
            ));
        }
        Ok(Module {
            preamble,
            name,
            version,
            header,
            rules,
        })
    }

    /// The new rules merged in: permissions of the same source, target and
    /// class joined into one rule, other rules added, the version raised (so
    /// `semodule -i` replaces the installed one: `1.0` -> `1.1`).
    pub fn merge(&mut self, new: Vec<Rule>) {
        for rule in new {
            match self.rules.iter_mut().find(|r| r.key() == rule.key()) {
                Some(old) => {
                    old.perms.extend(rule.perms);
                    old.denials += rule.denials;
                    old.comms.extend(rule.comms);
                    old.cross_users.extend(rule.cross_users);
                }
                None => self.rules.push(rule),
            }
        }
        self.rules.sort_by(|a, b| a.key().cmp(&b.key()));
        self.version = next_version(&self.version);
    }

    /// The module's text.
    pub fn te(&self) -> String {
        let mut types = BTreeSet::new();
        let mut classes: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for r in &self.rules {
            types.insert(r.source.as_str());
            if r.target != "self" {
                types.insert(r.target.as_str());
            }
            classes
                .entry(r.class.as_str())
                .or_default()
                .extend(r.perms.iter().map(String::as_str));
        }
        let mut out = String::new();
        for p in &self.preamble {
            let _ = writeln!(out, "{p}");
        }
        let _ = write!(out, "module {} {};\n\n", self.name, self.version);
        for h in &self.header {
            let _ = writeln!(out, "{h}");
        }
        out.push_str("require {\n");
        for t in &types {
            let _ = writeln!(out, "\ttype {t};");
        }
        for (class, perms) in &classes {
            let perms: Vec<&str> = perms.iter().copied().collect();
            let _ = writeln!(out, "\tclass {class} {{ {} }};", perms.join(" "));
        }
        out.push_str("}\n");
        for r in &self.rules {
            out.push('\n');
            for k in &r.kept {
                let _ = writeln!(out, "{k}");
            }
            if r.denials > 0 {
                let comms: Vec<&str> = r.comms.iter().map(String::as_str).collect();
                let by = if comms.is_empty() {
                    String::new()
                } else {
                    format!(", by {}", comms.join(", "))
                };
                let _ = writeln!(
                    out,
                    "# {}{} denial{}{by}",
                    if r.kept.is_empty() { "" } else { "and " },
                    r.denials,
                    if r.denials == 1 { "" } else { "s" },
                );
            }
            if !r.cross_users.is_empty() {
                let users: Vec<&str> = r.cross_users.iter().map(String::as_str).collect();
                let _ = write!(
                    out,
                    "# note: across SELinux users ({}): the policy's user-based constraint (UBAC)\n\
                     # may be what denied this, and an allow rule does not lift a constraint;\n\
                     # `audit2why` on the policy tells. If so, run both sides as one SELinux user.\n",
                    users.join(", ")
                );
            }
            let _ = writeln!(out, "{}", r.statement());
        }
        out
    }
}

/// `allow SOURCE TARGET:CLASS PERM;` or `... { PERM ... };`, as
/// [`Rule::statement`] writes it, names as the AVC reader accepts them.
fn parse_allow(code: &str) -> Option<Rule> {
    let body = code.strip_prefix("allow ")?.strip_suffix(';')?;
    let (head, perms) = body.split_once(':')?;
    let mut sides = head.split_whitespace();
    let (source, target) = (sides.next()?, sides.next()?);
    if sides.next().is_some() {
        return None;
    }
    let (class, perms) = perms.trim().split_once(char::is_whitespace)?;
    let perms = perms.trim();
    let perms: BTreeSet<String> = match perms.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
        Some(list) => list.split_whitespace().map(String::from).collect(),
        None => BTreeSet::from([perms.to_string()]),
    };
    let name = crate::sepolicy::is_name;
    let ok = name(source)
        && (target == "self" || name(target))
        && name(class)
        && !perms.is_empty()
        && perms.iter().all(|p| name(p));
    ok.then(|| {
        let mut r = Rule::new(source.into(), target.into(), class.into());
        r.perms = perms;
        r
    })
}

/// A module version this command can raise: numbers joined by dots.
fn version(v: &str) -> bool {
    v.split('.')
        .all(|n| !n.is_empty() && n.len() < 10 && n.chars().all(|c| c.is_ascii_digit()))
}

/// The version after `v`: its last number raised (`1.0` -> `1.1`, `2` -> `3`,
/// `1.9` -> `1.10`), for a [`version`].
fn next_version(v: &str) -> String {
    let (head, last) = v.rsplit_once('.').map_or(("", v), |(h, l)| (h, l));
    let n: u64 = last.parse().unwrap_or(0) + 1;
    if head.is_empty() {
        n.to_string()
    } else {
        format!("{head}.{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(perms: &[&str], comm: &str, s: &str, t: &str, class: &str) -> Denial {
        Denial {
            perms: perms.iter().map(|p| p.to_string()).collect(),
            comm: Some(comm.into()),
            scontext: format!("system_u:system_r:{s}:s0"),
            tcontext: format!("system_u:object_r:{t}:s0"),
            tclass: class.into(),
            permissive: false,
        }
    }

    #[test]
    fn denials_across_selinux_users_get_a_note() {
        let mut a = d(&["read"], "jackd", "staff_t", "user_tmpfs_t", "file");
        a.scontext = "staff_u:staff_r:staff_t:s0".into();
        a.tcontext = "user_u:object_r:user_tmpfs_t:s0".into();
        let b = d(&["read"], "jackd", "staff_t", "device_t", "chr_file");
        let rules = group(&[a, b]);
        let te = Module::new("m", "", rules).te();
        assert_eq!(
            te.matches("note: across SELinux users (staff_u -> user_u)")
                .count(),
            1,
            "{te}"
        );
        let note = te.find("note:").unwrap();
        assert!(
            te[note..].starts_with("note: across")
                && te[note..].contains("allow staff_t user_tmpfs_t:file read;")
        );
        assert!(
            te.find("allow staff_t device_t:chr_file read;").unwrap() < note,
            "{te}"
        );
    }

    #[test]
    fn groups_like_audit2allow() {
        let rules = group(&[
            d(&["read"], "jackd", "jackd_t", "device_t", "chr_file"),
            d(
                &["write", "read"],
                "jackd",
                "jackd_t",
                "device_t",
                "chr_file",
            ),
            d(&["open"], "qjackctl", "jackd_t", "device_t", "chr_file"),
            d(&["setsched"], "jackd", "jackd_t", "jackd_t", "process"),
        ]);
        assert_eq!(rules.len(), 2);
        assert_eq!(
            rules[0].statement(),
            "allow jackd_t device_t:chr_file { open read write };"
        );
        assert_eq!(rules[0].denials, 3);
        assert_eq!(rules[1].statement(), "allow jackd_t self:process setsched;");
        let te = Module::new("jack_local", "", rules).te();
        assert!(te.starts_with("module jack_local 1.0;\n\nrequire {\n\ttype device_t;\n\ttype jackd_t;\n\tclass chr_file { open read write };\n\tclass process { setsched };\n}\n"), "{te}");
        assert!(te.contains("\n# 3 denials, by jackd, qjackctl\nallow jackd_t device_t:chr_file { open read write };\n"), "{te}");
    }

    fn rule(s: &str, perms: &[&str], t: &str, class: &str) -> Rule {
        group(&[d(perms, "x", s, t, class)]).remove(0)
    }

    /// The part that refuses the rule, and its reason.
    fn judged(s: &str, perms: &[&str], t: &str, class: &str) -> Option<(Part, String)> {
        danger(&rule(s, perms, t, class)).map(|r| (r.part, r.reason))
    }

    fn refused_by(part: Part, s: &str, perms: &[&str], t: &str, class: &str) -> String {
        match judged(s, perms, t, class) {
            Some((p, reason)) if p == part => reason,
            other => panic!("allow {s} {t}:{class} {perms:?}: {other:?}, not {part:?}"),
        }
    }

    #[test]
    fn names_secrets_and_the_kernel() {
        assert!(
            refused_by(Part::Secrets, "jackd_t", &["read"], "shadow_t", "file")
                .contains("password")
        );
        for t in [
            "krb5_keytab_t",
            "sshd_key_t",
            "ssh_home_t",
            "gpg_secret_t",
            "semanage_read_lock_t",
            "ipsec_key_file_t",
            "studio_private_key_t",
            "security_t",
        ] {
            let why = refused_by(Part::Secrets, "jackd_t", &["read", "open"], t, "file");
            assert!(why.starts_with(t), "{why}");
        }
        refused_by(Part::Secrets, "jackd_t", &["search"], "ssh_home_t", "dir");
        refused_by(Part::Secrets, "jackd_t", &["view", "read"], "init_t", "key");
        assert!(judged("jackd_t", &["view", "read"], "jackd_t", "key").is_none());
        let wide = refused_by(
            Part::Names,
            "jackd_t",
            &["read", "write"],
            "file_type",
            "file",
        );
        assert!(
            wide.contains("its target `file_type` is an attribute"),
            "{wide}"
        );
        refused_by(Part::Names, "jackd_t", &["read"], "domain", "file");
        assert!(
            refused_by(Part::Names, "domain", &["write"], "etc_t", "file")
                .contains("source `domain`")
        );
        assert!(
            refused_by(Part::Names, "jackd_t", &["read"], "studio_things", "file").contains("_t")
        );
        for (t, class) in [
            ("kernel_t", "unix_stream_socket"),
            ("kernel_t", "system"),
            ("memory_device_t", "chr_file"),
            ("proc_kcore_t", "file"),
        ] {
            refused_by(Part::KernelControl, "jackd_t", &["read"], t, class);
        }
    }

    #[test]
    fn kernel_control_classes_are_refused_whole() {
        for (perm, class) in [
            ("module_load", "system"),
            ("module_request", "system"),
            ("syslog_read", "system"),
            ("reboot", "system"),
            ("halt", "system"),
            ("setenforce", "security"),
            ("load_policy", "security"),
            ("use_as_override", "kernel_service"),
            ("prog_load", "bpf"),
            ("open", "perf_event"),
            ("integrity", "lockdown"),
            ("mmap_zero", "memprotect"),
            ("rootok", "passwd"),
            ("start", "service"),
        ] {
            let why = refused_by(Part::KernelControl, "jackd_t", &[perm], "jackd_t", class);
            assert!(why.contains(&format!("`{class}`")), "{why}");
        }
        for (perm, class) in [
            ("nlmsg_write", "netlink_audit_socket"),
            ("mount", "filesystem"),
            ("relabelto", "filesystem"),
            ("override_creds", "io_uring"),
            ("create", "user_namespace"),
            ("setbool", "file"),
        ] {
            refused_by(Part::KernelControl, "jackd_t", &[perm], "self", class);
        }
        for (perm, class) in [
            ("nlmsg_relay", "netlink_audit_socket"),
            ("associate", "filesystem"),
            ("getattr", "filesystem"),
        ] {
            assert!(
                judged("jackd_t", &[perm], "tmpfs_t", class).is_none(),
                "{perm} {class}"
            );
        }
    }

    #[test]
    fn capabilities_are_an_allow_list_on_self() {
        for c in CAPS_ALLOWED {
            let class = if matches!(*c, "wake_alarm" | "block_suspend") {
                "capability2"
            } else {
                "capability"
            };
            assert!(judged("jackd_t", &[c], "jackd_t", class).is_none(), "{c}");
        }
        assert!(
            judged(
                "pipewire_t",
                &["sys_nice", "ipc_lock"],
                "pipewire_t",
                "cap_userns"
            )
            .is_none()
        );
        for c in [
            "sys_admin",
            "sys_rawio",
            "dac_override",
            "setuid",
            "sys_ptrace",
            "sys_module",
            "net_admin",
            "chown",
            "fowner",
            "kill",
            "mknod",
            "linux_immutable",
        ] {
            let why = refused_by(
                Part::Capabilities,
                "jackd_t",
                &["sys_nice", c],
                "jackd_t",
                "capability",
            );
            assert!(
                why.contains(&format!("`{c}`")) && !why.starts_with("`sys_nice`"),
                "{why}"
            );
        }
        for c in [
            "mac_admin",
            "mac_override",
            "syslog",
            "bpf",
            "perfmon",
            "audit_read",
            "checkpoint_restore",
        ] {
            refused_by(
                Part::Capabilities,
                "jackd_t",
                &[c],
                "jackd_t",
                "capability2",
            );
            refused_by(
                Part::Capabilities,
                "jackd_t",
                &[c],
                "jackd_t",
                "cap2_userns",
            );
        }
        // A capability is checked against the process itself.
        let other = refused_by(
            Part::Capabilities,
            "jackd_t",
            &["sys_nice"],
            "init_t",
            "capability",
        );
        assert!(other.contains("`self`"), "{other}");
    }

    #[test]
    fn processes_signal_and_schedule_but_do_not_enter_or_trace() {
        for p in PROCESS_ALLOWED {
            assert!(
                judged("rtkit_daemon_t", &[p], "pipewire_t", "process").is_none(),
                "{p}"
            );
        }
        assert!(
            judged(
                "rtkit_daemon_t",
                &["setsched"],
                "unconfined_service_t",
                "process"
            )
            .is_none()
        );
        assert!(judged("jackd_t", &["ptrace"], "self", "process").is_none());
        let trace = refused_by(
            Part::Processes,
            "jackd_t",
            &["ptrace"],
            "pipewire_t",
            "process",
        );
        assert!(
            trace.contains("`ptrace`") && trace.contains("pipewire_t"),
            "{trace}"
        );
        for p in ["setexec", "setcurrent", "execmem", "execstack", "execheap"] {
            assert!(refused_by(Part::Processes, "jackd_t", &[p], "self", "process").contains(p));
        }
        for t in [
            "unconfined_t",
            "sysadm_t",
            "init_t",
            "rpm_t",
            "staff_sudo_t",
            "jackd_sudo_t",
            "jackd_unconfined_t",
        ] {
            let why = refused_by(Part::Processes, "jackd_t", &["transition"], t, "process");
            assert!(why.contains("administrator's or unconfined"), "{why}");
        }
        let out = refused_by(
            Part::Processes,
            "jackd_t",
            &["transition"],
            "pipewire_t",
            "process",
        );
        assert!(out.contains("jackd_*_t"), "{out}");
        refused_by(
            Part::Processes,
            "jackd_t",
            &["dyntransition"],
            "bin_t",
            "process",
        );
        refused_by(
            Part::Processes,
            "jackd_t",
            &["nnp_transition"],
            "pipewire_t",
            "process2",
        );
        refused_by(
            Part::Processes,
            "jackd_t",
            &["noatsecure"],
            "pipewire_t",
            "process",
        );
        assert!(
            judged(
                "jackd_t",
                &["transition", "noatsecure"],
                "jackd_helper_t",
                "process"
            )
            .is_none()
        );
        // PID 1 is read, not acted on; sigchld is its children's.
        assert!(judged("jackd_t", &["sigchld", "getattr"], "init_t", "process").is_none());
        refused_by(
            Part::Processes,
            "jackd_t",
            &["sigkill"],
            "init_t",
            "process",
        );
        refused_by(
            Part::Processes,
            "jackd_t",
            &["setsched"],
            "init_t",
            "process",
        );
        // Not on the list: refused, as an allow list does.
        refused_by(
            Part::Processes,
            "jackd_t",
            &["fork", "newperm"],
            "self",
            "process",
        );
    }

    #[test]
    fn programs_run_only_with_a_transition() {
        refused_by(
            Part::Programs,
            "jackd_t",
            &["entrypoint"],
            "user_home_t",
            "file",
        );
        refused_by(
            Part::Programs,
            "jackd_t",
            &["execute", "execute_no_trans"],
            "bin_exec_t",
            "file",
        );
        refused_by(
            Part::Programs,
            "jackd_t",
            &["execute_no_trans"],
            "shell_exec_t",
            "file",
        );
        refused_by(
            Part::Programs,
            "jackd_t",
            &["execmod"],
            "user_home_t",
            "file",
        );
        refused_by(
            Part::Programs,
            "jackd_t",
            &["execute"],
            "self",
            "memfd_file",
        );
        assert!(
            judged(
                "jackd_t",
                &["execute", "execute_no_trans", "map"],
                "jackd_exec_t",
                "file"
            )
            .is_none()
        );
        assert!(
            judged(
                "ardour_t",
                &["execute", "map", "read", "open"],
                "user_home_t",
                "file"
            )
            .is_none()
        );
    }

    #[test]
    fn devices_are_an_allow_list_and_disks_never() {
        for t in DEVICES {
            assert!(
                judged(
                    "jackd_t",
                    &["read", "write", "open", "ioctl", "map"],
                    t,
                    "chr_file"
                )
                .is_none(),
                "{t}"
            );
        }
        for t in [
            "fixed_disk_device_t",
            "removable_device_t",
            "scsi_generic_device_t",
            "kmsg_device_t",
            "cpu_device_t",
            "tty_device_t",
            "device_t",
            "kvm_device_t",
            "user_home_t",
        ] {
            assert!(refused_by(Part::Devices, "jackd_t", &["read"], t, "chr_file").starts_with(t));
        }
        for t in [
            "fixed_disk_device_t",
            "removable_device_t",
            "sound_device_t",
            "user_home_t",
        ] {
            refused_by(Part::Devices, "jackd_t", &["getattr"], t, "blk_file");
        }
        refused_by(
            Part::Devices,
            "jackd_t",
            &["setattr"],
            "sound_device_t",
            "chr_file",
        );
        refused_by(
            Part::Devices,
            "jackd_t",
            &["relabelto"],
            "sound_device_t",
            "chr_file",
        );
    }

    #[test]
    fn writes_only_on_its_own_types_and_the_users() {
        for (t, says) in [
            ("passwd_file_t", "user accounts"),
            ("etc_t", "/etc"),
            ("bin_t", "programs"),
            ("lib_t", "libraries"),
            ("boot_t", "/boot"),
            ("systemd_unit_file_t", "systemd"),
            ("jackd_exec_t", "program"),
            ("sysctl_kernel_t", "kernel setting"),
            ("httpd_config_t", "neither jackd_t's own type"),
        ] {
            for perms in [
                &["write"][..],
                &["append"],
                &["create", "add_name"],
                &["unlink"],
                &["rename"],
                &["setattr"],
                &["relabelto"],
                &["link"],
                &["mounton"],
                &["swapon"],
            ] {
                let why = refused_by(Part::Writes, "jackd_t", perms, t, "file");
                assert!(why.contains(says) && why.contains(t), "{why}");
            }
        }
        refused_by(
            Part::Writes,
            "jackd_t",
            &["add_name", "write"],
            "etc_t",
            "dir",
        );
        refused_by(
            Part::Writes,
            "jackd_t",
            &["rmdir", "reparent"],
            "var_lib_t",
            "dir",
        );
        refused_by(Part::Writes, "jackd_t", &["create"], "etc_t", "lnk_file");
        refused_by(
            Part::Writes,
            "jackd_t",
            &["unlink"],
            "init_var_run_t",
            "sock_file",
        );
        // The name of a system type is no family's: passwd_t is not allowed
        // passwd_file_t.
        refused_by(
            Part::Writes,
            "passwd_t",
            &["write"],
            "passwd_file_t",
            "file",
        );
        for (t, class) in [
            ("user_home_t", "file"),
            ("user_home_dir_t", "dir"),
            ("user_tmp_t", "sock_file"),
            ("tmpfs_t", "file"),
            ("config_home_t", "dir"),
            ("jackd_tmp_t", "file"),
            ("jackd_var_run_t", "dir"),
            ("self", "file"),
        ] {
            assert!(
                judged(
                    "jackd_t",
                    &["create", "write", "unlink", "rename", "setattr", "add_name"],
                    t,
                    class
                )
                .is_none(),
                "{t}:{class}"
            );
        }
        // Talking through a FIFO or a socket file is no write.
        assert!(
            judged(
                "rtkit_daemon_t",
                &["write"],
                "systemd_logind_inhibit_var_run_t",
                "fifo_file"
            )
            .is_none()
        );
        assert!(
            judged(
                "jackd_t",
                &["write", "getattr"],
                "system_dbusd_var_run_t",
                "sock_file"
            )
            .is_none()
        );
        // Reading a system type is allowed.
        assert!(
            judged(
                "jackd_t",
                &["read", "open", "getattr", "map", "execute"],
                "lib_t",
                "file"
            )
            .is_none()
        );
    }

    /// The rules a review found written, each refused by the part that owns
    /// its shape.
    #[test]
    fn the_review_findings_are_refused() {
        for (part, perms, t, class) in [
            (Part::Writes, &["write"][..], "passwd_file_t", "file"),
            (Part::Writes, &["write"], "etc_t", "file"),
            (Part::Writes, &["write"], "bin_t", "file"),
            (Part::Writes, &["write"], "lib_t", "file"),
            (Part::Writes, &["write"], "boot_t", "file"),
            (Part::Writes, &["write"], "systemd_unit_file_t", "file"),
            (
                Part::Devices,
                &["read", "write"],
                "fixed_disk_device_t",
                "blk_file",
            ),
            (
                Part::KernelControl,
                &["read", "write"],
                "memory_device_t",
                "chr_file",
            ),
            (Part::KernelControl, &["module_load"], "jackd_t", "system"),
            (Part::Capabilities, &["sys_admin"], "jackd_t", "capability"),
            (Part::Capabilities, &["sys_rawio"], "jackd_t", "capability"),
            (
                Part::Capabilities,
                &["dac_override"],
                "jackd_t",
                "capability",
            ),
            (Part::Capabilities, &["setuid"], "jackd_t", "capability"),
            (Part::Capabilities, &["sys_ptrace"], "jackd_t", "capability"),
            (Part::Processes, &["ptrace"], "sshd_t", "process"),
            (Part::Processes, &["transition"], "sysadm_t", "process"),
        ] {
            refused_by(part, "jackd_t", perms, t, class);
        }
    }

    /// The corpus's rules (tests/fixtures/avc/), written without
    /// --allow-dangerous, but for kernel_t.
    #[test]
    fn what_audio_programs_need_is_allowed() {
        for (s, perms, t, class) in [
            ("staff_t", &["ipc_lock"][..], "staff_t", "capability"),
            (
                "staff_t",
                &["associate", "read", "unix_write", "write"],
                "user_t",
                "sem",
            ),
            (
                "staff_t",
                &["map", "open", "read", "write"],
                "user_tmpfs_t",
                "file",
            ),
            ("pulseaudio_t", &["create"], "config_home_t", "dir"),
            ("pulseaudio_t", &["map"], "pulseaudio_var_run_t", "file"),
            (
                "pulseaudio_t",
                &["accept", "bind", "create", "getopt", "listen"],
                "pulseaudio_t",
                "bluetooth_socket",
            ),
            ("staff_t", &["watch"], "device_t", "dir"),
            ("staff_t", &["watch"], "v4l_device_t", "chr_file"),
            (
                "rtkit_daemon_t",
                &["write"],
                "systemd_logind_inhibit_var_run_t",
                "fifo_file",
            ),
            ("rtkit_daemon_t", &["send_msg"], "systemd_logind_t", "dbus"),
            (
                "rtkit_daemon_t",
                &["setsched"],
                "unconfined_service_t",
                "process",
            ),
            ("audio_helper_t", &["destroy"], "qemu_t", "shm"),
            ("bluetooth_t", &["search"], "alsa_var_lib_t", "dir"),
            (
                "bluetooth_t",
                &["open", "read", "write"],
                "sound_device_t",
                "chr_file",
            ),
            (
                "jackd_t",
                &["sys_nice", "sys_resource"],
                "jackd_t",
                "capability",
            ),
        ] {
            assert_eq!(
                judged(s, perms, t, class),
                None,
                "allow {s} {t}:{class} {perms:?}"
            );
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// A type name as a policy writes one.
        fn name() -> impl Strategy<Value = String> {
            "[a-z][a-z0-9]{1,8}(_[a-z0-9]{1,6}){0,2}_t"
        }

        proptest! {
            /// Writes of any kind on a type of another family that is no
            /// user type are refused by the writes part.
            #[test]
            fn foreign_writes_are_refused(
                target in name().prop_filter("not the user's", |t| !USER_TYPES.iter().any(|(u, _)| u == t) && !t.starts_with("jackd_")),
                perm in proptest::sample::select(WRITES),
                class in proptest::sample::select(&["file", "dir", "lnk_file"][..]),
            ) {
                let why = danger(&rule("jackd_t", &[perm, "read"], &target, class));
                prop_assert!(why.is_some(), "allow jackd_t {}:{} {}", target, class, perm);
            }

            /// Any capability not on the list, beside allowed ones.
            #[test]
            fn other_capabilities_are_refused(
                cap in proptest::sample::select(CAPS_REFUSED).prop_map(|(c, _)| c),
                class in proptest::sample::select(CAP_CLASSES),
            ) {
                let r = danger(&rule("pipewire_t", &["sys_nice", cap], "self", class)).unwrap();
                prop_assert_eq!(r.part, Part::Capabilities);
                prop_assert!(r.reason.contains(&format!("`{cap}`")), "{}", r.reason);
            }

            /// Character devices off the list, and every block device.
            #[test]
            fn other_devices_are_refused(
                dev in "[a-z]{2,10}(_[a-z]{2,6})?_device_t".prop_filter("not allowed", |t| !DEVICES.contains(&t.as_str())),
                blk in any::<bool>(),
                perm in proptest::sample::select(&["read", "write", "open", "ioctl", "getattr"][..]),
            ) {
                let class = if blk { "blk_file" } else { "chr_file" };
                let r = danger(&rule("jackd_t", &[perm], &dev, class));
                prop_assert!(r.is_some_and(|r| matches!(r.part, Part::Devices | Part::KernelControl | Part::Secrets)));
            }
        }
    }

    #[test]
    fn a_module_merges_new_rules_and_keeps_its_comments() {
        let first = group(&[
            d(&["read"], "jackd", "jackd_t", "sound_device_t", "chr_file"),
            d(&["setsched"], "jackd", "jackd_t", "jackd_t", "process"),
        ]);
        let te = Module::new("jack_local", "# head\n", first).te();
        let edited = te.replace(
            "allow jackd_t self:process setsched;",
            "# mine: needed for the RT thread\nallow jackd_t self:process setsched;",
        );
        let mut m = Module::parse(&edited).unwrap();
        assert_eq!(m.version, "1.0");
        m.merge(group(&[
            d(
                &["write", "open"],
                "qjackctl",
                "jackd_t",
                "sound_device_t",
                "chr_file",
            ),
            d(&["ipc_lock"], "jackd", "jackd_t", "jackd_t", "capability"),
        ]));
        let merged = m.te();
        assert!(merged.starts_with("module jack_local 1.1;\n\n# head\nrequire {\n\ttype jackd_t;\n\ttype sound_device_t;\n\tclass capability { ipc_lock };\n\tclass chr_file { open read write };\n\tclass process { setsched };\n}\n"), "{merged}");
        assert!(merged.contains("# 1 denial, by jackd\n# and 1 denial, by qjackctl\nallow jackd_t sound_device_t:chr_file { open read write };\n"), "{merged}");
        assert!(
            merged.contains(
                "# mine: needed for the RT thread\nallow jackd_t self:process setsched;\n"
            ),
            "{merged}"
        );
        // Merging again reads what it wrote.
        let again = Module::parse(&merged).unwrap();
        assert_eq!(again.te(), merged);
    }

    #[test]
    fn a_merge_keeps_the_comments_above_the_module_line() {
        let first = group(&[d(
            &["read"],
            "jackd",
            "jackd_t",
            "sound_device_t",
            "chr_file",
        )]);
        let te = Module::new("jack_local", "# head\n", first).te();
        let preamble = "# Studio A: reviewed by the audio team\n\n# ticket 42\n";
        let mut m = Module::parse(&format!("{preamble}{te}")).unwrap();
        m.merge(group(&[d(
            &["ipc_lock"],
            "jackd",
            "jackd_t",
            "jackd_t",
            "capability",
        )]));
        let merged = m.te();
        assert!(
            merged.starts_with(&format!(
                "{preamble}module jack_local 1.1;\n\n# head\nrequire {{\n"
            )),
            "{merged}"
        );
        assert_eq!(Module::parse(&merged).unwrap().te(), merged);
    }

    #[test]
    fn a_merge_refuses_what_it_did_not_write() {
        for (te, line) in [
            ("module m 1.0;\ntype_transition a_t b_t:file c_t;\n", 2),
            ("module m 1.0;\nrequire {\n\ttype a_t;\n", 3),
            ("module m x1;\n", 1),
            (
                "module m 1.0;\nallow a_t b_t:file read;\nallow a_t b_t:file write;\n",
                3,
            ),
            ("module m 1.0;\nallow a_t\n b_t:file read;\n", 2),
        ] {
            assert_eq!(Module::parse(te).unwrap_err().0, line, "{te}");
        }
        assert_eq!(next_version("1.9"), "1.10");
        assert_eq!(next_version("2"), "3");
    }
}
