-- Changes under a key the registry does not list (k is NULL: no registered key has its id).
key <> '' AND k.id IS NULL
