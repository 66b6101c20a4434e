//! ACL bootstrap, policies and tokens as `/v1/acl/…` takes and answers
//! them. The objects themselves (policy rules, token types) are
//! `drover_api_types::acl`.

use chrono::{DateTime, Utc};
use drover_api_types::acl::TokenType;
use drover_api_types::Duration;
use serde::{Deserialize, Serialize};

/// A token as the API shows it: the secret only in the answer that
/// created it (`acl bootstrap`, `acl token create`), never again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenView {
    pub accessor_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_id: Option<String>,
    pub name: String,
    #[serde(rename = "type")]
    pub token_type: TokenType,
    #[serde(default)]
    pub policies: Vec<String>,
    pub create_time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<DateTime<Utc>>,
}

/// `POST /v1/acl/token`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type", default)]
    pub token_type: TokenType,
    #[serde(default)]
    pub policies: Vec<String>,
    /// How long the token lives (`24h`); forever when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Duration>,
}

/// `POST /v1/acl/policy/{name}`: the rules in Nomad's policy language.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PolicyRequest {
    #[serde(default)]
    pub description: String,
    pub rules: String,
}

/// A policy as `GET /v1/acl/policies` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PolicyStub {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// What a policy write answers: the warnings its rules gave (capabilities
/// and blocks drover does not guard).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PolicyWritten {
    pub name: String,
    #[serde(default)]
    pub warnings: Vec<String>,
}
