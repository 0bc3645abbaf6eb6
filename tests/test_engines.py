"""The two engines agree: ``--engine python`` and ``--engine columnar`` give the same bytes.

The columnar core (keytrail.core) reads and replays a large history in DuckDB and
hands the checks only the rows they flag; the Python path is the definition. These
tests hold the two to the same output in every format: on every check's case file,
on the example organisation (with its hash chain removed, so that the columnar path
really runs), and on a generated organisation; and hold a bad line in a columnar run
to the exact message of the Python path.
"""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from keytrail.cli import main
from tests.conftest import AS_OF, REPO, write_project

pytest.importorskip("duckdb")

FORMATS = ("json", "text", "markdown", "html", "sarif", "junit", "csv", "github")
CASES = REPO / "tests" / "checks" / "cases"


@pytest.fixture
def columnar_reads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, for each columnar load, whether the typed read took the history (True) or
    handed it to the exact path (False)."""
    from keytrail.core import load

    seen: list[bool] = []
    original = load.load_history

    def spy(*args: Any) -> Any:
        result = original(*args)
        seen.append(result is not None)
        return result

    monkeypatch.setattr(load, "load_history", spy)
    return seen


def outputs(root: Path, engine: str, out: Path, *extra: str) -> tuple[int, dict[str, bytes]]:
    """Run ``check`` once with every format; the exit code and each format's bytes."""
    out.mkdir(parents=True, exist_ok=True)
    argv = ["check", str(root), "--engine", engine, *extra]
    for fmt in FORMATS:
        argv += ["--format", fmt, "--output", str(out / f"{engine}.{fmt}")]
    code = main(argv)
    return code, {fmt: (out / f"{engine}.{fmt}").read_bytes() for fmt in FORMATS}


def assert_same(root: Path, tmp: Path, *extra: str) -> None:
    code_py, py = outputs(root, "python", tmp, *extra)
    code_col, col = outputs(root, "columnar", tmp, *extra)
    assert code_py == code_col
    for fmt in FORMATS:
        if py[fmt] != col[fmt]:
            a, b = py[fmt].decode().splitlines(), col[fmt].decode().splitlines()
            first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            pytest.fail(f"{root.name}: {fmt} differs at line {first + 1}:\n  python:   "
                        f"{a[first] if first < len(a) else '<end>'}\n  columnar: "
                        f"{b[first] if first < len(b) else '<end>'}")


def _cases() -> list[tuple[str, dict[str, Any]]]:
    from keytrail.yamlload import load_yaml

    found = []
    for path in sorted(CASES.glob("*.yaml")):
        doc, _ = load_yaml(path.read_text(), path.name)
        found += [(doc["check"], case) for case in doc["cases"]]
    return found


def test_every_check_case_gives_the_same_bytes_under_both_engines(tmp_path: Path,
                                                                  columnar_reads: list[bool]) -> None:
    failures = []
    cases = _cases()
    for n, (check_id, case) in enumerate(cases):
        as_of = str(case.get("as_of", AS_OF))
        policies = case.get("policies") or [{
            "apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "case"},
            "rules": [{"id": "case", "use": check_id, **({"with": case["params"]} if case.get("params") else {})}]}]
        root = write_project(tmp_path / f"c{n}", directory=case.get("directory"), keys=case.get("keys"),
                             events=case.get("events"), history_text=case.get("history"),
                             snapshot=case.get("snapshot"), policies=policies,
                             snapshot_time=str(case.get("snapshot_time", as_of)))
        extra = ["--as-of", as_of, "--fail-on", "critical"]
        if case.get("since"):
            extra += ["--since", str(case["since"])]
        try:
            assert_same(root, tmp_path / f"o{n}", *extra)
        except BaseException as exc:  # collect every case, then fail once with all of them
            if not isinstance(exc, (AssertionError, pytest.fail.Exception)):
                raise
            failures.append(f"{check_id}: {case['name']}: {exc}")
    assert not failures, "\n".join(failures)
    # The comparison means something only if the typed read took most histories.
    assert sum(columnar_reads) >= 0.8 * len(cases), (sum(columnar_reads), len(cases))


def _unchained_acme(tmp_path: Path) -> Path:
    """examples/acme with every `prev` hash removed: a history the typed read takes whole
    (a chained file goes to the exact path, which hashes every line)."""
    root = tmp_path / "acme"
    shutil.copytree(REPO / "examples" / "acme", root)
    for path in (root / "history").glob("*.jsonl"):
        lines = []
        for line in path.read_text().splitlines():
            event = json.loads(line)
            event.pop("prev", None)
            lines.append(json.dumps(event, separators=(",", ":"), ensure_ascii=False))
        path.write_text("\n".join(lines) + "\n")
    return root


def test_example_organisation_gives_the_same_bytes_under_both_engines(tmp_path: Path,
                                                                      columnar_reads: list[bool]) -> None:
    assert_same(REPO / "examples" / "acme", tmp_path / "chained", "--as-of", AS_OF)
    assert columnar_reads == [False]  # its chained file goes to the exact path
    assert_same(_unchained_acme(tmp_path), tmp_path / "plain", "--as-of", AS_OF)
    assert_same(_unchained_acme(tmp_path / "w"), tmp_path / "window", "--as-of", AS_OF,
                "--since", "2026-07-01T00:00:00Z")
    assert columnar_reads == [False, True, True]


def test_generated_organisation_gives_the_same_bytes_under_both_engines(
        tmp_path: Path, columnar_reads: list[bool], monkeypatch: pytest.MonkeyPatch) -> None:
    from keytrail.core import rows
    from keytrail.core.replay import ColumnarState

    asked: list[str | None] = []
    narrow = ColumnarState.changes_for

    def spy(self: ColumnarState, view: Any, check: str | None) -> Any:
        asked.append(check)
        return narrow(self, view, check)

    monkeypatch.setattr(ColumnarState, "changes_for", spy)
    org = tmp_path / "S"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "generate.py"), "--size", "S",
                    "--seed", "7", "--out", str(org)], check=True, capture_output=True)
    before = rows.FULL_READS[0]
    assert_same(org, tmp_path / "out", "--as-of", AS_OF)
    assert columnar_reads == [True]
    # Only flagged rows and active grants became objects: no walk over every event (the key
    # hygiene checks read State.key_uses / key_actors, aggregates), and every check that asked
    # for changes got its own query's rows, never every change of the window.
    assert rows.FULL_READS[0] - before == 0
    assert asked and None not in asked, asked


def test_a_history_larger_than_memory_is_kept_on_disk_with_the_same_bytes(
        tmp_path: Path, columnar_reads: list[bool], monkeypatch: pytest.MonkeyPatch) -> None:
    """Past half of DuckDB's memory the tables live compressed in a database file in the
    spill folder: the same findings to the byte, and the folder is removed after the run."""
    from keytrail.core import connect

    made: list[tuple[bool, str]] = []
    build = connect.Connection.__init__

    def spy(self: connect.Connection, *args: Any, **kwargs: Any) -> None:
        build(self, *args, **kwargs)
        made.append((self.on_disk, self.spill))  # not the connection: it must be let go

    monkeypatch.setattr(connect.Connection, "__init__", spy)
    monkeypatch.setattr(connect, "ON_DISK_SHARE", 1 << 40)  # any history is "large"
    org = tmp_path / "S"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "generate.py"), "--size", "S",
                    "--seed", "11", "--out", str(org)], check=True, capture_output=True)
    assert_same(org, tmp_path / "out", "--as-of", AS_OF)
    assert columnar_reads == [True]
    assert [on_disk for on_disk, _ in made] == [True]
    gc.collect()
    assert not Path(made[0][1]).exists()


def test_a_small_history_stays_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The near miss: under half of the memory limit, no database file is made."""
    from keytrail.core import EngineOptions, connect

    history = tmp_path / "h.jsonl"
    history.write_text(_LINE + "}\n", encoding="utf-8")
    con = connect.Connection(EngineOptions(engine="columnar"), [history])
    try:
        assert not con.on_disk
        assert not (Path(con.spill) / "history.duckdb").exists()
    finally:
        con.close()
    monkeypatch.setattr(connect, "ON_DISK_SHARE", 1 << 40)
    con = connect.Connection(EngineOptions(engine="columnar"), [history])
    try:
        assert con.on_disk and (Path(con.spill) / "history.duckdb").exists()
    finally:
        con.close()


def _large_history(root: Path, bad: str | None, at: int) -> None:
    events = []
    for n in range(1, 2001):
        events.append(json.dumps({"id": f"ev-{n:05d}", "time": f"2026-03-01T10:{n // 60 % 60:02d}:{n % 60:02d}Z",
                                  "action": "grant", "subject": f"user:u{n % 50}", "target": "role:r",
                                  "actor": "svc:bot", "key": "pk-1"}, separators=(",", ":")))
    if bad is not None:
        events[at - 1] = bad
    write_project(root, directory={"principals": [{"id": "svc:bot", "owner": "user:u1"}],
                                   "roles": [{"id": "role:r", "owner": "user:u1"}]},
                  keys=[{"id": "pk-1", "holder": "svc:bot", "scope": ["role:*"]}],
                  history_text="\n".join(events) + "\n",
                  policies=[{"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
                             "rules": [{"id": "mk", "use": "unexplained.missing-key"}]}])


@pytest.mark.parametrize("bad", [
    '{"id":"ev-bad","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r",}',
    '{"id":17,"time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r"}',
    '{"id":"ev-bad","time":"2026-03-01 10:00:00","action":"grant","subject":"user:x","target":"role:r"}',
    '{"id":"ev-bad","time":"2026-02-30T10:00:00Z","action":"grant","subject":"user:x","target":"role:r"}',
    '{"id":"ev-bad","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r","key":"a","key":"b"}',
    '{"id":"ev-bad","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x\\u200b","target":"role:r"}',
    '{"id":"ev-bad","time":"2026-03-01T10:00:00Z","action":"grnt","subject":"user:x","target":"role:r"}',
    '{"id":"ev-bad","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r","resource":null}',
    '{"id":"ev-bad","time":"2026-03-01T10:00:00Z","action":"join","subject":"user:x","attributes":{"a":1, }}',
    '{"id":"ev-bad","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r", \t}',
    '{"id":"ev-bad","time":"2026-03-01T10:00:00Z","action":"join","subject":"user:x","attributes":{"a":1, \t}}',
    '{"id":"ev-bad","time":"2026-03-01T10:00:00Z","action":"join","subject":"user:x","attributes":{"a":NaN}}',
    '{"id":"ev-bad","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r","ticket":5}',
    '{"id":"ev-bad","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r","source":{"id":"a","id":"b"}}',
    '{"id":"ev-bad","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r","source":"okta"}',
    '{"id":"ev-bad","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r","reason":"' + "x" * (1 << 20) + '"}',
    '{"id":"ev-bad ","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r"}',
    '{"id":"ev-\u0007","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r"}',
], ids=["json", "id-number", "no-zone", "no-such-day", "repeated-key", "invisible", "action", "null",
        "trailing-comma", "trailing-comma-space-tab", "attributes-trailing-comma-space-tab", "nan",
        "ticket-number", "source-repeated-key", "source-not-object", "long-line",
        "id-trailing-space", "id-control-character"])
def test_a_bad_line_in_a_columnar_run_is_reported_exactly_as_by_the_python_path(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str, columnar_reads: list[bool]) -> None:
    root = tmp_path / "org"
    _large_history(root, bad, at=1234)
    messages = {}
    for engine in ("python", "columnar"):
        code = main(["check", str(root), "--engine", engine, "--as-of", AS_OF])
        captured = capsys.readouterr()
        messages[engine] = (code, captured.out, captured.err)
    assert messages["columnar"] == messages["python"]
    assert messages["python"][0] == 2
    assert "history/h.jsonl:1234" in messages["python"][2]
    assert columnar_reads == [False]


def test_a_near_miss_line_is_read_by_the_typed_read(tmp_path: Path, columnar_reads: list[bool]) -> None:
    """Values the typed read must take as they are: non-ASCII ids, spaces inside tokens,
    attributes, json.dumps spacing; and the run gives the same bytes as the Python path."""
    root = tmp_path / "org"
    _large_history(root, json.dumps({"id": "ev-é", "time": "2026-03-01T10:00:00Z", "action": "join",
                                     "subject": "user:zoë", "attributes": {"dept": "pay", "level": 3},
                                     "ticket": "CHG 12", "reason": 'said "x": y'.replace('"', "'")},
                                    ensure_ascii=False), at=5)
    assert_same(root, tmp_path / "out", "--as-of", AS_OF)
    assert columnar_reads == [True]


@pytest.mark.parametrize("line", [
    '{"id":"ev-x","time":"2026-03-01T10:00:00Z","action":"join","subject":"user:x","attributes":{"a":1234567890123456789012}}',
    '{"id":"ev-x","time":"2026-03-01T10:00:00Z","action":"join","subject":"user:x","attributes":{"a":1e2,"b":1.50,"c":null,"d":true}}',
    '{"id": "ev-x", "time": "2026-03-01T10:00:00Z", "action": "grant", "subject": "user:x", "target": "role:r"}',
    '{"id":"ev-x","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r","reason":"see https://x.example/a"}',
    '{"id":"ev-x","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r","reason":"a \\":\\" b"}',
    '{"id":"ev-x","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r","reason":"a, \\t}"}',
    '{"id":"ev-x","time":"2026-03-01T10:00:00Z","action":"define","target":"role:q","owner":"user:x","key":""}',
    '{"id":"ev-x","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r",'
    '"source":{"format":"okta","file":"okta/2026.json","line":17,"id":"abc","time_assumed":true}}',
    '{"id":"ev-x","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r",'
    '"source":{"format":"okta","nested":{"a":1}}}',
    '{"id":"ev-x","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r",'
    '"source":{"id":12345678901234567890123}}',
    '{"id":"ev-x","time":"2026-03-01T10:00:00Z","action":"join","subject":"user:x","attributes":{"a":"b"},'
    '"source":{"format":"workday"}}',
], ids=["huge-number", "numbers", "spaced", "url", "colon-in-text", "escaped-tab-in-text", "owner", "source",
        "nested-source", "huge-source", "attributes-and-source"])
def test_odd_but_valid_lines_give_the_same_bytes(tmp_path: Path, line: str) -> None:
    root = tmp_path / "org"
    _large_history(root, line, at=99)
    assert_same(root, tmp_path / "out", "--as-of", AS_OF)


_LINE = '{"id":"ev-x","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x","target":"role:r"'


@pytest.mark.parametrize("tail", [
    ',"reason":"a" }', ',"reason":"a"} ', ',"reason":"a", }', ',"reason":"a",  "ticket":"t"}',
    ',"reason":"a",}', ',"reason" :"a"}', ',"reason": "a" ,"ticket":"t"}', ',"reason": "a", }',
], ids=["space-after-value", "space-at-line-end", "comma-space-brace", "comma-two-spaces",
        "trailing-comma", "space-before-colon", "spaced-colons-then-space-after-value",
        "spaced-colons-then-comma-space-brace"])
def test_the_byte_scan_refuses_a_line_it_cannot_count(tmp_path: Path, tail: str) -> None:
    """Each spacing that would make the key counts unreliable, alone or in a file written
    with spaced colons, sends the file to the exact path (scan gives None)."""
    from keytrail.core.load import scan

    path = tmp_path / "h.jsonl"
    path.write_text(_LINE + ',"key":"pk-1"}\n' + _LINE + tail + "\n", encoding="utf-8")
    assert scan(path) is None


def test_the_byte_scan_counts_spaced_colons_and_ignores_spaces_in_text(tmp_path: Path) -> None:
    """The near misses: json.dumps spacing is counted (a string value after ": " too), and
    spaces, colons and commas inside a reason are text, not layout."""
    from keytrail.core.load import scan

    spaced = json.dumps({"id": "ev-1", "time": "2026-03-01T10:00:00Z", "action": "grant",
                         "subject": "user:x", "target": "role:r", "attributes": {"n": 3}})
    compact = _LINE + ',"reason":"review: not needed, per CHG 1"}'
    path = tmp_path / "h.jsonl"
    path.write_text(spaced + "\n" + compact + "\n", encoding="utf-8")
    found = scan(path)
    assert found is not None
    assert (found.lines, found.keys, found.strings) == (2, 7 + 6, 5 + 6)
    path.write_text(compact + "\n", encoding="utf-8")
    found = scan(path)
    assert found is not None and (found.lines, found.keys, found.strings) == (1, 6, 6)


def test_a_comma_space_tab_written_as_text_is_still_read_by_the_typed_read(
        tmp_path: Path, columnar_reads: list[bool]) -> None:
    """The near miss of the trailing comma after a space and a tab (which DuckDB's parser
    accepts and JSON does not): the same characters escaped inside a string are valid."""
    root = tmp_path / "org"
    _large_history(root, '{"id":"ev-x","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x",'
                         '"target":"role:r","reason":"a, \\t}","ticket":"T, 1"}', at=42)
    assert_same(root, tmp_path / "out", "--as-of", AS_OF)
    assert columnar_reads == [True]


def test_an_imported_history_with_source_is_read_by_the_typed_read(tmp_path: Path,
                                                                    columnar_reads: list[bool]) -> None:
    root = tmp_path / "org"
    _large_history(root, '{"id":"ev-x","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x",'
                         '"target":"role:r","source":{"format":"okta","file":"a.json","line":3}}', at=42)
    assert_same(root, tmp_path / "out", "--as-of", AS_OF)
    assert columnar_reads == [True]


def test_the_typed_read_starts_before_the_yaml_is_read_and_reads_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, columnar_reads: list[bool]) -> None:
    """DuckDB's read runs on its own threads while Python reads the directory: it is started
    first, once, and the load uses that read rather than starting another."""
    from keytrail import project
    from keytrail.core import load

    order: list[str] = []
    start, load_directory = load.start, project.load_directory
    monkeypatch.setattr(load, "start", lambda *a: (order.append("read"), start(*a))[1])
    monkeypatch.setattr(project, "load_directory", lambda *a: (order.append("directory"), load_directory(*a))[1])
    root = tmp_path / "org"
    _large_history(root, None, 1)
    assert_same(root, tmp_path / "out", "--as-of", AS_OF)
    assert order == ["directory", "read", "directory"]  # python, then columnar
    assert columnar_reads == [True]


def test_unknown_fields_send_the_history_to_the_exact_path_where_they_are_kept(
        tmp_path: Path, columnar_reads: list[bool]) -> None:
    root = tmp_path / "org"
    _large_history(root, '{"id":"ev-x","time":"2026-03-01T10:00:00Z","action":"grant","subject":"user:x",'
                         '"target":"role:r","x_request":"r-81"}', at=7)
    assert_same(root, tmp_path / "out", "--as-of", AS_OF)
    assert columnar_reads == [False]


def test_the_example_project_never_imports_duckdb() -> None:
    code = ("import sys; from keytrail.cli import main; "
            f"rc = main(['check', {str(REPO / 'examples' / 'acme')!r}, '--output', '/dev/null']); "
            "print('duckdb' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert done.stdout.strip() == "False", done.stderr


def test_auto_takes_the_columnar_engine_above_the_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            columnar_reads: list[bool]) -> None:
    import keytrail.core

    root = tmp_path / "org"
    _large_history(root, None, 1)
    assert main(["check", str(root), "--as-of", AS_OF, "--output", str(tmp_path / "a")]) in (0, 1)
    assert columnar_reads == []
    monkeypatch.setattr(keytrail.core, "THRESHOLD_BYTES", 1000)
    assert main(["check", str(root), "--as-of", AS_OF, "--output", str(tmp_path / "b")]) in (0, 1)
    assert columnar_reads == [True]
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


@pytest.mark.parametrize(("argv", "message"), [
    (["--memory-limit", "lots"], "--memory-limit: 'lots' is not a size such as 4GB"),
    (["--memory-limit", "1MB"], "--memory-limit: '1MB' is too small (at least 64MB)"),
    (["--memory-limit", "1GB", "--engine", "python"], "--memory-limit bounds the columnar engine"),
])
def test_bad_engine_options_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             argv: list[str], message: str) -> None:
    root = tmp_path / "org"
    _large_history(root, None, 1)
    assert main(["check", str(root), *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_memory_limit_runs_and_gives_the_same_bytes(tmp_path: Path, columnar_reads: list[bool]) -> None:
    root = tmp_path / "org"
    _large_history(root, None, 1)
    _, python = outputs(root, "python", tmp_path / "a", "--as-of", AS_OF)
    _, bounded = outputs(root, "columnar", tmp_path / "b", "--as-of", AS_OF, "--memory-limit", "256MB")
    assert python == bounded
    assert columnar_reads == [True]


def test_columnar_without_duckdb_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    import keytrail.core

    root = tmp_path / "org"
    _large_history(root, None, 1)
    monkeypatch.setattr(keytrail.core, "available", lambda: False)
    assert main(["check", str(root), "--engine", "columnar"]) == 2
    assert "--engine columnar needs DuckDB, which is not installed" in capsys.readouterr().err
    monkeypatch.setattr(keytrail.core, "THRESHOLD_BYTES", 100)
    monkeypatch.setattr(keytrail.core, "REQUIRED_BYTES", 1000)
    assert main(["check", str(root)]) == 2  # auto on a very large history: never silently the slow path
    assert "pass --engine python to read it without" in capsys.readouterr().err
    monkeypatch.setattr(keytrail.core, "REQUIRED_BYTES", 1 << 30)
    # Between the two: the python path, the same findings, and a note saying so.
    assert main(["check", str(root), "--as-of", AS_OF, "--output", str(tmp_path / "mid")]) in (0, 1)
    err = capsys.readouterr().err
    assert "keytrail: note: the history is" in err and "reads faster with DuckDB" in err
    monkeypatch.setattr(keytrail.core, "THRESHOLD_BYTES", 1 << 30)
    assert main(["check", str(root), "--as-of", AS_OF, "--output", str(tmp_path / "x")]) in (0, 1)  # small: no DuckDB needed
    assert "note:" not in capsys.readouterr().err
    assert (tmp_path / "mid").read_bytes() == (tmp_path / "x").read_bytes()
    assert main(["check", str(root), "--as-of", AS_OF, "--engine", "python", "--output", str(tmp_path / "y")]) in (0, 1)
    assert "note:" not in capsys.readouterr().err


def test_the_spill_folder_is_private_and_removed(tmp_path: Path) -> None:
    from keytrail.core import EngineOptions
    from keytrail.core.connect import Connection

    con = Connection(EngineOptions("columnar", 128 << 20))
    spill = Path(con.spill)
    assert spill.is_dir() and spill.name.startswith("keytrail-spill-")
    assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0] == str(spill)
    con.close()
    assert not spill.exists()


def test_duckdb_reads_only_the_history_and_writes_only_its_spill_folder(tmp_path: Path) -> None:
    from keytrail.core import EngineOptions
    from keytrail.core.connect import Connection

    history = tmp_path / "it's.jsonl"
    history.write_text('{"id":"a"}\n')
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    con = Connection(EngineOptions("columnar"), [history])
    assert con.execute("SELECT count(*) FROM read_json(?, format = 'newline_delimited')",
                       [[str(history)]]).fetchone()[0] == 1
    for statement in (f"SELECT * FROM read_csv('{secret}')", f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'",
                      "SET enable_external_access = true", "INSTALL httpfs"):
        with pytest.raises(con.error):
            con.execute(statement)
    assert not (tmp_path / "out.csv").exists()
    con.close()


def test_sql_files_are_where_the_core_reads_them() -> None:
    from keytrail.core.replay import NARROWED

    folder = REPO / "src" / "keytrail" / "core" / "sql"
    assert {p.stem for p in (folder / "checks").glob("*.sql")} == NARROWED


def test_duckdb_running_out_of_memory_is_an_error_not_a_traceback() -> None:
    from keytrail.core import EngineOptions
    from keytrail.core.connect import Connection, engine_errors
    from keytrail.errors import KeytrailError

    con = Connection(EngineOptions("columnar", 64 << 20))
    with pytest.raises(KeytrailError) as caught, engine_errors(con):
        # One text of 5M x 33 bytes cannot be spilled: more than the 64 MB limit.
        con.execute("SELECT string_agg(md5(range::VARCHAR), ',') FROM range(5000000)").fetchone()
    assert str(caught.value).startswith("the columnar engine stopped: Out of Memory Error")
    assert "raise --memory-limit" in str(caught.value) and con.spill in str(caught.value)
    with engine_errors(con):  # a query within the limit still runs
        assert con.execute("SELECT count(*) FROM range(1000)").fetchone()[0] == 1000
    con.close()


# -- Key-use aggregates (State.key_uses, key_actors, history_start, events_at) ---------------
# The key hygiene checks read per-key aggregates instead of walking the history: a GROUP BY
# on the columnar path, one pass on the Python path. These cases hold the two to the same
# bytes on the edges of their semantics: replay order across files at the same time, the
# review window, keys never used, keys not in the registry, changes with no actor.

def _keyed_org(root: Path) -> Path:
    """Two history files whose events tie in time; keys shared, idle, unused, overbroad."""
    roles = [{"id": f"role:r{n:02d}", "owner": "user:own"} for n in range(12)]
    people = [{"id": p} for p in ("user:own", "user:b", "user:c", "user:z", "user:x", "user:y")]
    keys = [
        # scope role:* matches 12 roles; it changes 2 (overbroad), and 3 actors use it (shared)
        {"id": "pk-shared", "holder": "svc:bot", "scope": ["role:*"]},
        {"id": "pk-unused", "holder": "svc:idle", "owner": "user:own", "scope": ["role:r00"],
         "not_before": "2026-02-01T00:00:00Z"},
        {"id": "pk-idle", "holder": "svc:old", "owner": "user:own", "scope": ["role:r01"]},
        {"id": "pk-recent", "holder": "svc:new", "owner": "user:own", "scope": ["role:r02"]},
    ]

    def ev(n: str, time: str, action: str, key: str | None, actor: str | None, target: str = "role:r00",
           subject: str = "user:x") -> str:
        event: dict[str, Any] = {"id": n, "time": time, "action": action, "subject": subject}
        if action != "join":
            event["target"] = target
        if actor is not None:
            event["actor"] = actor
        if key is not None:
            event["key"] = key
        return json.dumps(event, separators=(",", ":"))

    first = [  # history/h.jsonl
        ev("h1", "2026-01-05T00:00:00Z", "grant", "pk-shared", "user:z", "role:r03"),
        ev("h2", "2026-03-01T00:00:00Z", "grant", "pk-idle", "svc:old", "role:r01"),
        ev("h3", "2026-03-01T00:00:00Z", "revoke", "pk-idle", "svc:old", "role:r01", "user:y"),
        ev("h4", "2026-07-02T10:00:00Z", "grant", "pk-shared", "svc:bot", "role:r04"),
        ev("h5", "2026-07-03T10:00:00Z", "grant", "pk-shared", "user:b", "role:r04", "user:y"),
        ev("h6", "2026-07-04T00:00:00Z", "grant", "pk-shared", None, "role:r04", "user:own"),
        ev("h7", "2026-07-05T00:00:00Z", "grant", "pk-ghost", "user:b"),
        ev("h8", "2026-07-06T00:00:00Z", "join", "pk-shared", "user:x", subject="user:new"),
        ev("h9", "2026-09-20T00:00:00Z", "grant", "pk-recent", "svc:new", "role:r02"),
        ev("h10", "2026-09-21T00:00:00Z", "grant", "pk-shared", "svc:bot", "role:r03", "user:y"),
    ]
    second = [  # history/i.jsonl: ties with h.jsonl; file order decides replay order
        ev("i1", "2026-03-01T00:00:00Z", "grant", "pk-idle", "svc:old", "role:r01", "user:own"),
        ev("i2", "2026-07-03T10:00:00Z", "grant", "pk-shared", "user:c", "role:r03", "user:own"),
        ev("i3", "2026-07-05T00:00:00Z", "grant", "pk-ghost", "user:c"),
        ev("i4", "2026-09-21T00:00:00Z", "revoke", "pk-shared", "user:c", "role:r04", "user:y"),
        ev("i5", "2026-10-05T00:00:00Z", "grant", "pk-unused", "svc:idle"),  # after as_of
        ev("i6", "2026-07-10T00:00:00Z", "grant", "", "user:b", "role:r05"),  # an empty key
        ev("i7", "2026-07-11T00:00:00Z", "grant", None, "user:c", "role:r06"),  # no key
    ]
    policy = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "keys"}, "rules": [
        {"id": "unused", "use": "sprawl.unused-key"},
        {"id": "overbroad", "use": "sprawl.overbroad-key"},
        {"id": "shared", "use": "unexplained.shared-key"}]}
    write_project(root, directory={"principals": [*people, *({"id": s, "owner": "user:own"} for s in (
        "svc:bot", "svc:idle", "svc:old", "svc:new"))], "roles": roles},
        keys=keys, history_text="\n".join(first) + "\n", policies=[policy])
    (root / "history" / "i.jsonl").write_text("\n".join(second) + "\n")
    return root


def _findings(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f["rule"], f["key"]): f for f in json.loads(path.read_text())["findings"]}


def test_key_hygiene_checks_give_the_same_bytes_under_both_engines_without_walking_events(
        tmp_path: Path, columnar_reads: list[bool]) -> None:
    from keytrail.core import rows

    root = _keyed_org(tmp_path / "org")
    before = rows.FULL_READS[0]
    assert_same(root, tmp_path / "whole", "--as-of", AS_OF)
    assert_same(root, tmp_path / "window", "--as-of", AS_OF, "--since", "2026-07-01T00:00:00Z")
    assert columnar_reads == [True, True]
    assert rows.FULL_READS[0] == before

    # The bytes compared above say what they should (so the comparison is not vacuous).
    whole = _findings(tmp_path / "whole" / "columnar.json")
    assert set(whole) == {("unused", "pk-unused"), ("unused", "pk-idle"), ("overbroad", "pk-shared"),
                          ("shared", "pk-shared")}
    # The last use of pk-idle ties h2, h3 and i1 in time: file order makes i1 the last.
    idle = whole[("unused", "pk-idle")]["evidence"]
    assert (idle["last_use"], idle["changes"], idle["last_use_location"]) == ("i1", 3, "history/i.jsonl:1")
    # Never used (its one change is after as_of), judged from its not_before, not the history's start.
    assert "has never been used: no change in the 241 days since 2026-02-01" in whole[("unused", "pk-unused")]["message"]
    # Targets over the whole history (r03 before the window too), not the empty-actor change's only.
    assert whole[("overbroad", "pk-shared")]["evidence"]["changed"] == ["role:r03", "role:r04"]
    # Four actors; user:b and user:c tie in time, file order puts user:b first; no "" actor,
    # no unknown key (pk-ghost), no join.
    shared = whole[("shared", "pk-shared")]
    assert shared["message"].endswith("user:z (1 change), svc:bot (2 changes), user:b (1 change), "
                                      "user:c (2 changes)")
    assert shared["event"] == "h4"
    assert [(a["actor"], a["first"], a["last"]) for a in shared["evidence"]["actors"]] == [
        ("user:z", "h1", "h1"), ("svc:bot", "h4", "h10"), ("user:b", "h5", "h5"), ("user:c", "i2", "i4")]

    window = _findings(tmp_path / "window" / "columnar.json")
    assert window[("shared", "pk-shared")]["message"].endswith(
        "3 actors in the review window: svc:bot (2 changes), user:b (1 change), user:c (2 changes)")
    assert window[("shared", "pk-shared")]["event"] == "h5"
    assert window[("overbroad", "pk-shared")]["evidence"]["changed"] == ["role:r03", "role:r04"]


def test_key_use_aggregates_agree_between_the_states(tmp_path: Path) -> None:
    """State.key_uses, key_actors and history_start: the same facts from both engines, the
    references resolving to the same events."""
    from keytrail import pipeline
    from keytrail.core import EngineOptions

    root = _keyed_org(tmp_path / "org")
    seen = {}
    for engine in ("python", "columnar"):
        project = pipeline.load(root, engine=EngineOptions(engine))
        assert (project.columnar is not None) == (engine == "columnar")
        for since in (None, "2026-07-03T10:00:00Z"):
            state = pipeline.replay(project, AS_OF, since)
            uses, actors = state.key_uses(), state.key_actors()
            events = state.events_at([u.last for u in uses.values()]
                                     + [r for a in actors.values() for u in a for r in (u.first, u.last)])
            seen[(engine, since)] = (
                state.history_start,
                {k: (u.changes, events[u.last].id, u.last_time, sorted(u.targets)) for k, u in uses.items()},
                {k: [(u.actor, u.changes, events[u.first].id, events[u.last].id) for u in a]
                 for k, a in actors.items()})
    for since in (None, "2026-07-03T10:00:00Z"):
        assert seen[("python", since)] == seen[("columnar", since)]
    start, uses, actors = seen[("python", None)]
    assert start == 1767571200000000  # 2026-01-05, h1
    assert uses["pk-idle"] == (3, "i1", 1772323200000000, ["role:r01"])
    assert "pk-unused" not in uses and uses["pk-ghost"][0] == 2  # unregistered keys are counted too
    assert set(uses) == set(actors) == {"pk-shared", "pk-idle", "pk-recent", "pk-ghost"}  # no "" key
    assert actors["pk-shared"][0] == ("user:z", 1, "h1", "h1")
    # The window is after since (exclusive): h5 and i2, at since exactly, are outside it.
    assert seen[("python", "2026-07-03T10:00:00Z")][2]["pk-shared"] == [
        ("svc:bot", 1, "h10", "h10"), ("user:c", 1, "i4", "i4")]


def test_an_empty_history_has_no_start_and_no_key_uses(tmp_path: Path) -> None:
    from keytrail.replay import replay

    state = replay([], 10)
    assert state.history_start is None and state.key_uses() == {} and state.key_actors() == {}
    assert state.events_at([]) == {}


def test_the_replay_order_python_packs_is_the_one_the_view_computes_across_files(tmp_path: Path) -> None:
    """``ord`` is computed by the view ``ev`` (time, then rowid) and packed again in Python
    from an event's time, file and line (rows.ord_of, with each file's first rowid): the
    two must agree for the second file's rows too, or a lookup by ``ord`` finds nothing."""
    from keytrail import pipeline
    from keytrail.core import EngineOptions
    from keytrail.core.rows import by_ord, events, ord_of

    project = pipeline.load(_keyed_org(tmp_path / "org"), engine=EngineOptions("columnar"))
    con = project.columnar.con
    assert con.first_rows == [0, 10]  # h.jsonl holds 10 lines, i.jsonl's rows follow them
    stored = [row[0] for row in con.execute("SELECT ord FROM ev ORDER BY ord").fetchall()]
    every = events(con, "true", {})
    assert [ord_of(event, con.first_rows) for event in every] == stored
    # Lines are per file: i.jsonl's third row is its line 3, not the read's row 13.
    assert [(e.id, e.file, e.line) for e in every if e.id in ("h3", "i3")] == [("h3", 0, 3), ("i3", 1, 3)]
    # A lookup by ord (with the times it names) finds exactly the events asked for, in both files.
    wanted = {o: e.id for o, e in zip(stored, every, strict=True) if e.id in ("h2", "h3", "i1", "i7")}
    assert {o: e.id for o, e in by_ord(con, list(wanted)).items()} == wanted
    con.close()


def test_out_of_scope_pairs_prefiltered_in_sql_fire_as_the_python_path_decides(
        tmp_path: Path, columnar_reads: list[bool]) -> None:
    """The columnar core hands Python only the pairs no literal or ``prefix*`` glob of the
    key's scope matches (core/sql/scope_candidates.sql); every other kind of glob, a scope
    with none of those, a target holding a glob character and a target equal to a prefix's head must still
    fire exactly as the Python path decides."""
    keys = [
        {"id": "pk-mixed", "holder": "svc:bot",
         "scope": ["role:a", "group:eng-*", "role:a?", "role:[xy]z", "group:*-admins", "group:e*g-x"]},
        {"id": "pk-all", "holder": "svc:bot", "scope": ["*"]},
        {"id": "pk-odd", "holder": "svc:bot", "scope": ["role:?"]},  # no literal or prefix glob at all
    ]
    targets = ["role:a", "role:ab", "role:abc", "role:xz", "role:zz", "group:eng-", "group:eng-core",
               "group:eng", "group:db-admins", "group:e-g-x", "group:eng-*lit", "role:b"]
    events = [{"time": f"2026-03-{n % 28 + 1:02d}T10:00:00Z", "action": "grant", "subject": "user:x",
               "target": target, "key": key, "actor": "svc:bot"}
              for n, (key, target) in enumerate((k["id"], t) for k in keys for t in targets)]
    policy = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "scope"},
              "rules": [{"id": "scope", "use": "unexplained.key-out-of-scope"}]}
    root = write_project(tmp_path / "org", directory={"principals": [{"id": "user:x"}, {"id": "svc:bot"}]},
                         keys=keys, events=events, policies=[policy])
    assert_same(root, tmp_path / "out", "--as-of", AS_OF, "--fail-on", "critical")
    assert columnar_reads == [True]
    fired = sorted((f["key"], f["target"]) for f in json.loads((tmp_path / "out" / "columnar.json").read_text())[
        "findings"])
    # pk-mixed: role:abc, role:zz, group:eng, role:b fall outside; every other glob kind matches
    # one of the rest (group:e-g-x through the inner star, group:eng-*lit through the prefix).
    assert fired == sorted([("pk-mixed", t) for t in ("role:abc", "role:zz", "group:eng", "role:b")]
                           + [("pk-odd", t) for t in targets if t not in ("role:a", "role:b")])
