-- Changes under a registered key whose actor is not the key's holder.
EXISTS (SELECT 1 FROM keys AS k WHERE k.id = key AND actor IS DISTINCT FROM k.holder)
