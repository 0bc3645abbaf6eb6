"""Output formats beyond text and JSON, one module each, each ``render(report, fail_on) -> str``.

Every module renders from the same data as :mod:`keytrail.report` (the
findings, their rules and the waivers in force), so no two formats disagree;
:mod:`keytrail.render` registers them in ``FORMATS``. Shared pieces (the
plain fields of a finding, a rule's documentation) live in ``_common``.
"""
