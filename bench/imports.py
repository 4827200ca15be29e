"""Start-up cost: the light commands load no probe library, and `preflight --version` starts fast.

    .venv/bin/python bench/imports.py [--runs 15]

1. `preflight --help`, `--version`, `checkers`, `manifest validate` run with `-X importtime`
   (PYTHONPROFILEIMPORTTIME=1): none may import boto3, botocore, redis, psycopg, httpx or temporalio.
2. Median wall time of `preflight --version` vs `python -c "import typer, pydantic"`: within 1.5x.
   When missed, the heaviest imports of `--version` are listed (what to make lazy).
"""

from __future__ import annotations

import argparse
import sys

from _util import Goals, median_wall, preflight_argv, run

PROBE_LIBS = ("boto3", "botocore", "redis", "psycopg", "httpx", "temporalio", "prometheus_client")
COMMANDS = (["--help"], ["--version"], ["checkers"], ["manifest", "validate"])
RATIO_GOAL = 1.5


def imported(importtime: str) -> dict[str, int]:
    """Module -> cumulative import time (us), from `-X importtime` lines on stderr."""
    out: dict[str, int] = {}
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
        if cumulative.isdigit():
            out[name] = int(cumulative)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    goals = Goals()
    timed_env = {"PYTHONPROFILEIMPORTTIME": "1"}
    for cmd in COMMANDS:
        r = run(preflight_argv(*cmd), env=timed_env)
        mods = imported(r.stderr)
        heavy = sorted({m.split(".")[0] for m in mods} & set(PROBE_LIBS))
        label = "preflight " + " ".join(cmd)
        goals.check(f"`{label}` imports no probe library (exit 0)",
                    f"{len(mods)} modules, exit {r.code}, probe libraries: {', '.join(heavy) or 'none'}",
                    not heavy and r.code == 0)

    version = median_wall(preflight_argv("--version"), args.runs)
    baseline = median_wall([sys.executable, "-c", "import typer, pydantic"], args.runs)
    bare = median_wall([sys.executable, "-c", "pass"], args.runs)
    ratio = version / baseline
    print(f"median of {args.runs}: python -c pass {bare * 1000:.0f} ms; "
          f"import typer, pydantic {baseline * 1000:.0f} ms; preflight --version {version * 1000:.0f} ms")
    ok = goals.check(f"`preflight --version` within {RATIO_GOAL}x of `import typer, pydantic`",
                     f"{version * 1000:.0f} ms / {baseline * 1000:.0f} ms = {ratio:.2f}x", ratio <= RATIO_GOAL)
    if not ok:
        mods = imported(run(preflight_argv("--version"), env=timed_env).stderr)
        top = [m for m in sorted(mods, key=mods.__getitem__, reverse=True) if m.startswith("filot_preflight")]
        print("heaviest filot_preflight imports of --version (cumulative ms): "
              + ", ".join(f"{m} {mods[m] / 1000:.0f}" for m in top[:8]))
    goals.exit()


if __name__ == "__main__":
    main()
