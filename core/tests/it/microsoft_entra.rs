//! End-to-end tests of the microsoft_entra connector against its simulator (being written).
