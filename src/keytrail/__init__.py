"""keytrail: a policy-as-code access reviewer.

keytrail replays a keyed provisioning history into an access graph, checks
declarative YAML policies against it and reports sprawl, orphaned grants and
unexplained changes, each traced to the provisioning key behind it.
"""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # keytrail.record is loaded on first use: `import keytrail` (and every command's
    # startup) stays as light as it was.
    if name == "record":
        from keytrail.recording import record

        return record
    raise AttributeError(f"module 'keytrail' has no attribute {name!r}")


__all__ = ["__version__", "record"]
