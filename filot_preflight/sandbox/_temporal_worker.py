"""The Temporal worker stand-in process: polls TEMPORAL_TASK_QUEUE so that the task queue has a live poller.

Run by `workers.start_temporal_worker`; reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE
(and, when the address is a TLS front, TEMPORAL_API_KEY and SANDBOX_CA_FILE) from the environment.
"""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.client import Client, TLSConfig
from temporalio.worker import UnsandboxedWorkflowRunner, Worker


@activity.defn
async def ocr_document(document_id: str) -> str:
    """Pretend OCR."""
    return f"text of {document_id}"


@workflow.defn
class ProcessDocument:
    """A trivial document workflow: one activity."""

    @workflow.run
    async def run(self, document_id: str) -> str:
        return await workflow.execute_activity(ocr_document, document_id, start_to_close_timeout=timedelta(seconds=30))


async def _main() -> None:
    env = os.environ
    ca = env.get("SANDBOX_CA_FILE")
    tls: TLSConfig | bool = TLSConfig(server_root_ca_cert=Path(ca).read_bytes()) if ca else False
    client = await asyncio.wait_for(
        Client.connect(
            env["TEMPORAL_ADDRESS"], namespace=env["TEMPORAL_NAMESPACE"], tls=tls, api_key=env.get("TEMPORAL_API_KEY")
        ),
        timeout=20,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # Unsandboxed: this module runs as __main__, which the workflow sandbox cannot re-import.
    worker = Worker(
        client,
        task_queue=env["TEMPORAL_TASK_QUEUE"],
        workflows=[ProcessDocument],
        activities=[ocr_document],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    async with worker:
        Path(env["SANDBOX_READY_FILE"]).write_text(str(os.getpid()))
        print(f"polling {env['TEMPORAL_TASK_QUEUE']}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(_main())
