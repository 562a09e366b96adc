//! Paths of the hostile guest plugins built by `build.rs`, for the sandbox tests.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
