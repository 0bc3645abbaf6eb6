-- Per (key, actor): the access changes of the review window ({changes}: changes.sql)
-- made under the key by the actor, with the first and the last of them in replay order;
-- changes with no key or no actor count for none. Actors of a key in order of first use.
SELECT key, actor, count(*) AS n, min(ord) AS first, max(ord) AS last
FROM ev
WHERE ({changes}) AND key IS NOT NULL AND key <> '' AND actor IS NOT NULL AND actor <> ''
GROUP BY key, actor
ORDER BY key, first;
