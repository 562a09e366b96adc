//! End-to-end tests of the slack connector against its simulator (being written).
