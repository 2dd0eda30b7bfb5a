//! A guest's root for one delivery path: the cached Debian tree as the
//! lower layer, and the path's own files in an overlay's upper layer, which
//! becomes the path's disk. The host lays the files out through an overlay
//! mount of the same two layers (so the tools that install them, systemctl,
//! useradd, a kickstart's %post in a chroot, see the whole system); the
//! guest's initramfs mounts the same overlay (scripts/vm/init).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

use super::{GUEST_BIN, phase};

pub fn run_ok(cmd: &mut Command) -> anyhow::Result<()> {
    crate::cmd::run_checked(cmd)?;
    Ok(())
}

/// A path's layers on the host: `disk/upper` and `disk/work` become the
/// guest's second disk; `merged` is the whole system while mounted.
pub struct Stage {
    pub dir: PathBuf,
    pub merged: PathBuf,
    mounts: Vec<PathBuf>,
}

/// The overlay options both sides use: nothing either kernel might not honour.
const OVERLAY_OPTIONS: &str = "redirect_dir=off,metacopy=off,index=off,xino=off";

impl Stage {
    pub fn new(dir: &Path, lower: &Path) -> anyhow::Result<Stage> {
        let (upper, work, merged) = (
            dir.join("disk/upper"),
            dir.join("disk/work"),
            dir.join("merged"),
        );
        for d in [&upper, &work, &merged] {
            std::fs::create_dir_all(d)?;
        }
        let mut stage = Stage {
            dir: dir.to_path_buf(),
            merged: merged.clone(),
            mounts: Vec::new(),
        };
        crate::cmd::run_checked(
            Command::new("mount")
                .args(["-t", "overlay", "overlay", "-o"])
                .arg(format!(
                    "lowerdir={},upperdir={},workdir={},{OVERLAY_OPTIONS}",
                    lower.display(),
                    upper.display(),
                    work.display()
                ))
                .arg(&merged),
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "vm-test lays each path's files over the guest with overlayfs, and this host could not mount it (modprobe overlay): {e}"
            )
        })?;
        stage.mounts.push(merged);
        Ok(stage)
    }

    /// Bind the host's /dev, /proc and /sys into the merged root, as Anaconda
    /// mounts them in the system it installs.
    pub fn bind_system(&mut self) -> anyhow::Result<()> {
        for d in ["dev", "proc", "sys"] {
            let target = self.merged.join(d);
            std::fs::create_dir_all(&target)?;
            run_ok(
                Command::new("mount")
                    .arg("--bind")
                    .arg(format!("/{d}"))
                    .arg(&target),
            )?;
            self.mounts.push(target);
        }
        Ok(())
    }

    /// Unmount everything, and write the path's disk: the upper layer, or
    /// with `whole` the whole merged root (a guest without the overlay).
    pub fn finish(mut self, whole: bool) -> anyhow::Result<PathBuf> {
        // The system folders bound in first, the overlay last.
        while self.mounts.len() > 1 {
            let m = self.mounts.pop().expect("a mount");
            run_ok(Command::new("umount").arg(&m))
                .with_context(|| format!("unmounting {}", m.display()))?;
        }
        let disk = self.dir.join(if whole { "root.img" } else { "upper.img" });
        if whole {
            make_disk(&self.merged, &disk)?;
        }
        self.unmount()?;
        if !whole {
            make_disk(&self.dir.join("disk"), &disk)?;
        }
        Ok(disk)
    }

    fn unmount(&mut self) -> anyhow::Result<()> {
        while let Some(m) = self.mounts.pop() {
            run_ok(Command::new("umount").arg(&m))
                .with_context(|| format!("unmounting {}", m.display()))?;
        }
        Ok(())
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        while let Some(m) = self.mounts.pop() {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
    }
}

fn make_disk(dir: &Path, disk: &Path) -> anyhow::Result<()> {
    let mke2fs = mke2fs()?;
    let du = crate::cmd::run_checked(Command::new("du").args(["-sm"]).arg(dir))?;
    let used: u64 = du
        .stdout
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1024);
    // Room for what the guest writes (a package, its journal, snapshots).
    run_ok(
        Command::new(mke2fs)
            .args(["-q", "-F", "-t", "ext4", "-L", "upper", "-d"])
            .arg(dir)
            .arg(disk)
            .arg(format!("{}M", used + 768)),
    )
}

fn sbin(name: &str) -> Option<PathBuf> {
    crate::cmd::find(name).or_else(|| {
        ["/usr/sbin", "/sbin"]
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.exists())
    })
}

pub fn mke2fs() -> anyhow::Result<PathBuf> {
    sbin("mke2fs").ok_or_else(|| crate::ToolMissing("install e2fsprogs (mke2fs)".into()).into())
}

/// A boot entry: its file name and text.
pub type Entry = (String, String);

/// The boot entries in a path's disk, as a boot loader reads them: each
/// entry file's text, and GRUB's saved default, with debugfs (the guest is
/// off; nothing it says about itself is trusted here).
pub fn boot_entries(disk: &Path, prefix: &str) -> anyhow::Result<(Vec<Entry>, Option<String>)> {
    let debugfs = sbin("debugfs").ok_or_else(|| {
        anyhow::Error::from(crate::ToolMissing("install e2fsprogs (debugfs)".into()))
    })?;
    let read = |request: &str| -> anyhow::Result<String> {
        let out = crate::cmd::run(Command::new(&debugfs).arg("-R").arg(request).arg(disk))?;
        Ok(out.stdout)
    };
    let dir = format!("{prefix}/boot/loader/entries");
    let mut entries = Vec::new();
    // ls -p: /INODE/MODE/UID/GID/NAME/SIZE/, one per line.
    for line in read(&format!("ls -p {dir}"))?.lines() {
        let f: Vec<&str> = line.split('/').collect();
        if f.len() < 7 || !f[2].starts_with("100") || !f[5].ends_with(".conf") {
            continue;
        }
        let name = f[5].to_string();
        let text = read(&format!("cat {dir}/{name}"))?;
        entries.push((name, text));
    }
    entries.sort();
    let env = read(&format!("cat {prefix}/boot/grub2/grubenv")).unwrap_or_default();
    let saved = env
        .lines()
        .find_map(|l| l.strip_prefix("saved_entry="))
        .map(String::from);
    Ok((entries, saved))
}

/// The entry a BLS boot loader boots: the saved default (by its id or its
/// title, as the grubby stand-in records it), else the first in its order
/// (newest version first).
pub fn default_entry(
    entries: &[(String, String)],
    saved: Option<&str>,
) -> Option<(String, String)> {
    let field = entry_field;
    if let Some(saved) = saved
        && let Some(e) = entries.iter().find(|(name, text)| {
            name.trim_end_matches(".conf") == saved || field(text, "title") == saved
        })
    {
        return Some(e.clone());
    }
    let mut sorted = entries.to_vec();
    sorted.sort_by_key(|e| std::cmp::Reverse(field(&e.1, "version")));
    sorted.into_iter().next()
}

/// A BLS entry's `key value` line's value.
pub fn entry_field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ').map(str::trim))
        .unwrap_or_default()
        .to_string()
}

/// The kernel arguments as the rendered artifacts carry them (bootc's kargs.d),
/// never from the profile directly; they must agree with the kickstart's.
pub fn kargs_from_tree(tree: &Path) -> anyhow::Result<Vec<String>> {
    let dir = tree.join("rootfs/usr/lib/bootc/kargs.d");
    let mut kargs = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    for f in files {
        let doc: toml::Table = std::fs::read_to_string(&f)?
            .parse()
            .with_context(|| format!("parsing {}", f.display()))?;
        for k in doc
            .get("kargs")
            .and_then(|k| k.as_array())
            .into_iter()
            .flatten()
        {
            kargs.push(k.as_str().unwrap_or_default().to_string());
        }
    }
    // The kickstart says the same; a disagreement is a broken tree.
    for ks in std::fs::read_dir(tree.join("kickstart"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let text = std::fs::read_to_string(ks.path()).unwrap_or_default();
        let name = ks.file_name().to_string_lossy().into_owned();
        if let Ok(theirs) = crate::validate::consistency::installed_kargs(&name, &text)
            && theirs != kargs
        {
            anyhow::bail!(
                "the rendered artifacts disagree on the kernel arguments: kargs.d has [{}], {} has [{}]",
                kargs.join(" "),
                ks.path().display(),
                theirs.join(" ")
            );
        }
    }
    Ok(kargs)
}

/// The musicians the checks run as: the profile's, or, for a profile without
/// any, one the admin would add to the group by hand.
pub fn musicians(profile: &crate::profile::Profile) -> Vec<(String, Vec<String>)> {
    let mut users: Vec<(String, Vec<String>)> = profile
        .users
        .iter()
        .map(|u| (u.name.clone(), u.groups.clone()))
        .collect();
    if users.is_empty() {
        users.push((
            "musician".into(),
            vec!["audio".into(), profile.realtime.group.clone()],
        ));
    }
    users
}

pub fn group_exists(root: &Path, group: &str) -> bool {
    std::fs::read_to_string(root.join("etc/group"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(':').next() == Some(group))
}

/// The rendered drop-ins applied the way the RPM's scriptlets would, from
/// outside (`--root`): the files, sysusers, the musicians in the group, the
/// units enabled and masked.
pub fn apply_rootfs(
    root: &Path,
    tree: &Path,
    profile: &crate::profile::Profile,
    compiled: &crate::selinux::Compiled,
) -> anyhow::Result<()> {
    run_ok(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", tree.join("rootfs").display()))
            .arg(root),
    )?;
    run_ok(Command::new("systemd-sysusers").arg(format!("--root={}", root.display())))?;
    for (name, groups) in musicians(profile) {
        let existing: Vec<&str> = groups
            .iter()
            .filter(|g| group_exists(root, g))
            .map(String::as_str)
            .collect();
        let mut c = Command::new("useradd");
        c.arg("--root").arg(root).args(["-m", "-s", "/bin/bash"]);
        if !existing.is_empty() {
            c.arg("-G").arg(existing.join(","));
        }
        run_ok(c.arg(name))?;
    }
    let plan = crate::render::plan(profile, compiled)?;
    for unit in &plan.enable_all {
        // A unit the guest's distribution does not ship (Fedora's cpupower.service
        // on Debian) is left out; the checks say what that means.
        let _ = crate::cmd::run(
            Command::new("systemctl")
                .arg(format!("--root={}", root.display()))
                .arg("enable")
                .arg(unit),
        );
    }
    for unit in &plan.mask {
        run_ok(
            Command::new("systemctl")
                .arg(format!("--root={}", root.display()))
                .arg("mask")
                .arg(unit),
        )?;
    }
    Ok(())
}

/// A profile the guest judges against: where it goes in the guest, the file
/// it is copied from, and its SELinux module files (relative to its folder).
pub struct GuestProfile<'a> {
    pub guest_path: &'a str,
    pub file: &'a Path,
    pub profile: &'a crate::profile::Profile,
}

/// The files `profile` (read from `file`) names, copied beside its copy in
/// `dir`, at the same relative paths.
pub fn copy_companions(
    profile: &crate::profile::Profile,
    file: &Path,
    dir: &Path,
) -> anyhow::Result<()> {
    let Some(src_dir) = file.parent() else {
        return Ok(());
    };
    for rel in profile.companion_files() {
        let to = dir.join(rel);
        std::fs::create_dir_all(to.parent().unwrap_or(dir))?;
        std::fs::copy(src_dir.join(rel), &to)
            .with_context(|| format!("copying {}", src_dir.join(rel).display()))?;
    }
    Ok(())
}

/// What every guest has: this binary as the agent, its unit, the plan, the
/// profiles it judges against, and the musician lingering (their user
/// manager starts at boot as at a login, through PAM's systemd-user stack).
pub fn install_harness(
    root: &Path,
    plan: &phase::Plan,
    profiles: &[GuestProfile],
) -> anyhow::Result<()> {
    for p in profiles {
        let dest = root.join(p.guest_path.trim_start_matches('/'));
        let dir = dest.parent().expect("a profile in a folder").to_path_buf();
        std::fs::create_dir_all(&dir)?;
        std::fs::copy(p.file, &dest).with_context(|| format!("copying {}", p.file.display()))?;
        copy_companions(p.profile, p.file, &dir)?;
    }
    let plan_path = root.join(phase::PLAN.trim_start_matches('/'));
    std::fs::create_dir_all(plan_path.parent().expect("a folder"))?;
    std::fs::write(&plan_path, serde_json::to_vec_pretty(plan)?)?;
    // The running binary itself: /proc/self/exe still reads it when its file
    // was replaced meanwhile (an upgrade or a rebuild during a long boot).
    let bin = Path::new("/proc/self/exe");
    let bin = if bin.exists() {
        bin.to_path_buf()
    } else {
        std::env::current_exe().context("finding this binary")?
    };
    let dest = root.join(GUEST_BIN.trim_start_matches('/'));
    std::fs::create_dir_all(dest.parent().expect("a folder"))?;
    std::fs::copy(&bin, &dest).with_context(|| format!("copying {}", bin.display()))?;
    let linger = root.join("var/lib/systemd/linger");
    std::fs::create_dir_all(&linger)?;
    std::fs::write(linger.join(&plan.user), "")?;
    // What the agent leaves running (a JACK server libjack started for the
    // musician, in the agent's own cgroup) is killed at once when it is
    // done: under TCG a jackd with a SCHED_FIFO thread may sit out SIGTERM
    // to the 90 s stop timeout before the guest powers off.
    std::fs::write(
        root.join("etc/systemd/system/rtaudio-vm-agent.service"),
        format!(
            "[Unit]\nDescription=rtaudio-tuning vm-test agent\nAfter=multi-user.target systemd-logind.service\n\n[Service]\nType=oneshot\nExecStart={GUEST_BIN} vm-agent --plan {}\nKillSignal=SIGKILL\nExecStopPost=/usr/bin/systemctl poweroff --no-block\n\n[Install]\nWantedBy=multi-user.target\n",
            phase::PLAN
        ),
    )?;
    run_ok(
        Command::new("systemctl")
            .arg(format!("--root={}", root.display()))
            .args(["enable", "rtaudio-vm-agent.service"]),
    )?;
    Ok(())
}

/// Install a stand-in for a Fedora tool the Debian guest lacks, at the path
/// Fedora has it. Each says in its first lines that it is a stand-in.
pub fn install_standin(root: &Path, path: &str, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let dest = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(dest.parent().expect("a folder"))?;
    std::fs::write(&dest, text)?;
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// A BLS boot entry for the guest's kernel, as Fedora's kernel-install
/// writes one, with the kernel beside it in /boot (where kernel packages put
/// it, and where the package's scriptlet looks for kernel-rt).
pub fn boot_entry(root: &Path, kernel: &Path, release: &str, options: &str) -> anyhow::Result<()> {
    let boot = root.join("boot");
    std::fs::create_dir_all(boot.join("loader/entries"))?;
    std::fs::create_dir_all(boot.join("grub2"))?;
    std::fs::copy(kernel, boot.join(format!("vmlinuz-{release}")))?;
    let machine_id = std::fs::read_to_string(root.join("etc/machine-id")).unwrap_or_default();
    let id = format!("{}-{release}", machine_id.trim());
    std::fs::write(
        boot.join("loader/entries").join(format!("{id}.conf")),
        format!(
            "title Debian GNU/Linux 12 ({release})\nversion {release}\nlinux /vmlinuz-{release}\ninitrd /initrd.img-{release}\noptions {options}\ngrub_users $grub_users\ngrub_arg --unrestricted\ngrub_class debian\n"
        ),
    )?;
    Ok(())
}
