-- The event table every later query reads: `evt` with `ord`, the replay order (time, then
-- file, then line) packed into one HUGEINT, which every later query compares and sorts
-- by: the time, then the row's place in the read (its rowid, which is file order, then line
-- order). And each row's line: row n of a file is line n (the loader proved the file has no
-- blank lines and its rows are contiguous in read order). Both are computed, not stored:
-- storing them was a second pass over every event (8 s of the load at 5M events), and
-- `line` is computed only for the rows a query hands over. {firsts}: each file's first
-- rowid, in file order (integers from files.sql, never input); rows.ord_of packs the same.
CREATE VIEW ev AS
SELECT time::HUGEINT * 18446744073709551616 + rowid AS ord,
       file, rowid - ({firsts})[file + 1] + 1 AS line, id, time, action, subject, target, resource,
       actor, key, approver, ticket, reason, expires, attributes, owner, source
FROM evt;
