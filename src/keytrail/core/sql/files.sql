-- Per file: where its rows are, how many, and how many keys they hold non-null
-- (compared with the keys counted in the file's bytes: any difference means a
-- field this read did not take, a null, a repeated key or a value of another type).
-- DuckDB keeps a JSON column's text minified, so a flat `source` object's keys and
-- string values are counted in its text. One pass over `raw` gives every count and
-- the rows the typed read cannot vouch for (`invalid`).
SELECT filename,
       min(rowid) AS first_row,
       max(rowid) AS last_row,
       count(*) AS n_rows,
       sum((id IS NOT NULL)::BIGINT + (time IS NOT NULL)::BIGINT + (action IS NOT NULL)::BIGINT
           + (subject IS NOT NULL)::BIGINT + (target IS NOT NULL)::BIGINT
           + (resource IS NOT NULL)::BIGINT + (actor IS NOT NULL)::BIGINT + (key IS NOT NULL)::BIGINT
           + (approver IS NOT NULL)::BIGINT + (ticket IS NOT NULL)::BIGINT
           + (reason IS NOT NULL)::BIGINT + (expires IS NOT NULL)::BIGINT
           + (prev IS NOT NULL)::BIGINT + (owner IS NOT NULL)::BIGINT) AS string_keys,
       count(attributes) + count(source) + coalesce(sum(len(json_keys(source))), 0) AS object_keys,
       coalesce(sum((length(source) - length(replace(source, '":"', ''))) // 3), 0) AS source_strings,
       count(prev) AS chained,
       count(*) FILTER (WHERE (attributes IS NOT NULL)::INT + (owner IS NOT NULL)::INT
                              + (source IS NOT NULL)::INT > 1) AS two_extras,
       -- A source the counts cannot vouch for: not an object, nesting (a brace or bracket
       -- anywhere but its start, strings included), a repeated key, a '":' inside a string.
       count(*) FILTER (WHERE source IS NOT NULL AND NOT coalesce(
           json_type(source) = 'OBJECT'
           AND NOT regexp_matches(substr(source, 2), '[\[{]')
           AND len(json_keys(source)) = len(list_distinct(json_keys(source)))
           AND len(json_keys(source)) = (length(source) - length(replace(source, '":', ''))) // 2,
           false)) AS odd_sources,
       -- Rows the typed read cannot vouch for: an unknown action, a missing field the
       -- action needs, a time not in the form 2026-03-01T10:00:00Z (or not a real date),
       -- an over-long reason. Any such row sends the history to the exact Python path.
       count(*) FILTER (WHERE NOT coalesce(
           action IN ('grant', 'revoke', 'certify', 'join', 'move', 'leave', 'define', 'retire')
           AND id IS NOT NULL
           AND (subject IS NOT NULL OR action IN ('define', 'retire'))
           AND (target IS NOT NULL OR action IN ('join', 'move', 'leave'))
           AND regexp_full_match(time, '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z')
           AND try_strptime(time, '%Y-%m-%dT%H:%M:%SZ') IS NOT NULL
           AND (expires IS NULL
                OR (regexp_full_match(expires, '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z')
                    AND try_strptime(expires, '%Y-%m-%dT%H:%M:%SZ') IS NOT NULL))
           AND (reason IS NULL OR length(reason) <= 1048576),
           false)) AS invalid
FROM raw
GROUP BY filename;
