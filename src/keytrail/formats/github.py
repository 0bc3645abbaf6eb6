"""GitHub Actions: workflow annotations for the findings that matter most.

Each unwaived finding becomes a ``::error`` (critical, high), ``::warning``
(medium) or ``::notice`` (low, info) workflow command with the file and line
it is about, paths given from the folder keytrail was run in, so GitHub puts
the annotation on the right line of the pull request. GitHub shows at most 10
annotations of each level per step: the most severe come first (findings are
sorted by severity), and a last notice says how many were left out. The
Markdown report goes to the step summary (``$GITHUB_STEP_SUMMARY``), which the
command line writes when that variable is set.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from keytrail.engine import Report
from keytrail.formats._common import PACKAGED, gh_data, gh_property

#: GitHub's limit of annotations per level and step.
PER_LEVEL = 10
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "notice", "info": "notice"}


def render(report: Report, fail_on: str = "high") -> str:
    root = PurePosixPath(report.view.project.root.as_posix())
    shown = {"error": 0, "warning": 0, "notice": 0}
    left_out = 0
    lines = []
    for item in report.findings:
        if item.waived is not None or report.known(item):
            continue
        level = LEVELS[item.severity]
        if shown[level] >= PER_LEVEL:
            left_out += 1
            continue
        shown[level] += 1
        props = []
        location = item.finding.location
        if location is not None and not location.path.startswith(PACKAGED):
            path = root / location.path if str(root) != "." else PurePosixPath(location.path)
            props.append(f"file={gh_property(str(path))}")
            props.append(f"line={max(location.line, 1)}")
            if location.column:
                props.append(f"col={location.column}")
        props.append(f"title={gh_property(f'keytrail {item.severity}: {item.rule}')}")
        lines.append(f"::{level} {','.join(props)}::{gh_data(item.finding.message)}\n")
    use = report.view.snapshot_use
    if use.file is not None and not use.used:
        # A skipped drift check is said where the run is read, never left silent.
        lines.append(f"::notice title=keytrail snapshot::{gh_data(use.message)}\n")
    from keytrail.usage.notes import usage_notes

    for note in usage_notes(report):
        if " left out " in note:  # usage too old (or too new) to rely on: said where the run is read
            lines.append(f"::notice title=keytrail usage::{gh_data(note)}\n")
    if left_out:
        lines.append(f"::notice title=keytrail::{left_out} more findings are not annotated "
                     f"(GitHub shows {PER_LEVEL} per level); the step summary and --format json "
                     "have them all\n")
    return "".join(lines)
