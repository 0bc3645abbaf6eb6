-- The latest revoke (its ord) of each asked-for entitlement that has one: the lists are
-- bound parameters (subjects, targets and resources, one entry per entitlement), matched
-- with the same equality as a lookup of one entitlement.
SELECT f.last_revoke
FROM fold AS f
JOIN (SELECT unnest($subjects::VARCHAR[]) AS subject, unnest($targets::VARCHAR[]) AS target,
             unnest($resources::VARCHAR[]) AS resource) AS k
  ON f.subject = k.subject AND f.target = k.target AND f.resource = k.resource
WHERE f.last_revoke IS NOT NULL;
