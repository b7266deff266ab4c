//! The store's side of [`crate::providers::sink`]: an account-bound sink over [`AsyncStore`].

use std::collections::HashMap;

use crate::model::Event;
use crate::providers::sink::{CalendarId, CalendarSink, PageWrite, ResourceBatch, SinkError};

use super::caldav::CaldavBatch;
use super::{AsyncStore, GenerationPage, StoreError};

/// The sink a provider writes one account through.
#[derive(Debug, Clone)]
pub struct AccountSink {
    store: AsyncStore,
    account_id: i64,
}

impl AccountSink {
    pub fn new(store: &AsyncStore, account_id: i64) -> Self {
        AccountSink {
            store: store.clone(),
            account_id,
        }
    }
}

fn sink_err(e: StoreError) -> SinkError {
    SinkError(e.to_string())
}

impl CalendarSink for AccountSink {
    async fn open(&self, calendar: &str) -> Result<(CalendarId, Option<String>), SinkError> {
        let account_id = self.account_id;
        let cal = calendar.to_string();
        self.store
            .call(move |s| {
                let id = s.ensure_calendar(account_id, &cal)?;
                Ok((id, s.cursor(id)?))
            })
            .await
            .map_err(sink_err)
    }

    async fn next_generation(&self, calendar: CalendarId) -> Result<i64, SinkError> {
        self.store
            .call(move |s| s.next_generation(calendar))
            .await
            .map_err(sink_err)
    }

    async fn apply_page(&self, calendar: CalendarId, page: PageWrite) -> Result<(), SinkError> {
        self.store
            .call(move |s| {
                s.apply_generation_page(
                    calendar,
                    &GenerationPage {
                        upserts: &page.upserts,
                        deleted_ids: &page.deleted_ids,
                        generation: page.generation,
                        sweep: page.sweep,
                        cursor: page.cursor.as_deref(),
                    },
                )
            })
            .await
            .map_err(sink_err)
    }

    async fn clear_cursor(&self, calendar: CalendarId) -> Result<(), SinkError> {
        self.store
            .call(move |s| s.clear_cursor(calendar))
            .await
            .map_err(sink_err)
    }

    async fn series_events(&self, calendar: CalendarId) -> Result<Vec<Event>, SinkError> {
        self.store
            .call(move |s| s.calendar_series_events(calendar))
            .await
            .map_err(sink_err)
    }

    async fn calendars(&self) -> Result<Vec<(CalendarId, String, Option<String>)>, SinkError> {
        let account_id = self.account_id;
        self.store
            .call(move |s| s.calendars_with_cursors(account_id))
            .await
            .map_err(sink_err)
    }

    async fn retain_calendars(&self, keep: Vec<String>) -> Result<(), SinkError> {
        let account_id = self.account_id;
        self.store
            .call(move |s| s.retain_calendars(account_id, &keep))
            .await
            .map_err(sink_err)
    }

    async fn resource_etags(
        &self,
        calendar: CalendarId,
    ) -> Result<HashMap<String, String>, SinkError> {
        self.store
            .call(move |s| s.caldav_etags(calendar))
            .await
            .map_err(sink_err)
    }

    async fn apply_resources(
        &self,
        calendar: CalendarId,
        batch: ResourceBatch,
    ) -> Result<(), SinkError> {
        self.store
            .call(move |s| {
                s.apply_caldav(
                    calendar,
                    &CaldavBatch {
                        upserts: &batch.upserts,
                        removed: &batch.removed,
                        keep_only: batch.keep_only.as_ref(),
                        cursor: batch.cursor.as_deref(),
                    },
                )
            })
            .await
            .map_err(sink_err)
    }
}
