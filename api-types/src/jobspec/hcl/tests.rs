//! End-to-end tests of the HCL parser.
