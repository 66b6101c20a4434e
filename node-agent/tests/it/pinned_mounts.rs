//! Mount sources pinned by the agent (real mounts; the tests run as
//! root, as the agent does): once pinned, a link swapped in where the
//! source was changes nothing the container would get, and pinning through
//! a link is refused.

use std::os::unix::fs::symlink;
use std::path::Path;

use drover_node_agent::pinned_mounts::{pin, pinned_path, release};

fn is_mounted(path: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mounts").expect("mounts");
    let path = path.to_string_lossy();
    mounts
        .lines()
        .any(|l| l.split(' ').nth(1) == Some(path.as_ref()))
}

#[test]
fn a_pinned_source_holds_while_a_link_is_swapped_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let allocs = dir.path().join("allocs");
    let alloc_root = allocs.join("a1");
    let shared = alloc_root.join("alloc/shared");
    std::fs::create_dir_all(&shared).expect("source");
    std::fs::write(shared.join("inside"), "the allocation's").expect("write");
    let host = dir.path().join("host");
    std::fs::create_dir_all(&host).expect("host dir");
    std::fs::write(host.join("inside"), "the host's").expect("write");
    let conf = alloc_root.join("web/local/app.conf");
    std::fs::create_dir_all(conf.parent().expect("parent")).expect("local");
    std::fs::write(&conf, "rendered").expect("write");

    let pinned = pin(&allocs, &alloc_root, "web", 0, &shared).expect("pin");
    assert_eq!(pinned, pinned_path(&alloc_root, "web", 0));
    let pinned_file = pin(&allocs, &alloc_root, "web", 1, &conf).expect("pin a file");
    assert!(is_mounted(&pinned) && is_mounted(&pinned_file));
    let read = |p: &Path| std::fs::read_to_string(p).expect("read");
    assert_eq!(read(&pinned.join("inside")), "the allocation's");
    assert_eq!(read(&pinned_file), "rendered");

    // A sibling task swaps the source for a link to the host.
    std::fs::rename(&shared, alloc_root.join("alloc/moved")).expect("move");
    symlink(&host, &shared).expect("plant the link");
    assert_eq!(read(&pinned.join("inside")), "the allocation's");
    // Writes through the pinned path land in the allocation.
    std::fs::write(pinned.join("new"), "x").expect("write through the pin");
    assert!(alloc_root.join("alloc/moved/new").exists());
    assert!(!host.join("new").exists());

    // The next start pins again, and refuses the link.
    let refused = pin(&allocs, &alloc_root, "web", 0, &shared).expect_err("a link");
    assert!(refused.to_string().contains("symbolic link"), "{refused}");
    // A link on the way is refused too.
    std::fs::remove_file(&shared).expect("unlink");
    symlink(&host, alloc_root.join("alloc/hop")).expect("link");
    let through = alloc_root.join("alloc/hop/inside");
    assert!(pin(&allocs, &alloc_root, "web", 2, &through).is_err());

    // A second pin of the same mount leaves one mount, not two.
    std::fs::create_dir_all(&shared).expect("a real dir again");
    pin(&allocs, &alloc_root, "web", 0, &shared).expect("pin again");
    let mounts = std::fs::read_to_string("/proc/self/mounts").expect("mounts");
    let at = pinned.to_string_lossy();
    let count = mounts
        .lines()
        .filter(|l| l.split(' ').nth(1) == Some(at.as_ref()))
        .count();
    assert_eq!(count, 1);

    release(&alloc_root);
    assert!(!is_mounted(&pinned) && !is_mounted(&pinned_file));
    std::fs::remove_dir_all(&alloc_root).expect("the directory goes");
    assert_eq!(read(&host.join("inside")), "the host's");
}
