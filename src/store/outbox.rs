//! The outbox: alerts, reminders and recoveries, and alert-command runs, still
//! due; marking a send as under way before the transport is called, and
//! recording how each attempt ended, so a run that dies mid-send is told apart.

use super::value::values;
use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};

use super::history::Look;
use super::types::Stamp;
use super::{CommandDue, Due, RunId, Store};
use crate::alert::{Notice, Outage};

/// `notifications.error` while a send is under way; a run that dies before
/// the transport answers leaves it, and the next run knows what that means.
pub(super) const SENDING: &str = "a run was stopped while sending this; it may have gone out";
/// How a later failure is recorded once a send may have gone out: the
/// uncertainty stays until a send succeeds, so the retry is still labelled.
pub(super) const SENT_MAYBE_THEN: &str =
    "an earlier run was stopped while sending this; since then: ";

impl Store {
    /// Alerts, reminders and recoveries not yet delivered, oldest first.
    pub fn due_notifications(&self) -> Result<Vec<Due>> {
        let due: Vec<Due> = self.read_all(
            "SELECT n.id, n.service, n.kind, n.created_at,
                    coalesce(n.error = ?1 OR n.error LIKE ?2 || '%', false), r.network_error
             FROM notifications n LEFT JOIN runs r ON r.id = n.run_id AND n.kind = 'network'
             WHERE n.sent_at IS NULL AND n.kind IN ('down', 'reminder', 'recovery', 'network')
             ORDER BY n.id",
            values![SENDING, SENT_MAYBE_THEN],
            "reading due notifications",
            |r| {
                Ok(Due {
                    id: r.get(0)?,
                    service: r.get::<Option<String>>(1)?.unwrap_or_default(),
                    kind: r.get(2)?,
                    created_at: r.get::<Stamp>(3)?.0,
                    interrupted: r.get(4)?,
                    detail: r.get(5)?,
                    outage: None,
                })
            },
        )?;
        due.into_iter()
            .map(|mut due| {
                if matches!(due.kind, Notice::Reminder | Notice::Recovery) {
                    due.outage = self.outage_before(&due.service, due.id)?;
                }
                Ok(due)
            })
            .collect()
    }

    /// The outage that `service`'s notification `id` tells of: its latest
    /// DOWN alert before `id`, the email that carried it, and when the
    /// failing began (the first failing check after the last passing one).
    fn outage_before(&self, service: &str, id: i64) -> Result<Option<Outage>> {
        let down: Vec<(Option<String>, bool, Stamp, Option<Stamp>)> = self.read_all(
            "SELECT message_id, sent_at IS NOT NULL, created_at, began FROM notifications
             WHERE service = ?1 AND kind = 'down' AND id < ?2 ORDER BY id DESC LIMIT 1",
            values![service, id],
            "reading an outage's first alert",
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let Some((message_id, sent, alerted, began)) = down.into_iter().next() else {
            return Ok(None);
        };
        let began = Some(self.began(service, alerted.0, began)?);
        Ok(Some(Outage {
            first_alert: message_id.filter(|_| sent),
            delivered: sent,
            began,
        }))
    }

    /// How many alerts, reminders and recoveries the email has not delivered
    /// yet, and when the oldest was decided: for the textfile, so Prometheus
    /// sees a run that keeps failing to tell anyone.
    pub fn undelivered(&self) -> Result<(u64, Option<DateTime<Utc>>)> {
        let rows: Vec<(i64, Option<Stamp>)> = self.read_all(
            "SELECT count(*), min(created_at) FROM notifications
             WHERE sent_at IS NULL AND kind IN ('down', 'reminder', 'recovery', 'network')",
            &[],
            "counting undelivered notifications",
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let (count, oldest) = rows.into_iter().next().unwrap_or((0, None));
        Ok((count.max(0) as u64, oldest.map(|s| s.0)))
    }

    /// When the outage alerted at `alerted` began: as its DOWN row keeps it
    /// (`stored`), or, for a row from before that was kept, its first failing
    /// check after the last passing one still stored; else the alert itself.
    pub(super) fn began(
        &self,
        service: &str,
        alerted: DateTime<Utc>,
        stored: Option<Stamp>,
    ) -> Result<DateTime<Utc>> {
        match stored {
            Some(at) => Ok(at.0),
            None => Ok(self.outage_began(service, alerted)?.unwrap_or(alerted)),
        }
    }

    /// When the failing streak that led to an alert at `alerted` began: its
    /// first failing check after the last passing one. Both are found
    /// where the hourly rollups place the last pass: `checks` is in time
    /// order, every service's together, and walking back through a long
    /// outage would read all of it.
    pub(super) fn outage_began(
        &self,
        service: &str,
        alerted: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        let after = match self.last_pass_before(service, alerted)? {
            Some(pass) => pass,
            // Never passed (that the raw checks remember): from its first hour.
            None => match self.first_hour(service)? {
                Some(hour) => hour - Duration::milliseconds(1),
                None => return Ok(None),
            },
        };
        let began: Vec<Stamp> = self.read_all(
            "SELECT checked_at FROM checks
             WHERE service = ?1 AND checked_at > ?2 AND checked_at <= ?3
             ORDER BY checked_at LIMIT 1",
            values![service, Stamp(after), Stamp(alerted)],
            "reading when an outage began",
            |r| r.get(0),
        )?;
        Ok(began.into_iter().next().map(|s| s.0))
    }

    /// `service`'s last passing check before `before`: in the latest hour
    /// the rollups count a pass in, or the one before when that hour's
    /// passes came after (a few hours at most: past them, pruned checks).
    fn last_pass_before(
        &self,
        service: &str,
        mut before: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        for _ in 0..3 {
            let Some(hour) = self.hour_with_a_pass(service, before, Look::Back)? else {
                return Ok(None);
            };
            let found: Vec<Stamp> = self.read_all(
                "SELECT checked_at FROM checks
                 WHERE service = ?1 AND checked_at >= ?2 AND checked_at < ?3
                   AND status NOT IN ('offline', 'timeout', 'degraded')
                 ORDER BY checked_at DESC LIMIT 1",
                values![
                    service,
                    Stamp(hour),
                    Stamp(before.min(hour + Duration::hours(1)))
                ],
                "reading when an outage began",
                |r| r.get(0),
            )?;
            if let Some(pass) = found.into_iter().next() {
                return Ok(Some(pass.0));
            }
            before = hour - Duration::milliseconds(1);
        }
        Ok(None)
    }

    /// The first hour the rollups count `service` in.
    fn first_hour(&self, service: &str) -> Result<Option<DateTime<Utc>>> {
        let hours: Vec<Stamp> = self.read_all(
            "SELECT hour FROM checks_hourly WHERE service = ?1 ORDER BY hour LIMIT 1",
            values![service],
            "reading the hourly rollups",
            |r| r.get(0),
        )?;
        Ok(hours.into_iter().next().map(|s| s.0))
    }

    /// Marks `ids` as being sent, committed before the transport is called:
    /// if the run dies before it answers, the next run can tell.
    pub fn record_sending(&mut self, ids: &[i64], message_id: &str) -> Result<()> {
        self.conn
            .transaction(|tx| {
                // A mark left by a run that died becomes the lasting kind; one
                // already lasting is kept; anything else gets this attempt's mark.
                for id in ids {
                    tx.execute(
                        "UPDATE notifications SET attempts = attempts + 1, message_id = ?4,
                             error = CASE WHEN error = ?2 THEN ?3 || 'retried'
                                          WHEN error LIKE ?3 || '%' THEN error
                                          ELSE ?2 END
                         WHERE id = ?1",
                        values![id, SENDING, SENT_MAYBE_THEN, message_id],
                    )?;
                }
                Ok(())
            })
            .context("recording a send")
    }

    /// Records the outcome of a send begun with `record_sending`: `ids` sent (when `error` is `None`) or still
    /// due with the reason; a forced report gets a `report` row of its own.
    pub fn record_delivery(
        &mut self,
        run: RunId,
        ids: &[i64],
        restarts: &[i64],
        forced: bool,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<()> {
        self.conn
            .transaction(|tx| {
                // A failure after a send that may have gone out keeps saying so.
                for id in ids {
                    tx.execute(
                        // The casts tell PostgreSQL what the parameters are.
                        "UPDATE notifications
                         SET error = CASE WHEN CAST(?2 AS TEXT) IS NOT NULL AND error LIKE ?5 || '%'
                                          THEN ?5 || ?2 ELSE ?2 END,
                             sent_at = CASE WHEN CAST(?2 AS TEXT) IS NULL THEN ?3 END,
                             sent_run_id = CASE WHEN CAST(?2 AS TEXT) IS NULL THEN CAST(?4 AS BIGINT) END
                         WHERE id = ?1",
                        values![id, error, Stamp(at), run.0, SENT_MAYBE_THEN],
                    )?;
                }
                if error.is_none() {
                    for id in restarts {
                        tx.execute(
                            "UPDATE restarts SET reported_at = ?2 WHERE id = ?1",
                            values![id, Stamp(at)],
                        )?;
                    }
                }
                if forced {
                    tx.execute(
                        "INSERT INTO notifications (run_id, kind, created_at, sent_at, sent_run_id, attempts, error)
                         VALUES (?1, 'report', ?2, CASE WHEN CAST(?3 AS TEXT) IS NULL THEN ?2 END,
                                 CASE WHEN CAST(?3 AS TEXT) IS NULL THEN CAST(?1 AS BIGINT) END, 1, ?3)",
                        values![run.0, Stamp(at), error],
                    )?;
                }
                Ok(())
            })
            .context("recording the delivery")
    }

    /// Alert-command deliveries still due, with what the command needs to know.
    pub fn due_command_deliveries(&self) -> Result<Vec<CommandDue>> {
        self.read_all(
            "SELECT d.notification_id, d.command, n.service, n.kind, n.created_at, r.network_error
             FROM command_deliveries d JOIN notifications n ON n.id = d.notification_id
             LEFT JOIN runs r ON r.id = n.run_id AND n.kind = 'network'
             WHERE d.sent_at IS NULL ORDER BY d.notification_id",
            &[],
            "reading due alert commands",
            |r| {
                Ok(CommandDue {
                    notification_id: r.get(0)?,
                    command: r.get(1)?,
                    service: r.get::<Option<String>>(2)?.unwrap_or_default(),
                    kind: r.get(3)?,
                    created_at: r.get::<Stamp>(4)?.0,
                    detail: r.get(5)?,
                })
            },
        )
    }

    /// A due delivery to a command no longer in the config goes to the
    /// commands now configured for its kind (`to`: their keys), so fixing a
    /// broken command's argv delivers what it owed; the old row is dropped.
    pub fn hand_over(&mut self, notification_id: i64, from: &str, to: &[String]) -> Result<()> {
        self.conn
            .transaction(|tx| {
                for key in to {
                    tx.execute(
                        "INSERT INTO command_deliveries (notification_id, command) VALUES (?1, ?2)
                         ON CONFLICT DO NOTHING",
                        values![notification_id, key],
                    )?;
                }
                tx.execute(
                    "DELETE FROM command_deliveries WHERE notification_id = ?1 AND command = ?2 AND sent_at IS NULL",
                    values![notification_id, from],
                )?;
                Ok(())
            })
            .context("handing over an alert command")
    }

    /// One alert-command attempt: done when `error` is `None`, else still due.
    pub fn record_command_delivery(
        &mut self,
        notification_id: i64,
        command: &str,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE command_deliveries
                 SET attempts = attempts + 1, error = ?3, sent_at = CASE WHEN CAST(?3 AS TEXT) IS NULL THEN ?4 END
                 WHERE notification_id = ?1 AND command = ?2",
                values![notification_id, command, error, Stamp(at)],
            )
            .context("recording an alert command")?;
        Ok(())
    }
}
