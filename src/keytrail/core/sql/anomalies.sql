-- Revokes and certifications of access not held at that moment: the change before
-- them for the same entitlement (grants and revokes only) is not a grant. Decided in
-- three parts, so that only entitlements with a longer story are sorted:
SELECT ord FROM (
    -- revoked once and never certified: the revoke is of access not held when no
    -- grant comes before it (the fold alone);
    SELECT first_revoke AS ord FROM fold
    WHERE revokes = 1 AND certifies = 0 AND (first_grant IS NULL OR first_grant > first_revoke)
    UNION ALL
    -- never revoked: a certification is of access not held when no grant comes before it;
    SELECT e.ord FROM ev AS e
    JOIN fold AS f ON e.subject = f.subject AND e.target = f.target AND e.resource = f.resource
    WHERE e.action = 'certify' AND e.time <= $as_of AND f.revokes = 0
      AND (f.first_grant IS NULL OR e.ord < f.first_grant)
    UNION ALL
    -- revoked more than once, or revoked and certified: the change before each, in order
    -- (partitioned by the fold's row, a number: by the three strings took twice as long).
    SELECT ord FROM (
        SELECT e.ord, e.action,
               last_value(CASE WHEN e.action <> 'certify' THEN e.action END IGNORE NULLS) OVER (
                   PARTITION BY f.n ORDER BY e.ord
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
        FROM ev AS e
        JOIN (SELECT rowid AS n, subject, target, resource FROM fold
              WHERE revokes > 1 OR (revokes = 1 AND certifies > 0)) AS f
          ON e.subject = f.subject AND e.target = f.target AND e.resource = f.resource
        WHERE e.time <= $as_of AND e.action IN ('grant', 'revoke', 'certify'))
    WHERE action IN ('revoke', 'certify') AND before IS DISTINCT FROM 'grant');
