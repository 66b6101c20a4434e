//! Stamps the binary with the git commit it was built from, for
//! `drover_build_info{commit}` and `drover version`-like output. Without
//! git (a source tarball) the commit is `unknown`: the build never fails
//! for it. `DROVER_GIT_COMMIT` in the environment wins (packagers).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=DROVER_GIT_COMMIT");
    let commit = std::env::var("DROVER_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    // Rebuild when HEAD moves: HEAD itself (a checkout) and the branch it
    // points at (a commit), or packed-refs when the branch is packed. In a
    // worktree these live in git's own dirs. Only paths that exist: cargo
    // treats a missing one as always changed.
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    for path in [
        git(&["rev-parse", "--git-path", "HEAD"]),
        branch.and_then(|r| git(&["rev-parse", "--git-path", &r])),
        git(&["rev-parse", "--git-path", "packed-refs"]),
    ]
    .into_iter()
    .flatten()
    .filter(|p| std::path::Path::new(p).exists())
    {
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rustc-env=DROVER_GIT_COMMIT={commit}");
}
