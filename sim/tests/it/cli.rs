//! The `grantscope-sim` binary: flags, the stdout line, files, and signal handling.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_grantscope-sim");

#[test]
fn bad_flags_exit_2_with_a_clear_error() {
    for (args, needle) in [
        (&["--faults", "abc"][..], "invalid value 'abc'"),
        (&["--users", "0"][..], "user count 0 is out of range"),
        (&["--faults", "2"][..], "fault rate 2 is out of range"),
        (&["--bogus"][..], "unexpected argument '--bogus'"),
        (&["--listen", "nowhere"][..], "invalid value 'nowhere'"),
    ] {
        let out = Command::new(BIN).args(args).output().expect("binary runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn binary_prints_its_address_writes_files_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("c.toml");
    let truth = dir.path().join("truth.json");
    let mut child = Command::new(BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--seed",
            "5",
            "--users",
            "30",
            "--write-config",
        ])
        .arg(&config)
        .arg("--truth")
        .arg(&truth)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let url = announced(&mut child);
    let url = url.as_str();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    // The files exist before the line is printed.
    let text = std::fs::read_to_string(&config).expect("config");
    assert!(text.contains(&format!("api_base = \"{url}\"")), "{text}");
    assert!(dir.path().join("c.keys/github-app.pem").exists());
    let truth: grantscope_sim::Truth =
        serde_json::from_slice(&std::fs::read(&truth).expect("truth")).expect("json");
    let same = grantscope_sim::Simulator::new(grantscope_sim::SimOptions {
        seed: 5,
        users: 30,
        ..Default::default()
    })
    .expect("valid")
    .truth();
    assert_eq!(truth, same);

    // Ends the process this test started, by its id.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = child.wait().expect("child exits");
    assert_eq!(exit.code(), Some(0), "SIGTERM is a clean shutdown");
}

#[test]
fn replay_serves_a_folder_of_examples_and_refuses_world_flags() {
    let examples = crate::common::github_shared().join("examples");
    let mut child = Command::new(BIN)
        .arg("--replay")
        .arg(&examples)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let url = announced(&mut child);
    let url = url.as_str();
    let addr = url.trim_start_matches("http://");
    // One documented call, answered from its example over plain HTTP/1.1.
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    std::io::Write::write_all(
        &mut stream,
        format!("GET /orgs/octo-org/installations?per_page=100&page=1 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .expect("request");
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("x-grantscope-replay: orgs-list-app-installations.json"),
        "{response}"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let out = child.wait_with_output().expect("child exits");
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 requests answered"), "{stderr}");

    let out = Command::new(BIN)
        .args(["--faults", "0.1", "--replay"])
        .arg(&examples)
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

/// The URL from the one line the binary prints on stdout once it listens.
fn announced(child: &mut std::process::Child) -> String {
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("a line");
    line.trim()
        .strip_prefix("grantscope-sim listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned()
}
