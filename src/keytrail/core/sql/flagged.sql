-- The review window's changes that any narrowing check may flag, in one pass over the
-- events: each row with one flag per check ({flags}: the conditions of checks/*.sql, in
-- the order of NARROWED; {any}: their disjunction). A NULL flag is false, as in WHERE.
-- {changes}, {flags} and {any} are fixed conditions from core/sql, never input.
SELECT json_array(id, time, action, subject, target, resource, actor, key, approver,
                  ticket, reason, expires, file, line, attributes, owner, source, {flags})
FROM ev
WHERE ({changes}) AND ({any})
ORDER BY ord;
