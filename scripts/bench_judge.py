"""Throughput of OpenAICompatibleJudge against a local endpoint with a fixed answer latency.

    python scripts/bench_judge.py --items 200 --latency-ms 50 --concurrency 1 16

Starts an OpenAI-compatible server on 127.0.0.1 (no network) that answers every request after
`latency-ms`, scores the same items at each max_concurrency, and prints a markdown table. The
speed-up of the highest over the lowest concurrency should approach their ratio (target >= 8x for
1 vs 16): a remote judge is latency-bound, so concurrency is what makes precomputing scores cheap.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from safelight.judges.base import JudgeItem
from safelight.judges.http_judge import OpenAICompatibleJudge


class _LatencyServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a burst of concurrent connects must not overflow the listen backlog

    def __init__(self, latency_s: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.latency_s = latency_s
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def reset(self) -> None:
        with self.lock:
            self.max_in_flight = 0


class _Handler(BaseHTTPRequestHandler):
    server: _LatencyServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            self.server.in_flight += 1
            self.server.max_in_flight = max(self.server.max_in_flight, self.server.in_flight)
        time.sleep(self.server.latency_s)
        body = json.dumps({"choices": [{"message": {"role": "assistant", "content": "#thescore: 1"}}]}).encode()
        with self.server.lock:
            self.server.in_flight -= 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def run(server: _LatencyServer, items: list[JudgeItem], concurrency: int) -> dict[str, float]:
    base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    judge = OpenAICompatibleJudge(base_url, "bench", api_key_env=None, max_concurrency=concurrency)
    server.reset()
    start = time.perf_counter()
    verdicts = judge.score(items)
    wall = time.perf_counter() - start
    assert all(v.score == 1.0 for v in verdicts), "the bench server's answers were not parsed"
    return {"wall_s": wall, "items_per_s": len(items) / wall, "max_in_flight": server.max_in_flight,
            "retries": judge.stats.retries}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()

    items = [JudgeItem(f"bench request {i}", f"bench response {i}") for i in range(args.items)]
    server = _LatencyServer(args.latency_ms / 1000)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        results = {c: run(server, items, c) for c in args.concurrency}
    finally:
        server.shutdown()
        server.server_close()

    base = results[min(results)]
    print(f"{args.items} items, server latency {args.latency_ms:g} ms\n")
    print("| max_concurrency | wall (s) | items/s | server max in-flight | retries | speed-up |")
    print("|---:|---:|---:|---:|---:|---:|")
    for c, r in results.items():
        print(f"| {c} | {r['wall_s']:.2f} | {r['items_per_s']:.1f} | {r['max_in_flight']:.0f} | "
              f"{r['retries']:.0f} | {r['items_per_s'] / base['items_per_s']:.1f}x |")
    lo, hi = min(results), max(results)
    ratio = results[hi]["items_per_s"] / results[lo]["items_per_s"]
    print(f"\nspeed-up {hi} vs {lo}: {ratio:.1f}x (target >= 8x: {'met' if ratio >= 8 else 'NOT met'})")


if __name__ == "__main__":
    main()
