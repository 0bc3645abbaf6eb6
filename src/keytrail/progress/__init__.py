"""Progress on standard error for long runs: which stage, how far, how long.

The pipeline's stages report to the current :class:`~keytrail.progress.reporter.Reporter`
(:func:`stage`, :func:`advance`); a command turns reporting on with :func:`showing`
for the length of its work. Nothing is ever shown unless standard error is a
terminal, and nothing for the first seconds of a run (:data:`DELAY`), so a
pre-commit run, a pipe, a CI log and a redirected file never see a byte of it;
standard output is never touched.
"""

from keytrail.progress.reporter import DELAY, Reporter, advance, current, showing, stage

__all__ = ["DELAY", "Reporter", "advance", "current", "showing", "stage"]
