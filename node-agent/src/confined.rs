//! File I/O inside directories a container can write to, which never
//! follows a link out of them.
//!
//! A task's `local/`, `secrets/` and the allocation's `alloc/` are
//! writable from inside its containers, and the agent runs as root: a
//! container that plants `local/x.conf -> /etc/shadow` must not make the
//! agent write (or read) the host's file. So every path below a root is
//! walked one component at a time with `openat(O_NOFOLLOW)`: a symbolic
//! link anywhere on the way is an error, not a detour. The root itself is
//! the agent's own (the allocation directory, or a directory the operator
//! named), so it is opened as given.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Component, Path};

use rustix::fs::{AtFlags, Mode, OFlags};

fn outside(path: &Path, root: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{} is not inside {}", path.display(), root.display()),
    )
}

/// The names from `root` to `path` (which must lie under it, without
/// `..`).
fn components<'a>(root: &Path, path: &'a Path) -> io::Result<Vec<&'a OsStr>> {
    let relative = path.strip_prefix(root).map_err(|_| outside(path, root))?;
    relative
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| match c {
            Component::Normal(name) => Ok(name),
            _ => Err(outside(path, root)),
        })
        .collect()
}

/// Opens the root (made first with `create`: it is the agent's own, so
/// plain `create_dir_all` is safe there).
fn open_root(root: &Path, create: bool) -> io::Result<OwnedFd> {
    if create {
        std::fs::create_dir_all(root)?;
    }
    Ok(rustix::fs::open(
        root,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens directory `names` under `dir`, one component at a time, never
/// following a link; with `create`, makes what is missing (0755).
fn walk(mut dir: OwnedFd, names: &[&OsStr], create: bool) -> io::Result<OwnedFd> {
    for name in names {
        if create {
            match rustix::fs::mkdirat(&dir, *name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
        }
        dir = rustix::fs::openat(
            &dir,
            *name,
            OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| link_or(e, name))?;
    }
    Ok(dir)
}

/// `ELOOP`/`ENOTDIR` from an `O_NOFOLLOW` open: say that a link (or a
/// file) stands where a directory was expected.
fn link_or(e: rustix::io::Errno, name: &OsStr) -> io::Error {
    match e {
        rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is a symbolic link or not a directory; it is not followed",
                name.to_string_lossy()
            ),
        ),
        other => other.into(),
    }
}

/// Makes directory `path` (and its parents) under `root`, refusing to
/// pass through a link.
pub fn create_dirs(root: &Path, path: &Path) -> io::Result<()> {
    let names = components(root, path)?;
    walk(open_root(root, true)?, &names, true).map(drop)
}

/// Opens `path` under `root` with `flags`, never following a link: not
/// on the way (the parents are walked one by one) and not at the end
/// (`O_NOFOLLOW`).
fn open_final(root: &Path, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    let names = components(root, path)?;
    let Some((name, parents)) = names.split_last() else {
        return Err(outside(path, root));
    };
    let dir = walk(open_root(root, false)?, parents, false)?;
    rustix::fs::openat(
        &dir,
        *name,
        flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| link_or(e, name))
}

/// What [`open_path`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    Directory,
    File,
}

/// An `O_PATH` handle on the directory or regular file `path` under
/// `root`, reached without following a link: what it names can then be
/// used (bind-mounted through `/proc/self/fd/N`) however the path changes.
pub fn open_path(root: &Path, path: &Path) -> io::Result<(OwnedFd, PathKind)> {
    // O_PATH with O_NOFOLLOW opens a link itself rather than failing.
    let fd = open_final(root, path, OFlags::PATH)?;
    let stat = rustix::fs::fstat(&fd)?;
    match rustix::fs::FileType::from_raw_mode(stat.st_mode) {
        rustix::fs::FileType::Directory => Ok((fd, PathKind::Directory)),
        rustix::fs::FileType::RegularFile => Ok((fd, PathKind::File)),
        rustix::fs::FileType::Symlink => Err(link_or(
            rustix::io::Errno::LOOP,
            path.file_name().unwrap_or(path.as_os_str()),
        )),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is neither a directory nor a regular file",
                path.display()
            ),
        )),
    }
}

/// Reads the regular file `path` under `root` — no link followed, no
/// FIFO or device waited on — refusing one larger than `max_bytes`.
pub fn read_file(root: &Path, path: &Path, max_bytes: u64) -> io::Result<String> {
    let fd = open_final(root, path, OFlags::RDONLY | OFlags::NONBLOCK)?;
    let stat = rustix::fs::fstat(&fd)?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    let too_big = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is larger than {max_bytes} bytes", path.display()),
        )
    };
    if u64::try_from(stat.st_size).unwrap_or(u64::MAX) > max_bytes {
        return Err(too_big());
    }
    let mut text = String::new();
    std::fs::File::from(fd)
        .take(max_bytes + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > max_bytes {
        return Err(too_big());
    }
    Ok(text)
}

/// Writes `contents` to `path` under `root` with `mode`, atomically (a
/// temporary file renamed into place): no link on the way is followed,
/// and a link standing at `path` itself is replaced, not written through.
pub fn write_file(root: &Path, path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let names = components(root, path)?;
    let Some((name, parents)) = names.split_last() else {
        return Err(outside(path, root));
    };
    let dir = walk(open_root(root, true)?, parents, true)?;
    // An empty directory where the file goes was made by an older agent
    // that created every mount source as a directory: replace it.
    if let Ok(stat) = rustix::fs::statat(&dir, *name, AtFlags::SYMLINK_NOFOLLOW) {
        if rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::Directory {
            rustix::fs::unlinkat(&dir, *name, AtFlags::REMOVEDIR)?;
        }
    }
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".drover-tmp");
    // Whatever stands there (a stale temporary, or a link a container
    // planted) goes: unlinking removes the link, never its target.
    match rustix::fs::unlinkat(&dir, &tmp_name, AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(e.into()),
    }
    let fd = rustix::fs::openat(
        &dir,
        &tmp_name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )?;
    // Set explicitly: the umask would otherwise narrow `mode`.
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
    let mut file = std::fs::File::from(fd);
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    rustix::fs::renameat(&dir, &tmp_name, &dir, *name)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn writes_land_inside_and_a_planted_link_is_replaced_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("alloc1");
        // A new allocation: its root is made on the first write.
        write_file(&root, &root.join("web/local/first"), b"1", 0o644).expect("first write");
        let victim = dir.path().join("host-file");
        std::fs::write(&victim, "host").expect("victim");

        // A link where the file goes, and where its temporary goes.
        let target = root.join("web/local/app.conf");
        symlink(&victim, &target).expect("link");
        symlink(&victim, root.join("web/local/.app.conf.drover-tmp")).expect("link");
        write_file(&root, &target, b"rendered", 0o640).expect("write");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "host");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "rendered");
        let meta = std::fs::symlink_metadata(&target).expect("meta");
        assert!(meta.is_file());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o640);

        // A link for a directory on the way: refused, nothing written.
        symlink(dir.path(), root.join("web/secrets")).expect("link");
        let through = root.join("web/secrets/host-file");
        let err = write_file(&root, &through, b"x", 0o600).expect_err("refused");
        assert!(err.to_string().contains("not followed"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "host");
        let err = create_dirs(&root, &root.join("web/secrets/deeper")).expect_err("refused");
        assert!(err.to_string().contains("not followed"), "{err}");
        assert!(!dir.path().join("deeper").exists());

        // Paths out of the root are refused before anything is opened.
        assert!(write_file(&root, &dir.path().join("x"), b"x", 0o600).is_err());
        assert!(write_file(&root, &root.join("web/../../x"), b"x", 0o600).is_err());
        create_dirs(&root, &root.join("web/local/a/b")).expect("dirs");
        assert!(root.join("web/local/a/b").is_dir());
    }

    #[test]
    fn reads_take_regular_files_inside_within_a_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("alloc1");
        std::fs::create_dir_all(root.join("web/local")).expect("dirs");
        let source = root.join("web/local/in.tpl");
        std::fs::write(&source, "{{ env \"X\" }}").expect("write");
        assert_eq!(
            read_file(&root, &source, 1024).expect("read"),
            "{{ env \"X\" }}"
        );
        assert!(read_file(&root, &source, 4).is_err(), "too large");

        let secret = dir.path().join("agent.key");
        std::fs::write(&secret, "key").expect("write");
        let link = root.join("web/local/key.tpl");
        symlink(&secret, &link).expect("link");
        assert!(
            read_file(&root, &link, 1024).is_err(),
            "a link is not followed"
        );
        assert!(read_file(&root, &secret, 1024).is_err(), "outside the root");

        // A FIFO is refused at once instead of waiting for a writer.
        let fifo = root.join("web/local/pipe");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .expect("fifo");
        let err = read_file(&root, &fifo, 1024).expect_err("not a regular file");
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}
