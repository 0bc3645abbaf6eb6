"""Tests of the importers."""


def without_source(events: list[dict]) -> list[dict]:
    """Converted events without their ``source``: what two inputs of the same records share."""
    return [{k: v for k, v in e.items() if k != "source"} for e in events]
