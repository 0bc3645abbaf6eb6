-- Events at or before as_of whose id another such event also carries.
SELECT ord FROM ev
WHERE time <= $as_of
  AND id IN (SELECT id FROM ev WHERE time <= $as_of GROUP BY id HAVING count(*) > 1);
