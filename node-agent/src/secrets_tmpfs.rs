//! A task's `secrets/` as a tmpfs, as in Nomad: what templates render
//! there lives in memory, never on the node's disk, and is gone when the
//! allocation's directory is removed or the node restarts (the agent
//! renders it again before the task next starts).
//!
//! The mount point is `<allocs dir>/<alloc>/<task>/secrets`: no container
//! sees the task directory itself (only `local/`, `secrets/` and `alloc/`
//! inside it), so none can swap the path for a link before the mount.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::mount::{MountFlags, UnmountFlags};

/// Nomad's size for the secrets tmpfs.
const MOUNT_DATA: &std::ffi::CStr = c"size=1m,mode=0755";

/// Whether `dir` is the root of a mount (its device differs from its
/// parent's).
fn is_mount_point(dir: &Path) -> io::Result<bool> {
    let Some(parent) = dir.parent() else {
        return Ok(true);
    };
    let here = rustix::fs::lstat(dir)?;
    let above = rustix::fs::stat(parent)?;
    Ok(here.st_dev != above.st_dev)
}

/// Makes `<task_root>/secrets` (made first, inside `allocs_dir`) a tmpfs
/// unless it already is one. An agent not allowed to mount (not root)
/// keeps the directory on disk and says so once.
pub fn ensure(allocs_dir: &Path, task_root: &Path) -> io::Result<()> {
    let dir = task_root.join("secrets");
    crate::confined::create_dirs(allocs_dir, &dir)?;
    if is_mount_point(&dir)? {
        return Ok(());
    }
    let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    match rustix::mount::mount("tmpfs", &dir, "tmpfs", flags, MOUNT_DATA) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::PERM || e == rustix::io::Errno::ACCESS => {
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!(error = %e, "cannot mount a tmpfs for tasks' secrets/ (the agent is not root?): secrets are written to disk");
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Unmounts the secrets tmpfs of every task of the allocation at
/// `alloc_root`, so its directory can be removed.
pub fn release(alloc_root: &Path) {
    let Ok(tasks) = std::fs::read_dir(alloc_root) else {
        return;
    };
    for task in tasks.flatten() {
        let dir = task.path().join("secrets");
        if is_mount_point(&dir).unwrap_or(false) {
            if let Err(e) = rustix::mount::unmount(&dir, UnmountFlags::DETACH) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot unmount the secrets tmpfs");
            }
        }
    }
}
