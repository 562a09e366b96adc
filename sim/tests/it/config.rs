//! `write_config`: the documented TOML shape and a private key the host can use.

use crate::common;

#[tokio::test]
async fn write_config_writes_the_documented_toml_and_a_private_key() {
    let h = common::start(7, 500).await;
    let sub = h.dir.path().join("nested");
    std::fs::create_dir(&sub).expect("dir");
    let path = sub.join("c.toml");
    h.sim.write_config(&path).expect("written");
    // Writing again replaces both files cleanly.
    h.sim.write_config(&path).expect("rewritten");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(
        text.starts_with(
            "# Written by grantscope-sim (seed 7, 500 users). Simulated tenants only.\n"
        ),
        "{text}"
    );
    let doc: toml::Table = text.parse().expect("valid TOML");
    let tenants = doc["tenant"].as_array().expect("[[tenant]]");
    let addr = h.sim.addr().to_string();
    let names: Vec<&str> = tenants
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["acme-corp", "acme-labs"]);
    for t in tenants {
        let name = t["name"].as_str().expect("name");
        assert_eq!(t["connector"].as_str(), Some("github"));
        assert_eq!(t["simulator"].as_bool(), Some(true));
        assert_eq!(
            t["hosts"].as_array().expect("hosts")[0].as_str(),
            Some(addr.as_str())
        );
        assert_eq!(t["settings"]["org"].as_str(), Some(name));
        assert_eq!(
            t["settings"]["api_base"].as_str(),
            Some(h.sim.base_url().as_str())
        );
        let cred = &t["credential"];
        assert_eq!(cred["kind"].as_str(), Some("github-app"));
        assert_eq!(cred["app_id"].as_str(), Some("900001"));
        assert_eq!(
            cred["private_key_file"].as_str(),
            Some("c.keys/github-app.pem")
        );
    }
    let key = sub.join("c.keys/github-app.pem");
    let pem = std::fs::read_to_string(&key).expect("key");
    assert!(
        pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"),
        "PKCS#1, what GitHub hands out"
    );
    jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).expect("usable for RS256");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let leftovers: Vec<_> = std::fs::read_dir(&sub)
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "no temp files left behind");

    // An unwritable location is a clear error, not a panic (`sim.toml` is a file).
    let err = h
        .sim
        .write_config(&h.dir.path().join("sim.toml/c.toml"))
        .expect_err("cannot write there");
    assert!(err.to_string().starts_with("cannot write "), "{err}");
    h.sim.shutdown().await;
}
