"""Where a web request's time goes: each page of bench/web.py's mix, in this process.

`python -m bench.web_pages [page] [--profile]` prints, per page, the CPU milliseconds one
request takes in Django (no HTTP server: Django's test client) and its database queries;
with --profile, cProfile's 40 most expensive functions (cumulative) for each page. A
profiler, not a benchmark: nothing is written to bench/results.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time
from typing import Any

from bench.stack import platform_stack
from bench.web import students_and_pages

REQUESTS = int(os.environ.get("BENCH_PAGE_REQUESTS", "50"))


def main(only: str | None, profile: bool) -> None:
    # No warm kernels: nothing here runs a notebook.
    with platform_stack(seed_demo=True, web_workers=1, pool_size=0) as stack:
        stack.django()
        from django.db import connection
        from django.test import Client

        students, pages = students_and_pages(1)
        cookie, submission_id = students[0].split("|")
        client = Client(HTTP_HOST="127.0.0.1")
        client.cookies.load(cookie)
        for name, path in pages.items():
            if only and name != only:
                continue
            url = path.format(id=submission_id)
            assert client.get(url).status_code == 200, name  # warm: templates, caches
            queries: list[str] = []

            def counted(execute: Any, sql: str, *rest: Any, seen: list[str] = queries) -> Any:
                seen.append(sql)
                return execute(sql, *rest)

            with connection.execute_wrapper(counted):
                client.get(url)
            started = time.process_time()
            for _ in range(REQUESTS):
                client.get(url)
            cpu_ms = (time.process_time() - started) / REQUESTS * 1000
            print(f"{name:18} {cpu_ms:6.2f} ms CPU  {len(queries):2} queries", flush=True)
            if profile:
                profiler = cProfile.Profile()
                for _ in range(REQUESTS):
                    profiler.runcall(client.get, url)
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--profile"]
    main(arguments[0] if arguments else None, "--profile" in sys.argv)
