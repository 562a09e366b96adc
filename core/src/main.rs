//! The `grantscope` binary: all behaviour lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(grantscope::cli::main())
}
