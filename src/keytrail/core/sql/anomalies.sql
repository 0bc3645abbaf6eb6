-- Revokes and certifications of access not held at that moment: the change before
-- them for the same entitlement (grants and revokes only) is not a grant.
SELECT ord FROM (
    SELECT ord, action,
           last_value(CASE WHEN action <> 'certify' THEN action END IGNORE NULLS) OVER (
               PARTITION BY subject, target, resource ORDER BY ord
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
    FROM ev
    WHERE time <= $as_of AND action IN ('grant', 'revoke', 'certify'))
WHERE action IN ('revoke', 'certify') AND before IS DISTINCT FROM 'grant';
