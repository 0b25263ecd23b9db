//! Records the commit the binary is built from (`git describe --always --dirty`) as
//! `TRACEMARK_BUILD_COMMIT`, so that `tracemark bench` names it in its reports even when it
//! runs outside the repository (a copied binary, a scratch directory). Without git or a
//! repository it records nothing and the bench says `unknown`.

use std::path::Path;
use std::process::Command;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Again when the sources change (the dirty flag) or the checked-out commit does.
    println!("cargo:rerun-if-changed={}", root.join("crates").display());
    println!(
        "cargo:rerun-if-changed={}",
        root.join("Cargo.toml").display()
    );
    println!("cargo:rerun-if-changed={}", root.join("vendor").display());
    let git_dir = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .current_dir(&root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok());
    if let Some(dir) = git_dir {
        let dir = root.join(dir.trim());
        println!("cargo:rerun-if-changed={}", dir.join("HEAD").display());
        println!("cargo:rerun-if-changed={}", dir.join("index").display());
        println!("cargo:rerun-if-changed={}", dir.join("refs").display());
    }
    let described = Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(&root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if let Some(c) = described {
        println!("cargo:rustc-env=TRACEMARK_BUILD_COMMIT={c}");
    }
}
