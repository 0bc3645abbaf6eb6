"""Authoring: what helps people write keytrail's inputs (the project scaffold of ``keytrail init``)."""
