-- The fold as a hash aggregate: per entitlement, the last grant and the first and
-- last revoke at or before as_of (by replay order). An entitlement is held when its
-- last grant comes after its last revoke.
CREATE OR REPLACE TEMP TABLE fold AS
SELECT subject, target, resource,
       max(ord) FILTER (WHERE action = 'grant') AS last_grant,
       max(ord) FILTER (WHERE action = 'revoke') AS last_revoke,
       min(ord) FILTER (WHERE action = 'revoke') AS first_revoke
FROM ev
WHERE time <= $as_of AND action IN ('grant', 'revoke')
GROUP BY subject, target, resource;
