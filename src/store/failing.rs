//! A deliberately failing back-end for fault tests: it delegates to the SQLite store but
//! fails the one method it is told to, the way a lost connection or a full disk would.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{AsyncStore, Outbox, OutboxPlan, OutboxView, PendingDelivery, Result, StoreError};

/// The SQLite store with one method failing.
#[derive(Debug, Clone)]
pub struct Failing {
    inner: AsyncStore,
    method: &'static str,
}

impl Failing {
    /// `inner` with `method` (its name in the store's traits) failing on every call.
    pub fn new(inner: &AsyncStore, method: &'static str) -> Self {
        Failing {
            inner: inner.clone(),
            method,
        }
    }

    fn check(&self, method: &'static str) -> Result<()> {
        if self.method == method {
            Err(StoreError::Worker)
        } else {
            Ok(())
        }
    }
}

impl Outbox for Failing {
    async fn enqueue_deliveries<P>(&self, now: DateTime<Utc>, plan: P) -> Result<usize>
    where
        P: FnOnce(&OutboxView) -> OutboxPlan + Send + 'static,
    {
        self.check("enqueue_deliveries")?;
        self.inner.enqueue_deliveries(now, plan).await
    }

    async fn pending_deliveries(&self) -> Result<Vec<PendingDelivery>> {
        self.check("pending_deliveries")?;
        self.inner.pending_deliveries().await
    }

    async fn live_alert_ids(
        &self,
        ids: Vec<String>,
        resolved: bool,
        now: DateTime<Utc>,
    ) -> Result<HashSet<String>> {
        self.check("live_alert_ids")?;
        self.inner.live_alert_ids(ids, resolved, now).await
    }

    async fn drop_delivery(&self, id: i64, now: DateTime<Utc>, reason: &'static str) -> Result<()> {
        self.check("drop_delivery")?;
        self.inner.drop_delivery(id, now, reason).await
    }

    async fn start_attempt(&self, id: i64, now: DateTime<Utc>) -> Result<Option<u32>> {
        self.check("start_attempt")?;
        self.inner.start_attempt(id, now).await
    }

    async fn finish_attempt(
        &self,
        id: i64,
        attempt: u32,
        now: DateTime<Utc>,
        outcome: std::result::Result<String, String>,
    ) -> Result<()> {
        self.check("finish_attempt")?;
        self.inner.finish_attempt(id, attempt, now, outcome).await
    }
}
