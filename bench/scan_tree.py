"""How fast is the source audit? Generates a synthetic 10,000-file tree in a temp dir and scans it.

    .venv/bin/python bench/scan_tree.py [--files 10000] [--workers 1] [--repeat 3]

The tree mixes TS/JS and Python sources (~3 KB each, with env reads, imports, queue calls and the odd
planted finding), test files, env files, and a node_modules folder the scan must skip. Prints the
number of files scanned, the wall time of the scan (walk + read + extract) and files per second;
the median of --repeat runs (a fresh, uncached scan each time).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from filot_preflight.audit import make_config, scan_tree  # noqa: E402

TS_BODY = """import express from 'express';
import {{ Redis }} from 'ioredis';
import {{ helper{i} }} from '../lib/helper{j}';

const {{ DATABASE_URL, REDIS_URL: redisUrl }} = process.env;
const timeout = Number(process.env.BULI2_TIMEOUT_MS ?? 10000);
const prefix = process.env['REDIS_KEY_PREFIX'] || 'filot:';

export async function handler{i}(req: express.Request, res: express.Response): Promise<void> {{
  const redis = new Redis(redisUrl as string);
  const rows = await helper{i}(DATABASE_URL, req.params.id, timeout);
  await redis.lpush(process.env.OCR_QUEUE_KEY as string, JSON.stringify({{ id: req.params.id, rows }}));
  res.json({{ ok: true, prefix, count: rows.length }});
}}
"""
PY_BODY = '''"""Module {i} of the worker."""

import json
import os

import redis

QUEUE = os.getenv("OCR_QUEUE_KEY", "filot:ocr:jobs")
TIMEOUT = int(os.environ.get("OCR_JOB_TIMEOUT_SECONDS", "300"))


def step_{i}(r: redis.Redis, payload: dict) -> None:
    """Process one job."""
    item = r.brpop([QUEUE], timeout=5)
    if item is None:
        return
    job = json.loads(item[1])
    job["step"] = {i}
    r.set(os.environ["GPU_WORKER_HEARTBEAT_KEY"], json.dumps(job))
'''
PLANTS = [
    "import sinon from 'sinon';\n",
    "const api = process.env.API_BASE_URL || 'http://localhost:3000';\n",
    "const key = process.env[`FEATURE_${name}`];\n",
    "const dsn = 'postgres://app:Vq8xN2pLr5tW@db.internal:5432/app';\n",  # a committed credential
]
FILLER = "// " + "lorem ipsum dolor sit amet " * 3 + "\n"


def generate(root: Path, files: int) -> None:
    """Write `files` scannable files plus tests, env files and a node_modules folder to skip."""
    rnd = random.Random(42)
    for n in range(files):
        d = root / "src" / f"mod{n % 100:02d}" / f"sub{n % 7}"
        d.mkdir(parents=True, exist_ok=True)
        if n % 10 < 3:
            text = PY_BODY.format(i=n) + "# " + "x" * 60 + "\n" * 40
            (d / f"step_{n}.py").write_text(text)
            continue
        text = TS_BODY.format(i=n, j=n % 50) + FILLER * 50
        if rnd.random() < 0.02:
            text += rnd.choice(PLANTS)
        (d / f"handler{n}.{'ts' if n % 3 else 'js'}").write_text(text)
    tests = root / "src" / "__tests__"
    tests.mkdir(parents=True)
    for n in range(500):
        (tests / f"h{n}.test.ts").write_text("import sinon from 'sinon';\njest.mock('x');\n" * 20)
    nm = root / "node_modules" / "pkg"
    nm.mkdir(parents=True)
    for n in range(2000):
        (nm / f"f{n}.js").write_text("module.exports = process.env.X || 'http://localhost';\n" * 20)
    (root / ".env.production").write_text("NODE_ENV=production\nUSE_MOCK_PAYMENTS=false\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    config = make_config(queue_vars=["OCR_QUEUE_KEY"])
    with tempfile.TemporaryDirectory(prefix="preflight-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        generate(root, args.files)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        print(f"generated {args.files} source files + 2,500 to skip ({size / 1e6:.1f} MB) in "
              f"{time.perf_counter() - t0:.1f}s")
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            scan = scan_tree(root, "backend", config, workers=args.workers)
            times.append(time.perf_counter() - t)
        secs = statistics.median(times)
        print(f"files scanned: {scan.files_scanned}  (excluded: {scan.test_dirs} test folders, "
              f"{scan.test_files} test files; node_modules pruned)")
        print(f"findings: {len(scan.findings)}  env reads: {len(scan.env_reads)}  queue refs: {len(scan.queue_refs)}")
        print(f"scan: {secs:.2f}s median of {args.repeat} (workers={args.workers}) -> "
              f"{scan.files_scanned / secs:,.0f} files/s")


if __name__ == "__main__":
    main()
