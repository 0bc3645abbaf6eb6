-- The (key, target) pairs of the review window's changes ({changes}: changes.sql), every
-- key's: the registry is not known yet when this runs ahead (ahead.py), so the out-of-scope
-- check keeps those of registered keys (replay.py).
SELECT DISTINCT key, target
FROM ev
WHERE ({changes}) AND target IS NOT NULL AND key IS NOT NULL;
