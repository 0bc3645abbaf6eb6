"""Shared fixtures: building small projects on disk from inline data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
AS_OF = "2026-09-30T23:59:59Z"


def write_project(root: Path, *, directory: dict[str, Any] | None = None,
                  keys: list[dict[str, Any]] | None = None,
                  events: list[dict[str, Any]] | None = None, history_text: str | None = None,
                  snapshot: list[dict[str, Any]] | None = None,
                  policies: list[dict[str, Any]] | None = None, snapshot_time: str | None = AS_OF,
                  usage: list[dict[str, Any]] | None = None) -> Path:
    """Write a complete project folder and return it (a snapshot captured at ``snapshot_time``)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "history").mkdir(exist_ok=True)
    config: dict[str, Any] = {"directory": "directory.yaml", "keys": "keys.yaml",
                              "history": ["history/*.jsonl"], "policies": ["policies/"]}
    (root / "directory.yaml").write_text(yaml.safe_dump(directory or {"principals": []}, sort_keys=False))
    (root / "keys.yaml").write_text(yaml.safe_dump({"keys": keys or []}, sort_keys=False))
    if history_text is None:
        lines = []
        for n, event in enumerate(events or [], 1):
            event = {"id": f"ev-{n:04d}", **event}
            lines.append(json.dumps(event))
        history_text = "".join(line + "\n" for line in lines)
    (root / "history" / "h.jsonl").write_text(history_text)
    if snapshot is not None:
        config["snapshot"] = "snapshot.jsonl"
        if snapshot_time is not None:
            config["snapshot_time"] = snapshot_time
        (root / "snapshot.jsonl").write_text("".join(json.dumps(s) + "\n" for s in snapshot))
    if usage is not None:
        config["usage"] = ["usage.jsonl"]
        (root / "usage.jsonl").write_text("".join(json.dumps(u) + "\n" for u in usage))
    (root / "policies").mkdir(exist_ok=True)
    for n, policy in enumerate(policies or []):
        (root / "policies" / f"p{n}.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    (root / "keytrail.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


@pytest.fixture
def make_project(tmp_path: Path) -> Any:
    """``make_project(**parts)`` writes a project under a fresh temporary folder."""
    counter = iter(range(1000))

    def make(**parts: Any) -> Path:
        return write_project(tmp_path / f"p{next(counter)}", **parts)

    return make


def report_of(root: Path, as_of: str = AS_OF) -> Any:
    """Load, replay and evaluate the project at ``root``: its Report."""
    from keytrail import pipeline

    project = pipeline.load(root)
    state = pipeline.replay(project, as_of)
    return pipeline.evaluate(project, state, pipeline.build_graph(project, state))


@pytest.fixture(scope="module")
def acme_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The review pack of examples/acme for 2026-Q3, written once per test module (read-only)."""
    from keytrail.cli import main

    out = tmp_path_factory.mktemp("pack") / "2026-Q3"
    assert main(["review", str(REPO / "examples" / "acme"), "--period", "2026-Q3", "--out", str(out)]) == 0
    return out
