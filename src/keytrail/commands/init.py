"""``keytrail init``: write a working project (configuration, directory, keys, a policy and its test)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from keytrail.commands._args import EXIT_OK


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "init", help="write a new project: keytrail.yaml, directory, keys, a policy and its test",
        description="Write a working keytrail project into DIR (default: the current folder): "
                    "keytrail.yaml reading history/*.jsonl under the default pack and policies/, "
                    "a commented directory.yaml and keys.yaml, an example rule with its policy "
                    "test, the JSON Schemas editors complete from, and a .pre-commit-config.yaml "
                    "(printed instead when one exists). Refuses, writing nothing, if any of the "
                    "files exists or a link or a file stands where it makes a folder.")
    parser.add_argument("dir", nargs="?", type=Path, default=Path("."), metavar="DIR")


def run(args: argparse.Namespace) -> int:
    from keytrail.authoring.scaffold import init
    from keytrail.textsafe import inline

    done = init(args.dir)
    root = inline(str(args.dir))
    print(f"keytrail: wrote a project in {root}:", file=sys.stderr)
    for name in done.written:
        print(f"  {name}", file=sys.stderr)
    if done.kept:
        print(f"keytrail: kept your {done.kept[0]}; add these hooks to it:", file=sys.stderr)
        sys.stdout.write(done.pre_commit_snippet)
    here = "" if str(args.dir) in (".", "") else f" {root}"
    into = "history/NAME.jsonl" if not here else f"{root}/history/NAME.jsonl"
    print("Next:\n"
          f"  keytrail import FORMAT INPUT… --out {into}   e.g. cloudtrail, okta, github\n"
          f"  keytrail check{here}\n"
          f"  keytrail test{here and ' ' + root + '/policies/' or ' policies/'}", file=sys.stderr)
    return EXIT_OK
