//! Each node's own etcd identity (Kubernetes' NodeRestriction, in etcd's
//! RBAC): a user and a role named after the node, the role granted exactly
//! [`Keys::node_grants`](crate::Keys::node_grants): the node's own keys
//! and prefixes, nothing else. Servers make them (they need etcd's `root`
//! role for it) when a node joins with a join token.

use etcd_client::Permission;

use crate::keys::NodeGrant;

use crate::endpoints::Retry;
use crate::error::{Result, StoreError};
use crate::store::Store;

/// The etcd user and role of node `node_id`.
pub fn node_user(node_id: &str) -> String {
    format!("drover-node-{node_id}")
}

/// Whether etcd refused because the user or role is already there.
fn already_exists(e: &StoreError) -> bool {
    matches!(e, StoreError::Etcd { source, .. } if source.to_string().contains("already exists"))
}

impl Store {
    /// Whether node `node_id` has an etcd user already.
    pub async fn node_user_exists(&self, node_id: &str) -> Result<bool> {
        let user = node_user(node_id);
        let found = self
            .request("user get", &user, Retry::Idempotent, |mut client| {
                let user = user.clone();
                async move { client.user_get(user).await }
            })
            .await;
        match found {
            Ok(_) => Ok(true),
            Err(StoreError::Etcd { source, .. })
                if source.to_string().contains("user name not found") =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Makes node `node_id`'s user (with `password`) and its role, granted
    /// the node's keys. Returns the user name. A role left by an earlier
    /// attempt is granted again (grants are idempotent).
    pub async fn create_node_identity(&self, node_id: &str, password: &str) -> Result<String> {
        let name = node_user(node_id);
        let role = self
            .request("role add", &name, Retry::IfNotSent, |mut client| {
                let name = name.clone();
                async move { client.role_add(name).await }
            })
            .await;
        match role {
            Err(e) if !already_exists(&e) => return Err(e),
            _ => {}
        }
        for grant in self.keys().node_grants(node_id) {
            self.grant(&name, &grant).await?;
        }
        self.request("user add", &name, Retry::IfNotSent, |mut client| {
            let (name, password) = (name.clone(), password.to_string());
            async move { client.user_add(name, password, None).await }
        })
        .await?;
        self.request("user grant", &name, Retry::IfNotSent, |mut client| {
            let name = name.clone();
            async move { client.user_grant_role(name.clone(), name).await }
        })
        .await?;
        Ok(name)
    }

    async fn grant(&self, role: &str, grant: &NodeGrant) -> Result<()> {
        let permission = match (grant.write, grant.prefix) {
            (true, true) => Permission::read_write(grant.key.clone()).with_prefix(),
            (true, false) => Permission::read_write(grant.key.clone()),
            (false, true) => Permission::read(grant.key.clone()).with_prefix(),
            (false, false) => Permission::read(grant.key.clone()),
        };
        self.request("role grant", &grant.key, Retry::IfNotSent, |mut client| {
            let (role, permission) = (role.to_string(), permission.clone());
            async move { client.role_grant_permission(role, permission).await }
        })
        .await?;
        Ok(())
    }

    /// Grants every node role what [`Keys::node_grants`](crate::Keys::node_grants)
    /// names today and the role lacks, so nodes that joined before a
    /// release added a key keep working after the servers are upgraded.
    /// One read per node role, a grant only where one is missing. Returns
    /// how many grants were added.
    pub async fn refresh_node_grants(&self) -> Result<usize> {
        let roles = self
            .request(
                "role list",
                "",
                Retry::Idempotent,
                |mut client| async move { client.role_list().await },
            )
            .await?;
        let prefix = node_user("");
        let mut added = 0;
        for role in roles.roles() {
            let Some(node_id) = role.strip_prefix(&prefix) else {
                continue;
            };
            let held = self
                .request("role get", role, Retry::Idempotent, |mut client| {
                    let role = role.clone();
                    async move { client.role_get(role).await }
                })
                .await?;
            let held: Vec<Vec<u8>> = held
                .permissions()
                .iter()
                .map(|p| p.key().to_vec())
                .collect();
            for grant in self.keys().node_grants(node_id) {
                if !held.iter().any(|k| k == grant.key.as_bytes()) {
                    self.grant(role, &grant).await?;
                    added += 1;
                }
            }
        }
        Ok(added)
    }
}
