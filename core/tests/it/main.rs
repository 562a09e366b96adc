//! End-to-end tests of the grantscope host: the real GitHub connector (wasm) in the
//! real host, against the in-process simulator over real HTTP on loopback. No mocks:
//! each test starts its own simulator on `127.0.0.1:0`, works in its own temporary
//! directory, and compares what the host found with the simulator's ground truth.

mod audit;
mod command_line;
mod diffs;
// Modes, devices and FIFOs: the cases are Unix ones.
#[cfg(unix)]
mod files;
mod google_workspace;
mod hostile_text;
mod inventory;
mod microsoft_entra;
mod offboarding;
mod okta;
mod pacing;
mod replay;
mod reports;
mod revocation;
mod salesforce;
mod scanning;
mod scoring;
mod secrets;
mod slack;
mod support;
