"""Run one live checker (a case of tests/test_host_gate.py) and print its results as JSON.

Started by tests/test_host_gate_rebind.py inside a private mount namespace whose /etc/hosts maps
public-looking names to 127.0.0.1 / 169.254.169.254: the real resolver (glibc) gives the rebinding answer.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    args = json.loads(sys.argv[1])
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[k]
    os.environ |= {"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                   "AWS_EC2_METADATA_DISABLED": "true"}
    from tests.test_host_gate import CASES, _run

    # A longer --timeout than the in-process tests: the lookup gets a share of it, and a child started on a busy
    # machine must not turn "resolves to 127.0.0.1" into "did not resolve in time" (refused too, but not the case).
    res = _run(CASES[args["name"]], args["host"], args["port"], timeout=6.0, allow_loopback=args["allow_loopback"])
    print(json.dumps({rid: {"status": r.status.value, "summary": r.summary, "detail": r.detail,
                            "evidence": r.evidence} for rid, r in res.items()}, default=str))


if __name__ == "__main__":
    main()
