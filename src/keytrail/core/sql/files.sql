-- Per file: where its rows are, how many, and how many keys they hold non-null
-- (compared with the keys counted in the file's bytes: any difference means a
-- field this read did not take, a null, a repeated key or a value of another type).
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
       count(attributes) AS object_keys,
       count(prev) AS chained,
       count(*) FILTER (WHERE attributes IS NOT NULL AND owner IS NOT NULL) AS two_extras
FROM raw
GROUP BY filename;
