//! Writing a `grantscope scan` config (and the auditor's key) for the simulated tenants.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::SimError;

/// One `[[tenant]]` entry.
#[derive(Clone, Debug)]
pub(crate) struct TenantEntry {
    /// Tenant name (the org login for GitHub).
    pub name: String,
    /// Connector id.
    pub connector: &'static str,
    /// `host:port` the connector may reach.
    pub host: String,
    /// `[tenant.settings]`, in order.
    pub settings: Vec<(&'static str, String)>,
    /// `[tenant.credential]`, in order.
    pub credential: Vec<(&'static str, String)>,
}

/// Renders the config text. Values go through [`toml_string`], so any org name or path
/// is quoted correctly.
pub(crate) fn render(seed: u64, users: u32, registry: &str, tenants: &[TenantEntry]) -> String {
    let mut out = format!(
        "# Written by grantscope-sim (seed {seed}, {users} users). Simulated tenants only.\n\n\
         [vendors]\nregistry = {}\n",
        toml_string(registry)
    );
    for t in tenants {
        // `write!` to a String cannot fail; the results are ignored on purpose.
        let _ = write!(
            out,
            "\n[[tenant]]\nname = {}\nconnector = {}\nsimulator = true          \
             # plain http to loopback allowed for this tenant only\nhosts = [{}]\n\n\
             [tenant.settings]\n",
            toml_string(&t.name),
            toml_string(t.connector),
            toml_string(&t.host),
        );
        for (k, v) in &t.settings {
            let _ = writeln!(out, "{k} = {}", toml_string(v));
        }
        out.push_str("\n[tenant.credential]\n");
        for (k, v) in &t.credential {
            let _ = writeln!(out, "{k} = {}", toml_string(v));
        }
    }
    out
}

/// Where the vendor registry of config `path` goes: `{stem}.vendors.toml` beside it.
/// Returns (path to write, path relative to the config's directory).
pub(crate) fn registry_paths(path: &Path) -> Result<(PathBuf, String), SimError> {
    let bad = || SimError::BadPath {
        path: path.to_path_buf(),
    };
    let stem = path.file_stem().ok_or_else(bad)?.to_str().ok_or_else(bad)?;
    let name = format!("{stem}.vendors.toml");
    let parent = path.parent().unwrap_or(Path::new(""));
    Ok((parent.join(&name), name))
}

/// A grantscope vendor registry for the synthetic vendors: each vendor's apps per
/// provider, taken from the grants the truth attributes to it. Most vendors get an
/// owner and a steward; two do not, so the registry yields "no owner" findings; one
/// contract has ended. Apps with no vendor in the truth stay unmapped on purpose, and
/// so do placeholder app ids several vendors share (GitHub's `unidentified-oauth-app`:
/// the provider does not say whose app it is, so no registry can claim it).
pub(crate) fn render_registry(vendors: &[(&str, &str)], truth: &crate::Truth) -> String {
    use std::collections::{BTreeMap, BTreeSet};
    let mut owners: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for g in &truth.grants {
        if let Some(v) = &g.vendor {
            owners
                .entry((g.provider.as_str(), g.app.id.as_str()))
                .or_default()
                .insert(v.as_str());
        }
    }
    let mut apps: BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
    for g in &truth.grants {
        let shared = owners
            .get(&(g.provider.as_str(), g.app.id.as_str()))
            .is_some_and(|o| o.len() > 1);
        if let Some(v) = g.vendor.as_ref().filter(|_| !shared) {
            apps.entry(v.as_str())
                .or_default()
                .entry(g.provider.as_str())
                .or_default()
                .insert(g.app.id.as_str());
        }
    }
    let mut out = String::from(
        "# grantscope vendor registry for the simulated vendors (written by grantscope-sim).\n",
    );
    for (i, (name, domain)) in vendors.iter().enumerate() {
        let id: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let _ = write!(
            out,
            "\n[[vendor]]\nid = {}\nname = {}\ndomains = [{}]\n",
            toml_string(&id),
            toml_string(name),
            toml_string(domain)
        );
        // Every fifth vendor (after the auditor) has no owner yet.
        if i == 0 || i % 5 != 0 {
            let _ = writeln!(
                out,
                "business_owner = {}\ntechnical_steward = {}",
                toml_string(&format!("owner-{i:02}@acme.example")),
                toml_string(&format!("steward-{i:02}@acme.example"))
            );
        }
        let _ = writeln!(out, "status = \"active\"");
        if i == 3 {
            let _ = writeln!(out, "contract_end = \"2025-03-31\"");
        }
        out.push_str("[vendor.apps]\n");
        for (provider, ids) in apps.get(name).into_iter().flatten() {
            let list: Vec<String> = ids.iter().map(|a| toml_string(a)).collect();
            let _ = writeln!(out, "{} = [{}]", toml_string(provider), list.join(", "));
        }
    }
    out
}

/// A TOML basic string literal.
pub(crate) fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Where the key of config `path` goes: `{stem}.keys/github-app.pem` next to it. Returns
/// (absolute-ish path to write, path relative to the config's directory).
pub(crate) fn key_paths(path: &Path) -> Result<(PathBuf, String), SimError> {
    let stem = path
        .file_stem()
        .ok_or_else(|| SimError::BadPath {
            path: path.to_path_buf(),
        })?
        .to_str()
        .ok_or_else(|| SimError::BadPath {
            path: path.to_path_buf(),
        })?;
    let dir_name = format!("{stem}.keys");
    let parent = path.parent().unwrap_or(Path::new(""));
    Ok((
        parent.join(&dir_name).join("github-app.pem"),
        format!("{dir_name}/github-app.pem"),
    ))
}

/// Writes `path` atomically (temp file + rename), so a reader never sees a half-written
/// file and a failure leaves any previous file intact. `private` files get mode 0600 from
/// creation on. `fill` streams the contents (a large truth never sits in memory twice).
pub(crate) fn write_atomic(
    path: &Path,
    private: bool,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), SimError> {
    let name = path.file_name().ok_or_else(|| SimError::BadPath {
        path: path.to_path_buf(),
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let result = opts.open(&tmp).and_then(|f| {
        let mut w = std::io::BufWriter::new(f);
        fill(&mut w)?;
        w.into_inner()
            .map_err(std::io::IntoInnerError::into_error)?
            .sync_all()
    });
    let result = result.and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        // Best effort: do not leave the temp file behind; the original error matters.
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|source| SimError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Creates the key directory (mode 0700 on Unix) if it does not exist.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), SimError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| SimError::Write {
        path: dir.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(toml_string("acme-corp"), "\"acme-corp\"");
        assert_eq!(toml_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }

    #[test]
    fn key_path_is_a_sibling_directory() {
        let (abs, rel) = key_paths(Path::new("/tmp/x/c.toml")).expect("path");
        assert_eq!(abs, Path::new("/tmp/x/c.keys/github-app.pem"));
        assert_eq!(rel, "c.keys/github-app.pem");
        let (abs, rel) = key_paths(Path::new("sim.toml")).expect("path");
        assert_eq!(abs, Path::new("sim.keys/github-app.pem"));
        assert_eq!(rel, "sim.keys/github-app.pem");
        assert!(key_paths(Path::new("/")).is_err());
    }

    #[test]
    fn render_has_one_tenant_block_per_entry() {
        let t = TenantEntry {
            name: "acme-corp".into(),
            connector: "github",
            host: "127.0.0.1:1".into(),
            settings: vec![("org", "acme-corp".into())],
            credential: vec![("kind", "github-app".into())],
        };
        let text = render(7, 50, "c.vendors.toml", &[t.clone(), t]);
        assert!(text.starts_with("# Written by grantscope-sim (seed 7, 50 users)."));
        assert_eq!(text.matches("[[tenant]]").count(), 2);
        assert!(text.contains("hosts = [\"127.0.0.1:1\"]\n"));
    }
}
