-- Active grants, in the order their current holding began: the grant in force (the
-- last one), when the uninterrupted holding began (the first grant since the last
-- revoke) and the latest certification since then.
WITH held AS (
    SELECT subject, target, resource, last_grant, last_revoke
    FROM fold
    WHERE last_grant IS NOT NULL AND (last_revoke IS NULL OR last_grant > last_revoke)),
began AS (
    SELECT h.subject, h.target, h.resource, h.last_grant, min(e.ord) AS start, arg_min(e.time, e.ord) AS since
    FROM held AS h
    JOIN ev AS e ON e.subject = h.subject AND e.target = h.target AND e.resource = h.resource
    WHERE e.action = 'grant' AND e.time <= $as_of AND (h.last_revoke IS NULL OR e.ord > h.last_revoke)
    GROUP BY ALL),
certified AS (
    SELECT b.subject, b.target, b.resource, max(e.ord) AS certified
    FROM began AS b
    JOIN ev AS e ON e.subject = b.subject AND e.target = b.target AND e.resource = b.resource
    WHERE e.action = 'certify' AND e.time <= $as_of AND e.ord > b.start
    GROUP BY ALL)
SELECT b.last_grant, b.since, c.certified
FROM began AS b
LEFT JOIN certified AS c USING (subject, target, resource)
ORDER BY b.start;
