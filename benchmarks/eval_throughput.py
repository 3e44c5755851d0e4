#!/usr/bin/env python
"""End-to-end MCQ evaluation at the client's floor: safemed vs a bare aiohttp client (+ lm-eval, inspect_ai).

What it measures
----------------
Against a local OpenAI-compatible stand-in server on 127.0.0.1 that answers after a fixed latency
(100 ms), evaluating N multiple-choice samples (2,000) at concurrency C (200), in one script run:

* ``safemed eval`` end to end (process start to ``results.json`` written and the process gone)
  takes at most 1.25x the wall time of a bare aiohttp client doing only the same HTTP calls (no
  validation, cache, scoring or output: what this machine and server allow at all), both the
  median of ``--repeats`` (5) runs, taken in alternating order so drifting background load hits
  both alike;
* safemed's start-up, from process start to its first request arriving at the stand-in, is at
  most 0.9 s (median);
* at 50,000 samples its peak RSS stays flat (it streams): at most 3x the N-sample run's peak,
  far below the 25x that holding everything would cost.

lm-eval-harness and inspect_ai run the same task when the comparison virtualenv exists (their
columns are reported, they are not targets; ``--skip-compare`` leaves them out):

* safemed:  ``safemed eval --model openai/standin@URL --benchmark mcq:FILE --concurrency C -q``
* floor:    a 20-line aiohttp client (``FLOOR`` below): one POST per sample, ``gather`` under a
  semaphore of C, ``TCPConnector(limit=C)``
* lm-eval:  ``lm_eval --model local-chat-completions --model_args base_url=URL/chat/completions,
  num_concurrent=C,tokenizer_backend=None,... --apply_chat_template --tasks <custom YAML task>``
* inspect:  ``inspect eval task.py --model openai-api/standin/standin --max-connections C
  --no-log-samples --no-log-realtime --no-score-display --display none ...``

All get the same JSONL and the same prompt text (safemed's zero-shot English template) and send
one chat completion per sample.

How it times
------------
The stand-in (``python -m safemed.testing.standin``) runs in its own process, so the measured
client never shares its GIL or event loop with the server. It records the ``time.monotonic()``
instants of the first request it received and of the last reply it sent (``GET /_standin/stats``,
zeroed by ``POST /_standin/reset`` before each run); ``time.monotonic()`` is CLOCK_MONOTONIC, one
system-wide clock on Linux, so those instants compare with this script's. Per run:

* wall: from just before ``Popen`` to reaping the child (``os.wait4``);
* start-up: from just before ``Popen`` to the first request arriving at the stand-in;
* requests: from the first request arriving to the last reply sent;
* finish: from the last reply to reaping (scoring, writing outputs, interpreter exit);
* peak RSS: the child's ``ru_maxrss`` from ``os.wait4`` (exact, no polling).

Each run gets a fresh output folder. One untimed warm-up run of safemed and of the floor comes
first (page cache, the stand-in's code paths, bytecode caches). The children run without
``PYTHONDONTWRITEBYTECODE`` (some sandboxes set it), so every tool loads its bytecode cache as an
ordinary install does; otherwise an editable safemed would recompile its modules on every run.

Offline: nothing is fetched at run time. The comparison tools run with ``HF_HUB_OFFLINE=1``,
``HF_DATASETS_OFFLINE=1``, a private ``HF_HOME`` inside the temp dir, and tasks built from the
local JSONL (lm-eval's ``json`` dataset builder ships with ``datasets``; no tokenizer is loaded).

How to run
----------
From the repository root, with safemed's virtualenv active::

    . .venv/bin/activate
    python benchmarks/eval_throughput.py --skip-compare    # safemed vs the floor + 50k memory, ~1.5 min
    python benchmarks/eval_throughput.py --setup           # once: the comparison virtualenv
    python benchmarks/eval_throughput.py                   # also lm-eval and inspect_ai columns

The comparison virtualenv lives outside the work tree by default
(``~/.cache/safemed-bench/compare-env``; ``--compare-env`` to change). ``--setup`` does::

    python3 -m venv ENV
    ENV/bin/pip install torch==2.13.0                     # CPU wheel; else lm-eval pulls CUDA (GBs)
    ENV/bin/pip install -r benchmarks/requirements-compare.txt

The exit status is 0 when every target passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements-compare.txt"
DEFAULT_ENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "safemed-bench" / "compare-env"
TORCH_PIN = "torch==2.13.0"

#: the targets: safemed's median wall time within this factor of the bare client's, its median
#: start-up (process start to first request at the server) within this many seconds, and its peak
#: RSS at --memory-samples within this factor of its peak at --samples
MAX_WALL_RATIO = 1.25
MAX_STARTUP_S = 0.9
MAX_RSS_GROWTH = 3.0

# The same zero-shot prompt safemed renders for an English single-answer item
# (safemed.evaluate.prompts.EN_SINGLE), so all three tools send identical text.
PROMPT = ("The following is a multiple-choice question about medicine. Choose the single best answer.\n\n"
          "Question: {question}\n\n{options}\n\n"
          'Think briefly if you need to, then give your final answer on the last line as "Answer: X", '
          "where X is the letter of the correct option.")

WORDS = ["fever", "cough", "aspirin", "dose", "renal", "hepatic", "sepsis", "insulin", "warfarin", "pneumonia",
         "troponin", "infarction", "anaemia", "lactate", "creatinine", "bradycardia", "hypoxia", "seizure",
         "antibiotic", "contraindicated"]


# --------------------------------------------------------------------------------------------- data

def write_mcq(path: Path, n: int, seed: int = 0) -> Path:
    """A synthetic four-option MCQ JSONL in safemed's generic format, streamed to disk."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            def phrase(k: int) -> str:
                return " ".join(rng.choice(WORDS) for _ in range(k))
            row = {"id": f"q{i:06d}",
                   "question": f"A {rng.randint(18, 90)}-year-old presents with {phrase(12)}. Which is correct?",
                   "options": {letter: phrase(6) for letter in "ABCD"},
                   "answer": rng.choice("ABCD")}
            f.write(json.dumps(row) + "\n")
    return path


# ------------------------------------------------------------------------------------------- server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Standin:
    """The running stand-in: its /v1 base URL, and its request timings."""

    url: str

    def _call(self, path: str, method: str = "GET") -> dict[str, object]:
        root = self.url.removesuffix("/v1")
        with urllib.request.urlopen(urllib.request.Request(root + path, method=method), timeout=10) as resp:
            data: dict[str, object] = json.loads(resp.read())
        return data

    def reset(self) -> None:
        self._call("/_standin/reset", "POST")

    def stats(self) -> dict[str, object]:
        return self._call("/_standin/stats")


@contextlib.contextmanager
def standin_server(latency: float, log: Path) -> Iterator[Standin]:
    """``python -m safemed.testing.standin`` in its own process; yields a :class:`Standin`."""
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-W", "ignore", "-m", "safemed.testing.standin",
                                 "--port", str(port), "--latency", str(latency)],
                                stdout=out, stderr=subprocess.STDOUT, env=child_env())
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"stand-in server exited with {proc.returncode}: {log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("stand-in server did not accept connections within 30 s") from None
                time.sleep(0.05)
        yield Standin(f"http://127.0.0.1:{port}/v1")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------------------------------ running

def child_env(extra: dict[str, str] | None = None, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every measured process: bytecode caches on, as in an ordinary install."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra or {})
    return env


@dataclass
class Run:
    """One measured process; times in seconds, from just before it was spawned."""

    wall: float
    startup: float | None  # to the first request at the stand-in
    last_reply: float | None  # to the last reply the stand-in sent
    requests_seen: int
    maxrss_mib: float
    cpu: float
    returncode: int
    log: Path

    @property
    def request_phase(self) -> float | None:
        return None if self.startup is None or self.last_reply is None else self.last_reply - self.startup

    @property
    def finish(self) -> float | None:
        return None if self.last_reply is None else self.wall - self.last_reply


def measure(cmd: list[str], server: Standin, *, env: dict[str, str], cwd: Path, log: Path,
            timeout: float) -> Run:
    """Run ``cmd`` to completion against ``server``; see the module docstring for what is timed."""
    server.reset()
    with open(log, "w") as out:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                wall = time.monotonic() - start
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                wall = time.monotonic() - start
                status = 124 << 8
                break
            time.sleep(0.002)
    proc.returncode = os.waitstatus_to_exitcode(status)
    stats = server.stats()
    first, last = stats["first_request_at"], stats["last_reply_at"]
    return Run(wall=wall, startup=None if first is None else float(str(first)) - start,
               last_reply=None if last is None else float(str(last)) - start,
               requests_seen=int(str(stats["total"])), maxrss_mib=usage.ru_maxrss / 1024,
               cpu=usage.ru_utime + usage.ru_stime, returncode=proc.returncode, log=log)


def check_ok(run: Run, tool: str) -> None:
    if run.returncode != 0:
        tail = "\n".join(run.log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"{tool} exited with {run.returncode} (log {run.log}):\n{tail}")


def safemed_exe() -> list[str]:
    exe = Path(sys.executable).with_name("safemed")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("safemed")
    if found:
        return [found]
    raise SystemExit("the `safemed` command is not installed in this environment: run from safemed's venv")


def run_safemed(server: Standin, data: Path, n: int, concurrency: int, work: Path, tag: str, timeout: float) -> Run:
    out = work / f"safemed-{tag}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [*safemed_exe(), "eval", "--model", f"openai/standin@{server.url}", "--benchmark", f"mcq:{data}",
           "--out", str(out), "--concurrency", str(concurrency), "-q"]
    env = child_env({"OPENAI_API_KEY": "sk-standin"})
    run = measure(cmd, server, env=env, cwd=work, log=work / f"safemed-{tag}.log", timeout=timeout)
    check_ok(run, "safemed")
    results = json.loads((out / "results.json").read_text())
    block = next(iter(results["benchmarks"].values()))
    if block["n"] != n or block["n_error"] or not results["complete"]:
        raise RuntimeError(f"safemed run {tag} incomplete: n={block['n']} errors={block['n_error']}")
    if run.requests_seen != n:
        raise RuntimeError(f"safemed run {tag} sent {run.requests_seen} requests, expected {n}")
    return run


# ------------------------------------------------------------------------------ reference: floor

FLOOR = '''
import asyncio, json, sys
import aiohttp

PROMPT = {prompt!r}


async def main(url, data, concurrency):
    sem = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(row):
            options = "\\n".join(f"{{k}}. {{v}}" for k, v in row["options"].items())
            body = {{"model": "standin", "temperature": 0.0, "max_tokens": 512, "messages": [
                {{"role": "user", "content": PROMPT.format(question=row["question"].strip(), options=options)}}]}}
            async with sem, session.post(url + "/chat/completions", json=body) as resp:
                return (await resp.json())["choices"][0]["message"]["content"]
        with open(data) as f:
            rows = [json.loads(line) for line in f]
        answers = await asyncio.gather(*(one(row) for row in rows))
    assert len(answers) == len(rows)


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
'''


def run_floor(server: Standin, data: Path, n: int, concurrency: int, work: Path, tag: str, timeout: float) -> Run:
    """A bare aiohttp client (no validation, cache, scoring or output): what this machine and
    server allow at best; safemed's wall-time target is a multiple of it."""
    script = work / "floor_client.py"
    script.write_text(FLOOR.format(prompt=PROMPT))
    run = measure([sys.executable, str(script), server.url, str(data), str(concurrency)], server, env=child_env(),
                  cwd=work, log=work / f"floor-{tag}.log", timeout=timeout)
    check_ok(run, "aiohttp floor")
    if run.requests_seen != n:
        raise RuntimeError(f"the floor client sent {run.requests_seen} requests, expected {n}")
    return run


# ----------------------------------------------------------------------------- comparison: lm-eval

LM_EVAL_UTILS = '''
PROMPT = {prompt!r}


def doc_to_text(doc):
    options = "\\n".join(f"{{k}}. {{v}}" for k, v in doc["options"].items() if v is not None)
    return PROMPT.format(question=doc["question"].strip(), options=options)
'''

LM_EVAL_TASK = """\
task: safemed_throughput_mcq
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: !function mcq_utils.doc_to_text
doc_to_target: answer
generation_kwargs:
  until: []
  max_gen_toks: 512
  do_sample: false
  temperature: 0.0
filter_list:
  - name: extract
    filter:
      - function: regex
        regex_pattern: "Answer: ([A-Z])"
      - function: take_first
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


def offline_env(work: Path, extra: dict[str, str]) -> dict[str, str]:
    env = child_env(base={k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")})
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HOME=str(work / "hf-home"),
               TOKENIZERS_PARALLELISM="false", NO_COLOR="1", **extra)
    return env


def run_lm_eval(venv: Path, server: Standin, data: Path, n: int, concurrency: int, work: Path, tag: str,
                timeout: float) -> Run:
    url = server.url
    tasks = work / "lm-eval-tasks"
    tasks.mkdir(exist_ok=True)
    (tasks / "mcq_utils.py").write_text(LM_EVAL_UTILS.format(prompt=PROMPT))
    (tasks / "safemed_throughput_mcq.yaml").write_text(LM_EVAL_TASK.format(data=json.dumps(str(data))))
    out = work / f"lm-eval-{tag}"
    shutil.rmtree(out, ignore_errors=True)
    model_args = ",".join([
        "model=standin", f"base_url={url}/chat/completions", f"num_concurrent={concurrency}",
        "max_retries=3", "tokenizer_backend=None", "tokenized_requests=False", "timeout=120"])
    cmd = [str(venv / "bin" / "lm_eval"), "--model", "local-chat-completions", "--model_args", model_args,
           "--apply_chat_template", "--include_path", str(tasks), "--tasks", "safemed_throughput_mcq",
           "--batch_size", "1", "--output_path", str(out), "--verbosity", "WARNING"]
    env = offline_env(work, {"OPENAI_API_KEY": "sk-standin"})
    run = measure(cmd, server, env=env, cwd=work, log=work / f"lm-eval-{tag}.log", timeout=timeout)
    check_ok(run, "lm-eval")
    results = sorted(out.rglob("results*.json"))
    if not results:
        raise RuntimeError(f"lm-eval wrote no results under {out} (log {run.log})")
    data_out = json.loads(results[-1].read_text())
    got = data_out.get("n-samples", {}).get("safemed_throughput_mcq", {}).get("effective")
    if got is not None and int(got) != n:
        raise RuntimeError(f"lm-eval evaluated {got} samples, expected {n}")
    return run


# ----------------------------------------------------------------------------- comparison: inspect

INSPECT_TASK = '''
from inspect_ai import Task, task
from inspect_ai.dataset import Sample, json_dataset
from inspect_ai.scorer import pattern
from inspect_ai.solver import generate

PROMPT = {prompt!r}
DATA = {data!r}


def record_to_sample(record):
    options = "\\n".join(f"{{k}}. {{v}}" for k, v in record["options"].items())
    return Sample(id=record["id"], input=PROMPT.format(question=record["question"].strip(), options=options),
                  target=record["answer"])


@task
def safemed_throughput_mcq():
    return Task(dataset=json_dataset(DATA, record_to_sample), solver=generate(),
                scorer=pattern(r"Answer: ([A-Z])"))
'''


def run_inspect(venv: Path, server: Standin, data: Path, n: int, concurrency: int, work: Path, tag: str,
                timeout: float) -> Run:
    url = server.url
    task_file = work / "inspect_task.py"
    task_file.write_text(INSPECT_TASK.format(prompt=PROMPT, data=str(data)))
    logs = work / f"inspect-{tag}"
    shutil.rmtree(logs, ignore_errors=True)
    # a path relative to cwd: inspect globs the task spec, and pathlib rejects absolute patterns
    cmd = [str(venv / "bin" / "inspect"), "eval", task_file.name, "--model", "openai-api/standin/standin",
           "--max-connections", str(concurrency),
           "--max-retries", "3", "--timeout", "120", "--temperature", "0", "--max-tokens", "512",
           "--no-log-samples", "--no-log-realtime", "--no-score-display", "--display", "none",
           "--log-level", "warning", "--log-dir", str(logs)]
    env = offline_env(work, {"STANDIN_API_KEY": "sk-standin", "STANDIN_BASE_URL": url,
                             "INSPECT_LOG_DIR": str(logs), "INSPECT_DISPLAY": "none"})
    run = measure(cmd, server, env=env, cwd=work, log=work / f"inspect-{tag}.log", timeout=timeout)
    check_ok(run, "inspect_ai")
    headers = sorted(logs.glob("*.json")) + sorted(logs.glob("*.eval"))
    if not headers:
        raise RuntimeError(f"inspect_ai wrote no log under {logs} (log {run.log})")
    return run


def inspect_counts(venv: Path, logs: Path) -> tuple[str, int | None]:
    """(status, completed samples) read from the newest inspect log with inspect's own reader."""
    code = ("import sys; from inspect_ai.log import list_eval_logs, read_eval_log\n"
            "log = read_eval_log(list_eval_logs(sys.argv[1])[0], header_only=True)\n"
            "print(log.status, log.results.completed_samples if log.results else -1)")
    res = subprocess.run([str(venv / "bin" / "python"), "-c", code, str(logs)], capture_output=True, text=True)
    if res.returncode != 0:
        return "unknown", None
    status, count = res.stdout.split()
    return status, int(count)


# --------------------------------------------------------------------------------------------- setup

def setup_env(venv: Path) -> None:
    """Create the comparison virtualenv: torch's CPU wheel first, then requirements-compare.txt."""
    t0 = time.perf_counter()
    if not (venv / "bin" / "python").exists():
        base_python = getattr(sys, "_base_executable", sys.executable)  # not safemed's venv
        subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    subprocess.run([*pip, TORCH_PIN], check=True)
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    print(f"compare env ready in {time.perf_counter() - t0:.0f} s: {venv}")


# --------------------------------------------------------------------------------------------- report

def median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


@dataclass
class Row:
    tool: str
    samples: int
    concurrency: int
    runs: list[Run] = field(default_factory=list)
    note: str = ""

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def startup(self) -> float | None:
        return median([r.startup for r in self.runs])

    @property
    def request_phase(self) -> float | None:
        return median([r.request_phase for r in self.runs])

    @property
    def finish(self) -> float | None:
        return median([r.finish for r in self.runs])

    @property
    def throughput(self) -> float:
        return self.samples / self.wall

    @property
    def rss(self) -> float:
        return max(r.maxrss_mib for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def ratio_to(row: Row, floor: Row) -> str:
    """``row``'s median wall time over the floor's, for runs of the same size."""
    return f"{row.wall / floor.wall:.2f}x" if floor.runs and row.samples == floor.samples else "-"


def print_table(rows: list[Row], floor: Row) -> None:
    header = ("tool", "samples", "conc.", "wall s", "start-up s", "requests s", "finish s", "samples/s",
              "wall/floor", "CPU s", "peak RSS MiB", "runs (wall s)")
    body = []
    for row in rows:
        if not row.runs:
            body.append((row.tool, str(row.samples), str(row.concurrency), *["-"] * 8, row.note))
            continue
        body.append((row.tool, str(row.samples), str(row.concurrency), seconds(row.wall), seconds(row.startup),
                     seconds(row.request_phase), seconds(row.finish), f"{row.throughput:.0f}",
                     ratio_to(row, floor), f"{row.cpu:.2f}", f"{row.rss:.0f}",
                     " ".join(f"{r.wall:.2f}" for r in row.runs) + (f"  ({row.note})" if row.note else "")))
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for b in body:
        print("  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)))
    print(line)


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=2000, help="MCQ samples in the throughput run")
    parser.add_argument("--concurrency", type=int, default=200, help="requests in flight, for every tool")
    parser.add_argument("--latency", type=float, default=0.1, help="stand-in server latency (s)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="runs of safemed and of the floor, alternating (medians are reported and checked)")
    parser.add_argument("--compare-repeats", type=int, default=3, help="runs of lm-eval and of inspect_ai")
    parser.add_argument("--memory-samples", type=int, default=50_000,
                        help="samples in the safemed peak-memory run (0: skip, and the memory target with it)")
    parser.add_argument("--skip-compare", action="store_true", help="leave out lm-eval and inspect_ai")
    parser.add_argument("--only", choices=["lm-eval", "inspect"], action="append",
                        help="compare with just this tool (repeatable)")
    parser.add_argument("--compare-env", type=Path, default=DEFAULT_ENV,
                        help=f"virtualenv with lm-eval and inspect-ai [default: {DEFAULT_ENV}]")
    parser.add_argument("--setup", action="store_true", help="create/update the compare env, then exit")
    parser.add_argument("--timeout", type=float, default=600, help="per-process time limit (s)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (data, outputs, logs)")
    args = parser.parse_args(argv)

    if args.setup:
        setup_env(args.compare_env)
        return 0

    tools = [] if args.skip_compare else (args.only or ["lm-eval", "inspect"])
    venv = args.compare_env
    if tools and not (venv / "bin" / "lm_eval").exists():
        raise SystemExit(f"no comparison env at {venv}: run `python {sys.argv[0]} --setup` first "
                         "(or --skip-compare)")

    work = Path(tempfile.mkdtemp(prefix="safemed-throughput-"))
    n, conc, latency = args.samples, args.concurrency, args.latency
    checks: list[tuple[str, bool, str]] = []
    try:
        data = write_mcq(work / f"mcq-{n}.jsonl", n)
        print(f"# {n} MCQ samples, concurrency {conc}, stand-in latency {latency * 1000:.0f} ms "
              f"(separate process; ideal {n / conc * latency:.2f} s), {os.cpu_count()} CPUs, "
              f"python {sys.version.split()[0]}, load average {load_average()}; temp dir {work}", flush=True)
        safemed = Row("safemed", n, conc)
        floor = Row("(bare aiohttp floor)", n, conc)
        rows = [safemed, floor]
        with standin_server(latency, work / "standin.log") as server:
            # untimed warm-ups: page cache, the server's code paths, bytecode caches
            run_safemed(server, data, n, conc, work, "warmup", args.timeout)
            run_floor(server, data, n, conc, work, "warmup", args.timeout)
            for i in range(args.repeats):
                pair = [(safemed, run_safemed), (floor, run_floor)]
                for row, runner in pair if i % 2 == 0 else pair[::-1]:
                    row.runs.append(runner(server, data, n, conc, work, str(i), args.timeout))
                    r = row.runs[-1]
                    print(f"  {row.tool} run {i}: wall {r.wall:.2f} s, start-up {seconds(r.startup)} s, "
                          f"requests {seconds(r.request_phase)} s, finish {seconds(r.finish)} s", flush=True)
            for tool in tools:
                row = Row({"lm-eval": "lm-eval-harness", "inspect": "inspect_ai"}[tool], n, conc)
                rows.append(row)
                compare = run_lm_eval if tool == "lm-eval" else run_inspect
                for i in range(args.compare_repeats):
                    try:
                        row.runs.append(compare(venv, server, data, n, conc, work, str(i), args.timeout))
                    except RuntimeError as exc:
                        row.note = f"failed: see {work}/{tool}-{i}.log"
                        print(f"  {tool} run {i} FAILED: {exc}", flush=True)
                        break
                    print(f"  {tool} run {i}: {row.runs[-1].wall:.2f} s", flush=True)
                if tool == "inspect" and row.runs:
                    status, count = inspect_counts(venv, work / "inspect-0")
                    if status != "success" or count != n:
                        row.note = f"inspect log: status {status}, {count} samples"
            mem: Row | None = None
            if args.memory_samples:
                big = write_mcq(work / f"mcq-{args.memory_samples}.jsonl", args.memory_samples, seed=1)
                mem = Row("safemed", args.memory_samples, conc)
                mem.runs.append(run_safemed(server, big, args.memory_samples, conc, work, "memory", args.timeout))

        print(f"\nload average after the runs: {load_average()}")
        print_table([*rows, *([mem] if mem else [])], floor)
        ratio = safemed.wall / floor.wall
        checks.append((f"safemed wall <= {MAX_WALL_RATIO:g} x the bare aiohttp client's "
                       f"({floor.wall:.2f} s) = {MAX_WALL_RATIO * floor.wall:.2f} s",
                       ratio <= MAX_WALL_RATIO, f"{safemed.wall:.2f} s ({ratio:.2f}x)"))
        startup = safemed.startup
        checks.append((f"safemed start-up (process start -> first request) <= {MAX_STARTUP_S:g} s",
                       startup is not None and startup <= MAX_STARTUP_S,
                       f"{seconds(startup)} s (floor {seconds(floor.startup)} s)"))
        if mem is not None:
            small = min(r.maxrss_mib for r in safemed.runs)
            growth = mem.rss / small
            print(f"\npeak RSS: {small:.0f} MiB at {n} samples, {mem.rss:.0f} MiB at {mem.samples} samples "
                  f"(x{growth:.2f} for x{mem.samples / n:.0f} the samples); {mem.samples} samples took "
                  f"{mem.wall:.1f} s = {mem.throughput:.0f} samples/s (ideal {mem.samples / conc * latency:.1f} s)")
            checks.append((f"safemed streams: peak RSS at {mem.samples} <= {MAX_RSS_GROWTH:g}x peak at {n}",
                           growth <= MAX_RSS_GROWTH, f"x{growth:.2f} ({mem.rss:.0f} MiB)"))
        print()
        for what, ok, got in checks:
            print(f"[{'PASS' if ok else 'FAIL'}] {what}: {got}")
        return 0 if all(ok for _, ok, _ in checks) else 1
    finally:
        if args.keep:
            print(f"\n(kept {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
