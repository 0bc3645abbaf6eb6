-- The time of the first event at or before as_of (NULL for an empty history).
SELECT min(time) FROM ev WHERE time <= $as_of;
