"""Usage data: when access was last used, read from ``usage:`` in keytrail.yaml.

Usage is the evidence behind the unused-access checks (``sprawl.unused-access``
per entitlement, ``sprawl.dormant-account`` per principal): access that is held
but not used for ``unused_for`` is the sprawl reviewers revoke first. This
package reads the native usage JSONL (:mod:`.load`), decides which records a
review may rely on and what each grant's last use is (:mod:`.judge`), and the
importers that write usage from real systems live in :mod:`keytrail.importers`
beside the others (``aws-credential-report``, ``aws-access-advisor``, ...).
The semantics are documented in ``docs/usage.md``.
"""
