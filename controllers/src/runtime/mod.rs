//! The controller runtime (being written).
