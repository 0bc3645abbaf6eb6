-- Selected events as one JSON array per row, joined into one text (many times faster
-- to hand to Python than row tuples); {where} is a fixed condition from core/sql, never input.
SELECT string_agg(json_array(id, time, action, subject, target, resource, actor, key, approver,
                             ticket, reason, expires, file, line, attributes, owner, source, ord::VARCHAR), ','
                  ORDER BY ord)
FROM ev
WHERE {where};
