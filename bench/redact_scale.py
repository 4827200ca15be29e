"""Scale of redaction: 20,000 secret-named values in an env file, masked in linear time.

    .venv/bin/python bench/redact_scale.py [--values 20000]

Two measurements. (1) In process: a Redactor learns N random token values (and N `https://user:<pw>@host`
URLs: values that share their first characters), then masks a 12 KB report and 1,000 short lines; the
build (the matcher over every value and its encodings) is timed with the first call. (2) End to end:
`preflight check --offline --env-file big.env` with N `BENCH_SECRET_<i>=<token>` lines (secret-looking
names, so every value is taught to the redactor) and every result redacted on the way out.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from pathlib import Path

from _util import Goals, preflight_argv, run

from filot_preflight.redact import Redactor

BUILD_GOAL_S = 2.0  # learning and compiling 20,000 values (~100,000 encoded forms) once
CALLS_GOAL_S = 0.2  # 1,000 short redactions afterwards
CHECK_GOAL_S = 10.0  # the whole offline check of the 20,000-value env file


def in_process(label: str, values: list[str], goals: Goals) -> None:
    """Build + first redaction, then 1,000 short ones; and that the values are masked."""
    t0 = time.perf_counter()
    r = Redactor(values)
    report = ("see https://api.example.com/health and " + values[7] + "\n") * 300
    masked = r.redact(report)
    t1 = time.perf_counter()
    for i in range(1000):
        r.redact(f"line {i}: value {values[i]} here")
    t2 = time.perf_counter()
    print(f"{label}: {len(values)} values -> learn + build + first 12 KB redaction {t1 - t0:.2f} s, "
          f"1,000 short redactions {t2 - t1:.3f} s")
    goals.check(f"{label}: {len(values)} values learnt and the matcher built in under {BUILD_GOAL_S:g} s",
                f"{t1 - t0:.2f} s", t1 - t0 < BUILD_GOAL_S and values[7] not in masked)
    goals.check(f"{label}: 1,000 redactions in under {CALLS_GOAL_S:g} s", f"{t2 - t1:.3f} s", t2 - t1 < CALLS_GOAL_S)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--values", type=int, default=20000)
    args = ap.parse_args()
    goals = Goals()
    n = args.values
    in_process("tokens", [secrets.token_urlsafe(24) for _ in range(n)], goals)
    in_process("urls", [f"https://user:{secrets.token_urlsafe(16)}@host{i}.example.com/db" for i in range(n)], goals)
    with tempfile.TemporaryDirectory(prefix="preflight-bench-") as tmp:
        env = Path(tmp) / "big.env"
        env.write_text("".join(f"BENCH_SECRET_{i:05d}={secrets.token_urlsafe(24)}\n" for i in range(n)))
        r = run(preflight_argv("check", "--offline", "--env-file", str(env), "--format", "json"), timeout=300)
    ok = r.code in (0, 1) and r.stdout.startswith("{")
    print(f"preflight check --offline --env-file big.env ({n} secret-named values): exit {r.code}, "
          f"{r.seconds:.2f} s wall, {r.cpu_s:.2f} s CPU, {r.maxrss_mb:.0f} MB")
    goals.check(f"the offline check of {n} secret-named values ends in under {CHECK_GOAL_S:g} s",
                f"{r.seconds:.2f} s wall", ok and r.seconds < CHECK_GOAL_S)
    goals.exit()


if __name__ == "__main__":
    main()
