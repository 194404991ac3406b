-- Schema version 4 -> 5: silences from the command line (`upcheck silence`).
-- A silenced service is still probed and stored; its own alerts, reminders
-- and restarts wait until `ends_at`. Kept after they end: what was silenced
-- last month is a query away.

CREATE TABLE silences (
    id         INTEGER PRIMARY KEY,
    service    TEXT,                 -- NULL: every service
    starts_at  TEXT NOT NULL,
    ends_at    TEXT NOT NULL,        -- `silence remove` sets it to the time of removal
    reason     TEXT,
    created_at TEXT NOT NULL
);

CREATE INDEX silences_ends ON silences (ends_at);
