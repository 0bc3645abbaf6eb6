#!/usr/bin/env python3
"""Time keytrail on a project, stage by stage, with peak memory.

    python benchmarks/run.py DIR [--runs 3] [--json OUT]

Three measures, each in a fresh subprocess per run:

floor   the bare parse of the project's history files with orjson
        (``for line in f: orjson.loads(line)``, keeping nothing): the least any
        implementation reading these files could take;
whole   ``python -m keytrail check DIR --format json --output /dev/null --as-of ...
        --fail-on critical``: wall time and peak RSS of the command;
stages  ``keytrail.pipeline.load / replay / build_graph / evaluate / render`` called in
        turn, each timed with ``time.perf_counter()``, with the peak RSS after each.

Every run reports the median, min and max of ``--runs`` runs and the ratio whole/floor.
Exit status: 0 when every requested measure ran, 1 when one failed, 2 on bad usage.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_AS_OF = "2026-09-30T23:59:59Z"
STAGES = ["load", "replay", "build_graph", "evaluate", "render"]
MEASURES = ["floor", "whole", "stages"]

# Runs one command and reports its wall time and peak RSS. Each run gets its own wrapper
# process, so RUSAGE_CHILDREN holds exactly one child: the peak is that run's own.
WRAPPER = r"""
import json, resource, subprocess, sys, time
out, timeout, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
t0 = time.perf_counter()
try:
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
except subprocess.TimeoutExpired:  # run() has killed the command
    with open(out, "w") as f:
        json.dump({"timeout": True}, f)
    sys.exit(0)
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(out, "w") as f:
    json.dump({"wall": wall, "rc": proc.returncode, "maxrss": ru.ru_maxrss,
               "user": ru.ru_utime, "sys": ru.ru_stime,
               "traceback": b"Traceback (most recent call last)" in proc.stderr,
               "stderr": proc.stderr.decode("utf-8", "replace")[-4000:]}, f)
"""

# Whether `python -m keytrail` can start, without running it.
PROBE = r"""
import importlib.util, sys
if importlib.util.find_spec("keytrail.__main__") is None:
    sys.exit("keytrail has no __main__ module")
"""

# The floor: parse every line, keep nothing.
FLOOR = r"""
import sys, time
import orjson
loads = orjson.loads
t0 = time.perf_counter()
n = 0
for path in sys.argv[2:]:
    with open(path, "rb") as f:
        for line in f:
            try:
                loads(line)
            except orjson.JSONDecodeError:
                if line.strip():
                    raise
                continue
            n += 1
with open(sys.argv[1], "w") as f:
    f.write('{"parse": %r, "events": %d}' % (time.perf_counter() - t0, n))
"""

# The stages, through the package's pipeline API.
STAGES_CODE = r"""
import datetime as dt, json, os, resource, sys, time, traceback
from pathlib import Path

out, root, as_of, since = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]

def parse_time(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")) if s else None

def peak_kb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if sys.platform == "darwin" else rss

result = {"stages": []}
def finish(code):
    ru = resource.getrusage(resource.RUSAGE_SELF)
    result["maxrss"] = ru.ru_maxrss
    result["cpu"] = ru.ru_utime + ru.ru_stime
    with open(out, "w") as f:
        json.dump(result, f)
    sys.exit(code)

t0 = time.perf_counter()
try:
    from keytrail import pipeline
except ImportError as exc:
    result["error"] = ("cannot import keytrail.pipeline (%s): the stage timings need its API "
                       "load, replay, build_graph, evaluate, render" % exc)
    finish(3)
result["import"] = time.perf_counter() - t0
missing = [n for n in ("load", "replay", "build_graph", "evaluate", "render")
           if not callable(getattr(pipeline, n, None))]
if missing:
    result["error"] = "keytrail.pipeline lacks " + ", ".join(missing)
    finish(3)

def timed(name, fn, *args):
    t = time.perf_counter()
    try:
        value = fn(*args)
    except BaseException as exc:
        result["error"] = "pipeline.%s raised %s: %s" % (name, type(exc).__name__, exc)
        result["traceback"] = traceback.format_exc()[-4000:]
        finish(4)
    result["stages"].append({"stage": name, "seconds": time.perf_counter() - t,
                             "peak_kb": peak_kb()})
    return value

# The command line runs with the cyclic garbage collector off (see keytrail.cli.main);
# the stages are timed the same way so that they add up to the whole command.
import gc
gc.disable()
project = timed("load", pipeline.load, root)
state = timed("replay", pipeline.replay, project, parse_time(as_of), parse_time(since))
graph = timed("build_graph", pipeline.build_graph, project, state)
report = timed("evaluate", pipeline.evaluate, project, state, graph)
def write_json(report):
    # As the command line does: streamed into a file (pipeline.render would
    # build the whole document as one string first).
    with open(os.devnull, "w") as sink:
        if hasattr(pipeline, "write"):
            pipeline.write(report, "json", sink)
        else:
            sink.write(pipeline.render(report, "json"))

timed("render", write_json, report)
result["findings"] = len(report.findings)
finish(0)
"""


def rss_mib(maxrss: int) -> float:
    """ru_maxrss is in kilobytes on Linux, bytes on macOS."""
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def history_files(root: Path) -> list[Path]:
    """The history files keytrail.yaml names, globs expanded in order."""
    config_path = root / "keytrail.yaml"
    if not config_path.is_file():
        raise SystemExit(f"run.py: {config_path} not found (generate a project with benchmarks/generate.py)")
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    entries = config.get("history") or []
    if isinstance(entries, str):
        entries = [entries]
    files: list[Path] = []
    for entry in entries:
        matches = sorted(glob.glob(str(root / entry))) if glob.has_magic(entry) else [str(root / entry)]
        for m in matches:
            p = Path(m)
            if p.is_file() and p not in files:
                files.append(p)
    if not files:
        raise SystemExit(f"run.py: no history files found from {config_path}")
    return files


def summary(values: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "values": values}


class Runner:
    def __init__(self, args: argparse.Namespace, files: list[Path]) -> None:
        self.args = args
        self.files = files
        self.env = dict(os.environ)
        # Measure keytrail as an install runs it, its bytecode cached after the first run: with
        # PYTHONDONTWRITEBYTECODE set, every run would compile every module it imports first.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        if not args.installed:
            src = str(REPO_ROOT / "src")
            self.env["PYTHONPATH"] = os.pathsep.join(
                [src] + ([self.env["PYTHONPATH"]] if self.env.get("PYTHONPATH") else []))
        self.tmp = tempfile.mkdtemp(prefix="kt-bench-run-")

    def _result_file(self) -> str:
        fd, path = tempfile.mkstemp(dir=self.tmp, suffix=".json")
        os.close(fd)
        return path

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def wrapped(self, cmd: list[str]) -> dict[str, Any]:
        """Run cmd under the wrapper; wall, exit code and peak RSS of cmd alone."""
        out = self._result_file()
        wrapper = subprocess.run([self.args.python, "-c", WRAPPER, out, str(self.args.timeout)] + cmd,
                                 env=self.env, stderr=subprocess.PIPE)
        try:
            with open(out) as f:
                r = json.load(f)
        except (OSError, ValueError):
            err = wrapper.stderr.decode("utf-8", "replace")
            return {"error": f"measuring wrapper failed: {last_line(err)}", "stderr": err}
        if r.get("timeout"):
            return {"error": f"timed out after {self.args.timeout:g} s (see --timeout)"}
        return r

    def floor(self) -> dict[str, Any]:
        inner = self._result_file()
        r = self.wrapped([self.args.python, "-c", FLOOR, inner] + [str(p) for p in self.files])
        if "error" in r:
            return r
        if r["rc"] != 0 or r["traceback"]:
            return {"error": f"floor parse failed (exit {r['rc']}): {last_line(r['stderr'])}",
                    "stderr": r["stderr"]}
        with open(inner) as f:
            r.update(json.load(f))
        return r

    def whole(self) -> dict[str, Any]:
        cmd = [self.args.python, "-m", "keytrail", "check", str(self.args.dir), "--format", "json",
               "--output", "/dev/null", "--as-of", self.args.as_of, "--fail-on", "critical"]
        if self.args.since:
            cmd += ["--since", self.args.since]
        probe = subprocess.run([self.args.python, "-c", PROBE], env=self.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if probe.returncode != 0:
            err = probe.stderr.decode("utf-8", "replace")
            return {"error": f"`python -m keytrail` cannot start: {last_line(err)}", "stderr": err}
        r = self.wrapped(cmd)
        if "error" in r:
            return r
        # Exit 1 means findings at or above --fail-on, unless Python died with a traceback.
        if r["rc"] not in (0, 1) or r["traceback"]:
            crash = " with a traceback" if r["traceback"] else ""
            return {"error": f"`{' '.join(cmd[1:])}` exited {r['rc']}{crash}: {last_line(r['stderr'])}",
                    "stderr": r["stderr"]}
        return r

    def stages(self) -> dict[str, Any]:
        out = self._result_file()
        try:
            proc = subprocess.run(
                [self.args.python, "-c", STAGES_CODE, out, str(self.args.dir), self.args.as_of,
                 self.args.since or ""],
                env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                timeout=self.args.timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {self.args.timeout:g} s (see --timeout)"}
        try:
            with open(out) as f:
                r = json.load(f)
        except (OSError, ValueError):
            r = {}
        if not r:
            err = proc.stderr.decode("utf-8", "replace")
            return {"error": f"stage runner exited {proc.returncode}: {last_line(err)}",
                    "stderr": err[-4000:]}
        return r


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no output on stderr)"


def fmt_s(x: float) -> str:
    return f"{x:.3f} s" if x < 10 else f"{x:.1f} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("dir", type=Path, help="a keytrail project (e.g. made by generate.py)")
    ap.add_argument("--runs", type=int, default=3, help="runs per measure (default 3)")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write the figures as JSON")
    ap.add_argument("--as-of", default=DEFAULT_AS_OF, help=f"default {DEFAULT_AS_OF}")
    ap.add_argument("--since", default=None, help="passed to replay and to the command")
    ap.add_argument("--only", default=",".join(MEASURES),
                    help="comma-separated subset of floor,whole,stages")
    ap.add_argument("--python", default=sys.executable, help="interpreter to run (default: this one)")
    ap.add_argument("--installed", action="store_true",
                    help="use the installed keytrail instead of the repository's src/")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed per run")
    ap.add_argument("--no-warmup", action="store_true",
                    help="skip reading the history once before timing (cold page cache)")
    args = ap.parse_args(argv)
    args.dir = args.dir.resolve()
    only = [m.strip() for m in args.only.split(",") if m.strip()]
    bad = [m for m in only if m not in MEASURES]
    if bad or args.runs < 1:
        ap.error(f"unknown measure {bad[0]!r}" if bad else "--runs must be at least 1")

    files = history_files(args.dir)
    history_bytes = sum(p.stat().st_size for p in files)
    if not args.no_warmup:
        # Read everything once so that no measure pays for the first, cold read.
        for p in files:
            with open(p, "rb") as f:
                while f.read(1 << 24):
                    pass
    runner = Runner(args, files)
    try:
        return measure(args, runner, files, history_bytes, only)
    finally:
        runner.close()


def measure(args: argparse.Namespace, runner: Runner, files: list[Path], history_bytes: int,
            only: list[str]) -> int:

    report: dict[str, Any] = {
        "dir": str(args.dir),
        "as_of": args.as_of,
        "since": args.since,
        "runs": args.runs,
        "python": platform.python_version(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "history": {"files": [str(p.relative_to(args.dir)) for p in files], "bytes": history_bytes},
        "errors": {},
    }

    def progress(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    # floor
    if "floor" in only:
        walls, parses, rss = [], [], []
        for i in range(args.runs):
            r = runner.floor()
            if "error" in r:
                report["errors"]["floor"] = r["error"]
                report["errors"]["floor_stderr"] = r.get("stderr", "")
                break
            walls.append(r["wall"])
            parses.append(r["parse"])
            rss.append(rss_mib(r["maxrss"]))
            report["history"]["events"] = r["events"]
            progress(f"floor   run {i + 1}/{args.runs}: {fmt_s(r['wall'])}")
        if walls:
            report["floor"] = {"wall_s": summary(walls), "parse_s": summary(parses),
                               "peak_rss_mib": summary(rss)}

    # whole command
    if "whole" in only:
        walls, cpu, rss, codes = [], [], [], []
        for i in range(args.runs):
            r = runner.whole()
            if "error" in r:
                report["errors"]["whole"] = r["error"]
                report["errors"]["whole_stderr"] = r.get("stderr", "")
                break
            walls.append(r["wall"])
            cpu.append(r["user"] + r["sys"])
            rss.append(rss_mib(r["maxrss"]))
            codes.append(r["rc"])
            progress(f"whole   run {i + 1}/{args.runs}: {fmt_s(r['wall'])}, "
                     f"{rss_mib(r['maxrss']):.0f} MiB, exit {r['rc']}")
        if walls:
            report["whole"] = {"wall_s": summary(walls), "cpu_s": summary(cpu),
                               "peak_rss_mib": summary(rss), "exit_codes": codes}

    # stages
    if "stages" in only:
        runs: list[dict[str, Any]] = []
        for i in range(args.runs):
            r = runner.stages()
            if "error" in r:
                report["errors"]["stages"] = r["error"]
                if r.get("traceback") or r.get("stderr"):
                    report["errors"]["stages_stderr"] = r.get("traceback") or r.get("stderr")
                break
            runs.append(r)
            total = sum(s["seconds"] for s in r["stages"])
            progress(f"stages  run {i + 1}/{args.runs}: {fmt_s(total)}, {rss_mib(r['maxrss']):.0f} MiB")
        if runs:
            stages: dict[str, Any] = {"import_s": summary([r["import"] for r in runs])}
            for name in STAGES:
                secs = [s["seconds"] for r in runs for s in r["stages"] if s["stage"] == name]
                peaks = [s["peak_kb"] / 1024 for r in runs for s in r["stages"] if s["stage"] == name]
                stages[name] = {"seconds": summary(secs), "peak_rss_mib_after": summary(peaks)}
            stages["total_s"] = summary([sum(s["seconds"] for s in r["stages"]) for r in runs])
            stages["cpu_s"] = summary([r["cpu"] for r in runs])
            stages["peak_rss_mib"] = summary([rss_mib(r["maxrss"]) for r in runs])
            stages["findings"] = runs[-1].get("findings")
            report["stages"] = stages

    if "floor" in report and "whole" in report:
        report["ratio_whole_floor"] = (report["whole"]["wall_s"]["median"]
                                       / report["floor"]["wall_s"]["median"])

    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 1 if report["errors"] else 0


def print_table(report: dict[str, Any]) -> None:
    h = report["history"]
    events = f", {h['events']:,} events" if "events" in h else ""
    print(f"\nkeytrail benchmark: {report['dir']}")
    print(f"history: {len(h['files'])} files, {h['bytes'] / 1e6:,.1f} MB{events}; "
          f"as of {report['as_of']}; {report['runs']} run(s); Python {report['python']}; "
          f"{report['machine']['cpus']} CPUs\n")
    head = f"{'measure':<34}{'median':>10}{'min':>10}{'max':>10}{'peak RSS':>12}"
    print(head)
    print("-" * len(head))

    def row(label: str, s: dict[str, Any] | None, mem: float | None) -> None:
        if s is None:
            print(f"{label:<34}{'-':>10}{'-':>10}{'-':>10}{'-':>12}")
            return
        m = f"{mem:,.0f} MiB" if mem is not None else ""
        print(f"{label:<34}{fmt_s(s['median']):>10}{fmt_s(s['min']):>10}{fmt_s(s['max']):>10}{m:>12}")

    errors = report["errors"]
    if "floor" in report:
        f = report["floor"]
        row("floor: orjson parse (process)", f["wall_s"], f["peak_rss_mib"]["median"])
        row("  of which parsing", f["parse_s"], None)
    elif "floor" in errors:
        print(f"floor: FAILED: {errors['floor']}")
    if "whole" in report:
        w = report["whole"]
        row("whole: keytrail check", w["wall_s"], w["peak_rss_mib"]["median"])
        row("  CPU (user + sys)", w["cpu_s"], None)
    elif "whole" in errors:
        print(f"whole: FAILED: {errors['whole']}")
    if "stages" in report:
        s = report["stages"]
        row("stages: import keytrail.pipeline", s["import_s"], None)
        for name in STAGES:
            row(f"  {name}", s[name]["seconds"], s[name]["peak_rss_mib_after"]["median"])
        row("  total (load..render)", s["total_s"], s["peak_rss_mib"]["median"])
        row("  CPU of the process (user + sys)", s["cpu_s"], None)
    elif "stages" in errors:
        print(f"stages: FAILED: {errors['stages']}")
    if "ratio_whole_floor" in report:
        print(f"\nwhole / floor (median wall): {report['ratio_whole_floor']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
