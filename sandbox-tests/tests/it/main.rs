//! Proofs that the sandbox holds: each test runs the real hostile component in the
//! real host, against real HTTP servers on loopback, and checks what the host
//! refused, contained or survived.

mod contract;
mod support;

use grantscope::plugin::LoadError;
use support::{Echo, Harness, outcome};

#[tokio::test]
async fn a_guest_cannot_reach_an_undeclared_host() {
    let allowed = Echo::start().await;
    let other = Echo::start().await;
    let h = Harness::new(
        true,
        &[&allowed.host()],
        &[
            ("tasks", "request-other"),
            (
                "other",
                &format!("{}/x http://localhost:{}/x", other.url(), other.port()),
            ),
        ],
    );
    let scan = h.scan().await;
    let out = outcome(&scan, "request-other");
    let parts: Vec<&str> = out.split(" | ").collect();
    assert_eq!(parts.len(), 2, "{out}");
    for p in parts {
        assert!(p.starts_with("denied:"), "{out}");
    }
    assert_eq!(
        other.hits(),
        0,
        "the undeclared server must never be contacted"
    );
}

#[tokio::test]
async fn private_link_local_and_metadata_addresses_are_refused() {
    let echo = Echo::start().await;
    // Not a simulator tenant: loopback is as forbidden as any private address.
    let h = Harness::new(
        false,
        &[
            "10.0.0.1",
            "169.254.169.254",
            &format!("localhost:{}", echo.port()),
        ],
        &[
            ("tasks", "request-other"),
            (
                "other",
                &format!(
                    "https://10.0.0.1/ https://169.254.169.254/latest/meta-data/ https://localhost:{}/",
                    echo.port()
                ),
            ),
        ],
    );
    let scan = h.scan().await;
    let out = outcome(&scan, "request-other");
    let parts: Vec<&str> = out.split(" | ").collect();
    assert_eq!(parts.len(), 3, "{out}");
    assert!(
        parts[0].contains("10.0.0.1 is not a public address"),
        "{out}"
    );
    assert!(
        parts[1].contains("169.254.169.254 is not a public address"),
        "{out}"
    );
    // A name is checked again after DNS: localhost resolves to loopback only.
    assert!(parts[2].contains("resolves to no public address"), "{out}");
    assert_eq!(echo.hits(), 0);
}

#[tokio::test]
async fn plain_http_is_refused_outside_simulated_tenants() {
    let echo = Echo::start().await;
    let h = Harness::new(
        false,
        &["api.github.com", &format!("localhost:{}", echo.port())],
        &[
            ("tasks", "request-other"),
            (
                "other",
                &format!("http://api.github.com/ http://localhost:{}/", echo.port()),
            ),
        ],
    );
    let scan = h.scan().await;
    let out = outcome(&scan, "request-other");
    assert_eq!(out.matches("plain http").count(), 2, "{out}");
    assert_eq!(echo.hits(), 0);
}

#[tokio::test]
async fn redirects_off_the_list_are_refused() {
    let allowed = Echo::start().await;
    let other = Echo::start().await;
    let h = Harness::new(
        true,
        &[&allowed.host()],
        &[
            ("tasks", "request"),
            (
                "url",
                &format!("{}/redirect?to={}/stolen", allowed.url(), other.url()),
            ),
        ],
    );
    let scan = h.scan().await;
    let out = outcome(&scan, "request");
    assert!(out.starts_with("denied: redirect refused"), "{out}");
    assert_eq!(allowed.hits(), 1);
    assert_eq!(other.hits(), 0);
}

#[tokio::test]
async fn a_guest_never_sees_the_credential() {
    let echo = Echo::start().await;
    let h = Harness::new(
        true,
        &[&echo.host()],
        &[
            ("tasks", "observe"),
            ("url", &format!("{}/observe", echo.url())),
        ],
    );
    let scan = h.scan().await;
    let observed = support::attribute(&scan, "observe", "observed");
    // The guest saw what it was allowed to see ...
    assert!(observed.contains("response=status=200"), "{observed}");
    assert!(observed.contains("env=[]"), "{observed}");
    assert!(observed.contains("read /: Err"), "{observed}");
    // ... and never the secret, although the host did send it.
    assert!(!observed.contains(support::SECRET), "{observed}");
    let received = echo.authorizations();
    assert_eq!(received, vec![format!("Bearer {}", support::SECRET)]);
    // Nor is it anywhere in what the scan returns.
    let dump = format!("{scan:?}");
    assert!(!dump.contains(support::SECRET));
}

#[tokio::test]
async fn a_guest_cannot_set_credentials_or_routing_headers() {
    let echo = Echo::start().await;
    let h = Harness::new(
        true,
        &[&echo.host()],
        &[
            ("tasks", "auth-header,host-header,proxy-header"),
            ("url", &format!("{}/h", echo.url())),
        ],
    );
    let scan = h.scan().await;
    assert_eq!(
        outcome(&scan, "auth-header"),
        "forbidden-header: authorization"
    );
    assert_eq!(outcome(&scan, "host-header"), "forbidden-header: host");
    assert_eq!(
        outcome(&scan, "proxy-header"),
        "forbidden-header: proxy-authorization"
    );
    assert_eq!(echo.hits(), 0, "refused requests must not leave the host");
}

#[tokio::test]
async fn runaway_guests_fail_their_own_task_and_the_rest_finish() {
    let echo = Echo::start().await;
    let h = Harness::new(
        true,
        &[&echo.host()],
        &[
            (
                "tasks",
                "spin,ok,alloc,log-flood,panic,grant-flood,budget,ok",
            ),
            ("url", &format!("{}/b", echo.url())),
        ],
    );
    let scan = h.scan().await;
    assert!(!scan.complete, "a scan with failed tasks is partial");
    let failure = |mode: &str| {
        scan.failures
            .iter()
            .find(|f| f.call == format!("task {mode}"))
            .map(|f| f.error.clone())
            .unwrap_or_else(|| panic!("no failure for {mode}: {:?}", scan.failures))
    };
    assert!(failure("spin").contains("CPU limit"), "{}", failure("spin"));
    assert!(
        failure("alloc").contains("memory limit"),
        "{}",
        failure("alloc")
    );
    assert!(
        failure("log-flood").contains("log limit"),
        "{}",
        failure("log-flood")
    );
    assert!(failure("panic").contains("trapped"), "{}", failure("panic"));
    // 20,000 grants in one step: refused by the output cap or the transfer cap,
    // whichever the guest hits first; never accepted.
    assert!(
        failure("grant-flood").contains("invalid output"),
        "{}",
        failure("grant-flood")
    );
    // Each error names the connector and the tenant.
    assert!(failure("spin").contains("connector `hostile`, tenant `t1`"));
    // The well-behaved tasks finished despite their neighbours.
    let ok: Vec<_> = scan
        .grants
        .iter()
        .filter(|g| g.principal.id == "ok")
        .collect();
    assert_eq!(ok.len(), 2);
    // The egress budget stops a request loop without failing the call.
    assert_eq!(
        outcome(&scan, "budget"),
        "error: EgressError::BudgetExhausted"
    );
    assert_eq!(echo.hits(), support::EGRESS_CALLS as usize);
}

#[tokio::test]
async fn a_guests_messages_reach_the_host_on_one_line_without_terminal_controls() {
    let h = Harness::new(
        true,
        &["localhost"],
        &[("tasks", "error-escapes,task-escapes")],
    );
    let scan = h.scan().await;
    // The guest's error, and the call and error of the task it named with escapes.
    assert_eq!(scan.failures.len(), 2, "{:?}", scan.failures);
    for f in &scan.failures {
        for text in [&f.call, &f.error] {
            assert!(
                !text.chars().any(grantscope::text::is_unsafe),
                "raw control in {text:?}"
            );
        }
        // Shown, not dropped: the operator sees that something was there.
        assert!(f.error.contains("\\x1b[1A\\x1b[2K"), "{:?}", f.error);
    }
    let error = |call: &str| {
        scan.failures
            .iter()
            .find(|f| f.call.starts_with(call))
            .map(|f| f.error.clone())
            .unwrap_or_else(|| panic!("no failure of {call}: {:?}", scan.failures))
    };
    assert!(
        error("task error-escapes")
            .contains("denied\\x1b[1A\\x1b[2K\\x1b]52;c;SGVsbG8=\\x07\\u{202e}\\n\\u{9b}2K"),
        "{}",
        error("task error-escapes")
    );
    assert!(error("task x\\x1b").contains("unknown mode x\\x1b"));
}

#[tokio::test]
async fn every_call_gets_a_fresh_instance_and_tenants_share_nothing() {
    let echo = Echo::start().await;
    let h = Harness::with_tenants(
        2,
        true,
        &[&echo.host()],
        &[("tasks", "counter,counter,counter,counter,counter")],
    );
    let scans = h.scan_all().await;
    assert_eq!(scans.len(), 2);
    for scan in &scans {
        let counts: Vec<_> = scan
            .grants
            .iter()
            .filter_map(|g| g.attributes.get("outcome"))
            .collect();
        assert_eq!(counts.len(), 5, "{:?}", scan.failures);
        assert!(counts.iter().all(|c| *c == "calls=1"), "{counts:?}");
    }
}

#[tokio::test]
async fn a_component_built_for_another_contract_is_refused() {
    let bytes = support::hostile_bytes();
    let patched = support::replace_all(
        &bytes,
        b"grantscope:connector/plugin@0.2.0",
        b"grantscope:connector/plugin@0.9.0",
    );
    let runtime = support::runtime();
    match runtime.load("patched", &patched).await {
        Err(LoadError::UnsupportedContract { found, .. }) => assert_eq!(found, "0.9.0"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a 0.9.0 component must be refused"),
    }
}

#[tokio::test]
async fn a_component_importing_network_interfaces_is_refused() {
    let bytes = support::hostile_bytes();
    let patched = support::replace_all(&bytes, b"wasi:cli/exit@0.2.6", b"wasi:http/xit@0.2.6");
    let runtime = support::runtime();
    match runtime.load("patched", &patched).await {
        Err(LoadError::ForbiddenImport { import, .. }) => {
            assert_eq!(import, "wasi:http/xit@0.2.6");
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a component importing wasi:http must be refused"),
    }
}

#[tokio::test]
async fn oversized_and_invalid_components_are_refused_before_compiling() {
    let limits = grantscope::config::Limits {
        component_bytes: 1024,
        ..Default::default()
    };
    let runtime = grantscope::plugin::Runtime::new(&limits, None, 2)
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let bytes = support::hostile_bytes();
    assert!(matches!(
        runtime.load("big", &bytes).await,
        Err(LoadError::TooLarge { .. })
    ));
    let runtime = support::runtime();
    assert!(matches!(
        runtime.load("junk", b"\0asm not really").await,
        Err(LoadError::Invalid { .. })
    ));
}

#[tokio::test]
async fn the_wall_clock_limit_bounds_a_stuck_provider() {
    // The echo server answers /slow after 5 s; the call may take 2 s in all.
    let echo = Echo::start().await;
    let mut h = Harness::new(
        true,
        &[&echo.host()],
        &[
            ("tasks", "request,ok"),
            ("url", &format!("{}/slow", echo.url())),
        ],
    );
    h.limits = vec![
        ("wall_secs_per_call", "2".into()),
        ("request_timeout_secs", "30".into()),
    ];
    let scan = h.scan().await;
    let err = scan
        .failures
        .iter()
        .find(|f| f.call == "task request")
        .map(|f| f.error.clone())
        .unwrap_or_default();
    assert!(
        err.contains("wall-clock limit"),
        "{err} / {:?}",
        scan.failures
    );
    assert!(scan.grants.iter().any(|g| g.principal.id == "ok"));
}

#[tokio::test]
async fn compiled_components_are_cached_and_checked_before_loading() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let cache = dir.path().join("cache");
    let limits = grantscope::config::Limits::default();
    let runtime = grantscope::plugin::Runtime::new(&limits, Some(cache.clone()), 2)
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let bytes = support::hostile_bytes();
    let first = runtime.load("hostile", &bytes).await;
    assert!(first.is_ok());
    let files: Vec<_> = std::fs::read_dir(&cache)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "one compiled artifact: {files:?}");
    let artifact = &files[0];
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cache).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(
            mode.ok(),
            Some(0o700),
            "the cache holds native code: private"
        );
    }
    // An intact artifact is reused as it is.
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let before = modified(artifact);
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(runtime.load("hostile", &bytes).await.is_ok());
    assert_eq!(
        modified(artifact),
        before,
        "a valid cache entry is not rewritten"
    );
    // Corrupt the artifact: the checksum must catch it and the component be
    // recompiled (and the artifact rewritten), never deserialised.
    let mut data = std::fs::read(artifact).unwrap_or_else(|e| panic!("{e}"));
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    std::fs::write(artifact, &data).unwrap_or_else(|e| panic!("{e}"));
    let again = runtime.load("hostile", &bytes).await;
    assert!(again.is_ok(), "a corrupt cache entry must be recompiled");
    let rewritten = std::fs::read(artifact).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(rewritten, data, "the corrupt artifact is replaced");
    // The manifest loaded from the cached artifact is the real one.
    let m = again.map(|c| c.manifest().id.clone()).unwrap_or_default();
    assert_eq!(m, "hostile");
}

/// Issue 12: a plugin that returns grants without end (a million of them made a 690 MB
/// store and a 6.3 GB report) stops at `[limits] grants_per_scan` or `scan_mib`, and the
/// tenant is partial with a failure that says which limit: never a silent cut.
#[tokio::test]
async fn grant_and_byte_caps_make_an_endless_scan_partial() {
    let mut h = Harness::new(true, &["127.0.0.1"], &[("tasks", "fanout")]);
    h.limits.push(("grants_per_scan", "5000".into()));
    let scan = h.scan().await;
    assert!(!scan.complete, "a capped scan is partial");
    assert_eq!(scan.grants.len(), 5000, "kept up to the cap, no more");
    let why: Vec<&str> = scan.failures.iter().map(|f| f.error.as_str()).collect();
    assert!(
        why.iter()
            .any(|e| e.contains("limit of 5000 grants per scan ([limits] grants_per_scan)")),
        "{why:?}"
    );

    // 2,000 grants of about a kilobyte each in the first step: over 1 MiB at once.
    let mut h = Harness::new(true, &["127.0.0.1"], &[("tasks", "fanout")]);
    h.limits.push(("scan_mib", "1".into()));
    let scan = h.scan().await;
    assert!(!scan.complete);
    assert!(scan.grants.len() < 2000, "{}", scan.grants.len());
    let bytes: u64 = scan.grants.iter().map(|g| g.text_bytes()).sum();
    assert!(bytes <= 1 << 20, "{bytes} bytes kept");
    assert!(
        scan.failures.iter().any(|f| f
            .error
            .contains("limit of 1 MiB of grant records per scan ([limits] scan_mib)")),
        "{:?}",
        scan.failures
    );
}

/// Issue 12: first-party ids and providers belong to the embedded connectors. A plugin
/// declaring provider `salesforce` would have its grants mapped to Salesforce vendors
/// and joined to their offboarding plans; it is refused at load. A plugin that loads
/// has its file and hash on every grant it reports.
#[tokio::test]
async fn a_plugin_cannot_claim_a_first_party_provider_and_its_grants_name_their_source() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("impostor.wasm");
    let bytes = support::replace_all(&support::hostile_bytes(), b"hostile-pv", b"salesforce");
    std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let err = support::runtime()
        .load_file(&path)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| panic!("a plugin claiming `salesforce` loaded"));
    assert!(
        err.contains("declares provider `salesforce`, which is reserved"),
        "{err}"
    );

    let h = Harness::new(true, &["127.0.0.1"], &[("tasks", "ok")]);
    let scan = h.scan().await;
    let want = grantscope::model::PluginSource {
        path: grantscope_sandbox_tests::HOSTILE.to_owned(),
        sha256: {
            use sha2::Digest as _;
            hex::encode(sha2::Sha256::digest(support::hostile_bytes()))
        },
    };
    assert!(!scan.grants.is_empty());
    for g in &scan.grants {
        assert_eq!(g.plugin.as_ref(), Some(&want), "{}", g.id);
    }
}

/// Issue 12: time a guest spends blocked in a WASI call (here a 1.5 s sleep, against a
/// 300 ms CPU limit) is not guest CPU; a spinning guest is still stopped.
#[tokio::test]
async fn blocking_in_wasi_is_not_counted_as_guest_cpu() {
    let h = Harness::new(true, &["127.0.0.1"], &[("tasks", "sleep,spin")]);
    let scan = h.scan().await;
    assert_eq!(outcome(&scan, "sleep"), "slept", "{:?}", scan.failures);
    let spin: Vec<&str> = scan
        .failures
        .iter()
        .filter(|f| f.call == "task spin")
        .map(|f| f.error.as_str())
        .collect();
    assert!(spin.iter().any(|e| e.contains("CPU limit")), "{spin:?}");
    assert!(
        !scan.failures.iter().any(|f| f.call == "task sleep"),
        "{:?}",
        scan.failures
    );
}
