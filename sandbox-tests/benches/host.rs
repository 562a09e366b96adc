//! Per-task host overhead: a fresh instance from the pooling allocator, one call
//! into the guest, and (in the second case) one egress round trip to a local HTTP
//! server through the full egress path (allowlist, rate limiter, credential,
//! capped body read). Method and figures: BENCHMARKS.md.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use grantscope::config::Config;
use grantscope::plugin::{Runtime, Task, TenantContext};
use grantscope::scan::tenant_egress;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio: {e}"));
    let addr = rt.block_on(async {
        let app = axum::Router::new().fallback(|| async { "{\"ok\":true}" });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        addr
    });
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("token"), "bench-token").unwrap_or_else(|e| panic!("{e}"));
    let text = format!(
        "[limits]\nrequests_per_second = 10000\n[[tenant]]\nname = \"bench\"\nplugin = {:?}\nsimulator = true\nhosts = [\"{addr}\"]\n[tenant.settings]\nurl = \"http://{addr}/x\"\n[tenant.credential]\nkind = \"static-token\"\ntoken_file = \"token\"\n",
        grantscope_sandbox_tests::HOSTILE
    );
    let config = Config::parse(&text, &dir.path().join("c.toml"), dir.path())
        .unwrap_or_else(|e| panic!("config: {e}"));
    let runtime = Runtime::new(&config.limits, Some(dir.path().join("cache")), 16)
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let connector = rt
        .block_on(runtime.load_file(std::path::Path::new(grantscope_sandbox_tests::HOSTILE)))
        .unwrap_or_else(|e| panic!("load: {e}"));
    let tenant = &config.tenants[0];
    let egress = tenant_egress(&connector, tenant, &runtime, 1).unwrap_or_else(|e| panic!("{e}"));
    let ctx = TenantContext {
        tenant: tenant.name.clone(),
        settings: tenant.settings.clone(),
    };
    let task = |kind: &str| Task {
        kind: kind.into(),
        payload: "0".into(),
    };

    let mut group = c.benchmark_group("per_task");
    group.bench_function("instance_and_call", |b| {
        let t = task("ok");
        b.to_async(&rt).iter(|| async {
            connector
                .run(Arc::clone(&egress), &ctx, &t)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        });
    });
    group.bench_function("instance_call_and_egress_round_trip", |b| {
        let t = task("request");
        b.to_async(&rt).iter(|| async {
            connector
                .run(Arc::clone(&egress), &ctx, &t)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
