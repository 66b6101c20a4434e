//! Cluster secrets in etcd: the key servers sign their requests to the
//! agents' HTTP APIs with (`secrets/agent-api-key`).

use crate::error::Result;
use crate::error::StoreError;
use crate::store::{Guard, Store};

impl Store {
    /// The agent API key. With `create` (a fresh random key), it is stored
    /// first when absent; racing creators agree on whichever landed first.
    /// `None` when absent and not created.
    pub async fn agent_api_key(&self, create: Option<String>) -> Result<Option<String>> {
        let key = self.keys().agent_api_key();
        if let Some(kv) = self.get_raw(&key).await? {
            return Ok(Some(String::from_utf8_lossy(&kv.value).into_owned()));
        }
        let Some(fresh) = create else {
            return Ok(None);
        };
        match self
            .put_raw(&key, fresh.into_bytes(), Guard::Absent, None)
            .await
        {
            Ok(_) | Err(StoreError::AlreadyExists { .. } | StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
        Ok(self
            .get_raw(&key)
            .await?
            .map(|kv| String::from_utf8_lossy(&kv.value).into_owned()))
    }
}
