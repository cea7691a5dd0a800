"""One importer worker process for bench/pipeline.py (several share the queue, as
``earmark run importer`` processes do): set up, print ``ready``, wait for a line on stdin,
drain the table queue, print its figures as JSON.

    python bench/pipeline_worker.py DATABASE_URL INDEX_URL INDEX_NAME
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


def main(url: str, index_url: str, index_name: str) -> None:
    from earmark.db.engine import Databases
    from earmark.importer.table_queue import TableQueue
    from earmark.importer.worker import Worker
    from earmark.index.client import HttpIndexClient
    from earmark.search import Searcher

    dbs = Databases.single(url)
    index = HttpIndexClient(index_url)
    worker = Worker(dbs, Searcher(index, index_name), TableQueue(dbs), min_idle=0.05, max_idle=0.05)
    print("ready", flush=True)
    sys.stdin.readline()
    cpu = time.process_time()
    stats = asyncio.run(worker.drain(timeout=3600, wait=0.05))
    cpu = time.process_time() - cpu
    print(json.dumps({"cpu": cpu, **stats.as_dict()}), flush=True)
    index.close()
    dbs.dispose()


if __name__ == "__main__":
    main(*sys.argv[1:4])
