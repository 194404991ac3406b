-- Schema version 3 -> 4: what came of a restart. The restarted service is
-- probed again after its restart command; the probe that decided is kept
-- beside the restart (NULL: not probed again: out of time, or stopped).

ALTER TABLE restarts ADD COLUMN recheck_status TEXT;
ALTER TABLE restarts ADD COLUMN recheck_reason TEXT;
ALTER TABLE restarts ADD COLUMN recheck_ms INTEGER;
