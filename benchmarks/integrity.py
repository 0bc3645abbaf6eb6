"""Time sealing, verifying and proving on a generated project (``generate.py``), with peak memory.

    python benchmarks/generate.py --size L --out /tmp/kt-bench-L
    python benchmarks/integrity.py /tmp/kt-bench-L

It anchors the project in place (a throwaway Ed25519 key, ``keys/bench.pub`` and
``checkpoints: .bench-checkpoints.jsonl`` in its keytrail.yaml; the log is started
afresh each run), then times, each in its own process: the hashing floor (SHA-256
over every history byte), the first seal, verify, verify --full, a second seal
(verification plus nothing new), verify over two checkpoints, and one inclusion proof. It refuses a
folder inside the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOG = ".bench-checkpoints.jsonl"

CHILD = """
import json, resource, sys, time
sys.argv = ["keytrail"]
from keytrail.cli import main
start = time.perf_counter()
code = main({argv!r})
took = time.perf_counter() - start
print(json.dumps({{"code": code, "seconds": took,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}), file=sys.stderr)
"""

FLOOR = """
import hashlib, json, resource, sys, time
start = time.perf_counter()
total = 0
for name in {files!r}:
    h = hashlib.sha256()
    with open(name, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
            total += len(chunk)
print(json.dumps({{"code": 0, "seconds": time.perf_counter() - start,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}), file=sys.stderr)
"""


def _child(code: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "KEYTRAIL_NOW": "2026-12-01T00:00:00Z"})
    result: dict[str, float] = json.loads(done.stderr.strip().splitlines()[-1])
    if result["code"] not in (0,):
        print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
    return result


def _anchor(root: Path, key_dir: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key_dir / "bench.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    private.chmod(0o600)
    (root / "keys").mkdir(exist_ok=True)
    (root / "keys" / "bench.pub").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    config = root / "keytrail.yaml"
    text = config.read_text()
    if "checkpoints:" not in text:
        config.write_text(text.rstrip("\n") + f"\ncheckpoints: {LOG}\ntrusted_keys: [keys/bench.pub]\n")
    (root / LOG).unlink(missing_ok=True)
    return private


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--event", default="ev-0000117", help="the event to prove (default ev-0000117)")
    args = parser.parse_args()
    root = args.project.resolve()
    if root.is_relative_to(REPO):
        parser.error("write generated projects outside the repository (e.g. under /tmp)")
    files = sorted(str(p) for p in (root / "history").glob("*.jsonl"))
    size = sum(Path(f).stat().st_size for f in files)
    with tempfile.TemporaryDirectory() as keys:
        key = _anchor(root, Path(keys))
        steps = [
            ("sha256 of every history byte (floor)", FLOOR.format(files=files)),
            ("seal (first checkpoint)", CHILD.format(argv=["seal", str(root), "--signing-key", str(key)])),
            ("verify (1 checkpoint)", CHILD.format(argv=["verify", str(root)])),
            ("verify --full (every root recomputed)", CHILD.format(argv=["verify", "--full", str(root)])),
            ("seal again (nothing new)", CHILD.format(argv=["seal", str(root), "--signing-key", str(key)])),
            ("verify (2 checkpoints)", CHILD.format(argv=["verify", str(root)])),
            (f"prove {args.event}", CHILD.format(argv=["prove", args.event, "--dir", str(root), "-o",
                                                       str(Path(keys) / "proof.json")])),
        ]
        print(f"{root}: {len(files)} history files, {size / 1e6:,.0f} MB, {os.cpu_count()} CPUs")
        # Shared machines make every figure slower, the floor included: say how busy it was.
        print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        print(f"{'step':40} {'seconds':>8} {'MB/s':>7} {'peak MB':>8} exit")
        for name, code in steps:
            r = _child(code)
            print(f"{name:40} {r['seconds']:8.1f} {size / 1e6 / r['seconds']:7.0f} {r['peak_mb']:8.0f} {r['code']}")
    print("load average (1, 5, 15 min) after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(hashlib.sha256((root / LOG).read_bytes()).hexdigest()[:16], "(log digest)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
