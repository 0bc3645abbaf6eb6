-- The typed read: every history file into the table `evt`, with explicit columns, in one
-- pass (the rows are not kept anywhere else first). Fields the event schema does not
-- name are not read here; the loader counts every key of every line and sends a file with
-- any other field to the exact Python path, where unknown fields are kept (see
-- core/load.py). `source` (where an importer found the event) is read when it is a flat
-- object. Insertion order is preserved: the table's rowid is file order, then line order.
--
-- Beside the event's columns, each row carries what the loader checks it with (files.sql
-- sums them per file; they compress to almost nothing):
--   string_keys     the text fields it took non-null (a null, a number where text belongs,
--                   a field this read does not take: the file's key count then differs);
--   object_keys     `attributes` and `source` as keys, and the keys of a flat `source`
--                   (DuckDB keeps a JSON column's text minified, so they are counted in it);
--   source_strings  the string values of `source`;
--   refused         a row the typed read cannot vouch for: `prev` (a hash chain over the
--                   raw lines, which only the exact path hashes); more than one of
--                   attributes, owner and source (their order in the line is not kept); a
--                   `source` that is not a flat object (nesting: a brace or bracket anywhere
--                   but its start, strings included), repeats a key or holds '":' inside a
--                   string; an unknown action; a missing field the action needs; a time not
--                   in the form 2026-03-01T10:00:00Z (or not a real date); an over-long reason.
-- $files: the history files, in order; $max: the longest line allowed.
CREATE TABLE evt AS
SELECT list_position($files, filename)::INTEGER - 1 AS file, id, t AS time, action, subject,
       target, coalesce(resource, '') AS resource, actor, key, approver, ticket, reason,
       e AS expires, attributes, owner, source,
       ((id IS NOT NULL)::UTINYINT + (r.time IS NOT NULL)::UTINYINT + (action IS NOT NULL)::UTINYINT
           + (subject IS NOT NULL)::UTINYINT + (target IS NOT NULL)::UTINYINT
           + (resource IS NOT NULL)::UTINYINT + (actor IS NOT NULL)::UTINYINT + (key IS NOT NULL)::UTINYINT
           + (approver IS NOT NULL)::UTINYINT + (ticket IS NOT NULL)::UTINYINT
           + (reason IS NOT NULL)::UTINYINT + (r.expires IS NOT NULL)::UTINYINT
           + (prev IS NOT NULL)::UTINYINT + (owner IS NOT NULL)::UTINYINT) AS string_keys,
       (attributes IS NOT NULL)::INTEGER
           + CASE WHEN source IS NULL THEN 0 ELSE 1 + len(json_keys(source)) END AS object_keys,
       CASE WHEN source IS NULL THEN 0
            ELSE (length(source) - length(replace(source, '":"', ''))) // 3 END AS source_strings,
       NOT coalesce(
           prev IS NULL
           AND (attributes IS NOT NULL)::INTEGER + (owner IS NOT NULL)::INTEGER
               + (source IS NOT NULL)::INTEGER <= 1
           AND (source IS NULL
                OR (json_type(source) = 'OBJECT'
                    AND NOT regexp_matches(substr(source, 2), '[\[{]')
                    AND len(json_keys(source)) = len(list_distinct(json_keys(source)))
                    AND len(json_keys(source)) = (length(source) - length(replace(source, '":', ''))) // 2))
           AND action IN ('grant', 'revoke', 'certify', 'join', 'move', 'leave', 'define', 'retire')
           AND id IS NOT NULL
           AND (subject IS NOT NULL OR action IN ('define', 'retire'))
           AND (target IS NOT NULL OR action IN ('join', 'move', 'leave'))
           AND regexp_full_match(r.time, '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z')
           AND t IS NOT NULL
           AND (r.expires IS NULL
                OR (regexp_full_match(r.expires, '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z')
                    AND e IS NOT NULL))
           AND (reason IS NULL OR length(reason) <= 1048576),
           false) AS refused
FROM (SELECT *, epoch_us(try_strptime(time, '%Y-%m-%dT%H:%M:%SZ')) AS t,
             epoch_us(try_strptime(expires, '%Y-%m-%dT%H:%M:%SZ')) AS e
      FROM read_json($files, format = 'newline_delimited', filename = true, maximum_object_size = $max,
                     columns = {id: 'VARCHAR', time: 'VARCHAR', action: 'VARCHAR', subject: 'VARCHAR',
                                target: 'VARCHAR', resource: 'VARCHAR', actor: 'VARCHAR', key: 'VARCHAR',
                                approver: 'VARCHAR', ticket: 'VARCHAR', reason: 'VARCHAR',
                                expires: 'VARCHAR', prev: 'VARCHAR', owner: 'VARCHAR',
                                attributes: 'JSON', source: 'JSON'})) AS r;
