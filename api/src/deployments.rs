//! Deployments as `GET /v1/deployments` and `/v1/deployment/{id}` answer them.

use chrono::{DateTime, Utc};
use drover_api_types::deployment::{
    DeploymentAdmin, DeploymentSpec, DeploymentState, DeploymentStatus,
};
use drover_api_types::{Deployment, ObjectMeta};
use serde::{Deserialize, Serialize};

/// A deployment with the operators' intent not yet acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeploymentView {
    pub metadata: ObjectMeta,
    pub spec: DeploymentSpec,
    #[serde(default)]
    pub status: DeploymentStatus,
    /// `deployments-admin/<ns>/<id>`, when an operator wrote one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<DeploymentAdmin>,
}

impl DeploymentView {
    pub fn new(d: Deployment, admin: Option<DeploymentAdmin>) -> DeploymentView {
        DeploymentView {
            metadata: d.metadata,
            spec: d.spec,
            status: d.status,
            admin,
        }
    }

    pub fn id(&self) -> &str {
        deployment_id(&self.metadata)
    }

    pub fn state(&self) -> DeploymentState {
        self.status.state
    }

    /// When it was created: the spec's time, else the object's.
    pub fn created(&self) -> Option<DateTime<Utc>> {
        self.spec.created_at.or(self.metadata.creation_timestamp)
    }
}

/// A deployment's id: its `uid`, or its name before the store gave it one.
pub fn deployment_id(meta: &ObjectMeta) -> &str {
    match meta.uid.as_str() {
        "" => &meta.name,
        uid => uid,
    }
}

/// Newest first (by creation, then job version), ties by id (pure).
pub fn sort_newest_first(views: &mut [DeploymentView]) {
    views.sort_by(|a, b| {
        (b.created(), b.spec.job_version, b.id()).cmp(&(a.created(), a.spec.job_version, a.id()))
    });
}
