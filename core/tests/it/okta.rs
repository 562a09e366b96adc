//! End-to-end tests of the okta connector against its simulator (being written).
