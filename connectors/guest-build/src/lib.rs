//! Compiles guest crates (connectors, hostile test plugins) to `wasm32-wasip2` from a
//! build script, so `cargo build`, `cargo run` and `cargo test` never see stale or
//! missing wasm.
//!
//! The idea is wasmtime's `crates/test-programs/artifacts/build.rs`: one nested
//! `cargo build` into a target directory of its own (the outer build holds the lock
//! on the main one), then constants pointing at the artifacts.
//!
//! Build scripts report failure by panicking; every panic here is one line that says
//! what to do.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target guests are compiled for.
pub const TARGET: &str = "wasm32-wasip2";

/// A guest crate and the constant name the generated file gives its bytes or path.
pub struct Guest<'a> {
    /// Cargo package name, e.g. `grantscope-connector-github`.
    pub package: &'a str,
    /// Directory of the crate, relative to the workspace root (for rerun-if-changed).
    pub dir: &'a str,
}

/// Builds `guests` and returns the path of each `.wasm`, in order.
///
/// `workspace` is the workspace root. Emits `rerun-if-changed` for the guests'
/// sources, the SDK, the WIT contract and the lock file.
pub fn build(workspace: &Path, guests: &[Guest<'_>]) -> Vec<PathBuf> {
    for dir in ["wit", "connectors/sdk", "Cargo.lock", "Cargo.toml"]
        .into_iter()
        .chain(guests.iter().map(|g| g.dir))
    {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    println!("cargo:rerun-if-env-changed=GRANTSCOPE_GUEST_CARGO_ARGS");

    ensure_target();

    let target_dir = workspace.join("target").join("guest");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .arg("build")
        .arg("--target")
        .arg(TARGET)
        .arg("--profile")
        .arg("guest")
        .arg("--target-dir")
        .arg(&target_dir);
    if std::env::var_os("CARGO_NET_OFFLINE").is_some() {
        cmd.arg("--offline");
    }
    for g in guests {
        cmd.arg("-p").arg(g.package);
    }
    // The outer build's flags are for the host (and may carry `-C target-cpu=native`,
    // coverage or sanitizer flags that make no sense for wasm).
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build the wasm guests: {e}"));
    if !status.success() {
        panic!(
            "building the wasm guests failed (see the cargo output above); \
             reproduce with: cargo build --target {TARGET} --profile guest {}",
            guests
                .iter()
                .map(|g| format!("-p {}", g.package))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    guests
        .iter()
        .map(|g| {
            let path = target_dir
                .join(TARGET)
                .join("guest")
                .join(format!("{}.wasm", g.package.replace('-', "_")));
            if !path.is_file() {
                panic!("the guest build produced no {}", path.display());
            }
            path
        })
        .collect()
}

/// Installs the wasm target when it is missing, or fails with the one command to run.
fn ensure_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = |root: &Option<PathBuf>| {
        root.as_ref()
            .is_some_and(|r| r.join("lib/rustlib").join(TARGET).join("lib").is_dir())
    };
    if installed(&sysroot) {
        return;
    }
    let toolchain = std::env::var("RUSTUP_TOOLCHAIN").ok();
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", TARGET]);
    if let Some(t) = &toolchain {
        cmd.args(["--toolchain", t]);
    }
    eprintln!("grantscope: installing the {TARGET} target (rustup target add {TARGET})");
    let ok = cmd.status().map(|s| s.success()).unwrap_or(false);
    if !ok || !installed(&sysroot) {
        panic!(
            "the {TARGET} target is not installed and could not be installed: run `rustup target add {TARGET}`"
        );
    }
}

/// Writes `contents` to `path` only when it differs, so unchanged output does not
/// trigger rebuilds of the crates that include it.
pub fn write_if_changed(path: &Path, contents: &str) {
    if std::fs::read_to_string(path).ok().as_deref() == Some(contents) {
        return;
    }
    std::fs::write(path, contents)
        .unwrap_or_else(|e| panic!("could not write {}: {e}", path.display()));
}
