-- Changes under a key the registry does not list.
key <> '' AND key NOT IN (SELECT id FROM keys)
