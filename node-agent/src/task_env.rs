//! A task's runtime environment lives in [`drover_api_types::task_env`],
//! shared with the service registration controller; re-exported here so the
//! agent's modules keep one import path.

pub use drover_api_types::task_env::*;

#[cfg(test)]
pub(crate) mod tests {
    pub(crate) use drover_api_types::task_env::fixtures::fixture;
}
