"""The GPU-worker stand-in process: consumes OCR jobs from the Redis list and keeps its heartbeat fresh.

Run by `workers.start_gpu_worker`. Reads the worker's own variables (REDIS_URL, REDIS_TLS_CA_FILE,
OCR_QUEUE_KEY, OCR_DEAD_LETTER_KEY, GPU_WORKER_HEARTBEAT_KEY) from the environment, like the real one.
SIGUSR1 pauses consumption (heartbeat continues) and SIGUSR2 resumes it, so that a test can fill the
queue and watch it stay untouched; the `paused` file in the working folder acknowledges a pause.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from types import FrameType

HEARTBEAT_EVERY_S = 2.0

_paused = False
_stopping = False


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    global _paused, _stopping
    if signum == signal.SIGUSR1:
        _paused = True
    elif signum == signal.SIGUSR2:
        _paused = False
    else:
        _stopping = True


def main() -> None:
    """Connect over TLS with AUTH, then loop: heartbeat, BRPOP one job, process it."""
    import redis

    env = os.environ
    client = redis.Redis.from_url(
        env["REDIS_URL"],
        ssl_ca_certs=env.get("REDIS_TLS_CA_FILE") or None,
        ssl_check_hostname=True,
        socket_timeout=5,
        socket_connect_timeout=5,
    )
    queue, dead, beat = env["OCR_QUEUE_KEY"], env["OCR_DEAD_LETTER_KEY"], env["GPU_WORKER_HEARTBEAT_KEY"]
    for signum in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _on_signal)
    paused_marker = Path("paused")
    client.set(beat, str(time.time()))
    last_beat = time.monotonic()
    Path(env["SANDBOX_READY_FILE"]).write_text(str(os.getpid()))
    print(f"consuming {queue}", flush=True)
    while not _stopping:
        if time.monotonic() - last_beat >= HEARTBEAT_EVERY_S:
            client.set(beat, str(time.time()))
            last_beat = time.monotonic()
        if _paused:
            paused_marker.touch()
            time.sleep(0.1)
            continue
        paused_marker.unlink(missing_ok=True)
        item = client.brpop([queue], timeout=1)
        if item is None:
            continue
        raw = item[1]
        if _stopping:
            # Popped just as we were told to stop: put it back where it came from, unchanged.
            client.rpush(queue, raw)
            continue
        # A pause that arrives now waits for this job: like a real worker, finish the job in hand and
        # take no new one. (Putting it back raced with callers that saw the queue empty and paused.)
        _process(client, raw, dead)


def _process(client: object, raw: bytes | str, dead_letter: str) -> None:
    """Pretend to OCR a job; a job that is not a JSON object goes to the dead-letter list, as in FiLot."""
    try:
        job = json.loads(raw)
        if not isinstance(job, dict):
            raise ValueError("job is not a JSON object")
    except ValueError as e:
        client.lpush(dead_letter, raw)  # type: ignore[attr-defined]
        print(f"dead-lettered a job: {e}", flush=True)
        return
    time.sleep(0.01)
    print(f"processed job {job.get('id', '?')}", flush=True)


if __name__ == "__main__":
    main()
