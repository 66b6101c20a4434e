//! Cluster secrets in etcd: the key servers sign their requests to the
//! agents' HTTP APIs with (`secrets/agent-api-key`).

use crate::error::Result;
use crate::error::StoreError;
use crate::store::{Guard, Store};

impl Store {
    /// The agent API key, `None` while no server has made it.
    pub async fn agent_api_key(&self) -> Result<Option<String>> {
        let kv = self.get_raw(&self.keys().agent_api_key()).await?;
        Ok(kv.map(|kv| String::from_utf8_lossy(&kv.value).into_owned()))
    }

    /// The agent API key, stored first when absent with the key `make`
    /// returns (a fresh random one; called only then); racing creators
    /// agree on whichever landed first. `None` when absent and `make` gave
    /// nothing.
    pub async fn agent_api_key_or_make(
        &self,
        make: impl FnOnce() -> Option<String>,
    ) -> Result<Option<String>> {
        if let Some(found) = self.agent_api_key().await? {
            return Ok(Some(found));
        }
        let key = self.keys().agent_api_key();
        let Some(fresh) = make() else {
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

impl Store {
    /// Node `node_id`'s own key for the servers' tokens, when a server has
    /// written it (at the node's join).
    pub async fn node_api_key(&self, node_id: &str) -> Result<Option<String>> {
        let kv = self.get_raw(&self.keys().node_api_key(node_id)).await?;
        Ok(kv.map(|kv| String::from_utf8_lossy(&kv.value).into_owned()))
    }

    /// Stores node `node_id`'s own key.
    pub async fn put_node_api_key(&self, node_id: &str, key: &str) -> Result<()> {
        let at = self.keys().node_api_key(node_id);
        self.put_raw(&at, key.as_bytes().to_vec(), Guard::None, None)
            .await?;
        Ok(())
    }
}

/// Whether [`Store::put_scrape_token`] may replace a token already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScrapeTokenWrite {
    /// Only when none is stored (a server's start).
    IfAbsent,
    /// Always (a rotation).
    Replace,
}

impl Store {
    /// The metrics scrape token, `None` while no server has made it.
    pub async fn scrape_token(&self) -> Result<Option<String>> {
        let kv = self.get_raw(&self.keys().scrape_token()).await?;
        Ok(kv.map(|kv| String::from_utf8_lossy(&kv.value).into_owned()))
    }

    /// The sha256 of the scrape token, which agents check scrapers against.
    pub async fn scrape_token_digest(&self) -> Result<Option<String>> {
        let kv = self.get_raw(&self.keys().scrape_token_digest()).await?;
        Ok(kv.map(|kv| String::from_utf8_lossy(&kv.value).into_owned()))
    }

    /// Stores the scrape token and its digest in one transaction, so an
    /// agent never sees a digest of a token the servers do not hold.
    /// Returns whether it was written (`IfAbsent` and a token already
    /// there: not).
    pub async fn put_scrape_token(
        &self,
        token: &str,
        digest: &str,
        how: ScrapeTokenWrite,
    ) -> Result<bool> {
        use etcd_client::{Compare, CompareOp, Txn, TxnOp};
        let (token_key, digest_key) = (
            self.keys().scrape_token(),
            self.keys().scrape_token_digest(),
        );
        let puts = [
            TxnOp::put(token_key.as_str(), token, None),
            TxnOp::put(digest_key.as_str(), digest, None),
        ];
        let txn = match how {
            ScrapeTokenWrite::Replace => Txn::new().and_then(puts),
            ScrapeTokenWrite::IfAbsent => Txn::new()
                .when([Compare::create_revision(
                    token_key.as_str(),
                    CompareOp::Equal,
                    0,
                )])
                .and_then(puts),
        };
        Ok(self.txn(&token_key, txn).await?.succeeded())
    }

    /// Publishes `digest` for the stored token (repairs a digest missing
    /// or stale, e.g. written by hand).
    pub async fn put_scrape_token_digest(&self, digest: &str) -> Result<()> {
        let at = self.keys().scrape_token_digest();
        self.put_raw(&at, digest.as_bytes().to_vec(), Guard::None, None)
            .await?;
        Ok(())
    }
}
