//! Hostile text from a provider or a plugin reaches no terminal raw: the real Okta
//! connector scans a replay of Okta's documented payloads whose app labels, client
//! names and user login carry cursor movement and line erasure (`ESC[1A ESC[2K`), an
//! OSC 52 clipboard write, a right-to-left override and a C1 CSI; then every command
//! that prints that inventory as text runs through the real binary, and none of their
//! output holds a raw ESC, C1 or bidirectional formatting character, or any control
//! but the line break — while each shows the hostile text, escaped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use grantscope_sim::Replay;
use serde_json::{Value, json};

use crate::support::{grantscope, write_text};

/// What the provider sends inside names: cursor up and erase the line, an OSC 52
/// clipboard write, a right-to-left override, a C1 CSI, a line break.
const HOSTILE: &str = "\u{1b}[1A\u{1b}[2K\u{1b}]52;c;SGVsbG8=\u{7}\u{202e}\u{9b}2K\n";
/// How the CLI shows it.
const SHOWN: &str = "\\x1b[1A\\x1b[2K\\x1b]52;c;SGVsbG8=\\x07\\u{202e}\\u{9b}2K\\n";
/// The vendor that holds the user's grants; its registry entry is hostile too.
const VENDOR: &str = "driftwood";
/// The client the user consented to (`list-user-clients.json`), the vendor's app.
const VENDOR_CLIENT: &str = "0oabskvc6442nkvQO0h7";
/// A link in an app label, which a Markdown report must not render as one.
const LINK: &str = " [click](https://evil.example) www.evil.example";

fn okta_examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/providers/okta/examples")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write_json(path: &Path, doc: &Value) {
    write_text(
        path,
        &serde_json::to_string_pretty(doc).unwrap_or_else(|e| panic!("{e}")),
    );
}

/// A replay folder of Okta's examples with hostile names (as `replay.rs` builds it:
/// plus the user list and a user's grants for one client). The `earlier` folder lacks
/// the OIDC app and fails the user's refresh tokens with a hostile error summary, so
/// the later scan adds their grants and `diff` has something to show.
fn recordings(dir: &Path, earlier: bool) -> PathBuf {
    let rec = dir.join(if earlier { "earlier" } else { "later" });
    let okta = rec.join("okta");
    std::fs::create_dir_all(&okta).unwrap_or_else(|e| panic!("mkdir: {e}"));
    for entry in std::fs::read_dir(okta_examples()).unwrap_or_else(|e| panic!("examples: {e}")) {
        let path = entry.unwrap_or_else(|e| panic!("examples: {e}")).path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".json") {
            continue;
        }
        let mut doc = read_json(&path);
        let body = &mut doc["response"]["body"];
        match name {
            "list-apps.json" => {
                let apps = body.as_array_mut().unwrap_or_else(|| panic!("apps"));
                if earlier {
                    apps.retain(|a| a["signOnMode"] != "OPENID_CONNECT");
                }
                for a in apps {
                    let label = a["label"].as_str().unwrap_or_default();
                    a["label"] = json!(format!("app{HOSTILE}{label}{LINK}"));
                }
            }
            "list-user-clients.json" => {
                for c in body.as_array_mut().unwrap_or_else(|| panic!("clients")) {
                    let name = c["client_name"].as_str().unwrap_or_default();
                    c["client_name"] = json!(format!("client{HOSTILE}{name}"));
                }
            }
            "list-user-client-refresh-tokens.json" if earlier => {
                doc["response"] = json!({
                    "status": 403,
                    "headers": {"Content-Type": "application/json"},
                    "body": {"errorCode": "E0000006", "errorId": "oae1",
                             "errorSummary": format!("You do not have permission{HOSTILE}"),
                             "errorLink": "E0000006", "errorCauses": []}
                });
            }
            _ => {}
        }
        write_json(&okta.join(name), &doc);
    }
    let users = json!({
        "request": {"method": "GET", "host": "acme.okta.com", "path": "/api/v1/users",
                    "query": {"limit": "200"}},
        "response": {"status": 200, "headers": {"Content-Type": "application/json"}, "body": [{
            "id": "00ub0oNGTSWTBKOLGLNR",
            "status": "ACTIVE",
            "created": "2024-06-02T17:16:39.000Z",
            "profile": {"login": format!("isaac{HOSTILE}@example.com"),
                        "email": "isaac.brock@example.com",
                        "firstName": format!("Isaac{HOSTILE}"), "lastName": "Brock"},
            "_links": {"self": {"href": "https://acme.okta.com/api/v1/users/00ub0oNGTSWTBKOLGLNR"}}
        }]}
    });
    write_json(&rec.join("users.json"), &users);
    let mut per_client = read_json(&okta_examples().join("list-user-grants.json"));
    per_client["request"]["path"] = json!("/api/v1/users/{userId}/clients/{clientId}/grants");
    write_json(&rec.join("user-client-grants.json"), &per_client);
    rec
}

/// The registry: one vendor, hostile in its own text, holding the user's client.
fn registry(dir: &Path) {
    write_text(
        &dir.join("vendors.toml"),
        &format!(
            "[[vendor]]\nid = \"{VENDOR}\"\nname = \"Driftwood \\u001b]52;c;SGVsbG8=\\u0007\"\n\
             business_owner = \"ops\\u001b[1A\\u001b[2K\\u202e\"\n\
             purpose = \"chat\\nforged line\"\n\
             [vendor.apps]\nokta = [\"{VENDOR_CLIENT}\"]\n\
             [vendor.allowed_scopes]\nokta = [\"openid\"]\n"
        ),
    );
}

/// A config for the one Okta tenant at `base`, with the registry.
fn config(dir: &Path, base: &str, host: &str) -> PathBuf {
    write_text(&dir.join("okta-token"), "00a-replayed-token\n");
    let path = dir.join("hostile.toml");
    write_text(
        &path,
        &format!(
            "[vendors]\nregistry = \"vendors.toml\"\n\n\
             [[tenant]]\nname = \"acme-okta\"\nconnector = \"okta\"\nsimulator = true\n\
             hosts = [\"{host}\"]\n\n[tenant.settings]\norg_url = \"{base}\"\n\n\
             [tenant.credential]\nkind = \"static-token\"\nscheme = \"SSWS\"\n\
             token_file = \"okta-token\"\n"
        ),
    );
    path
}

/// What a command wrote, as bytes: a raw C1 byte must not be hidden by a lossy
/// decoding.
struct Printed {
    what: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn run(what: &str, mut cmd: Command) -> Printed {
    let out: Output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("run: {e}"));
    let text = |bytes: &[u8], stream: &str| {
        assert!(
            !bytes.contains(&0x1b),
            "{what}: a raw ESC reached {stream}:\n{}",
            String::from_utf8_lossy(bytes).escape_debug()
        );
        String::from_utf8(bytes.to_vec())
            .unwrap_or_else(|e| panic!("{what}: {stream} is not UTF-8: {e}"))
    };
    let printed = Printed {
        what: what.to_owned(),
        code: out.status.code(),
        stdout: text(&out.stdout, "stdout"),
        stderr: text(&out.stderr, "stderr"),
    };
    for (stream, s) in [("stdout", &printed.stdout), ("stderr", &printed.stderr)] {
        let raw: Vec<char> = s
            .chars()
            .filter(|c| *c != '\n' && grantscope::text::is_unsafe(*c))
            .collect();
        assert!(
            raw.is_empty(),
            "{what}: {raw:?} reached {stream} raw:\n{}",
            s.escape_debug()
        );
    }
    printed
}

impl Printed {
    fn expect_code(&self, code: i32) -> &Printed {
        assert_eq!(
            self.code,
            Some(code),
            "{}: exit code\nstdout:\n{}\nstderr:\n{}",
            self.what,
            self.stdout,
            self.stderr
        );
        self
    }

    /// The hostile text is there, escaped, at least `n` times in stdout: the test
    /// would prove nothing if the names had not reached the output at all.
    fn shows(&self, needle: &str, n: usize) -> &Printed {
        let found = self.stdout.matches(needle).count();
        assert!(
            found >= n,
            "{}: {found} of {n} `{needle}` in\n{}\nstderr:\n{}",
            self.what,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Scans the replay of `rec` into the store, through the real binary.
async fn scan(dir: &Path, rec: &Path) -> Printed {
    let replay = Replay::load(rec)
        .unwrap_or_else(|e| panic!("load: {e}"))
        .start("127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("start: {e}"));
    let config = config(dir, &replay.base_url(), &replay.addr().to_string());
    let mut cmd = grantscope(dir);
    cmd.arg("--db").arg(dir.join("g.db"));
    cmd.args(["scan", "--config"]).arg(&config);
    let printed = run("scan", cmd).await;
    let report = replay.report();
    assert!(report.misses.is_empty(), "{:#?}", report.misses);
    replay.shutdown().await;
    printed
}

/// `grantscope --db g.db ARGS` in `dir`.
fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = grantscope(dir);
    cmd.arg("--db").arg(dir.join("g.db"));
    cmd.args(args);
    cmd
}

#[tokio::test]
async fn hostile_names_reach_no_terminal_raw() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let dir = dir.path();
    registry(dir);
    let config = dir.join("hostile.toml");
    let config = config.to_str().unwrap_or_else(|| panic!("path"));

    // The earlier scan is partial: Okta's hostile error summary is one of its
    // failures. (The Okta connector already blanks the controls of an error
    // excerpt; the right-to-left override gets through it to the host.)
    scan(dir, &recordings(dir, true))
        .await
        .expect_code(3)
        .shows("You do not have permission", 1)
        .shows("\\u{202e}", 1);
    scan(dir, &recordings(dir, false)).await.expect_code(0);

    // The app grants and the refresh token the later scan added, with the app's
    // label, the client's name and the user's login.
    run("diff", command(dir, &["diff"]))
        .await
        .expect_code(0)
        .shows(&format!("app{SHOWN}Sample Client profile"), 2)
        .shows(&format!("client{SHOWN}My App"), 1)
        .shows(&format!("isaac{SHOWN}@example.com"), 1);

    let vendors = |args: &[&str]| {
        let mut all = vec!["vendors", "--config", config];
        all.extend(args);
        command(dir, &all)
    };
    run("vendors list", vendors(&["list"]))
        .await
        .expect_code(0)
        .shows("Driftwood \\x1b]52;c;SGVsbG8=\\x07", 1)
        .shows("ops\\x1b[1A\\x1b[2K\\u{202e}", 1);
    run("vendors show", vendors(&["show", VENDOR]))
        .await
        .expect_code(0)
        .shows("chat\\nforged line", 1)
        .shows(&format!("isaac{SHOWN}@example.com"), 2);
    run("vendors unmapped", vendors(&["unmapped"]))
        .await
        .expect_code(0)
        .shows(&format!("app{SHOWN}Sample Client profile"), 1);
    run("vendors findings", vendors(&["findings"]))
        .await
        .expect_code(0)
        .shows(&format!("app{SHOWN}Sample Client profile"), 2)
        .shows("Driftwood \\x1b]52;c;SGVsbG8=\\x07", 1);

    // The Markdown report: controls are blanked (a newline would end a table row),
    // the override is shown, and the label's link is no link.
    let md = run(
        "report --format md",
        command(dir, &["report", "--format", "md", "--config", config]),
    )
    .await;
    md.expect_code(0).shows("\\u{202e}", 1);
    assert!(
        md.stdout
            .contains("\\[click\\]\\(https\\://evil.example\\) www\\.evil.example"),
        "{}",
        md.stdout
    );
    assert!(!md.stdout.contains("](http"), "{}", md.stdout);

    // The plan the operator approves: no principal id can erase the lines above it.
    let plan = run(
        "offboard (plan)",
        command(dir, &["offboard", VENDOR, "--config", config]),
    )
    .await;
    plan.expect_code(0)
        .shows("Offboard Driftwood \\x1b]52;c;SGVsbG8=\\x07", 1)
        .shows("isaac\\x1b[1A\\x1b[2K", 2);
    // Every grant of the vendor has its own line.
    assert_eq!(
        plan.stdout.matches("    revoke  ").count(),
        2,
        "{}",
        plan.stdout
    );
}

/// A plugin's manifest text: the built-in Okta connector with two of its strings
/// replaced, byte for byte, by terminal escapes — a real component the host loads.
#[tokio::test]
async fn a_hostile_manifest_reaches_no_terminal_raw() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let bytes = grantscope::embedded::get("okta").unwrap_or_else(|| panic!("okta is built in"));
    let mut patched = bytes.to_vec();
    for (from, to) in [
        (
            "Okta organisations".as_bytes(),
            "Okta\u{1b}[1A\u{1b}[2K\u{202e}\u{9b}2".as_bytes(),
        ),
        (
            "delete an API service integration".as_bytes(),
            "\u{1b}]52;c;SGVsbG8=\u{7}\u{1b}[1A\u{1b}[2K\u{202e}\nxxxxx".as_bytes(),
        ),
        // A plugin file may not call itself `okta` (first-party ids and providers are
        // reserved), so the copy gets an id and provider of its own. Both are the
        // four-byte literal `"okta"`, which the compiler stores with one
        // `i32.const` of its bytes rather than copying it from the data section.
        (&i32_const(b"okta")[..], &i32_const(b"oktb")[..]),
    ] {
        assert_eq!(from.len(), to.len());
        let mut found = 0;
        let mut at = 0;
        while let Some(i) = patched[at..].windows(from.len()).position(|w| w == from) {
            patched[at + i..at + i + from.len()].copy_from_slice(to);
            at += i + from.len();
            found += 1;
        }
        assert!(
            found > 0,
            "{} is not in the component",
            String::from_utf8_lossy(from)
        );
    }
    let path = dir.path().join("okta-hostile.wasm");
    std::fs::write(&path, &patched).unwrap_or_else(|e| panic!("write: {e}"));
    let mut cmd = grantscope(dir.path());
    cmd.args(["plugins", "inspect"]).arg(&path);
    let shown = run("plugins inspect", cmd).await;
    shown
        .expect_code(0)
        .shows("(Okta\\x1b[1A\\x1b[2K\\u{202e}\\u{9b}2)", 1)
        .shows(
            "okta.oauthIntegrations.manage: \\x1b]52;c;SGVsbG8=\\x07\\x1b[1A\\x1b[2K\\u{202e}\\nxxxxx",
            1,
        );
}

/// The wasm instruction `i32.const` with the little-endian value of `bytes`: the
/// opcode, then the value in signed LEB128.
fn i32_const(bytes: &[u8; 4]) -> Vec<u8> {
    let mut v = i64::from(i32::from_le_bytes(*bytes));
    let mut out = vec![0x41];
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0);
        out.push(if done { byte } else { byte | 0x80 });
        if done {
            return out;
        }
    }
}
