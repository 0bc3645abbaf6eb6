"""``keytrail seal``: verify what is sealed, then append a signed checkpoint of the history."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from keytrail.commands._args import EXIT_FINDINGS, EXIT_OK, now_us
from keytrail.commands._output import write
from keytrail.textsafe import inline


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("seal", help="append a signed checkpoint of the history to the checkpoint log",
                            description="Verify the history against the checkpoint log named by "
                            "`checkpoints:` in keytrail.yaml, then append a checkpoint covering every "
                            "complete line of every history file, signed with an Ed25519 key. "
                            "Exit 0 sealed, 1 the history fails verification (nothing sealed), 2 bad input.")
    parser.add_argument("dir", nargs="?", default=".", help="the project folder (holding keytrail.yaml)")
    parser.add_argument("--signing-key", required=True, metavar="FILE",
                        help="the Ed25519 private key: PEM (openssl genpkey -algorithm ed25519) or "
                             "OpenSSH (ssh-keygen -t ed25519); an encrypted key's passphrase is read "
                             "from KEYTRAIL_SIGNING_KEY_PASSPHRASE")


def run(args: argparse.Namespace) -> int:
    from keytrail.integrity.seal import seal_config
    from keytrail.integrity.verify import require_anchor
    from keytrail.project import load_config

    cfg = load_config(Path(args.dir))
    require_anchor(cfg)
    key = Path(args.signing_key)
    warn_about_key(key, cfg.root)
    sealed = seal_config(cfg, key, now_us())
    verification = sealed.verification
    for note in sealed.notes:
        print(f"keytrail: note: {inline(note)}", file=sys.stderr)
    if sealed.checkpoint is None:
        from keytrail.commands.verify import violation_lines

        write(violation_lines(verification), None)
        count = len(verification.violations)
        print(f"keytrail: {count} violation{'s' if count != 1 else ''}: the history does not verify "
              f"against {inline(verification.log)}; nothing was sealed", file=sys.stderr)
        return EXIT_FINDINGS
    cp = sealed.checkpoint
    signer = inline(verification.signers.get(cp["key_id"], "?"))  # a file name from keytrail.yaml: inert
    write(f"sealed checkpoint {cp['seq']} in {inline(verification.log)}: {cp['size']} events "
          f"({sealed.new_events} new) in {len(cp['files'])} files, root {cp['root']}, "
          f"signed by key {cp['key_id']} ({signer})\n", None)
    return EXIT_OK


def warn_about_key(key: Path, root: Path) -> None:
    """Say so when the private key sits in the project or can be read by others (it is not refused)."""
    try:
        inside = key.resolve().is_relative_to(root.resolve())
        mode = key.stat().st_mode if key.is_file() else 0
    except OSError:
        return
    if inside:
        print(f"keytrail: warning: the signing key {key} is inside the project folder: keep it out of "
              "the repository (whoever can read it can sign checkpoints)", file=sys.stderr)
    if os.name == "posix" and mode & 0o077:
        print(f"keytrail: warning: the signing key {key} can be read by other users (chmod 600 it)",
              file=sys.stderr)
