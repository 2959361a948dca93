//! Builds the guest workspace (`plugins/Cargo.toml`: first-party plugins,
//! examples and test fixtures) for `wasm32-wasip2`.
//!
//! Used by the server's build script, to embed the first-party plugins, and
//! by test harnesses, so that plugins are compiled once per build instead of
//! once per test. Guests get a target directory of their own: a nested cargo
//! must never wait on the lock of the build that runs it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The WebAssembly target plugins are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// The repository root, found from this crate's own location.
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where guest build products go: `$CARGO_TARGET_DIR/guests`, or
/// `target/guests` in the repository.
pub fn guest_target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("guests"),
        _ => repository_root().join("target/guests"),
    }
}

/// Builds the named guest packages in release mode and returns the folder
/// holding their `.wasm` files (`<package_with_underscores>.wasm`).
pub fn build(packages: &[&str]) -> Result<PathBuf, String> {
    let root = repository_root();
    let target_dir = guest_target_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(root.join("plugins/Cargo.toml"))
        .args(["--release", "--locked", "--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir);
    for package in packages {
        command.args(["-p", package]);
    }
    // The outer build's settings are for the host: a wrapper (clippy), host
    // flags or a jobserver must not leak into the guest build.
    for variable in [
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "RUSTC",
        "RUSTDOC",
    ] {
        command.env_remove(variable);
    }
    let output = command.output().map_err(|e| format!("could not run cargo for the plugins: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains(TARGET) && stderr.contains("target may not be installed") {
            format!("\nInstall the target with: rustup target add {TARGET}")
        } else {
            String::new()
        };
        return Err(format!("building the plugins failed:\n{stderr}{hint}"));
    }
    Ok(target_dir.join(TARGET).join("release"))
}

/// Like [`build`], but installs the WebAssembly target with rustup first
/// if it is missing, so that `cargo run` works on a fresh toolchain.
pub fn build_installing_target(packages: &[&str]) -> Result<PathBuf, String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).lines().any(|line| line.trim() == TARGET))
        .unwrap_or(true);
    if !installed {
        let added = Command::new("rustup").args(["target", "add", TARGET]).status();
        if !added.is_ok_and(|status| status.success()) {
            return Err(format!("the {TARGET} target is missing and `rustup target add {TARGET}` failed"));
        }
    }
    build(packages)
}

/// The component file of a built package.
pub fn component_path(dir: &Path, package: &str) -> PathBuf {
    dir.join(format!("{}.wasm", package.replace('-', "_")))
}
