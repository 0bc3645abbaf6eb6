-- The review window's (key, target) pairs of registered keys (key_targets, keys) that no
-- literal or `prefix*` glob of the key's scope matches (scope_plain: one row per such glob,
-- `prefix` true for the head of a `prefix*` glob; selectors.split_globs). Only these are
-- tested in Python with the key's whole scope (selectors.GlobSet): a pair one of those
-- globs matches is in scope whatever the key's other globs are, so it never fires. At 5M
-- events this hands over 150 pairs instead of 1,041,209.
SELECT p.key, p.target
FROM key_targets AS p
WHERE p.key IN (SELECT id FROM keys)
  AND NOT EXISTS (SELECT 1 FROM scope_plain AS s
                  WHERE s.key = p.key
                    AND (s.glob = p.target OR (s.prefix AND starts_with(p.target, s.glob))));
