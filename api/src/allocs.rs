//! Stopping one allocation (`POST /v1/allocation/{id}/stop`) and
//! restarting its tasks in place (`POST /v1/client/allocation/{id}/restart`).

use serde::{Deserialize, Serialize};

/// `POST /v1/allocation/{id}/stop` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StopResponse {
    pub id: String,
    pub namespace: String,
    /// The spec's revision after the call.
    pub index: i64,
    /// False when it was already marked.
    pub changed: bool,
}

/// `POST /v1/client/allocation/{id}/restart` body, in Nomad's names; no
/// body at all is `{}`: every running task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RestartRequestBody {
    /// The one task to restart (the query's `task=` says the same).
    #[serde(rename = "TaskName", skip_serializing_if = "String::is_empty")]
    pub task_name: String,
    /// Every running task, as without `TaskName` (Nomad's flag; tasks
    /// that already finished are not run again).
    #[serde(rename = "AllTasks", skip_serializing_if = "std::ops::Not::not")]
    pub all_tasks: bool,
}

/// `POST /v1/client/allocation/{id}/restart` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RestartResponse {
    pub id: String,
    pub namespace: String,
    /// The spec's revision after the call.
    pub index: i64,
    /// The request's generation: the agent restarts each task it names
    /// once, labelling the new container with it.
    pub generation: u64,
    /// The task restarted; none: every running task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
}
