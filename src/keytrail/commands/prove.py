"""``keytrail prove``: an RFC 6962 inclusion proof of one event against a signed checkpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from keytrail.commands._args import EXIT_OK
from keytrail.commands._output import write


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("prove", help="print an inclusion proof of one event against a checkpoint",
                            description="Prove that an event is part of the sealed history: print its "
                            "line, its RFC 6962 audit path and the signed checkpoint, which "
                            "`keytrail verify --proof` checks without the history.")
    parser.add_argument("event", metavar="EVENT-ID", help="the id of the event to prove")
    parser.add_argument("--dir", default=".", help="the project folder (default: the current folder)")
    parser.add_argument("--checkpoint", type=int, metavar="N",
                        help="prove against checkpoint N (default: the latest)")
    parser.add_argument("--output", "-o", metavar="FILE", help="write the proof to FILE instead of standard output")


def run(args: argparse.Namespace) -> int:
    from keytrail.integrity.proof import prove
    from keytrail.project import load_config

    cfg = load_config(Path(args.dir))
    if args.output not in (None, "-"):
        _refuse_inputs(Path(args.output), cfg)
    proof = prove(cfg, args.event, args.checkpoint)
    write(json.dumps(proof, indent=2, ensure_ascii=False) + "\n", args.output)
    return EXIT_OK


def _refuse_inputs(output: Path, cfg: Any) -> None:
    """A proof is never written over one of the project's files (its history, its checkpoint log)."""
    from keytrail.errors import UsageError

    inputs = [cfg.root / "keytrail.yaml", cfg.directory, cfg.keys, *cfg.history, *cfg.trusted_keys,
              *([cfg.snapshot] if cfg.snapshot else []), *([cfg.checkpoints] if cfg.checkpoints else [])]
    target = output.resolve()
    if any(target == p.resolve() for p in inputs):
        raise UsageError(f"--output {output}: is an input of the project; write the proof to a file of its own")
