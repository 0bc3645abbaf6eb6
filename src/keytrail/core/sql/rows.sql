-- Selected events, one JSON array per row, in replay order: fetched a batch at a time
-- and parsed by orjson (faster than DuckDB's row tuples, and bounded in memory);
-- {where} is a fixed condition from core/sql, never input. No `ord`: handing over a
-- HUGEINT is slow, and rows.ord_of computes it from time, file and line.
SELECT json_array(id, time, action, subject, target, resource, actor, key, approver,
                  ticket, reason, expires, file, line, attributes, owner, source)
FROM ev
WHERE {where}
ORDER BY ord;
