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
    let (Some(report), Some(email)) = (config.report.as_ref(), config.email.as_ref()) else {
        return Ok(());
    };
    let now = Utc::now();
    let (start, end) = history::last_complete(report.every, now);
    // A period that ended before upcheck first ran has nothing to tell; a
    // clock that cannot be believed must not queue a period yet to come.
    let believed = crate::clock::distrust(now, &db.previous_run_starts(run)?).is_none();
    if believed && db.first_run_started()?.is_some_and(|first| first < end) {
        let key = history::period_key(report.every, start.date_naive());
        db.queue_summary(run, &key, now)?;
    }
    let Some((id, key, maybe_sent_as)) = db.due_summary()? else {
        return Ok(());
    };
    let Some((every, first)) = history::parse_period_key(&key) else {
        return Ok(());
    };
    let (start, end) = history::period(every, first);
    let (before, _) = history::previous(every, first);
    let summary = Summary {
        title: &config.title,
        host: &config.host,
        every,
        start,
        end,
        now,
        current: db.period_stats(start, end)?,
        previous: db.period_stats(before, start)?,
    };
    let message = report::render(&summary);
    let to = Email {
        to: report.to.clone(),
        ..email.clone()
    };
    // A retry of a send a stopped run may have completed keeps its
    // Message-ID: a mail client that got both shows one.
    let message_id = maybe_sent_as.unwrap_or_else(|| mail::message_id(&config.host));
    db.record_sending(&[id], &message_id)?;
    let sent = mail::send_with_id(&to, &config.host, &message, &message_id);
    if let Err(e) = &sent
        && e.chain().any(|c| c.is::<mail::MaybeSent>())
    {
        // Left marked as being sent, as a run killed mid-send leaves it.
        return sent.context("delivering the periodic report (it stays due; the next run retries)");
    }
    let error = sent.as_ref().err().map(|e| format!("{e:#}"));
    db.record_delivery(run, &[id], &[], false, Utc::now(), error.as_deref())?;
    sent.context("delivering the periodic report (it stays due; the next run retries)")?;
    log::info(&format!("sent {:?}", message.subject));
    Ok(())
}
