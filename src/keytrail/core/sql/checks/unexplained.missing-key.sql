-- Changes with no key, or an empty one.
(key IS NULL OR key = '')
