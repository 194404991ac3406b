-- Schema version 6 -> 7: email threading. Each notification keeps the
-- Message-ID of the email that carried it (the last attempt's, so the one
-- the server accepted), so reminders and the recovery of an outage can name
-- its first alert in In-Reply-To and References, and mail clients thread them.

ALTER TABLE notifications ADD COLUMN message_id TEXT;
