//! A connector that misbehaves on purpose.
//!
//! `start` turns the comma-separated `tasks` setting into one task per mode; each
//! task does one hostile thing and reports what it saw as a grant whose
//! `attributes` hold the evidence (`outcome`, `observed`). The sandbox tests in
//! `sandbox-tests/tests/it` assert that the host refused, contained or survived it.

// Natively (for `cargo test --workspace`) nothing is exported, so nothing is used.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use grantscope_connector_sdk::bindings::grantscope::connector::egress;
use grantscope_connector_sdk::bindings::grantscope::connector::types::{EgressError, Request};
use grantscope_connector_sdk::{
    App, Capability, Context, Error, ErrorCode, Grant, GrantKind, Guest, Level, Manifest, Method,
    Principal, PrincipalKind, Revocation, RevocationTarget, Step, TargetState, Task,
};

struct Hostile;

/// Text that would drive the operator's terminal if a host printed it as it is:
/// cursor up and erase the line, an OSC 52 clipboard write, a right-to-left
/// override, a line break and a C1 CSI.
const TERMINAL_ESCAPES: &str = "\u{1b}[1A\u{1b}[2K\u{1b}]52;c;SGVsbG8=\u{7}\u{202e}\n\u{9b}2K";

// Export symbols only on wasm: their names break native linkers, and the native
// build exists only so `cargo test --workspace` can type-check this crate.
#[cfg(target_arch = "wasm32")]
grantscope_connector_sdk::export_connector!(Hostile);

fn evidence(task: &Task, pairs: Vec<(&str, String)>) -> Step {
    let mode = task.kind.as_str();
    Step {
        grants: vec![Grant {
            id: format!("evidence:{mode}:{}", task.payload),
            app: App {
                id: "hostile".into(),
                name: "hostile".into(),
                publisher: None,
                attributes: Vec::new(),
            },
            principal: Principal {
                kind: PrincipalKind::Service,
                id: mode.into(),
                display: None,
            },
            kind: GrantKind::ApiKey,
            scopes: Vec::new(),
            created_at: None,
            last_used_at: None,
            expires_at: None,
            revocation: None,
            attributes: pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            notes: Vec::new(),
        }],
        tasks: Vec::new(),
    }
}

fn send(method: Method, url: &str, headers: &[(&str, &str)]) -> String {
    let req = Request {
        method,
        url: url.to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: None,
    };
    match egress::send(&req) {
        Ok(r) => format!(
            "status={} headers={:?} body={}",
            r.status,
            r.headers,
            String::from_utf8_lossy(&r.body)
        ),
        Err(EgressError::Denied(why)) => format!("denied: {why}"),
        Err(EgressError::ForbiddenHeader(h)) => format!("forbidden-header: {h}"),
        Err(e) => format!("error: {e:?}"),
    }
}

fn observe(ctx: &Context) -> String {
    let mut seen = Vec::new();
    seen.push(format!("env={:?}", std::env::vars().collect::<Vec<_>>()));
    seen.push(format!("args={:?}", std::env::args().collect::<Vec<_>>()));
    seen.push(format!("cwd={:?}", std::env::current_dir().ok()));
    for path in ["/", ".", "/etc/passwd", "/proc/self/environ"] {
        seen.push(format!(
            "read {path}: {:?}",
            std::fs::read_dir(path)
                .map(|d| d.count())
                .map_err(|e| e.kind().to_string())
        ));
    }
    seen.push(format!("settings={:?}", ctx.settings));
    if let Some(url) = ctx.setting("url") {
        seen.push(format!("response={}", send(Method::Get, url, &[])));
    }
    seen.join("\n")
}

impl Guest for Hostile {
    fn manifest() -> Manifest {
        Manifest {
            id: "hostile".into(),
            name: "Hostile test plugin".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            // Ten characters, so a test can patch it in place to `salesforce` and
            // show that a plugin may not claim a first-party provider.
            provider: "hostile-pv".into(),
            hosts: vec![
                "localhost".into(),
                "10.0.0.1".into(),
                "169.254.169.254".into(),
                "api.github.com".into(),
            ],
            capabilities: vec![Capability::Enumerate],
            credential_kinds: vec!["static-token".into()],
            permissions: Vec::new(),
            settings: Vec::new(),
            quotas: Vec::new(),
            consistency_window_ms: 0,
        }
    }

    fn start(ctx: Context) -> Result<Vec<Task>, Error> {
        let tasks = ctx.setting("tasks").unwrap_or("ok");
        Ok(tasks
            .split(',')
            .enumerate()
            .map(|(i, m)| Task {
                kind: m.trim().to_owned(),
                payload: i.to_string(),
            })
            .collect())
    }

    fn run(ctx: Context, task: Task) -> Result<Step, Error> {
        let url = ctx
            .setting("url")
            .unwrap_or("http://127.0.0.1:1/")
            .to_owned();
        let mode = task.kind.as_str();
        let outcome = match mode {
            "ok" => "fine".to_owned(),
            "observe" => return Ok(evidence(&task, vec![("observed", observe(&ctx))])),
            "request" => send(Method::Get, &url, &[]),
            "request-other" => ctx
                .setting("other")
                .unwrap_or("")
                .split_whitespace()
                .map(|u| send(Method::Get, u, &[]))
                .collect::<Vec<_>>()
                .join(" | "),
            "counter" => {
                // A fresh instance per call starts every global at zero: the value
                // must always be 1, whatever ran before in this or another tenant.
                static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                format!("calls={n}")
            }
            "auth-header" => send(
                Method::Get,
                &url,
                &[("Authorization", "Bearer guest-made-this-up")],
            ),
            "host-header" => send(Method::Get, &url, &[("Host", "evil.example")]),
            "proxy-header" => send(Method::Get, &url, &[("Proxy-Authorization", "x")]),
            "spin" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            // Blocks in WASI (a monotonic-clock poll) for over a second: wall time,
            // not CPU, so the CPU limit must not fire.
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_millis(1500));
                "slept".to_owned()
            }
            "log-flood" => loop {
                grantscope_connector_sdk::log(Level::Info, &"x".repeat(4096));
            },
            "panic" => panic!("hostile plugin panicked on purpose"),
            "grant-flood" => {
                let mut step = evidence(&task, Vec::new());
                let g = step.grants[0].clone();
                step.grants = (0..20_000)
                    .map(|i| Grant {
                        id: format!("flood:{i}"),
                        ..g.clone()
                    })
                    .collect();
                return Ok(step);
            }
            // Grants without end: 2,000 per step, each with a 900-byte note, and a
            // follow-up task for the next batch. Only the host's per-scan caps stop it.
            "fanout" => {
                let mut step = evidence(&task, Vec::new());
                let g = step.grants[0].clone();
                let batch: u64 = task.payload.parse().unwrap_or(0);
                step.grants = (0..2_000)
                    .map(|i| Grant {
                        id: format!("fanout:{batch}:{i}"),
                        notes: vec!["n".repeat(900)],
                        ..g.clone()
                    })
                    .collect();
                step.tasks = vec![Task {
                    kind: "fanout".into(),
                    payload: (batch + 1).to_string(),
                }];
                return Ok(step);
            }
            "error-escapes" => {
                return Err(Error::new(
                    ErrorCode::Permission,
                    format!("denied{TERMINAL_ESCAPES}"),
                ));
            }
            // A follow-up task whose kind the host quotes in the call's name; it
            // then fails as an unknown mode, whose message quotes the kind again.
            "task-escapes" => {
                return Ok(Step {
                    grants: Vec::new(),
                    tasks: vec![Task {
                        kind: format!("x{TERMINAL_ESCAPES}"),
                        payload: task.payload.clone(),
                    }],
                });
            }
            "budget" => {
                let mut last = String::new();
                for _ in 0..100 {
                    last = send(Method::Get, &url, &[]);
                }
                last
            }
            other => {
                return Err(Error::new(
                    ErrorCode::InvalidInput,
                    format!("unknown mode {other}"),
                ));
            }
        };
        Ok(evidence(&task, vec![("outcome", outcome)]))
    }

    fn revoke(_: Context, _: RevocationTarget) -> Result<Revocation, Error> {
        Err(Error::new(
            ErrorCode::Unsupported,
            "hostile plugin does not revoke",
        ))
    }

    fn probe(_: Context, _: RevocationTarget) -> Result<TargetState, Error> {
        Err(Error::new(
            ErrorCode::Unsupported,
            "hostile plugin does not probe",
        ))
    }
}
