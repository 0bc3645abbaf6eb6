-- Per file: where its rows are, how many, how many keys and string values they hold
-- (compared with those counted in the file's bytes: any difference means a field the
-- typed read did not take, a null, a repeated key or a value of another type), and how
-- many rows the typed read cannot vouch for (read.sql says which). One pass over the
-- small check columns of `evt`, not over the events.
SELECT file,
       min(rowid) AS first_row,
       max(rowid) AS last_row,
       count(*) AS n_rows,
       sum(string_keys) AS string_keys,
       sum(object_keys) AS object_keys,
       sum(source_strings) AS source_strings,
       count(*) FILTER (WHERE refused) AS refused
FROM evt
GROUP BY file;
