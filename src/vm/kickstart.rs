//! An installation kickstart applied as Anaconda applies it, to the guest's
//! root mounted on the host (Anaconda's /mnt/sysroot): the groups and users
//! of its `group` and `user` commands (`groupadd -R`, `useradd -R`, as
//! pyanaconda/core/users.py runs them), the services of its `services` line
//! (`systemctl --root enable`, pyanaconda/core/service.py), its `sshkey`s,
//! then each `%post` in order as pyanaconda/core/kickstart/scripts.py
//! `run_script` does: the body written to /tmp/ks-script-XXXXXX in the
//! target, run by its interpreter chrooted there, cwd /, LC_ALL=C, stdout
//! and stderr to `--log` (inside the target) or /tmp/ks-script-XXXXXX.log,
//! and a failure ends the install only with `--erroronfail`
//! (rhinstaller/anaconda @8eddd3c). The kernel arguments are
//! `bootloader --append`'s.
//!
//! A kickstart that installs rtaudio-tuning from its repository gets the
//! tree's package installed first, as Anaconda's payload step would
//! (vm-test's kickstart path does that, `rpm --root -i`).
//!
//! What Anaconda does and this does not: partitioning, the rest of
//! `%packages` (the guest is Debian's, with its own packages), the boot loader's install, the
//! SELinux relabel, `%pre` and `%post --nochroot` (which run in the
//! installer's own system: refused here).

use std::path::Path;
use std::process::{Command, Stdio};

use super::rows::Row;
use super::stage::group_exists;

/// A `%post` section: its options and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// The line of its `%post`.
    pub line: usize,
    pub interpreter: String,
    pub error_on_fail: bool,
    pub log: Option<String>,
    pub body: String,
}

/// What vm-test reads of an installation kickstart.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Kickstart {
    /// (name, gid)
    pub groups: Vec<(String, Option<u32>)>,
    pub users: Vec<User>,
    pub services: Vec<String>,
    pub ssh_keys: Vec<(String, String)>,
    pub kargs: Vec<String>,
    pub posts: Vec<Post>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
    pub lock: bool,
    pub password_hash: Option<String>,
}

/// `--key=value` or `--key value` of a command's words.
fn option(words: &[String], key: &str) -> Option<String> {
    let flag = format!("--{key}");
    words.iter().enumerate().find_map(|(i, w)| {
        if let Some(v) = w.strip_prefix(&flag).and_then(|r| r.strip_prefix('=')) {
            Some(v.to_string())
        } else if *w == flag {
            words.get(i + 1).cloned()
        } else {
            None
        }
    })
}

fn has_flag(words: &[String], key: &str) -> bool {
    let flag = format!("--{key}");
    words.contains(&flag)
}

/// Read the kickstart. Errors name the line.
pub fn parse(text: &str) -> Result<Kickstart, String> {
    let mut ks = Kickstart::default();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let n = i + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let words = shlex::split(trimmed).ok_or(format!("line {n}: unbalanced quotes"))?;
        let Some(command) = words.first() else {
            continue;
        };
        match command.as_str() {
            "%post" => {
                if has_flag(&words, "nochroot") {
                    return Err(format!(
                        "line {n}: %post --nochroot runs in the installer's own system, which vm-test does not have"
                    ));
                }
                let mut body = String::new();
                let mut closed = false;
                for (_, l) in lines.by_ref() {
                    if l.trim() == "%end" {
                        closed = true;
                        break;
                    }
                    body.push_str(l);
                    body.push('\n');
                }
                if !closed {
                    return Err(format!("line {n}: %post without %end"));
                }
                ks.posts.push(Post {
                    line: n,
                    interpreter: option(&words, "interpreter").unwrap_or_else(|| "/bin/sh".into()),
                    error_on_fail: has_flag(&words, "erroronfail"),
                    log: option(&words, "log").or_else(|| option(&words, "logfile")),
                    body,
                });
            }
            "%pre" | "%pre-install" => {
                return Err(format!(
                    "line {n}: {command} runs in the installer's own system, which vm-test does not have"
                ));
            }
            c if c.starts_with('%') => {
                // %packages, %addon, %anaconda...: read past to %end.
                for (_, l) in lines.by_ref() {
                    if l.trim() == "%end" {
                        break;
                    }
                }
            }
            "group" => {
                let name =
                    option(&words, "name").ok_or(format!("line {n}: group without --name"))?;
                let gid = match option(&words, "gid") {
                    Some(g) => Some(
                        g.parse()
                            .map_err(|_| format!("line {n}: --gid={g} is not a number"))?,
                    ),
                    None => None,
                };
                ks.groups.push((name, gid));
            }
            "user" => {
                let name =
                    option(&words, "name").ok_or(format!("line {n}: user without --name"))?;
                ks.users.push(User {
                    name,
                    groups: option(&words, "groups")
                        .map(|g| {
                            g.split(',')
                                .filter(|s| !s.is_empty())
                                .map(String::from)
                                .collect()
                        })
                        .unwrap_or_default(),
                    lock: has_flag(&words, "lock"),
                    password_hash: option(&words, "password")
                        .filter(|_| has_flag(&words, "iscrypted")),
                });
            }
            "services" => {
                if let Some(list) = option(&words, "enabled") {
                    ks.services
                        .extend(list.split(',').filter(|s| !s.is_empty()).map(String::from));
                }
            }
            "sshkey" => {
                let user = option(&words, "username")
                    .ok_or(format!("line {n}: sshkey without --username"))?;
                let key = words
                    .last()
                    .filter(|w| !w.starts_with("--"))
                    .cloned()
                    .ok_or(format!("line {n}: sshkey without a key"))?;
                ks.ssh_keys.push((user, key));
            }
            "bootloader" => {
                if let Some(a) = option(&words, "append") {
                    ks.kargs = a.split_whitespace().map(String::from).collect();
                }
            }
            _ => {}
        }
    }
    Ok(ks)
}

/// A user's uid, gid (check's reading of /etc/passwd) and home folder.
fn passwd_entry(root: &Path, user: &str) -> Option<(u32, u32, String)> {
    let text = std::fs::read_to_string(root.join("etc/passwd")).ok()?;
    let (uid, gid) = crate::check::parse::passwd_user(&text, user)?;
    let home = text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[0] == user).then(|| f[5].to_string())
    })?;
    Some((uid, gid, home))
}

/// The last lines of a log.
fn tail_of(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(25)..]
        .iter()
        .map(|l| format!("| {l}"))
        .collect()
}

/// The longest a `%post` may run before it is killed (the install fails).
const POST_SECONDS: u64 = 600;

/// Apply the kickstart to `root` (mounted, with /dev, /proc and /sys bound
/// in). The rows say what ran; a row that failed ends the path.
pub fn apply(root: &Path, ks: &Kickstart, phase: &str) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let fail = |what: String, checks: Vec<String>, rows: &mut Vec<Row>| {
        rows.push(Row::new(phase, what, false, checks));
    };
    let run = |c: &mut Command| -> Result<(), Vec<String>> {
        match crate::cmd::run(c) {
            Ok(o) if o.success() => Ok(()),
            Ok(o) => Err(vec![
                format!("command: {}", crate::cmd::cmdline(c)),
                format!("| {}", o.text().trim()),
            ]),
            Err(e) => Err(vec![format!("command: {}: {e}", crate::cmd::cmdline(c))]),
        }
    };
    // Accounts: groups first, then users (a user's missing groups are
    // created, as Anaconda's create_user does).
    let mut accounts = Vec::new();
    for (name, gid) in &ks.groups {
        if group_exists(root, name) {
            accounts.push(format!("group {name}: exists"));
            continue;
        }
        let mut c = Command::new("groupadd");
        c.arg("-R").arg(root);
        if let Some(g) = gid {
            c.args(["-g", &g.to_string()]);
        }
        if let Err(e) = run(c.arg(name)) {
            fail(format!("group --name={name}"), e, &mut rows);
            return Ok(rows);
        }
        accounts.push(format!("groupadd {name}"));
    }
    for u in &ks.users {
        for g in &u.groups {
            if !group_exists(root, g)
                && let Err(e) = run(Command::new("groupadd").arg("-R").arg(root).arg(g))
            {
                fail(format!("user --name={}", u.name), e, &mut rows);
                return Ok(rows);
            }
        }
        let mut c = Command::new("useradd");
        c.arg("-R").arg(root).arg("-m");
        if !u.groups.is_empty() {
            c.arg("-G").arg(u.groups.join(","));
        }
        if let Err(e) = run(c.arg(&u.name)) {
            fail(format!("user --name={}", u.name), e, &mut rows);
            return Ok(rows);
        }
        let mut c = Command::new("usermod");
        c.arg("-R").arg(root);
        match &u.password_hash {
            Some(h) => c.arg("-p").arg(h),
            None => c.arg("-L"),
        };
        if let Err(e) = run(c.arg(&u.name)) {
            fail(format!("user --name={}", u.name), e, &mut rows);
            return Ok(rows);
        }
        accounts.push(format!(
            "useradd {} (groups {})",
            u.name,
            u.groups.join(",")
        ));
    }
    for (user, key) in &ks.ssh_keys {
        let Some((uid, gid, home)) = passwd_entry(root, user) else {
            fail(
                format!("sshkey --username={user}"),
                vec![format!("no user {user}")],
                &mut rows,
            );
            return Ok(rows);
        };
        let dir = root.join(home.trim_start_matches('/')).join(".ssh");
        std::fs::create_dir_all(&dir)?;
        let keys = dir.join("authorized_keys");
        let mut text = std::fs::read_to_string(&keys).unwrap_or_default();
        text.push_str(key);
        text.push('\n');
        std::fs::write(&keys, text)?;
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
            std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600))?;
        }
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
        std::os::unix::fs::chown(&keys, Some(uid), Some(gid))?;
        accounts.push(format!("sshkey for {user}"));
    }
    rows.push(Row::new(
        phase,
        "kickstart accounts (group, user, sshkey)",
        true,
        accounts,
    ));
    // Services: a unit the Debian guest does not ship (Fedora's
    // cpupower.service) is noted; Anaconda would fail on it.
    let mut services = Vec::new();
    for s in &ks.services {
        match run(Command::new("systemctl")
            .arg(format!("--root={}", root.display()))
            .arg("enable")
            .arg(s))
        {
            Ok(()) => services.push(format!("enabled {s}")),
            Err(_) => services.push(format!("{s}: not on this Debian guest, left out")),
        }
    }
    rows.push(Row::new(
        phase,
        "kickstart services --enabled",
        true,
        services,
    ));

    for post in &ks.posts {
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        let script = tempfile::Builder::new()
            .prefix("ks-script-")
            .rand_bytes(8)
            .tempfile_in(&tmp)?;
        std::fs::write(script.path(), &post.body)?;
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(script.path(), std::fs::Permissions::from_mode(0o700))?;
        }
        let name = script
            .path()
            .file_name()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        let log = match &post.log {
            Some(l) => root.join(l.trim_start_matches('/')),
            None => tmp.join(format!("{name}.log")),
        };
        if let Some(d) = log.parent() {
            std::fs::create_dir_all(d)?;
        }
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let child = Command::new("chroot")
            .arg(root)
            .arg(&post.interpreter)
            .arg(format!("/tmp/{name}"))
            .current_dir("/")
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("LC_ALL", "C")
            .env("ANA_INSTALL_PATH", "/mnt/sysroot")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn();
        let status = super::wait_for(child, POST_SECONDS);
        let what = format!(
            "%post at line {}{} ran in the target",
            post.line,
            if post.error_on_fail {
                " (--erroronfail)"
            } else {
                ""
            }
        );
        let mut checks = vec![
            format!("chroot {} {} /tmp/{name}", root.display(), post.interpreter),
            format!(
                "status: {}",
                status
                    .as_ref()
                    .map_or_else(|e| e.clone(), |s| s.to_string())
            ),
            format!(
                "log: {}",
                post.log
                    .clone()
                    .unwrap_or_else(|| format!("/tmp/{name}.log (the installer's)"))
            ),
        ];
        let ok = matches!(&status, Ok(s) if s.success());
        if !ok {
            checks.extend(tail_of(&log));
        }
        if !ok && !post.error_on_fail {
            // Anaconda logs it and goes on.
            checks.push(
                "without --erroronfail Anaconda goes on; so does vm-test, and the failure stands"
                    .into(),
            );
        }
        rows.push(Row::new(phase, what, ok, checks));
        if !ok && post.error_on_fail {
            return Ok(rows);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_anaconda_acts_on() {
        let ks = "# c\ntext\ngroup --name=realtime --gid=71\nuser --name=musician --groups=audio,realtime --lock\nservices --enabled=irqbalance,cpupower\nbootloader --append=\"preempt=full threadirqs\"\nsshkey --username=musician \"ssh-ed25519 AAAA x@y\"\n%packages\n@core\n-foo\n%end\n%post --erroronfail --log=/root/post.log\nset -eu\necho hi\n%end\n%post --interpreter /usr/bin/python3\nprint(1)\n%end\n";
        let k = parse(ks).unwrap();
        assert_eq!(k.groups, vec![("realtime".to_string(), Some(71))]);
        assert_eq!(k.users[0].groups, vec!["audio", "realtime"]);
        assert!(k.users[0].lock);
        assert_eq!(k.services, vec!["irqbalance", "cpupower"]);
        assert_eq!(k.kargs, vec!["preempt=full", "threadirqs"]);
        assert_eq!(k.ssh_keys[0].1, "ssh-ed25519 AAAA x@y");
        assert_eq!(k.posts.len(), 2);
        assert_eq!(k.posts[0].line, 12);
        assert!(k.posts[0].error_on_fail);
        assert_eq!(k.posts[0].log.as_deref(), Some("/root/post.log"));
        assert_eq!(k.posts[0].body, "set -eu\necho hi\n");
        assert_eq!(k.posts[1].interpreter, "/usr/bin/python3");
        assert!(!k.posts[1].error_on_fail);
    }

    #[test]
    fn refuses_what_runs_outside_the_target() {
        assert!(
            parse("%post --nochroot\ncp x /mnt/sysroot\n%end\n")
                .unwrap_err()
                .contains("line 1")
        );
        assert!(parse("%pre\necho\n%end\n").is_err());
        assert!(parse("%post\necho\n").unwrap_err().contains("without %end"));
    }
}
