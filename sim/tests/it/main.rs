//! Integration tests: the simulator over real HTTP on loopback.

mod api_shapes;
mod auth;
mod cli;
mod common;
mod config;
mod faults;
mod pagination;
mod revoke;
mod truth;
