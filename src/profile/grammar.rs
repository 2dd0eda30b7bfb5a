//! Strict grammars for every profile value that reaches a shell, a kickstart, a spec,
//! a TOML file or a Containerfile. Each check returns the problem and how to fix it;
//! the messages live here, in one place.

/// What is wrong with a value, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub fix: String,
}

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

/// Kernel arguments that change how the system boots or weaken its security,
/// rather than tune it.
pub fn forbidden_karg(key: &str) -> Option<&'static str> {
    match key {
        "root" | "ro" | "rw" | "rootflags" | "rootfstype" | "init" | "initrd" | "BOOT_IMAGE"
        | "resume" => Some("changes how the system boots, which the installer and bootloader own"),
        "selinux" | "enforcing" | "security" | "lsm" | "apparmor" => {
            Some("changes the security policy; fix denials with a local SELinux module instead")
        }
        "rd.break" | "rd.shell" | "rd.emergency" | "single" | "emergency" | "rescue" | "s"
        | "1" => Some("boots into a rescue shell"),
        _ if key.starts_with("systemd.unit") => Some("changes the boot target"),
        _ => None,
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

/// Highest CPU number accepted in a cpu list (the kernel's NR_CPUS maximum).
pub const MAX_CPU: u32 = 8191;

/// A cpu list as the kernel writes and reads them (`0-3,8,10-11`), parsed into
/// sorted, de-duplicated CPU numbers.
pub fn cpu_list(v: &str) -> Result<Vec<u32>, Problem> {
    let bad = || Problem {
        message: format!("{} is not a valid cpu list", shown(v)),
        fix: format!(
            "write CPU numbers and ranges separated by commas, e.g. \"2-3\" or \"1,3,5-7\" (0..={MAX_CPU}, ranges low-high)"
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

/// Where a sysctl key lives under /proc/sys: sysctl.d(5) reads a key with a
/// `/` as a path (its dots are part of names), else its dots as separators.
pub fn sysctl_path(key: &str) -> String {
    if key.contains('/') {
        key.to_string()
    } else {
        key.replace('.', "/")
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
/// kickstart line or a .repo file would read specially is.
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
            "use an http(s)://, ftp:// or file:/// URL of letters, digits and -._~:/?=&%+,@ ($releasever and $basearch are allowed), e.g. \"https://example.org/kernel-rt/fedora-$releasever-$basearch/\"",
        )
    }
}

fn is_url_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '.' | '_' | '~' | ':' | '/' | '?' | '=' | '&' | '%' | '+' | ',' | '@'
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

const SSH_KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// An OpenSSH public key line: `type base64 [comment]`, no options prefix.
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
            c.is_ascii_alphanumeric() || matches!(c, ' ' | '@' | '.' | '_' | '-' | '+' | ':')
        });
    if ok {
        Ok(())
    } else {
        problem(
            "not a valid OpenSSH public key",
            format!(
                "paste one public key line (`TYPE BASE64 [comment]`, TYPE one of {}); the comment may use letters, digits, spaces and @._-+:",
                SSH_KEY_TYPES.join(", ")
            ),
        )
    }
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
    if ok {
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
                "write a relative path ending in {ext} made of folder and file names (letters, digits, _-.), without '..' or a leading '/', e.g. \"selinux/studio_local{ext}\""
            ),
        )
    }
}

/// A fleet host's name: its hostname (`network --hostname`) and the name of its
/// files. RFC 1123 labels, lowercase so that two hosts cannot differ only in
/// case, dot-separated, at most 64 characters (Linux's HOST_NAME_MAX).
pub fn host_name(v: &str) -> Check {
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
        // The group bit: a multicast address is never a machine's own.
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
/// expands `${...}`; `$`, `&`, `;`, quotes and spaces are GRUB syntax).
pub fn plain_http_url(v: &str) -> Check {
    let rest = v
        .strip_prefix("http://")
        .or_else(|| v.strip_prefix("https://"));
    let ok = v.len() <= 512
        && rest.is_some_and(|r| {
            !r.is_empty()
                && !r.starts_with('/')
                && r.chars().all(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | ':' | '/' | '-')
                })
        });
    if ok {
        Ok(())
    } else {
        problem(
            format!("{} is not a plain http(s) URL", shown(v)),
            "write http://HOST[:PORT]/PATH with letters, digits and ._~-/ only (no $ variables, query, user or spaces): PXE firmware and GRUB read it as it is",
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
    fn repo_urls() {
        assert!(repo_url("https://example.org/rt/fedora-$releasever-$basearch/").is_ok());
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
        assert!(ssh_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDn7 me@studio").is_ok());
        assert!(ssh_key("command=\"x\" ssh-ed25519 AAAA").is_err());
        assert!(package_or_group("@audio").is_ok());
        assert!(package_or_group("@^workstation-product-environment").is_ok());
        assert!(package_or_group("kernel-rt;rm").is_err());
    }
}
