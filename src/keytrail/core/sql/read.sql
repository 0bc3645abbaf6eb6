-- The typed read: every history file into one table, with explicit columns.
-- Fields the event schema does not name are not read here; the loader counts
-- every key of every line and sends a file with any other field to the exact
-- Python path, where unknown fields are kept (see core/load.py). `source` (where
-- an importer found the event) is read when it is a flat object (files.sql).
CREATE TEMP TABLE raw AS
SELECT *
FROM read_json(?, format = 'newline_delimited', filename = true, maximum_object_size = ?,
               columns = {id: 'VARCHAR', time: 'VARCHAR', action: 'VARCHAR', subject: 'VARCHAR',
                          target: 'VARCHAR', resource: 'VARCHAR', actor: 'VARCHAR', key: 'VARCHAR',
                          approver: 'VARCHAR', ticket: 'VARCHAR', reason: 'VARCHAR',
                          expires: 'VARCHAR', prev: 'VARCHAR', owner: 'VARCHAR',
                          attributes: 'JSON', source: 'JSON'});
