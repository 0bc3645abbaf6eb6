"""The key registry as a subject of its own: summaries, timelines, edits and suggestions.

:mod:`~keytrail.keys.summary` says what each key is and what was done under it
(``keytrail keys``), :mod:`~keytrail.keys.timeline` every change made under one
key or one trace (``keytrail keys show``), :mod:`~keytrail.keys.edit` writes
``keys.yaml`` without losing its comments (``keytrail key issue|rotate|revoke``)
after :mod:`~keytrail.keys.rules` has accepted the entry, and
:mod:`~keytrail.keys.suggest` proposes entries for the keys the history uses but
the registry lacks (``keytrail keys suggest``).
"""
