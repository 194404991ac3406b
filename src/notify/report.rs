//! The periodic report: queued by the first run after a period ends (once
//! per period, the database decides), then sent like an alert: the send
//! marked before the transport is called, marked sent only once it was
//! accepted, retried by every run until then. Only the last complete period
//! is reported; none for a period that ended before the first run.

use anyhow::{Context, Result};
use chrono::Utc;

use super::mail;
use crate::config::{Config, Email};
use crate::history;
use crate::log;
use crate::render::report::{self, Summary};
use crate::store::{RunId, Store};

pub fn deliver(config: &Config, db: &mut Store, run: RunId) -> Result<()> {
    let (Some(every), Some(email)) = (config.report.as_ref(), config.email.as_ref()) else {
        return Ok(());
    };
    let now = Utc::now();
    let (start, end) = history::last_complete(every.every, now);
    // A period that ended before upcheck first ran has nothing to tell.
    if db.first_run_started()?.is_some_and(|first| first < end) {
        db.queue_summary(run, start.date_naive(), now)?;
    }
    let Some((id, period)) = db.due_summary()? else {
        return Ok(());
    };
    let (start, end) = history::period(every.every, period);
    let (before_start, _) = history::previous(every.every, period);
    let summary = Summary {
        title: &config.title,
        host: &config.host,
        every: every.every,
        start,
        end,
        now,
        current: db.period_stats(start, end)?,
        previous: db.period_stats(before_start, start)?,
    };
    let message = report::render(&summary);
    let to = Email {
        to: every.to.clone(),
        ..email.clone()
    };
    let message_id = mail::message_id(&config.host);
    db.record_sending(&[id], &message_id)?;
    let sent = mail::send_with_id(&to, &config.host, &message, &message_id);
    let error = sent.as_ref().err().map(|e| format!("{e:#}"));
    db.record_delivery(run, &[id], &[], false, Utc::now(), error.as_deref())?;
    sent.context("delivering the periodic report (it stays due; the next run retries)")?;
    log::info(&format!("sent {:?}", message.subject));
    Ok(())
}
