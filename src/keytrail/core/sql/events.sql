-- The event table: typed times (epoch microseconds, UTC), the file index and line
-- (row n of a file is line n: the loader proved the file has no blank lines), and
-- `ord`, the replay order (time, then file, then line) packed into one HUGEINT, which
-- every later query compares and sorts by (packing costs no sort: a window function did).
CREATE TABLE ev AS
SELECT t::HUGEINT * 18446744073709551616 + f.idx::HUGEINT * 1099511627776 + (r.rowid - f.first_row + 1) AS ord,
       f.idx AS file, r.rowid - f.first_row + 1 AS line, id, t AS time, action, subject, target,
       coalesce(resource, '') AS resource, actor, key, approver, ticket, reason,
       epoch_us(strptime(expires, '%Y-%m-%dT%H:%M:%SZ')) AS expires, attributes, owner, source
FROM (SELECT *, rowid, epoch_us(strptime(time, '%Y-%m-%dT%H:%M:%SZ')) AS t FROM raw) AS r
JOIN files AS f USING (filename);
