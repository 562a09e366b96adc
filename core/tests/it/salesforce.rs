//! End-to-end tests of the salesforce connector against its simulator (being written).
