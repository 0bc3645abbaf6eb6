-- Every distinct identifier the history names (subject, target, actor, approver, owner):
-- what the lookalike warnings compare, without a pass over the events in Python.
SELECT DISTINCT x FROM (
    SELECT subject AS x FROM raw UNION ALL SELECT target FROM raw UNION ALL
    SELECT actor FROM raw UNION ALL SELECT approver FROM raw UNION ALL SELECT owner FROM raw)
WHERE x IS NOT NULL;
