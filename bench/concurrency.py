"""Bounded time: every live subsystem points at a loopback server that accepts and never answers.

    .venv/bin/python bench/concurrency.py [--timeout 2] [--deadline 3]

1. `preflight check --timeout 2` ends within the timeout + 0.5 s (the whole process, startup included:
   each checker's budget is --timeout from its start, shared by all of its steps); no checker runs past
   its budget by more than a scheduling slack, and none is cut off by the runner's backstop. The sum of
   the checkers' own durations (what a sequential run would take) is printed beside it.
2. `preflight check --deadline 3 --timeout 30` ends within deadline + 0.5 s with `partial: true`.
A goal missed names the checkers that ran longest (the unbounded ones).
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import tempfile
import threading
import time
from pathlib import Path

from _util import Goals, Run, checker_times, preflight_argv, run

from filot_preflight import manifest as manifest_mod
from filot_preflight.sandbox import values as sandbox_values

SLACK = 0.3  # past its budget, a checker's last step ends (MIN_STEP) and its thread hands back the facts


class BlackHole:
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte.

    Runs in a daemon thread; stops itself after `lifetime` seconds even if `stop()` is never called.
    """

    def __init__(self, lifetime: float = 120.0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._end = time.monotonic() + lifetime
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self._end:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            self.accepted += 1
            self._held.append(conn)  # held open, never read from or written to
        for conn in self._held:
            conn.close()
        self.sock.close()

    def stop(self) -> None:
        """Close every held connection and the listening socket."""
        self._stop.set()
        self._thread.join(timeout=5)


def write_env(path: Path, port: int) -> None:
    """A complete, valid value set (the sandbox's generator) with every endpoint at the black hole."""
    values = sandbox_values.generate(manifest_mod.load())
    hole = f"127.0.0.1:{port}"
    values.update({
        "REDIS_URL": f"rediss://default:{secrets.token_hex(16)}@{hole}/0",
        "DATABASE_URL": f"postgresql://filot:{secrets.token_hex(16)}@{hole}/filot?sslmode=require",
        "DATABASE_URL_DIRECT": f"postgresql://filot:{secrets.token_hex(16)}@{hole}/filot?sslmode=verify-full",
        "TEMPORAL_ADDRESS": hole,
        "CF_R2_ENDPOINT": f"https://{hole}",
        "CF_R2_PUBLIC_URL": f"https://{hole}/public",
        "BULI2_API_URL": f"https://{hole}",
        "BULI2_CALLBACK_URL": f"https://{hole}/api/webhooks/buli2",
        "API_BASE_URL": f"https://{hole}",
        "APP_ORIGIN": f"https://{hole}",
        "AWS_ENDPOINT_URL": f"https://{hole}",
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_REGION": "eu-central-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "PREFLIGHT_ALLOW_LOOPBACK": "true",
    })
    values.pop("REDIS_TLS_CA_FILE", None)
    path.write_text("".join(f"{k}='{v}'\n" for k, v in values.items()))


def report_line(r: Run, rep: dict) -> str:
    """Wall time, its phases and the checkers' own durations of one run."""
    times = checker_times(rep)
    slowest = sorted(times.items(), key=lambda kv: kv[1], reverse=True)
    return (f"process wall {r.seconds:.2f} s ({r.phases(rep)}), CPU {r.cpu_s:.2f} s, load average "
            f"{os.getloadavg()[0]:.1f}, partial={rep.get('partial')}, "
            f"sum of checker durations {sum(times.values()) / 1000:.2f} s over {len(times)} checkers; "
            "slowest: " + ", ".join(f"{n} {ms / 1000:.2f}s" for n, ms in slowest[:5]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--deadline", type=float, default=3.0)
    args = ap.parse_args()
    goals = Goals()
    hole = BlackHole()
    try:
        with tempfile.TemporaryDirectory(prefix="preflight-bench-") as tmp:
            env_file = Path(tmp) / "blackhole.env"
            write_env(env_file, hole.port)
            child_env = {"AWS_EC2_METADATA_DISABLED": "true", "NO_PROXY": "*"}
            base = ["check", "--env-file", str(env_file), "--format", "json"]

            r = run(preflight_argv(*base, "--timeout", f"{args.timeout:g}"), env=child_env, timeout=120)
            rep = r.json()
            print(f"--timeout {args.timeout:g}: exit {r.code}; {report_line(r, rep)}")
            limit = args.timeout + 0.5
            times = checker_times(rep)
            total = sum(times.values()) / 1000
            goals.check(f"--timeout {args.timeout:g} ends within {limit:g} s (timeout + 0.5 s)",
                        f"{r.seconds:.2f} s wall (a sequential run: {total:.2f} s = {total / args.timeout:.1f}x)",
                        r.seconds <= limit and not rep.get("partial"))
            longest = max(times.values(), default=0.0) / 1000
            goals.check(f"every checker within its budget (--timeout {args.timeout:g} + {SLACK:g} s)",
                        f"longest {longest:.2f} s", longest <= args.timeout + SLACK)
            stopped = _name_unbounded(rep)
            goals.check("no checker stopped by the runner's backstop", ", ".join(stopped) or "none", not stopped)

            r = run(preflight_argv(*base, "--timeout", "30", "--deadline", f"{args.deadline:g}"),
                    env=child_env, timeout=120)
            rep = r.json()
            print(f"--deadline {args.deadline:g} --timeout 30: exit {r.code}; {report_line(r, rep)}")
            unfinished = sorted(x["id"] for x in rep.get("results", []) if x["id"].endswith(".unfinished"))
            print(f"  partial: {str(rep.get('partial')).lower()}; unfinished: {', '.join(unfinished) or 'none'}")
            limit = args.deadline + 0.5
            goals.check(f"--deadline {args.deadline:g} --timeout 30 ends within {limit:g} s with a partial report",
                        f"{r.seconds:.2f} s wall, partial={rep.get('partial')}",
                        r.seconds <= limit and rep.get("partial") is True)
            print(f"black hole accepted {hole.accepted} connections")
    finally:
        hole.stop()
    goals.exit()


def _name_unbounded(rep: dict) -> list[str]:
    """Checkers the runner had to stop (`<name>.timeout`, its backstop): they do not bound themselves."""
    out = []
    for x in rep.get("results", []):
        if x["id"].endswith(".timeout") and x["id"].split(".")[0] in checker_times(rep):
            out.append(f"{x['id']} after {x['duration_ms'] / 1000:.2f} s")
    return out


if __name__ == "__main__":
    main()
