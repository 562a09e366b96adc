//! End-to-end tests of the google_workspace connector against its simulator (being written).
