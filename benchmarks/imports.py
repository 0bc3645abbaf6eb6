#!/usr/bin/env python3
"""Time ``keytrail import`` on large generated exports, with peak memory.

    python benchmarks/imports.py [--records 500000] [--runs 3] [--keep DIR]

Two exports are generated (deterministically: the same --records, the same bytes) in a
temporary folder, then imported, each run in a fresh process:

okta         JSON lines of Okta System Log events: membership adds and removes, privilege
             grants, lifecycle, and one sign-in in five (skipped); about 500 bytes a line.
cloudtrail   CloudTrail files as S3 delivers them, ``{"Records": [...]}`` of 1,000
             records each: one IAM write in ten, the rest reads and other services.

For each: records, input size, median/min/max wall time, records per second and peak RSS
of the import. The floor is the bare parse of the same input with orjson, keeping nothing.
Exit status: 0 when every import succeeded, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = r"""
import glob, orjson, sys
for path in sorted(glob.glob(sys.argv[1] + "/*")):
    with open(path, "rb") as handle:
        if path.endswith(".jsonl"):
            for line in handle:
                orjson.loads(line)
        else:
            orjson.loads(handle.read())
"""


def okta(folder: Path, records: int) -> None:
    kinds = ["group.user_membership.add", "group.user_membership.remove", "user.account.privilege.grant",
             "user.lifecycle.create", "user.session.start"]
    with (folder / "okta.jsonl").open("w") as out:
        for n in range(records):
            kind = kinds[n % len(kinds)]
            target = [{"id": f"00u{n % 5000:05d}", "type": "User", "alternateId": f"user{n % 5000}@example.com"}]
            if kind.startswith("group."):
                target.append({"id": f"00g{n % 300:03d}", "type": "UserGroup", "displayName": f"Team {n % 300}"})
            event = {"uuid": f"{n:08d}-0000-4000-8000-000000000000", "eventType": kind,
                     "published": f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00.000Z",
                     "actor": {"id": "00uadmin", "type": "User", "alternateId": "admin@example.com"},
                     "outcome": {"result": "SUCCESS"}, "target": target,
                     "debugContext": {"debugData": {"privilegeGranted": "Help Desk Administrator",
                                                    "requestId": f"req-{n}"}},
                     "client": {"ipAddress": "198.51.100.7", "userAgent": {"rawUserAgent": "Mozilla/5.0"}}}
            out.write(json.dumps(event) + "\n")


def cloudtrail(folder: Path, records: int) -> None:
    identity = {"type": "IAMUser", "principalId": "AIDAADMIN", "arn": "arn:aws:iam::111122223333:user/admin",
                "accountId": "111122223333", "userName": "admin"}
    for start in range(0, records, 1000):
        batch = []
        for n in range(start, min(start + 1000, records)):
            record = {"eventVersion": "1.08", "userIdentity": identity, "eventID": f"ev-{n:09d}",
                      "eventTime": f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z",
                      "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.0",
                      "requestID": f"req-{n}", "recipientAccountId": "111122223333"}
            if n % 10 == 0:
                record.update(eventSource="iam.amazonaws.com", eventName="AttachUserPolicy",
                              requestParameters={"userName": f"user{n % 5000}",
                                                 "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})
            elif n % 10 == 1:
                record.update(eventSource="iam.amazonaws.com", eventName="GetUser", readOnly=True,
                              requestParameters={"userName": f"user{n % 5000}"})
            else:
                record.update(eventSource="s3.amazonaws.com", eventName="GetObject", readOnly=True,
                              requestParameters={"bucketName": "data", "key": f"obj/{n}"})
            batch.append(record)
        (folder / f"ct-{start // 1000:06d}.json").write_text(json.dumps({"Records": batch}))


def measure(command: list[str]) -> dict[str, float]:
    """Wall time and peak RSS (MiB) of one command, in a fresh wrapper process."""
    wrapper = ("import json, resource, subprocess, sys, time\n"
               "t0 = time.perf_counter()\n"
               "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
               "print(json.dumps({'wall': time.perf_counter() - t0, 'rc': rc,\n"
               "                  'rss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))\n")
    result = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="kt-import-bench-"))
    ok = True
    try:
        for name, generate in (("okta", okta), ("cloudtrail", cloudtrail)):
            folder = root / name
            folder.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            generate(folder, args.records)
            size = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
            print(f"{name}: {args.records:,} records, {size:,.0f} MiB (generated in {time.perf_counter() - t0:.1f} s)")
            floor = measure([sys.executable, "-c", FLOOR, str(folder)])
            runs = []
            for _ in range(args.runs):
                out = root / f"{name}-out.jsonl"
                run = measure([sys.executable, "-m", "keytrail", "import", name, str(folder), "--out", str(out),
                               "--force"])
                ok = ok and run["rc"] == 0
                runs.append(run)
            walls = [r["wall"] for r in runs]
            median = statistics.median(walls)
            print(f"  floor (orjson parse)  {floor['wall']:.2f} s, {floor['rss']:.0f} MiB")
            print(f"  import                {median:.2f} s median ({min(walls):.2f}-{max(walls):.2f}), "
                  f"{args.records / median:,.0f} records/s, peak {max(r['rss'] for r in runs):.0f} MiB, "
                  f"{median / floor['wall']:.1f}x the floor" + ("" if all(r["rc"] == 0 for r in runs) else ", FAILED"))
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
