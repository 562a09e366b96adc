//! Builds the hostile guest plugins to wasm and exposes their paths to the tests.

use std::path::PathBuf;

use grantscope_guest_build::{Guest, build, write_if_changed};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let workspace = manifest
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("sandbox-tests/ has no parent directory"));
    let paths = build(
        &workspace,
        &[
            Guest {
                package: "grantscope-guest-hostile",
                dir: "sandbox-tests/guests/hostile",
            },
            Guest {
                package: "grantscope-guest-legacy-v0-1",
                dir: "sandbox-tests/guests/legacy-v0-1",
            },
        ],
    );
    let out = format!(
        "/// Path of the hostile test plugin.\npub const HOSTILE: &str = {:?};\n\
         /// Path of the plugin built against contract 0.1.0.\npub const LEGACY_V0_1: &str = {:?};\n",
        paths[0].display().to_string(),
        paths[1].display().to_string()
    );
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    write_if_changed(&out_dir.join("guests.rs"), &out);
}
