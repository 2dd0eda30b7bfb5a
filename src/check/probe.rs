//! What only the running machine can answer: whether this process may really
//! take SCHED_FIFO and lock its memory (tried in a child, which then exits, so
//! nothing here changes), its own limits and groups, and systemd's unit states.

use std::process::Command;

/// Try something in a forked child and report the errno it failed with.
/// The child calls only async-signal-safe functions, then `_exit`.
fn in_child(attempt: fn() -> i32) -> Result<(), i32> {
    // SAFETY: fork() duplicates only this thread; the child runs `attempt`
    // (sched_setscheduler / mlockall: async-signal-safe system calls) and
    // `_exit`s without touching the allocator or locks.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    if pid == 0 {
        let code = attempt();
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child created above; status is a valid pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    if waited != pid || !libc::WIFEXITED(status) {
        return Err(libc::ECHILD);
    }
    match libc::WEXITSTATUS(status) {
        0 => Ok(()),
        e => Err(e),
    }
}

static FIFO_PRIORITY: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(1);

/// Can this process take SCHED_FIFO at `priority`? Err carries the reason.
pub fn sched_fifo(priority: i32) -> Result<(), String> {
    FIFO_PRIORITY.store(priority, std::sync::atomic::Ordering::SeqCst);
    in_child(|| {
        let param = libc::sched_param {
            sched_priority: FIFO_PRIORITY.load(std::sync::atomic::Ordering::SeqCst),
        };
        // SAFETY: plain system call on this (child) process with a valid param.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } == 0 {
            0
        } else {
            std::io::Error::last_os_error().raw_os_error().unwrap_or(1)
        }
    })
    .map_err(errno_text)
}

/// Can this process lock all its memory (mlockall), as JACK does?
pub fn mlockall() -> Result<(), String> {
    in_child(|| {
        // SAFETY: plain system call on this (child) process.
        if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } == 0 {
            0
        } else {
            std::io::Error::last_os_error().raw_os_error().unwrap_or(1)
        }
    })
    .map_err(errno_text)
}

fn errno_text(e: i32) -> String {
    std::io::Error::from_raw_os_error(e).to_string()
}

/// This process's soft and hard limit of a resource; None is unlimited.
pub fn rlimit(resource: libc::__rlimit_resource_t) -> (Option<u64>, Option<u64>) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct passed.
    if unsafe { libc::getrlimit(resource, &mut r) } != 0 {
        return (Some(0), Some(0));
    }
    let v = |x: libc::rlim_t| (x != libc::RLIM_INFINITY).then_some(x);
    (v(r.rlim_cur), v(r.rlim_max))
}

pub const RLIMIT_RTPRIO: libc::__rlimit_resource_t = libc::RLIMIT_RTPRIO;
pub const RLIMIT_MEMLOCK: libc::__rlimit_resource_t = libc::RLIMIT_MEMLOCK;

pub fn uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

/// Whether the name service knows this user (files, LDAP, SSSD...).
pub fn user_exists(name: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(name) else {
        return false;
    };
    let mut pwd = std::mem::MaybeUninit::<libc::passwd>::uninit();
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwnam_r writes only into `pwd` and `buf` (whose length it is
    // given) and sets `result` to `pwd` or null; nothing is read from them
    // but whether `result` is null.
    let rc = unsafe {
        libc::getpwnam_r(
            c.as_ptr(),
            pwd.as_mut_ptr(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    rc == 0 && !result.is_null()
}

/// The group ids this process holds.
pub fn process_gids() -> Vec<u32> {
    // SAFETY: the first call asks for the count, the second fills a buffer of
    // that size.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    if n <= 0 {
        return Vec::new();
    }
    let mut v = vec![0 as libc::gid_t; n as usize];
    let got = unsafe { libc::getgroups(n, v.as_mut_ptr()) };
    v.truncate(got.max(0) as usize);
    // SAFETY: getgid cannot fail.
    v.push(unsafe { libc::getgid() });
    v
}

/// May this process open a path for writing (access W_OK)?
pub fn writable(path: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: c is a valid NUL-terminated string.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// `systemctl is-enabled` / `is-active` of a unit; None when systemctl is
/// missing or no systemd runs.
pub fn systemctl(verb: &str, unit: &str) -> Option<String> {
    let systemctl = crate::cmd::find("systemctl")?;
    if !std::path::Path::new("/run/systemd/system").exists() {
        return None;
    }
    let o = crate::cmd::run(Command::new(systemctl).arg(verb).arg(unit)).ok()?;
    Some(o.stdout.trim().to_string())
}
