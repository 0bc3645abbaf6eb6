-- Changes whose (key, target) pair the key's scope does not cover (decided in Python per
-- distinct pair; s: the pair's row in scope_miss, NULL when the scope covers it).
s.pair_key IS NOT NULL
