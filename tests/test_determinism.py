"""Same input, same bytes: across processes, hash seeds and the benchmark generator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keytrail.cli import main
from tests.conftest import AS_OF, REPO


def _run(args: list[str], seed: str) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run([sys.executable, "-m", "keytrail", *args], env=env, capture_output=True,
                          check=False)
    assert done.returncode in (0, 1), done.stderr.decode()
    return done.stdout


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_output_does_not_depend_on_the_hash_seed(fmt: str) -> None:
    """Set iteration order changes with PYTHONHASHSEED; nothing in the output may follow it."""
    args = ["check", str(REPO / "examples" / "acme"), "--as-of", AS_OF, "--format", fmt]
    assert _run(args, "1") == _run(args, "2024")


def test_generated_organisation_loads_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The benchmark generator writes projects keytrail accepts, the same bytes for the same seed."""
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "generate.py"),
                               "--principals", "120", "--events", "1500", "--seed", "5",
                               "--out", str(out)], capture_output=True, check=False)
        assert done.returncode == 0, done.stderr.decode()
        outs.append(out)
    for path in sorted(p for p in outs[0].rglob("*") if p.is_file()):
        assert path.read_bytes() == (outs[1] / path.relative_to(outs[0])).read_bytes(), path
    assert main(["check", str(outs[0]), "--as-of", AS_OF, "--format", "json"]) in (0, 1)
    report = json.loads(capsys.readouterr().out)
    fired = {f["check"] for f in report["findings"]}
    assert {"unexplained.missing-key", "orphaned.inactive-principal", "unexplained.drift-extra"} <= fired
