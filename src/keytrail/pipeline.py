"""The pipeline as separate stages: load, replay, graph, evaluate, render.

``keytrail check`` runs them in order; the benchmark times each one. Every
stage takes the previous stage's result and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from keytrail import progress
from keytrail.engine import Report
from keytrail.engine import evaluate as _evaluate
from keytrail.graph import AccessGraph
from keytrail.project import Project, load_project
from keytrail.replay import State
from keytrail.replay import replay as _replay
from keytrail.timeutil import parse_time
from keytrail.view import View


def _us(value: datetime | int | str | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    return parse_time(value)


def load(root: Path | str, extra_policies: list[Path] | None = None,
         allow_outside: Sequence[str | Path] = (), engine: Any = None) -> Project:
    """Load and validate every input of the project at ``root`` (its paths confined to it
    and to the ``allow_outside`` folders). ``engine`` (a :class:`keytrail.core.EngineOptions`)
    lets a large history be read by the columnar core; None keeps the Python path."""
    progress.stage("loading and validating the inputs")
    return load_project(Path(root), extra_policies, allow_outside, engine)


def replay(project: Project, as_of: datetime | int | str, since: datetime | int | str | None = None) -> State:
    """Fold the history into the state as of ``as_of``."""
    progress.stage(f"replaying {len(project.events):,} events")
    if project.columnar is not None:
        from keytrail.core.connect import engine_errors
        from keytrail.core.replay import replay as columnar_replay

        with engine_errors(project.columnar.con):
            return columnar_replay(project.columnar, _us(as_of) or 0, _us(since))
    return _replay(project.events, _us(as_of) or 0, _us(since), project.history_files)


def build_graph(project: Project, state: State) -> AccessGraph:
    """The access graph over the replayed state."""
    progress.stage("building the access graph")
    return AccessGraph(state)


def evaluate(project: Project, state: State, graph: AccessGraph, *, spool: bool = False,
             baseline: frozenset[str] | None = None) -> Report:
    """Run every enabled rule (``spool``: write the findings out as each rule finishes, for a
    run whose only output is the findings JSON; see :func:`keytrail.engine.evaluate`)."""
    return _evaluate(View(project, state, graph), spool=spool, baseline=baseline)


def render(report: Report, fmt: str, fail_on: str = "high") -> str:
    """Render a report in one output format."""
    from keytrail.render import render as _render

    return _render(report, fmt, fail_on)


def write(report: Report, fmt: str, handle: TextIO, fail_on: str = "high") -> None:
    """Render a report into an open text file, a piece at a time (as the command line does)."""
    from keytrail.render import render_chunks

    for chunk in render_chunks(report, fmt, fail_on):
        handle.write(chunk)
