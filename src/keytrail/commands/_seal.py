"""``--seal --signing-key FILE`` for commands that write history (``decisions``, ``import``).

Everything that can be checked before the write is checked before it, so that
a seal that cannot succeed never leaves an unsealed file behind: the project's
checkpoint log and trusted keys, the signing key (readable, Ed25519, trusted),
that the file written is one of the project's ``history:`` files (a file the
seal would not cover would stay unsealed), that it does not replace a file a
checkpoint covers, and that the history sealed so far still verifies (a seal
never vouches for a history changed behind an earlier checkpoint). Then the
command writes, and :func:`seal_after` seals. Should the seal still fail (the
log busy with another seal, a disk full), the command says exactly what was
written and that it is unsealed, and exits 2.
"""

from __future__ import annotations

import argparse
import fnmatch
import posixpath
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keytrail.commands._args import EXIT_ERROR, EXIT_OK, now_us
from keytrail.errors import KeytrailError, UsageError
from keytrail.textsafe import inline


def seal_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seal", action="store_true",
                        help="after writing, seal the project the output belongs to (append a signed "
                             "checkpoint to its checkpoint log; see docs/integrity.md)")
    parser.add_argument("--signing-key", metavar="FILE",
                        help="with --seal: the Ed25519 private key (PEM or OpenSSH; an encrypted key's "
                             "passphrase is read from KEYTRAIL_SIGNING_KEY_PASSPHRASE)")


@dataclass
class Plan:
    """A seal checked before the write, to run after it."""

    cfg: Any                # the ProjectConfig as it was before the write
    key: Path
    out: Path


def prepare(args: argparse.Namespace, out: Path, project: Path | None) -> Plan | None:
    """Check, before anything is written, that ``out`` can be sealed into its project.

    ``project`` is the project folder (``decisions --dir``); None: the folder
    above ``out`` that holds keytrail.yaml (``import``). None when not sealing.
    """
    if not args.seal:
        if args.signing_key:
            raise UsageError("--signing-key is used only with --seal")
        return None
    if not args.signing_key:
        raise UsageError("--seal needs --signing-key FILE, the private key that signs the checkpoint")
    from keytrail.commands.seal import warn_about_key
    from keytrail.integrity.keys import key_id, load_signing_key
    from keytrail.integrity.verify import load_trusted, require_anchor, verify_config
    from keytrail.project import load_config

    cfg = load_config(project if project is not None else _project_above(out), getattr(args, "allow_outside", ()))
    require_anchor(cfg)
    key = Path(args.signing_key)
    warn_about_key(key, cfg.root)
    kid = key_id(load_signing_key(key, str(key)).public_key())
    if kid not in load_trusted(cfg):
        raise UsageError(f"--signing-key {key}: its public key (key id {kid}) is not among `trusted_keys:` in "
                         f"{cfg.root / cfg.file}; nothing was written")
    rel = _relative(out, cfg.root)
    if not _in_history(rel, cfg):
        raise UsageError(f"--out {out}: is not one of the history files `history:` in {cfg.root / cfg.file} "
                         "names, so sealing would not cover it; write it where `history:` reads, or add it "
                         "there (nothing was written)")
    result = verify_config(cfg, unsealed=False)
    latest = result.latest
    if latest is not None and any(f["path"] == rel for f in latest.files):
        raise UsageError(f"--out {out}: checkpoint {latest.seq} covers this file; replacing it would "
                         "break the seal (nothing was written)")
    problems = [v for v in result.violations if not (v.kind == "log" and v.line == 0 and not result.checkpoints)]
    if problems:
        from keytrail.commands.verify import violation_lines

        sys.stdout.write(violation_lines(type(result)(result.log, [], problems)))
        raise UsageError(f"--seal: the history already fails verification against {inline(result.log)} "
                         f"({len(problems)} violation{'s' if len(problems) != 1 else ''}, above); "
                         "nothing was written")
    return Plan(cfg, key, out)


def seal_after(plan: Plan, wrote: str) -> int:
    """Seal the project after the write; on failure say what was written and that it is unsealed."""
    from keytrail.integrity.seal import seal_config
    from keytrail.project import load_config

    unsealed = f"keytrail: {inline(wrote)} was written but is NOT sealed"
    try:
        cfg = load_config(plan.cfg.root / plan.cfg.file)  # again: `history:` globs now match the new file
        if not any(p.resolve() == plan.out.resolve() for p in cfg.history):
            raise UsageError(f"{plan.out}: `history:` in {cfg.root / cfg.file} does not read it, so a seal "
                             "would not cover it")
        sealed = seal_config(cfg, plan.key, now_us())
    except KeytrailError as exc:
        print(exc, file=sys.stderr)
        print(f"{unsealed}; seal the project once the problem is fixed (`keytrail seal`)", file=sys.stderr)
        return EXIT_ERROR
    if sealed.checkpoint is None:
        from keytrail.commands.verify import violation_lines

        sys.stdout.write(violation_lines(sealed.verification))
        print(f"{unsealed}: the history does not verify against {inline(sealed.verification.log)} (above)",
              file=sys.stderr)
        return EXIT_ERROR
    cp = sealed.checkpoint
    print(f"keytrail: sealed checkpoint {cp['seq']} in {inline(sealed.verification.log)}: {cp['size']} events "
          f"({sealed.new_events} new), root {cp['root']}, signed by key {cp['key_id']}", file=sys.stderr)
    return EXIT_OK


def _project_above(out: Path) -> Path:
    """The nearest folder above ``out`` holding keytrail.yaml."""
    from keytrail.project import PROJECT_FILE

    start = Path(posixpath.abspath(out.as_posix())) if not out.is_absolute() else out
    for folder in start.parents:
        if (folder / PROJECT_FILE).is_file():
            return folder
    raise UsageError(f"--seal: no {PROJECT_FILE} in any folder above --out {out}; write the history into "
                     "the project whose checkpoint log should cover it")


def _relative(out: Path, root: Path) -> str:
    try:
        return out.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise UsageError(f"--out {out}: is outside the project {root}, so sealing the project would not "
                         "cover it (nothing was written)") from None


def _in_history(rel: str, cfg: Any) -> bool:
    """Whether ``rel`` is (or, once written, will be) one of the files ``history:`` names."""
    from keytrail.project import read_yaml

    if any(p.resolve() == (cfg.root / rel).resolve() for p in cfg.history):
        return True
    data, _ = read_yaml(cfg.root / cfg.file, cfg.file)
    patterns = data.get("history") if isinstance(data, dict) else None
    patterns = [patterns] if isinstance(patterns, str) else patterns or []
    return any(isinstance(p, str) and fnmatch.fnmatchcase(rel, posixpath.normpath(p)) for p in patterns)
