-- Rows the typed read cannot vouch for: an unknown action, a missing field the
-- action needs, a time not in the form 2026-03-01T10:00:00Z (or not a real date),
-- an over-long reason. Any such row sends the history to the exact Python path.
SELECT count(*)
FROM raw
WHERE NOT coalesce(
    action IN ('grant', 'revoke', 'certify', 'join', 'move', 'leave', 'define', 'retire')
    AND id IS NOT NULL
    AND (subject IS NOT NULL OR action IN ('define', 'retire'))
    AND (target IS NOT NULL OR action IN ('join', 'move', 'leave'))
    AND regexp_full_match(time, '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z')
    AND try_strptime(time, '%Y-%m-%dT%H:%M:%SZ') IS NOT NULL
    AND (expires IS NULL
         OR (regexp_full_match(expires, '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z')
             AND try_strptime(expires, '%Y-%m-%dT%H:%M:%SZ') IS NOT NULL))
    AND (reason IS NULL OR length(reason) <= 1048576),
    false);
