-- Candidates for order-dependent ties (keytrail.ties decides): every event of a
-- (time, thing changed) group that holds events from two or more files.
WITH about AS (
    SELECT ord, time, file,
           CASE WHEN action IN ('grant', 'revoke', 'certify') THEN 'entitlement'
                WHEN action IN ('join', 'move', 'leave') THEN 'principal' ELSE 'target' END AS kind,
           CASE WHEN action IN ('define', 'retire') THEN target ELSE subject END AS a,
           CASE WHEN action IN ('grant', 'revoke', 'certify') THEN target ELSE '' END AS b,
           CASE WHEN action IN ('grant', 'revoke', 'certify') THEN resource ELSE '' END AS c
    FROM ev
    WHERE time <= $as_of),
tied AS (
    SELECT time, kind, a, b, c FROM about GROUP BY ALL HAVING count(DISTINCT file) > 1)
SELECT ord FROM about JOIN tied USING (time, kind, a, b, c);
