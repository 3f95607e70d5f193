"""``lmlab serve`` under load (issue 23): C concurrent clients, each sending R requests one
after another over a keep-alive connection to ``/fill-mask`` (or ``/score``) of a tiny run
on 127.0.0.1; prints one JSON object: latency p50/p90/p99/max, throughput, error count.

The server is the real CLI (``lmlab serve``, uvicorn, one process, one torch thread) in a
subprocess, so the clients do not share its interpreter; it runs one model call at a time
(its gate) with ``--max-queue`` >= C, so no request is refused by design and any non-200
is counted as an error. The run is bert/tiny (fill-mask) or gpt/tiny (score) trained for 2
steps on 1,500 lines of PTB (speed does not depend on the weights), unless ``--run`` names
one. Latency is measured by the client: from sending the request to the parsed answer.

    python bench/serve.py [--clients 32] [--requests 200] [--endpoint fill-mask]
                          [--out bench/results/serve.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from lmlab.config import load_config
from lmlab.data.catalogue import data_dir
from lmlab.presets import preset_path
from lmlab.training.trainer import train

BODIES = {"fill-mask": {"text": "the stock market [MASK] sharply in early trading", "top_k": 5},
          "score": {"text": "the company said its profit rose in the third quarter"}}
PRESETS = {"fill-mask": "bert/tiny", "score": "gpt/tiny"}


def tiny_run(endpoint: str, folder: Path) -> Path:
    """A 2-step run of the endpoint's preset on the first 1,500 lines of PTB."""
    corpus = folder / "ptb"
    corpus.mkdir()
    for split, lines in {"train": 1500, "valid": 150, "test": 150}.items():
        text = (data_dir() / "ptb" / f"ptb.{split}.txt").read_text().splitlines()[:lines]
        (corpus / f"{split}.txt").write_text("\n".join(text) + "\n")
    config = load_config(preset_path(PRESETS[endpoint]), [
        f"data.dataset={corpus}", "train.max_steps=2", "train.max_epochs=0",
        "train.checkpoint_every=2", "train.eval_every=2", "train.eval_batches=1",
        "train.progress=false", "data.seq_len=32", "data.batch_size=4",
        "model.embedding.max_positions=64"])
    train(config, folder / "run", log=lambda *_: None)
    return folder / "run"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(port: int, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"lmlab serve exited: {server.stderr.read()[-2000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("lmlab serve did not start")


def client(port: int, endpoint: str, body: bytes, count: int, latencies: list, statuses: dict,
           lock: threading.Lock, start: threading.Barrier) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"content-type": "application/json"}
    start.wait()
    for _ in range(count):
        began = time.perf_counter()
        try:
            connection.request("POST", f"/{endpoint}", body=body, headers=headers)
            response = connection.getresponse()
            json.loads(response.read())
            status = response.status
        except (OSError, http.client.HTTPException, ValueError) as error:
            status = type(error).__name__
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        elapsed = time.perf_counter() - began
        with lock:
            latencies.append(elapsed)
            statuses[status] = statuses.get(status, 0) + 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=200, help="per client")
    parser.add_argument("--endpoint", choices=sorted(BODIES), default="fill-mask")
    parser.add_argument("--run", help="run folder to serve (default: a 2-step tiny run)")
    parser.add_argument("--note", default="", help="a remark stored in the JSON (e.g. load)")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        run = Path(args.run) if args.run else tiny_run(args.endpoint, Path(scratch))
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "lmlab.cli", "serve", f"tiny={run}", "--port", str(port),
             "--threads", "1", "--max-queue", str(max(64, args.clients)), "--log-level",
             "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"})
        try:
            wait_until_up(port, server)
            body = json.dumps({"model": "tiny", **BODIES[args.endpoint]}).encode()
            latencies: list[float] = []
            warm: dict = {}
            client(port, args.endpoint, body, 20, [], warm, threading.Lock(),
                   threading.Barrier(1))  # warm-up, not counted
            statuses: dict = {}
            lock, start = threading.Lock(), threading.Barrier(args.clients + 1)
            threads = [threading.Thread(target=client, args=(port, args.endpoint, body,
                                                             args.requests, latencies, statuses,
                                                             lock, start))
                       for _ in range(args.clients)]
            load_before = os.getloadavg()
            for thread in threads:
                thread.start()
            start.wait()
            began = time.perf_counter()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - began
        finally:
            server.terminate()
            server.wait(30)

    total = args.clients * args.requests
    result = {
        "benchmark": "lmlab serve load test (bench/serve.py)",
        "endpoint": f"/{args.endpoint}", "model": str(args.run or PRESETS[args.endpoint] + " (2 steps)"),
        "clients": args.clients, "requests_per_client": args.requests, "requests": total,
        "errors": total - statuses.get(200, 0), "statuses": {str(k): v for k, v in statuses.items()},
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p90_ms": round(1000 * percentile(latencies, 90), 2),
        "p99_ms": round(1000 * percentile(latencies, 99), 2),
        "max_ms": round(1000 * max(latencies), 2),
        "throughput_rps": round(total / wall, 1), "wall_seconds": round(wall, 2),
        "server": "lmlab serve: uvicorn, 1 process, torch threads 1, one model call at a time",
        "machine": {"cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
                    "load_average_1m_before": round(load_before[0], 2),
                    "python": platform.python_version(), "platform": platform.platform()},
        "note": args.note,
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
