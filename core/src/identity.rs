//! Who and where this process is, as the operating system says: the account it runs
//! as, the host, and whether another process is still alive.
//!
//! The audit log and a run's approval name the OS account from the kernel (`getuid`,
//! then the account database), never from `$USER`: an environment variable is
//! whatever the caller set (and is unset under cron). What a person says about
//! themselves (`--approver`, `--ticket`) is recorded too, labelled as claimed.
//!
//! A revocation run's owner is a process on a host; [`process_alive`] lets a process
//! on the same host tell a crashed owner (whose run may be resumed at once) from a
//! live one (whose run is refused).

use serde::{Deserialize, Serialize};

/// The OS account this process runs as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsUser {
    /// The real user id, from the kernel.
    pub uid: u32,
    /// The account's name in the account database, if it has an entry (a container
    /// may run as a uid with none).
    pub name: Option<String>,
}

impl OsUser {
    /// The account this process runs as.
    pub fn current() -> OsUser {
        imp::current_user()
    }

    /// `user:NAME`, or `uid:N` for an account with no name: the audit log's actor.
    pub fn actor(&self) -> String {
        match &self.name {
            Some(n) => format!("user:{n}"),
            None => format!("uid:{}", self.uid),
        }
    }
}

/// This host's name (`gethostname`), or `unknown-host` when it has none.
pub fn hostname() -> String {
    imp::hostname()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// Whether process `pid` on this host exists and has not exited. A zombie (exited,
/// not yet reaped) counts as gone. Errs towards "alive": a pid that cannot be
/// checked is treated as a live owner, which only delays a takeover until the
/// lease lapses.
pub fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    imp::process_alive(pid)
}

#[cfg(unix)]
mod imp {
    use super::OsUser;

    pub(super) fn current_user() -> OsUser {
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        OsUser {
            uid,
            name: account_name(uid),
        }
    }

    fn account_name(uid: libc::uid_t) -> Option<String> {
        let mut buf = vec![0 as libc::c_char; 4096];
        for _ in 0..4 {
            // SAFETY: `passwd` is plain data that getpwuid_r fills; `buf` outlives the
            // call and its length is passed; `result` is written before it returns.
            let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            let rc = unsafe {
                libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result)
            };
            if rc == libc::ERANGE {
                let len = buf.len() * 4;
                buf.resize(len, 0);
                continue;
            }
            if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
                return None;
            }
            // SAFETY: on success `pw_name` points at a NUL-terminated string in `buf`.
            let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
            return name.to_str().ok().map(str::to_owned);
        }
        None
    }

    pub(super) fn hostname() -> Option<String> {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer and its length are valid for the call.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc != 0 {
            return None;
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        std::str::from_utf8(&buf[..end]).ok().map(str::to_owned)
    }

    pub(super) fn process_alive(pid: u32) -> bool {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return true;
        };
        if pid <= 0 {
            return true;
        }
        // SAFETY: signal 0 performs the permission and existence checks only.
        if unsafe { libc::kill(pid, 0) } != 0 {
            // ESRCH: no such process. EPERM: it exists under another account.
            return std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH);
        }
        !zombie(pid)
    }

    /// An exited child its parent has not reaped still answers `kill(pid, 0)`.
    #[cfg(target_os = "linux")]
    fn zombie(pid: libc::pid_t) -> bool {
        // `/proc/PID/stat` is `PID (COMM) STATE ...`; COMM may hold spaces and ')'.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                let rest = &s[s.rfind(')')? + 1..];
                rest.split_whitespace()
                    .next()
                    .map(|st| st == "Z" || st == "X")
            })
            .unwrap_or(false)
    }

    #[cfg(not(target_os = "linux"))]
    fn zombie(_: libc::pid_t) -> bool {
        false
    }
}

#[cfg(not(unix))]
mod imp {
    use super::OsUser;

    pub(super) fn current_user() -> OsUser {
        OsUser {
            uid: u32::MAX,
            name: None,
        }
    }

    pub(super) fn hostname() -> Option<String> {
        None
    }

    /// Without a way to check, every owner is live until its lease lapses.
    pub(super) fn process_alive(_: u32) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_an_exited_one_is_not() {
        assert!(process_alive(std::process::id()));
        let mut child = std::process::Command::new("true")
            .spawn()
            .unwrap_or_else(|e| panic!("spawn: {e}"));
        let pid = child.id();
        // Exited but not reaped: a zombie, which must count as gone.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while process_alive(pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "an exited, unreaped child still counts as alive"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.wait().unwrap_or_else(|e| panic!("wait: {e}"));
        assert!(!process_alive(pid), "a reaped process is gone");
    }

    #[test]
    fn the_account_comes_from_the_kernel_not_the_environment() {
        let user = OsUser::current();
        // SAFETY: getuid has no preconditions.
        #[cfg(unix)]
        assert_eq!(user.uid, unsafe { libc::getuid() });
        assert!(user.actor().starts_with("user:") || user.actor().starts_with("uid:"));
        assert!(!hostname().is_empty());
    }
}
