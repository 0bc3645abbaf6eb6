-- Each identifier column's distinct values in the event table (where `resource` is '' for
-- a line without one, a value the pattern vouches for), in one query (a DISTINCT per column, not a
-- query per column): every value that names a principal or a target (what the lookalike
-- warnings compare, without a pass over the events in Python), and every value of any
-- column that its plain pattern cannot vouch for (`odd`: not printable ASCII in the form
-- every generator and importer writes, or too long), which the loader then checks one by
-- one with keytrail.history's own tests. The pattern only ever vouches: a value it does
-- not match is not refused here, it is looked at in Python. Event ids are nearly all
-- distinct (a DISTINCT over them is a hash table of every row: 5 s of the load at 5M events)
-- and name nothing the warnings compare, so only the odd ones are selected, row by row.
WITH vals AS (
    SELECT DISTINCT 'subject' AS col, subject AS v FROM ev
    UNION ALL SELECT DISTINCT 'target', target FROM ev
    UNION ALL SELECT DISTINCT 'actor', actor FROM ev
    UNION ALL SELECT DISTINCT 'approver', approver FROM ev
    UNION ALL SELECT DISTINCT 'owner', owner FROM ev
    UNION ALL SELECT DISTINCT 'key', key FROM ev
    UNION ALL SELECT DISTINCT 'ticket', ticket FROM ev
    UNION ALL SELECT DISTINCT 'resource', resource FROM ev
), judged AS (
    SELECT col, v, NOT CASE col
        WHEN 'subject' THEN length(v) <= 512 AND regexp_full_match(v, '(user|svc|group):[!-~]([ -~]*[!-~])?')
        WHEN 'target' THEN length(v) <= 512 AND regexp_full_match(v, '(group|role):[!-~]([ -~]*[!-~])?')
        WHEN 'key' THEN length(v) <= 1024 AND regexp_full_match(v, '([!-~]([ -~]*[!-~])?)?')
        WHEN 'ticket' THEN length(v) <= 1024 AND regexp_full_match(v, '([!-~]([ -~]*[!-~])?)?')
        WHEN 'resource' THEN length(v) <= 1024 AND regexp_full_match(v, '([!-~]([ -~]*[!-~])?)?')
        -- actor, approver, owner: a principal
        ELSE length(v) <= 512 AND regexp_full_match(v, '(user|svc):[!-~]([ -~]*[!-~])?')
    END AS odd
    FROM vals
    WHERE v IS NOT NULL
)
SELECT col, v, odd
FROM judged
WHERE odd OR col IN ('subject', 'target', 'actor', 'approver', 'owner')
UNION ALL
SELECT DISTINCT 'id', id, true
FROM ev
WHERE id IS NOT NULL AND NOT (length(id) <= 256 AND regexp_full_match(id, '[!-~]([ -~]*[!-~])?'));
