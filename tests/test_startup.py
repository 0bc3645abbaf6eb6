"""A small project's check and lint stay instant: what they must not import.

Pre-commit runs ``keytrail check`` and ``keytrail lint`` on every commit, so a small run
must not pay for what it does not use: the columnar engine, the template engine for
text output, the graph library, signing, telemetry, other commands and other formats.
These tests pin the imports (which do not vary with the machine's load), not the time.
Each run is a fresh interpreter, as a pre-commit hook's is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import AS_OF, REPO

ACME = str(REPO / "examples" / "acme")

#: Never imported by a small check or lint, whatever the format.
HEAVY = ("duckdb", "polars", "pyarrow", "pandas", "numpy", "networkx", "cryptography", "opentelemetry",
         "jsonschema", "referencing")
#: Imported only by the formats (and commands) that need them.
FOR_TEXT = ("jinja2", "markupsafe", "xml.etree.ElementTree", "csv", "keytrail.formats.html",
            "keytrail.formats.sarif", "keytrail.formats.junit", "keytrail.formats.markdown",
            "keytrail.formats.csv", "keytrail.formats.github")
OTHER_COMMANDS = ("keytrail.commands.review", "keytrail.commands.decisions", "keytrail.commands.seal",
                  "keytrail.commands.verify", "keytrail.commands.prove", "keytrail.commands.import_",
                  "keytrail.commands.explain", "keytrail.commands.schema", "keytrail.commands.test",
                  "keytrail.commands.checks")


def imported_by(*args: str) -> set[str]:
    """The modules a fresh ``keytrail ARGS`` run has imported when it ends."""
    code = ("import json, sys\nfrom keytrail.cli import main\n"
            f"code = main({list(args)!r})\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [name for name in names if name in modules or any(m.startswith(name + ".") for m in modules)]


def test_a_small_check_imports_nothing_heavy() -> None:
    modules = imported_by("check", ACME, "--as-of", AS_OF, "--output", os.devnull)
    assert "keytrail.engine" in modules  # it did run the check
    assert loaded(modules, HEAVY) == []
    # The engine choice (keytrail.core itself: the size threshold, standard library only) runs;
    # the columnar core's modules are imported only for a history past the threshold.
    assert sorted(m for m in modules if m.startswith("keytrail.core.")) == []
    assert loaded(modules, FOR_TEXT) == []
    assert loaded(modules, OTHER_COMMANDS + ("keytrail.commands.lint",)) == []


@pytest.mark.parametrize("path", ["policies", ACME])
def test_a_small_lint_imports_nothing_heavy(path: str) -> None:
    modules = imported_by("lint", path)
    assert "keytrail.lint" in modules
    assert loaded(modules, HEAVY) == []
    assert loaded(modules, FOR_TEXT) == []
    assert loaded(modules, OTHER_COMMANDS + ("keytrail.commands.check",)) == []


def test_a_format_that_needs_its_library_still_loads_it() -> None:
    # The near miss: laziness must not break the formats that do need Jinja2 or the XML writer.
    modules = imported_by("check", ACME, "--as-of", AS_OF, "-f", "html", "-o", os.devnull,
                          "-f", "junit", "-o", os.devnull)
    assert {"jinja2", "keytrail.formats.html", "xml.etree.ElementTree", "keytrail.formats.junit"} <= modules
    assert "keytrail.formats.sarif" not in modules


def test_help_still_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    from keytrail import commands
    from keytrail.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    shown = capsys.readouterr().out
    for name in commands.REGISTRY:
        assert f"    {name} " in shown or f"    {name}\n" in shown, name


def test_an_unknown_command_names_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    from keytrail.cli import main

    assert main(["chek", ACME]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'chek'" in err and "'check'" in err and "'schema'" in err
