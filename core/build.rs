//! Builds the first-party connectors to wasm and embeds them in the binary, so
//! `grantscope` works with no plugin folder.

use std::path::PathBuf;

use grantscope_guest_build::{Guest, build, write_if_changed};

/// (connector id, package, directory) of every first-party connector.
const CONNECTORS: &[(&str, &str, &str)] = &[
    ("github", "grantscope-connector-github", "connectors/github"),
    (
        "google-workspace",
        "grantscope-connector-google-workspace",
        "connectors/google-workspace",
    ),
    (
        "microsoft-entra",
        "grantscope-connector-microsoft-entra",
        "connectors/microsoft-entra",
    ),
    ("slack", "grantscope-connector-slack", "connectors/slack"),
    ("okta", "grantscope-connector-okta", "connectors/okta"),
    (
        "salesforce",
        "grantscope-connector-salesforce",
        "connectors/salesforce",
    ),
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let workspace = manifest
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("core/ has no parent directory"));
    // `GRANTSCOPE_EMBED=github,okta` embeds only those connectors: a connector author
    // iterating on one crate need not build (or fix) every other one.
    println!("cargo:rerun-if-env-changed=GRANTSCOPE_EMBED");
    let only = std::env::var("GRANTSCOPE_EMBED").ok();
    let chosen: Vec<&(&str, &str, &str)> = CONNECTORS
        .iter()
        .filter(|(id, _, _)| {
            only.as_deref()
                .is_none_or(|list| list.split(',').any(|x| x.trim() == *id))
        })
        .collect();
    let guests: Vec<Guest<'_>> = chosen
        .iter()
        .map(|(_, package, dir)| Guest { package, dir })
        .collect();
    let paths = build(&workspace, &guests);

    let mut out = String::from(
        "/// First-party connectors compiled into this binary: (id, component bytes).\n\
         pub const EMBEDDED: &[(&str, &[u8])] = &[\n",
    );
    for ((id, _, _), path) in chosen.iter().zip(&paths) {
        out.push_str(&format!(
            "    ({id:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    write_if_changed(&out_dir.join("embedded.rs"), &out);
}
