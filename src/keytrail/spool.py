"""Findings written out in report order as they are found, instead of held until the end.

A large organisation can have millions of findings, and each one held costs about a
kilobyte (the finding, its stamp, its message, its deferred evidence). When the findings
JSON is the only output, :func:`keytrail.engine.evaluate` gives each rule's findings to a
:class:`Spool` as soon as the rule is done: they are sorted (in memory, or for a rule with
more than :data:`RUN` findings, in sorted runs on disk merged back), written as the lines
of the report's ``findings`` array, counted for the summary, and dropped. The JSON writer
(:func:`keytrail.render.iter_json`) then writes the summary and copies the lines. The
bytes are the same as when every finding is held (``tests/test_spool.py`` compares them).

The spool is an anonymous temporary file (gone when closed or when the process ends),
held in memory up to :data:`IN_MEMORY` and on disk beyond it, in the system's temporary
folder (``TMPDIR``), like the columnar engine's spill folder.
"""

from __future__ import annotations

import heapq
import marshal
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from operator import itemgetter
from typing import IO, TYPE_CHECKING, Any, NoReturn

from keytrail.engine import covers, within_rule
from keytrail.model import SEVERITY_RANK, Reported, Waiver
from keytrail.textsafe import json_inert

if TYPE_CHECKING:
    from keytrail.engine import Report

#: Findings of one rule sorted in memory at a time; a rule with more is sorted in runs of
#: this many, written to disk and merged (about 1 KB a finding while it is held).
RUN = 50_000
#: How much of the spool stays in memory before it moves to a temporary file.
IN_MEMORY = 16 << 20
#: The separator between two findings in the JSON array (render.iter_json writes the same).
SEPARATOR = ",\n    "
#: Findings encoded, made inert and written per call.
_BATCH = 1024
#: Records of a run written and read back per call: each open run holds one batch while the
#: runs are merged (a finding's line can be several kilobytes).
_RUN_BATCH = 128


class Spool:
    """The findings array of one report, written a rule at a time in report order, and the
    counts the summary needs."""

    def __init__(self, data: Callable[[Reported], dict[str, Any]], known: Callable[[Reported], bool]) -> None:
        #: A finding's JSON object (report.finding_data), and whether it is in the baseline
        #: (Report.known).
        self._data = data
        self._known = known
        self._file: IO[str] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (closed by close())
            max_size=IN_MEMORY, mode="w+", encoding="utf-8", newline="")
        self.count = 0
        #: Findings taken so far, the rule being taken included (for the progress line).
        self.taken = 0
        #: (severity, category, waived, known) -> findings.
        self.counts: Counter[tuple[str, str, bool, bool]] = Counter()
        #: Waivers in force that matched a finding of their rule (by identity).
        self.covering: set[int] = set()

    def add_rule(self, findings: Iterator[Reported], waivers: Sequence[Waiver]) -> None:
        """Take every finding of one rule (already fingerprinted and deduplicated), in any
        order; ``waivers`` are the rule's waivers in force, to learn which cover a finding."""
        runs: list[IO[bytes]] = []
        held: list[Reported] = []
        uncovered = list(waivers)
        counts = self.counts
        known = self._known
        self.taken = self.count
        for item in findings:
            self.taken += 1
            if uncovered:
                matched = [w for w in uncovered if covers(w, item.finding)]
                if matched:
                    self.covering.update(id(w) for w in matched)
                    uncovered = [w for w in uncovered if id(w) not in self.covering]
            counts[item.severity, item.category, item.waived is not None, known(item)] += 1
            held.append(item)
            if len(held) >= RUN:
                runs.append(self._run(held))
                held = []
        held.sort(key=within_rule)
        if not runs:
            self._write(self._encoded(held))
            return
        # The last run stays in memory, encoded as the merge reaches each finding.
        tail = zip(map(within_rule, held), self._encoded(held), strict=True)
        try:
            self._write(map(itemgetter(1), heapq.merge(*map(_records, runs), tail, key=itemgetter(0))))
        finally:
            for run in runs:
                run.close()

    def _encoded(self, items: list[Reported]) -> Iterator[bytes]:
        """Each finding's JSON object, encoded (not yet made inert)."""
        import orjson

        dumps, data = orjson.dumps, self._data
        return (dumps(data(item)) for item in items)

    def _run(self, held: list[Reported]) -> IO[bytes]:
        """``held`` sorted and written to a temporary file as (key, encoded finding) records."""
        held.sort(key=within_rule)
        run = tempfile.TemporaryFile()  # noqa: SIM115 (closed by add_rule)
        try:
            for start in range(0, len(held), _RUN_BATCH):
                batch = held[start:start + _RUN_BATCH]
                marshal.dump(list(zip(map(within_rule, batch), self._encoded(batch), strict=True)), run)
            held.clear()
            run.seek(0)
        except BaseException:
            run.close()
            raise
        return run

    def _write(self, lines: Iterator[bytes]) -> None:
        """Append encoded findings to the array: a batch at a time decoded and made inert
        (the same text as one at a time: no escape of json_inert spans a line)."""
        write = self._file.write
        joined = SEPARATOR.encode()
        while batch := list(islice(lines, _BATCH)):
            text = json_inert(joined.join(batch).decode("utf-8"))
            write(SEPARATOR + text if self.count else text)
            self.count += len(batch)

    def chunks(self, size: int = 1 << 20) -> Iterator[str]:
        """The findings array's lines, joined, from the start (each call reads them again)."""
        self._file.seek(0)
        while chunk := self._file.read(size):
            yield chunk

    def failing(self, threshold: str) -> int:
        """Findings that fail the run at ``threshold``: unwaived, at or above it, not known."""
        rank = SEVERITY_RANK[threshold]
        return sum(n for (severity, _, waived, known), n in self.counts.items()
                   if not waived and not known and SEVERITY_RANK[severity] >= rank)

    def unused(self, report: Report) -> list[Waiver]:
        """Waivers in force that matched no finding of their rule, in policy order."""
        return [w for w in report.view.waivers if w.expires > report.as_of and id(w) not in self.covering]

    def close(self) -> None:
        self._file.close()


def _records(run: IO[bytes]) -> Iterator[tuple[tuple[str, str, str, str, bytes], bytes]]:
    """The (key, encoded finding) records of one run, in its order."""
    load = marshal.load
    while True:
        try:
            batch = load(run)
        except EOFError:
            return
        yield from batch


class Spooled(Sequence[Reported]):
    """``Report.findings`` of a report whose findings went to a spool: there is no list to read.

    Any use of it is a mistake in keytrail (a format or count not written for a spooled
    report), so it fails loudly rather than look like a report with no findings.
    """

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    def __len__(self) -> int:
        return self.spool.count

    def __bool__(self) -> bool:
        return self.spool.count > 0

    def __getitem__(self, index: Any) -> NoReturn:
        raise RuntimeError(_NOT_HELD)

    def __iter__(self) -> NoReturn:
        raise RuntimeError(_NOT_HELD)


_NOT_HELD = ("the findings of this report were written to its spool as they were found; only the "
             "findings JSON can be rendered from it")
