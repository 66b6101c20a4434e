//! Fixtures the controllers' tests share.

pub mod lifecycle_fixtures;
pub mod placement_fixtures;
pub mod term;
