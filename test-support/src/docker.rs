//! Local container images for the Docker tests.
//!
//! No registry is reachable on the test machines, so images are made here:
//! [`busybox_image`] `docker import`s a root filesystem holding Debian's
//! statically linked busybox (package `busybox-static`, installed by
//! `scripts/ensure-deps.sh --with-docker-tools`) and links for its applets.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::etcd::FixtureError;

/// Where Debian's busybox-static puts its binary.
const BUSYBOX_STATIC: &str = "/bin/busybox";

/// The applets linked into `/bin` (the shell's builtins, such as `trap`,
/// need no link).
pub const BUSYBOX_APPLETS: &[&str] = &[
    "sh", "ash", "sleep", "echo", "env", "cat", "httpd", "nc", "true", "false", "ls", "kill",
    "mkdir", "printf", "test", "[", "wget", "id", "ps", "grep", "touch", "rm", "hostname", "pwd",
    "date", "head", "tail", "wc", "sed", "timeout", "yes",
];

/// Serialises imports within one test binary; `docker import`s of the same
/// tag from several processes are harmless (the last one wins the tag).
static IMPORT_LOCK: Mutex<()> = Mutex::new(());

/// Makes the local image `tag` (e.g. `drover-test/busybox:1`) from
/// busybox-static, with `CMD ["/bin/sh"]`, unless it exists already.
/// Nothing is pulled. Blocking: from async code call it through
/// `tokio::task::spawn_blocking` or accept the short block.
pub fn busybox_image(tag: &str) -> Result<(), FixtureError> {
    busybox_image_with_cmd(tag, &["/bin/sh"])
}

/// Like [`busybox_image`], with `cmd` as the image's `CMD`: e.g. an image
/// tagged `nginx:1.22.1` whose command serves HTTP on port 80, so job files
/// that name real images run unchanged.
pub fn busybox_image_with_cmd(tag: &str, cmd: &[&str]) -> Result<(), FixtureError> {
    let _guard = IMPORT_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if image_exists(tag)? {
        return Ok(());
    }
    let scratch = tempfile::tempdir()
        .map_err(|e| fixture_err(format!("cannot create a tempdir for the rootfs: {e}")))?;
    let tarball = scratch.path().join("rootfs.tar");
    busybox_rootfs_tar(&tarball, &[])?;
    import_tarball(&tarball, tag, cmd)?;
    if image_exists(tag)? {
        Ok(())
    } else {
        Err(fixture_err(format!(
            "`docker import` reported success but image {tag} is not there"
        )))
    }
}

/// Whether the daemon has an image `tag`.
pub fn image_exists(tag: &str) -> Result<bool, FixtureError> {
    let status = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", tag])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| {
            fixture_err(format!(
                "cannot run the docker CLI ({e}); install Docker's client and make sure \
                 the daemon is running"
            ))
        })?;
    Ok(status.success())
}

fn find_busybox() -> Result<PathBuf, FixtureError> {
    let path = PathBuf::from(BUSYBOX_STATIC);
    if path.is_file() && is_static(&path) {
        return Ok(path);
    }
    Err(fixture_err(format!(
        "{BUSYBOX_STATIC} (a statically linked busybox) is missing; the Docker tests build \
         their image from it. Run `scripts/ensure-deps.sh --with-docker-tools` as root \
         (or `sudo apt-get install busybox-static`)"
    )))
}

/// A dynamically linked busybox would not run in an empty rootfs. Checks
/// the ELF header for a `PT_INTERP` segment.
fn is_static(path: &Path) -> bool {
    let Ok(bytes) = fs::read(path) else {
        return false;
    };
    elf_has_interp(&bytes) == Some(false)
}

fn elf_has_interp(b: &[u8]) -> Option<bool> {
    if b.get(0..4)? != b"\x7fELF" || *b.get(4)? != 2 || *b.get(5)? != 1 {
        return None; // only 64-bit little-endian is checked
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?));
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    const PT_INTERP: u32 = 3;
    for i in 0..phnum {
        if u32_at(phoff + i * phentsize)? == PT_INTERP {
            return Some(true);
        }
    }
    Some(false)
}

fn build_rootfs(root: &Path, busybox: &Path) -> Result<(), FixtureError> {
    let io =
        |what: &str, e: std::io::Error| fixture_err(format!("building the rootfs: {what}: {e}"));
    for dir in ["bin", "tmp", "etc", "local", "var/www"] {
        fs::create_dir_all(root.join(dir)).map_err(|e| io(dir, e))?;
    }
    fs::copy(busybox, root.join("bin/busybox")).map_err(|e| io("copy busybox", e))?;
    for applet in BUSYBOX_APPLETS {
        symlink("busybox", root.join("bin").join(applet)).map_err(|e| io(applet, e))?;
    }
    fs::write(root.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n")
        .map_err(|e| io("etc/passwd", e))?;
    fs::write(root.join("etc/group"), "root:x:0:\n").map_err(|e| io("etc/group", e))?;
    Ok(())
}

/// Writes to `dest` an uncompressed tar of the busybox root filesystem the
/// test images are made of (`/bin/busybox` and its [`BUSYBOX_APPLETS`],
/// `/etc/passwd`, `/etc/group`, empty `/tmp`, `/local`, `/var/www`), owned
/// by root, plus `extra_files` (paths relative to the root, in existing
/// directories). [`busybox_image`] imports it; the test registry
/// ([`crate::registry`]) serves it gzipped as an image layer, with a file
/// that makes each registry's layer distinct.
pub fn busybox_rootfs_tar(dest: &Path, extra_files: &[(&str, &[u8])]) -> Result<(), FixtureError> {
    let busybox = find_busybox()?;
    let rootfs = tempfile::tempdir()
        .map_err(|e| fixture_err(format!("cannot create a tempdir for the rootfs: {e}")))?;
    build_rootfs(rootfs.path(), &busybox)?;
    for (path, content) in extra_files {
        fs::write(rootfs.path().join(path), content)
            .map_err(|e| fixture_err(format!("building the rootfs: {path}: {e}")))?;
    }
    let out = Command::new("tar")
        .arg("-C")
        .arg(rootfs.path())
        .args(["--owner=0", "--group=0", "-cf"])
        .arg(dest)
        .arg(".")
        .output()
        .map_err(|e| fixture_err(format!("cannot run tar: {e}")))?;
    if !out.status.success() {
        return Err(fixture_err(format!(
            "tar of the busybox rootfs failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn import_tarball(tarball: &Path, tag: &str, cmd: &[&str]) -> Result<(), FixtureError> {
    let out = Command::new("docker")
        .args(["import", "--change", &cmd_change(cmd)])
        .arg(tarball)
        .arg(tag)
        .output()
        .map_err(|e| fixture_err(format!("cannot run `docker import`: {e}")))?;
    if !out.status.success() {
        return Err(fixture_err(format!(
            "`docker import` of {tag} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// `CMD ["a","b"]`, JSON-quoted.
fn cmd_change(cmd: &[&str]) -> String {
    let quoted: Vec<String> = cmd
        .iter()
        .map(|part| format!("\"{}\"", part.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("CMD [{}]", quoted.join(","))
}

fn fixture_err(msg: impl Into<String>) -> FixtureError {
    FixtureError::from_msg(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_busybox_static_is_seen_as_static() {
        let path = Path::new(BUSYBOX_STATIC);
        if !path.exists() {
            return; // covered by the error path of busybox_image
        }
        assert!(is_static(path));
    }

    #[test]
    fn a_dynamically_linked_binary_is_not_static() {
        let Ok(bytes) = fs::read("/bin/ls") else {
            return;
        };
        assert_eq!(elf_has_interp(&bytes), Some(true));
    }

    #[test]
    fn the_cmd_is_json_quoted() {
        assert_eq!(cmd_change(&["/bin/sh"]), r#"CMD ["/bin/sh"]"#);
        assert_eq!(
            cmd_change(&["sh", "-c", r#"echo "hi""#]),
            r#"CMD ["sh","-c","echo \"hi\""]"#
        );
    }

    #[test]
    fn a_non_elf_file_is_not_static() {
        assert_eq!(elf_has_interp(b"#!/bin/sh\n"), None);
    }
}
