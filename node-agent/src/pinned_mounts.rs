//! Bind-mount sources a container could swap for a link, pinned before
//! Docker sees them.
//!
//! A `volumes` or `mount` source such as `local/data` or `../alloc/shared`
//! lies inside a directory the allocation's containers can write to
//! (`alloc/`, a task's `local/` or `secrets/`). The agent makes it a real
//! directory (never through a link, [`crate::confined`]), but Docker
//! resolves the path again when it mounts, following whatever a running
//! sibling task put there in the meantime: `alloc/shared -> /` would hand
//! the host's root to the next container. So the agent opens the source
//! itself (no link followed), bind-mounts that very directory or file onto
//! a path of its own, `<alloc>/.pinned/<task>/<n>`, which no container
//! sees, and gives Docker that path. Released with the allocation's
//! directory ([`release`]).

use std::io;
use std::os::fd::AsRawFd as _;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::mount::UnmountFlags;

use crate::confined::{self, PathKind};

/// Where an allocation's pinned sources are mounted.
const PINNED_DIR: &str = ".pinned";

/// Whether `source` lies strictly inside a directory the containers of
/// the allocation at `alloc_root` can write to: `alloc/…`, or
/// `<task>/local/…` and `<task>/secrets/…` (pure). Those directories
/// themselves are not: their parents are the agent's alone.
pub fn needs_pinning(alloc_root: &Path, source: &Path) -> bool {
    let Ok(relative) = source.strip_prefix(alloc_root) else {
        return false;
    };
    let names: Vec<&std::ffi::OsStr> = relative
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    match names.as_slice() {
        [first, _, ..] if *first == "alloc" => true,
        [_, dir, _, ..] => *dir == "local" || *dir == "secrets",
        _ => false,
    }
}

/// The path of mount `index` of `task`'s container, pinned.
pub fn pinned_path(alloc_root: &Path, task: &str, index: usize) -> PathBuf {
    alloc_root
        .join(PINNED_DIR)
        .join(task)
        .join(index.to_string())
}

/// Detaches every mount stacked on `path` (an earlier start's).
fn unmount_all(path: &Path) {
    // Bounded: a path holds as many mounts as earlier starts left.
    for _ in 0..64 {
        if rustix::mount::unmount(path, UnmountFlags::DETACH).is_err() {
            return;
        }
    }
}

/// Bind-mounts `source` (under `allocs_dir`, reached without following a
/// link) onto mount `index` of `task` in the allocation at `alloc_root`,
/// and returns the path to give Docker. An agent that may not mount (not
/// root) returns `source` as it is and says so once.
pub fn pin(
    allocs_dir: &Path,
    alloc_root: &Path,
    task: &str,
    index: usize,
    source: &Path,
) -> io::Result<PathBuf> {
    let (handle, kind) = confined::open_path(allocs_dir, source)?;
    let target = pinned_path(alloc_root, task, index);
    let parent = target.parent().unwrap_or(alloc_root);
    confined::create_dirs(allocs_dir, parent)?;
    unmount_all(&target);
    // What stands there from an earlier start may be of the other kind.
    match (kind, std::fs::symlink_metadata(&target)) {
        (PathKind::Directory, Ok(m)) if !m.is_dir() => std::fs::remove_file(&target)?,
        (PathKind::File, Ok(m)) if m.is_dir() => std::fs::remove_dir(&target)?,
        _ => {}
    }
    match kind {
        PathKind::Directory => match std::fs::create_dir(&target) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        },
        PathKind::File => {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&target)?;
        }
    }
    let through = PathBuf::from(format!("/proc/self/fd/{}", handle.as_raw_fd()));
    match rustix::mount::mount_bind(&through, &target) {
        Ok(()) => Ok(target),
        Err(e) if e == rustix::io::Errno::PERM || e == rustix::io::Errno::ACCESS => {
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!(error = %e, "cannot bind-mount tasks' mount sources (the agent is not root?): Docker is given the paths themselves");
            }
            Ok(source.to_path_buf())
        }
        Err(e) => Err(e.into()),
    }
}

/// Unmounts every pinned source of the allocation at `alloc_root`, so its
/// directory can be removed.
pub fn release(alloc_root: &Path) {
    let Ok(tasks) = std::fs::read_dir(alloc_root.join(PINNED_DIR)) else {
        return;
    };
    for task in tasks.flatten() {
        let Ok(mounts) = std::fs::read_dir(task.path()) else {
            continue;
        };
        for mount in mounts.flatten() {
            unmount_all(&mount.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sources_inside_what_containers_write_are_pinned() {
        let root = Path::new("/var/lib/drover/allocs/a1");
        for (source, pinned) in [
            ("alloc/shared", true),
            ("alloc/a/b", true),
            ("web/local/data", true),
            ("web/secrets/x", true),
            ("alloc", false),
            ("web/local", false),
            ("web/secrets", false),
            ("web/other", false),
            ("web", false),
        ] {
            assert_eq!(needs_pinning(root, &root.join(source)), pinned, "{source}");
        }
        assert!(!needs_pinning(root, Path::new("/srv/data")));
        assert!(!needs_pinning(
            root,
            Path::new("/var/lib/drover/allocs/a2/alloc/x")
        ));
    }
}
