-- Changes under a registered key whose actor is not the key's holder (k: the event's key
-- in the registry, NULL when it is not registered; see flagged.sql).
k.id IS NOT NULL AND actor IS DISTINCT FROM k.holder
