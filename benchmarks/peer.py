#!/usr/bin/env python3
"""Run `keytrail check` and the DuckDB peer side by side, and compare their findings.

    python benchmarks/peer.py DIR [DIR...] [--runs 3] [--threads 2] [--json OUT]

For each project folder, ``--runs`` rounds, each round one fresh process of
``keytrail check DIR --format json --output F`` and one of the peer
(``../shared/peers/duckdb_peer.py DIR --yaml keytrail --out F``), interleaved so that
both see the same load. Reported per folder: median, min and max wall time and peak
RSS of each (``ru_maxrss`` of ``RUSAGE_CHILDREN`` in a wrapper process per run, as
``run.py`` measures), the ratio keytrail / peer of the medians, the load average, and
the findings of the last round compared one for one, per check, for every check the
peer ran. The peer is a measuring instrument kept outside the repository: it is run
from where it lives, never copied.

Exit status: 0 when every run succeeded and the findings agree; 1 when they disagree
(on a check not named with ``--known-difference``) or a run failed; 2 on bad usage.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (  # noqa: E402  (run.py is a script beside this one, not a package)
    DEFAULT_AS_OF,
    REPO_ROOT,
    Runner,
    fmt_s,
    last_line,
    rss_mib,
    summary,
)

DEFAULT_PEER = REPO_ROOT.parent / "shared" / "peers" / "duckdb_peer.py"

# What identifies one finding of a check, in both outputs. Findings about one event carry
# it; findings about a held entitlement are the entitlement; the rest name one thing.
EVENT_CHECKS = {
    "unexplained.missing-key", "unexplained.unknown-key", "unexplained.key-not-valid",
    "unexplained.key-out-of-scope", "unexplained.key-misuse", "unexplained.self-grant",
}
# Counts the peer prints that are not checks.
PEER_NON_CHECKS = {"events", "active_grants", "effective_rows"}


def identity(check: str, f: dict[str, Any]) -> tuple[Any, ...]:
    """The fields that must agree between keytrail's and the peer's finding."""
    subject, target, resource = f.get("subject"), f.get("target"), f.get("resource") or ""
    if check in EVENT_CHECKS:
        return (subject, target, resource, f.get("event"))
    if check == "unexplained.broken-chain":
        return (f.get("event"),)
    if check in ("orphaned.ownerless", "sprawl.excessive-access", "separation-of-duties"):
        return (subject,)
    if check == "orphaned.unused-target":
        return (target or subject,)
    return (subject, target, resource)


def compare(kt_path: Path, peer_path: Path, peer_counts: dict[str, int]) -> dict[str, Any]:
    """Per check the peer ran: how many findings each side has and which differ."""
    kt = json.loads(kt_path.read_bytes())["findings"]
    peer = json.loads(peer_path.read_bytes())["findings"]
    covered = sorted({name.split(":")[0] for name in peer_counts} - PEER_NON_CHECKS)
    a: dict[str, Counter[tuple[Any, ...]]] = {c: Counter() for c in covered}
    b: dict[str, Counter[tuple[Any, ...]]] = {c: Counter() for c in covered}
    for f in kt:
        if f["check"] in a:
            a[f["check"]][identity(f["check"], f)] += 1
    for f in peer:
        if f["check"] in b:
            b[f["check"]][identity(f["check"], f)] += 1
    checks = {}
    for c in covered:
        only_kt, only_peer = a[c] - b[c], b[c] - a[c]
        checks[c] = {
            "keytrail": sum(a[c].values()), "peer": sum(b[c].values()),
            "agree": not only_kt and not only_peer,
            "only_keytrail": [list(k) for k in sorted(only_kt, key=repr)[:5]],
            "only_peer": [list(k) for k in sorted(only_peer, key=repr)[:5]],
            "n_only_keytrail": sum(only_kt.values()), "n_only_peer": sum(only_peer.values()),
        }
    not_covered = sorted({f["check"] for f in kt} - set(covered))
    return {"checks": checks, "not_covered": not_covered,
            "keytrail_findings": len(kt), "peer_findings": len(peer)}


def side_by_side(args: argparse.Namespace, runner: Runner, root: Path) -> dict[str, Any]:
    out_dir = Path(tempfile.mkdtemp(prefix="kt-peer-", dir=runner.tmp))
    result: dict[str, Any] = {"dir": str(root), "load_before": os.getloadavg()}
    kt_runs: list[dict[str, Any]] = []
    peer_runs: list[dict[str, Any]] = []
    peer_counts: dict[str, int] = {}
    for i in range(args.runs):
        kt_out, peer_out = out_dir / f"keytrail-{i}.json", out_dir / f"peer-{i}.json"
        cmd = [args.python, "-m", "keytrail", "check", str(root), "--format", "json",
               "--output", str(kt_out), "--as-of", args.as_of, "--fail-on", "critical",
               *args.keytrail_arg]
        r = runner.wrapped(cmd)
        if "error" not in r and (r["rc"] not in (0, 1) or r["traceback"]):
            r = {"error": f"keytrail exited {r['rc']}: {last_line(r['stderr'])}"}
        if "error" in r:
            result["error"] = f"keytrail run {i + 1}: {r['error']}"
            return result
        kt_runs.append(r)
        print(f"  keytrail run {i + 1}/{args.runs}: {fmt_s(r['wall'])}, "
              f"{rss_mib(r['maxrss']):.0f} MiB", file=sys.stderr, flush=True)
        cmd = [args.python, str(args.peer), str(root), "--yaml", "keytrail", "--as-of", args.as_of,
               "--out", str(peer_out)]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        if args.memory_limit:
            cmd += ["--memory-limit", args.memory_limit]
        # The peer prints its phases and counts on stdout: keep them (the wrapper drops stdout).
        counts_file = out_dir / f"peer-{i}.stdout"
        r = runner.wrapped(["sh", "-c", 'exec "$@" > "$0"', str(counts_file)] + cmd)
        if "error" not in r and r["rc"] != 0:
            r = {"error": f"peer exited {r['rc']}: {last_line(r['stderr'])}"}
        if "error" in r:
            result["error"] = f"peer run {i + 1}: {r['error']}"
            return result
        report = json.loads(counts_file.read_bytes())
        peer_counts = report["counts"]
        r["phases"] = report["phases"]
        peer_runs.append(r)
        print(f"  peer     run {i + 1}/{args.runs}: {fmt_s(r['wall'])}, "
              f"{rss_mib(r['maxrss']):.0f} MiB", file=sys.stderr, flush=True)
    result["load_after"] = os.getloadavg()
    for name, runs in (("keytrail", kt_runs), ("peer", peer_runs)):
        result[name] = {"wall_s": summary([r["wall"] for r in runs]),
                        "cpu_s": summary([r["user"] + r["sys"] for r in runs]),
                        "peak_rss_mib": summary([rss_mib(r["maxrss"]) for r in runs])}
    result["peer"]["phases_last_run"] = peer_runs[-1]["phases"]
    result["events"] = peer_counts.get("events")
    result["ratio_wall"] = result["keytrail"]["wall_s"]["median"] / result["peer"]["wall_s"]["median"]
    # CPU (user + sys of the process, all its threads): steadier than wall time on a busy
    # machine, but it hides the peer's use of more than one core.
    result["ratio_cpu"] = result["keytrail"]["cpu_s"]["median"] / result["peer"]["cpu_s"]["median"]
    result["ratio_rss"] = (result["keytrail"]["peak_rss_mib"]["median"]
                           / result["peer"]["peak_rss_mib"]["median"])
    last = args.runs - 1
    result["findings"] = compare(out_dir / f"keytrail-{last}.json", out_dir / f"peer-{last}.json",
                                 peer_counts)
    return result


def print_result(r: dict[str, Any], known: list[str]) -> None:
    print(f"\n{r['dir']}")
    if "error" in r:
        print(f"  FAILED: {r['error']}")
        return
    events = f"{r['events']:,} events; " if r.get("events") is not None else ""
    print(f"  {events}load average {r['load_before'][0]:.1f} before, {r['load_after'][0]:.1f} after")
    head = (f"  {'':<10}{'median':>10}{'min':>10}{'max':>10}{'CPU':>10}{'peak RSS':>12}"
            f"{'RSS min-max':>18}")
    print(head)
    for name in ("keytrail", "peer"):
        w, c, m = r[name]["wall_s"], r[name]["cpu_s"], r[name]["peak_rss_mib"]
        print(f"  {name:<10}{fmt_s(w['median']):>10}{fmt_s(w['min']):>10}{fmt_s(w['max']):>10}"
              f"{fmt_s(c['median']):>10}{m['median']:>8,.0f} MiB{m['min']:>9,.0f}-{m['max']:,.0f} MiB")
    print(f"  ratio keytrail / peer: {r['ratio_wall']:.2f}x wall, {r['ratio_cpu']:.2f}x CPU, "
          f"{r['ratio_rss']:.2f}x peak RSS")
    f = r["findings"]
    print(f"  findings: keytrail {f['keytrail_findings']:,}, peer {f['peer_findings']:,}; "
          f"compared one for one on the {len(f['checks'])} checks the peer runs")
    for check, c in f["checks"].items():
        mark = "same" if c["agree"] else (f"DIFFER{' (known)' if check in known else ''}: {c['n_only_keytrail']} only in keytrail "
                                          f"{c['only_keytrail'][:2]}, {c['n_only_peer']} only in "
                                          f"the peer {c['only_peer'][:2]}")
        print(f"    {check:<34}{c['keytrail']:>9,}{c['peer']:>9,}  {mark}")
    if f["not_covered"]:
        print(f"  not run by the peer: {', '.join(f['not_covered'])}")


def _env(args: argparse.Namespace) -> dict[str, str]:
    """The environment the runs get: the repository's src/ first unless --installed (as run.py)."""
    env = dict(os.environ)
    # Measure keytrail as an install runs it, its bytecode cached after the first run: with
    # PYTHONDONTWRITEBYTECODE set, every run would compile every module it imports first.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not args.installed:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT / "src")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("dirs", type=Path, nargs="+", metavar="DIR", help="keytrail projects")
    ap.add_argument("--runs", type=int, default=3, help="rounds per folder (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="the peer's DuckDB threads (default 2)")
    ap.add_argument("--memory-limit", default="", help="the peer's DuckDB memory_limit, e.g. 1GB")
    ap.add_argument("--peer", type=Path, default=Path(os.environ.get("KEYTRAIL_PEER", DEFAULT_PEER)),
                    help=f"the peer script (default $KEYTRAIL_PEER or {DEFAULT_PEER})")
    ap.add_argument("--as-of", default=DEFAULT_AS_OF, help=f"default {DEFAULT_AS_OF}")
    ap.add_argument("--known-difference", action="append", default=[], metavar="CHECK",
                    help="a check whose disagreement is known and documented: still compared "
                         "and shown, but it does not fail the run (repeatable)")
    ap.add_argument("--keytrail-arg", action="append", default=[], metavar="ARG",
                    help="an extra argument for keytrail check, e.g. --keytrail-arg=--engine=columnar "
                         "(repeatable)")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write every figure as JSON")
    ap.add_argument("--python", default=sys.executable, help="interpreter (default: this one)")
    ap.add_argument("--installed", action="store_true",
                    help="use the installed keytrail instead of the repository's src/")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed per run")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if not args.peer.is_file():
        ap.error(f"the peer {args.peer} does not exist (see --peer)")
    for d in args.dirs:
        if not (d / "keytrail.yaml").is_file():
            ap.error(f"{d} holds no keytrail.yaml (generate one with benchmarks/generate.py)")
    # Fail before the first timed run, not after it, when the interpreter cannot run both.
    for module, needed_by in (("duckdb", "the peer"), ("keytrail", "keytrail check")):
        probe = subprocess.run([args.python, "-c", f"import {module}"], capture_output=True,
                               env=_env(args))
        if probe.returncode != 0:
            ap.error(f"{args.python} cannot import {module} (needed by {needed_by}): "
                     f"{last_line(probe.stderr.decode('utf-8', 'replace'))}")
    # Runner needs the fields run.py's own options give it.
    args.dir, args.since = None, None
    runner = Runner(args, [])
    results = []
    try:
        for d in args.dirs:
            print(f"{d}:", file=sys.stderr, flush=True)
            results.append(side_by_side(args, runner, d.resolve()))
            print_result(results[-1], args.known_difference)
    finally:
        runner.close()
    if args.json:
        doc = {"runs": args.runs, "as_of": args.as_of, "peer": str(args.peer),
               "peer_threads": args.threads, "python": platform.python_version(),
               "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
               "results": results}
        args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    failed = any("error" in r for r in results)
    differ = any(not c["agree"] and name not in args.known_difference
                 for r in results if "findings" in r
                 for name, c in r["findings"]["checks"].items())
    return 1 if failed or differ else 0


if __name__ == "__main__":
    sys.exit(main())
