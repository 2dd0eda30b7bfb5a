//! What the checks share, read once: the user judged, the kernel's command
//! line, version and configuration, the processes, the pam_limits limits and
//! the profile's plan.

use super::machine::{LIST_MAX, Machine, Why, shown};
use super::parse::{self, Limits};
use super::probe;
use crate::limits_conf::Member;
use crate::profile::Profile;
use crate::render::Plan;

/// The musician a check judges.
pub struct User {
    pub name: String,
    pub uid: Option<u32>,
    pub groups: Vec<String>,
}

/// Everything read once and shared by the checks.
pub struct Context<'a> {
    pub m: &'a Machine,
    pub user: User,
    /// Checking the user this process runs as, on the live machine: only then
    /// do probes (SCHED_FIFO, mlockall, getrlimit) speak for the user.
    pub is_self: bool,
    pub profile: Option<&'a Profile>,
    pub plan: Option<Plan<'a>>,
    pub cmdline: Vec<String>,
    pub version: String,
    /// Where the kernel configuration was read and its text, when
    /// /proc/config.gz or /boot/config-RELEASE could be read.
    pub config: Option<(String, String)>,
    /// Why each place of the configuration that was not used could not be.
    pub config_unread: Vec<String>,
    /// (pid, comm) of every process.
    pub processes: Vec<(String, String)>,
    pub limits: Limits,
    /// The limits files read, in the order pam_limits reads them.
    pub limit_files: Vec<String>,
    /// Why each limits file pam_limits reads could not be read here.
    pub limit_unread: Vec<String>,
}

impl<'a> Context<'a> {
    pub fn new(
        m: &'a Machine,
        user: Option<&str>,
        profile: Option<&'a Profile>,
        compiled: &'a crate::selinux::Compiled,
    ) -> anyhow::Result<Context<'a>> {
        let passwd = m.read("/etc/passwd").unwrap_or_default();
        let group = m.read("/etc/group").unwrap_or_default();
        let own_uid = m.live.then(probe::uid);
        let name = match user {
            Some(u) => u.to_string(),
            None if m.live => std::env::var("SUDO_USER")
                .ok()
                .filter(|_| own_uid == Some(0))
                .or_else(|| own_uid.and_then(|uid| parse::passwd_name(&passwd, uid)))
                .unwrap_or_else(|| "root".into()),
            None => profile
                .and_then(|p| p.users.first().map(|u| u.name.clone()))
                .or_else(|| first_person(&passwd))
                .unwrap_or_else(|| "root".into()),
        };
        let ids = parse::passwd_user(&passwd, &name);
        if let Some(u) = user.filter(|_| ids.is_none()) {
            // A live machine may know users /etc/passwd does not (LDAP, SSSD):
            // the name service is asked there. A capture without its
            // /etc/passwd cannot say.
            // A line naming the user counts even when the rest of it is
            // unreadable: the checks then say what they cannot read.
            let named = passwd.lines().any(|l| l.split(':').next() == Some(u));
            let known = named
                || if m.live {
                    probe::user_exists(u)
                } else {
                    passwd.is_empty()
                };
            if !known {
                return Err(crate::UserError(format!(
                    "--user {}: no such user on {}",
                    crate::text::one_line(u),
                    if m.live {
                        "this machine; give one of its users (getent passwd lists them)"
                    } else {
                        "the captured machine; give one of the users its etc/passwd lists"
                    }
                ))
                .into());
            }
        }
        let groups = parse::user_groups(&group, &name, ids.map(|(_, gid)| gid));
        let is_self = m.live && ids.map(|(uid, _)| uid) == own_uid;

        let (texts, limit_unread) = limit_files(m);
        let gids: Vec<u32> = ids
            .map(|(_, gid)| gid)
            .into_iter()
            .chain(parse::group_gids(&group, &groups))
            .collect();
        let member = Member {
            name: &name,
            uid: ids.map(|(uid, _)| uid),
            gid: ids.map(|(_, gid)| gid),
            groups: &groups,
            gids: &gids,
        };
        let limits = Limits::new(&texts, &member);

        let version = m.line("/proc/version").unwrap_or_default();
        // uname's release, else the third word of /proc/version ("Linux
        // version RELEASE (...)").
        let release = match m.line("/proc/sys/kernel/osrelease") {
            Ok(r) => ("/proc/sys/kernel/osrelease", r),
            Err(_) => (
                "/proc/version",
                version.split_whitespace().nth(2).unwrap_or("").to_string(),
            ),
        };
        let (config, config_unread) = kernel_config(m, release);
        let processes = m
            .list("/proc")
            .into_iter()
            .filter(|p| p.chars().all(|c| c.is_ascii_digit()))
            .filter_map(|p| m.line(&format!("/proc/{p}/comm")).ok().map(|c| (p, c)))
            .collect();
        let plan = profile
            .map(|p| crate::render::plan(p, compiled))
            .transpose()?;
        Ok(Context {
            m,
            user: User {
                name,
                uid: ids.map(|(uid, _)| uid),
                groups,
            },
            is_self,
            profile,
            plan,
            cmdline: m
                .read("/proc/cmdline")
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect(),
            version,
            config,
            config_unread,
            processes,
            limits,
            limit_files: texts.into_iter().map(|(f, _)| f).collect(),
            limit_unread,
        })
    }

    pub(super) fn has_arg(&self, arg: &str) -> bool {
        self.cmdline.iter().any(|a| a == arg)
    }

    pub(super) fn config_has(&self, line: &str) -> bool {
        self.config
            .as_ref()
            .is_some_and(|(_, c)| c.lines().any(|l| l == line))
    }

    pub(super) fn realtime_kernel(&self) -> bool {
        self.m.line("/sys/kernel/realtime").is_ok_and(|v| v == "1")
            || self.version.contains("PREEMPT_RT")
            || self.config_has("CONFIG_PREEMPT_RT=y")
    }

    /// The groups that carry realtime limits: the profile's, else rtcqs's.
    pub(super) fn rt_groups(&self) -> Vec<String> {
        match self.profile {
            Some(p) => vec![p.realtime.group.clone()],
            None => vec!["realtime".into(), "audio".into()],
        }
    }

    pub(super) fn pids_named(&self, comm: &str) -> Vec<&str> {
        self.processes
            .iter()
            .filter(|(_, c)| c == comm)
            .map(|(p, _)| p.as_str())
            .collect()
    }
}

/// The files pam_limits reads, with their text, in its order: limits.conf,
/// then what its glob `limits.d/*.conf` matches (byte names, any bytes, sorted
/// by strcmp; `*` matches no leading `.`); and why each of those that could
/// not be read was not. A missing one is not read by pam_limits either.
fn limit_files(m: &Machine) -> (Vec<(String, String)>, Vec<String>) {
    const DIR: &str = "/etc/security/limits.d";
    let mut paths = vec![b"/etc/security/limits.conf".to_vec()];
    let mut unread = Vec::new();
    match m.names(DIR) {
        Ok((names, complete)) => {
            if !complete {
                unread.push(format!(
                    "{DIR} holds more than {LIST_MAX} names: the rest were not read"
                ));
            }
            paths.extend(
                names
                    .into_iter()
                    .filter(|n| n.ends_with(b".conf") && !n.starts_with(b"."))
                    .map(|n| [format!("{DIR}/").as_bytes(), &n].concat()),
            );
        }
        Err(e) if matches!(e.why, Why::Missing) => {}
        Err(e) => unread.push(e.to_string()),
    }
    let mut texts = Vec::new();
    for p in paths {
        match m.read_path(&p) {
            Ok(text) => texts.push((shown(&p), text)),
            Err(e) if matches!(e.why, Why::Missing) => {}
            Err(e) => unread.push(e.to_string()),
        }
    }
    (texts, unread)
}

/// The first account that looks like a person's (uid 1000 and up).
fn first_person(passwd: &str) -> Option<String> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        let uid: u32 = f.get(2)?.parse().ok()?;
        (f.len() >= 7 && (1000..60000).contains(&uid)).then(|| f[0].to_string())
    })
}

/// The kernel configuration: /proc/config.gz (CONFIG_IKCONFIG_PROC), else
/// the kernel package's /boot/config-RELEASE; and why the places not used
/// could not be read. The release comes from the machine, so it is held to a
/// release's grammar before it becomes part of a path.
fn kernel_config(
    m: &Machine,
    (from, release): (&str, String),
) -> (Option<(String, String)>, Vec<String>) {
    let mut unread = Vec::new();
    match m.read_gzip("/proc/config.gz") {
        Ok(text) => return (Some(("/proc/config.gz".into(), text)), unread),
        Err(e) => unread.push(e.to_string()),
    }
    match parse::kernel_release(&release) {
        Ok(release) => {
            let boot = format!("/boot/config-{release}");
            match m.read(&boot) {
                Ok(text) => return (Some((boot, text)), unread),
                Err(e) => unread.push(e.to_string()),
            }
        }
        Err(e) => unread.push(format!("/boot/config-RELEASE not read: {from}: {e}")),
    }
    (None, unread)
}
