-- The access changes of the review window (what View.changes() gives a check on the
-- Python path); each file in checks/ narrows them to the rows that check may flag.
action IN ('grant', 'revoke', 'define', 'retire', 'certify')
AND time <= $as_of AND ($since IS NULL OR time > $since)
