-- Per key (every non-empty key, registered or not): the access changes made under it at
-- or before as_of over the whole history, the last of them in replay order (its time is
-- the largest time: ord is time-major), and the distinct targets they changed.
SELECT key, count(*) AS n, max(ord) AS last, max(time) AS last_time,
       list(DISTINCT target) FILTER (WHERE target IS NOT NULL AND target <> '') AS targets
FROM ev
WHERE time <= $as_of AND key IS NOT NULL AND key <> ''
  AND action IN ('grant', 'revoke', 'define', 'retire', 'certify')
GROUP BY key;
