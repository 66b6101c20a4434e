//! drover's object model, validation, and the jobspec parsers.
//!
//! # Layout
//! - [`meta`]: `ObjectMeta` and the `ApiObject` trait the store files objects by.

pub mod meta;

pub use meta::{ApiObject, ObjectMeta, API_VERSION, DEFAULT_NAMESPACE};
