-- Changes under a registered key outside its validity window [valid_from, valid_to).
k.id IS NOT NULL AND (time < k.valid_from OR time >= k.valid_to)
