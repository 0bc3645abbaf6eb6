-- Active grants: the grant in force (the last one), when the uninterrupted holding
-- began (`start`, the first grant since the last revoke, and its time `since`) and
-- the latest certification since then. An entitlement never revoked began with its
-- first grant; only those held again after a revoke go back to their grant events.
-- The latest certification overall is the latest since `start` when it follows it.
WITH held AS (
    SELECT * FROM fold
    WHERE last_grant IS NOT NULL AND (last_revoke IS NULL OR last_grant > last_revoke)),
regranted AS (
    SELECT h.subject, h.target, h.resource, min(e.ord) AS start, arg_min(e.time, e.ord) AS since
    FROM (SELECT subject, target, resource, last_revoke FROM held WHERE last_revoke IS NOT NULL) AS h
    JOIN ev AS e ON e.subject = h.subject AND e.target = h.target AND e.resource = h.resource
    WHERE e.action = 'grant' AND e.time <= $as_of AND e.ord > h.last_revoke
    GROUP BY ALL),
began AS (
    SELECT h.last_grant, h.last_certify,
           coalesce(r.start, h.first_grant) AS start, coalesce(r.since, h.first_grant_time) AS since
    FROM held AS h
    LEFT JOIN regranted AS r USING (subject, target, resource))
SELECT last_grant, start, since, CASE WHEN last_certify > start THEN last_certify END AS certified
FROM began;
