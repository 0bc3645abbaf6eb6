-- The active grants' events (rows.sql's columns) and when each holding began, in the
-- order the holdings began (the order the Python replay inserts them).
SELECT json_array(e.id, e.time, e.action, e.subject, e.target, e.resource, e.actor, e.key,
                  e.approver, e.ticket, e.reason, e.expires, e.file, e.line, e.attributes,
                  e.owner, e.source, a.since)
FROM active AS a
JOIN ev AS e ON e.ord = a.last_grant
ORDER BY a.start;
