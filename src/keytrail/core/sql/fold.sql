-- The fold as a hash aggregate: per entitlement, its first and last grant, first and
-- last revoke, latest certification and how many revokes and certifications, at or
-- before as_of (by replay order). An entitlement is held when its last grant comes
-- after its last revoke. active.sql and anomalies.sql decide most entitlements from
-- these aggregates alone and go back to the events only for the few they cannot.
SELECT subject, target, resource,
       min(ord) FILTER (WHERE action = 'grant') AS first_grant,
       arg_min(time, ord) FILTER (WHERE action = 'grant') AS first_grant_time,
       max(ord) FILTER (WHERE action = 'grant') AS last_grant,
       min(ord) FILTER (WHERE action = 'revoke') AS first_revoke,
       max(ord) FILTER (WHERE action = 'revoke') AS last_revoke,
       count(*) FILTER (WHERE action = 'revoke') AS revokes,
       max(ord) FILTER (WHERE action = 'certify') AS last_certify,
       count(*) FILTER (WHERE action = 'certify') AS certifies
FROM ev
WHERE time <= $as_of AND action IN ('grant', 'revoke', 'certify')
GROUP BY subject, target, resource;
