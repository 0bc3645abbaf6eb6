-- Changes whose (key, target) pair the key's scope does not cover (decided in Python per distinct pair).
EXISTS (SELECT 1 FROM scope_miss AS s WHERE s.pair_key = key AND s.pair_target = target)
