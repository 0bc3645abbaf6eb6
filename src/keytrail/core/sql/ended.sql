-- The latest revoke of each entitlement ever revoked, in the order it was first revoked.
SELECT last_revoke FROM fold WHERE last_revoke IS NOT NULL ORDER BY first_revoke;
