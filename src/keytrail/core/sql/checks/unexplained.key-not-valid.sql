-- Changes under a registered key outside its validity window [valid_from, valid_to).
EXISTS (SELECT 1 FROM keys AS k WHERE k.id = key AND (time < k.valid_from OR time >= k.valid_to))
