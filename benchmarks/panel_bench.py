"""Judge-panel cost: a panel of three judges over Med-Safety-Bench vs one judge, same concurrency.

The issue's target: "a panel of 3 judges over MSB costs at most 1.15x the wall time of one judge
at the same concurrency (judges run concurrently)". This script starts four loopback stand-in
servers in their own processes (one model under test, three judges, each with ``--latency``
seconds per request), then times ``safemed eval --benchmark med-safety-bench`` end to end with one
``--judge`` and with three, in fresh run folders, and prints the ratio.

    python benchmarks/panel_bench.py --data-dir ../shared/data [--latency 0.1] [--concurrency 64]

Without the data folder it uses the bundled ``sample-safety`` set (30 prompts).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(latency: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "safemed.testing.standin", "--port", str(port),
                             "--latency", str(latency)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("stand-in server did not start")


def timed_eval(model: str, judges: list[str], benchmark: str, data_dir: Path | None, concurrency: int,
               out: Path) -> float:
    cmd = [sys.executable, "-m", "safemed", "eval", "--model", model, "--benchmark", benchmark, "--out", str(out),
           "--concurrency", str(concurrency), "--over-refusal", "none", "-q"]
    for spec in judges:
        cmd += ["--judge", spec]
    env = dict(os.environ)
    if data_dir is not None:
        env["SAFEMED_DATA_DIR"] = str(data_dir)
    started = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2, help="best of N for each configuration")
    args = parser.parse_args()
    benchmark = "med-safety-bench" if args.data_dir and (args.data_dir / "med_safety_bench").is_dir() \
        else "sample-safety"
    procs, urls = zip(*(start_server(args.latency) for _ in range(4)), strict=True)
    try:
        model = f"openai/target@{urls[0]}"
        judges = [f"openai/judge{i}@{url}" for i, url in enumerate(urls[1:], 1)]
        with tempfile.TemporaryDirectory() as tmp:
            one = min(timed_eval(model, judges[:1], benchmark, args.data_dir, args.concurrency,
                                 Path(tmp) / f"one{r}") for r in range(args.repeats))
            three = min(timed_eval(model, judges, benchmark, args.data_dir, args.concurrency,
                                   Path(tmp) / f"three{r}") for r in range(args.repeats))
    finally:
        for proc in procs:
            proc.terminate()
    ratio = three / one
    print(f"{'configuration':<22}{'wall s':>10}")
    print(f"{'1 judge':<22}{one:>10.2f}")
    print(f"{'3 judges (panel)':<22}{three:>10.2f}")
    print(f"benchmark {benchmark}, latency {args.latency:g} s, concurrency {args.concurrency}")
    print(f"panel / single = {ratio:.3f}  (target <= 1.15: {'PASS' if ratio <= 1.15 else 'FAIL'})")


if __name__ == "__main__":
    main()
