-- The review window's changes that any narrowing check may flag, in one pass over the
-- events: each row with one flag per check ({flags}: the conditions of checks/*.sql, in
-- the order of NARROWED; {any}: their disjunction). A NULL flag is false, as in WHERE.
-- {changes}, {flags} and {any} are fixed conditions from core/sql, never input.
-- The registry (keys: one row per key id) and the out-of-scope pairs (scope_miss: one row
-- per pair) are joined once, so each check's condition is a plain test of the joined row:
-- written as correlated EXISTS and NOT IN, they cost a join each (6.3 s against 2 s at
-- 5M events).
SELECT json_array(e.id, time, action, subject, target, resource, actor, key, approver,
                  ticket, reason, expires, file, line, attributes, owner, source, {flags})
FROM ev AS e
LEFT JOIN keys AS k ON k.id = e.key
LEFT JOIN scope_miss AS s ON s.pair_key = e.key AND s.pair_target = e.target
WHERE ({changes}) AND ({any})
ORDER BY ord;
