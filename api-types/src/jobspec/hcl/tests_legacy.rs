//! Tests of the Nomad 0.x mappings.
