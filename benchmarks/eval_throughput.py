#!/usr/bin/env python
"""End-to-end MCQ evaluation throughput: safemed vs lm-eval-harness vs inspect_ai.

What it measures
----------------
The project's throughput requirement: against a local OpenAI-compatible stand-in server on
127.0.0.1 that answers after a fixed latency (100 ms), evaluating N multiple-choice samples
(2,000) at concurrency C (200) with ``safemed eval`` must take, end to end (process start to
``results.json`` written and the process gone),

    wall  <=  1.5 x ideal + 1.5 s,   ideal = N / C x latency,

and safemed's throughput (samples/s) must be at least 1.3x lm-eval-harness's and 30x inspect_ai's,
measured in the same script run against the same server on an equivalent task (the same JSONL, the
same prompt text, one chat completion per sample, the answer letter extracted by a regex and scored
by exact match), each at its best honest concurrency setting:

* safemed:  ``safemed eval --model openai/standin@URL --benchmark mcq:FILE --concurrency C -q``
* lm-eval:  ``lm_eval --model local-chat-completions --model_args base_url=URL/chat/completions,
  num_concurrent=C,tokenizer_backend=None,... --apply_chat_template --tasks <custom YAML task>``
* inspect:  ``inspect eval task.py --model openai-api/standin/standin --max-connections C
  --no-log-samples --no-log-realtime --no-score-display --display none ...`` (samples are not
  capped: every sample may be in flight, connections are capped at C; the task file and the logs
  live in the temp dir)

It also runs safemed on a large file (50,000 samples) and reports its peak RSS next to the
N-sample run's: evaluation must stream (peak memory must not grow with the dataset; the script
fails the check when the 50k peak exceeds 3x the small run's peak, i.e. far below the 25x that
holding everything would cost).

Why a separate server process: the stand-in (``python -m safemed.testing.standin``) runs in its own
process so the measured client never shares its GIL (or its event loop) with the server. Wall
times come from ``time.perf_counter()`` around ``Popen`` ... ``wait4``; peak RSS is the child's
``ru_maxrss`` from ``os.wait4`` (exact, no polling). Each tool gets a fresh output directory per run.

Offline: nothing may be fetched at run time. The comparison tools run with ``HF_HUB_OFFLINE=1``,
``HF_DATASETS_OFFLINE=1``, a private ``HF_HOME`` inside the temp dir, and tasks built from the local
JSONL (lm-eval's ``json`` dataset builder ships with ``datasets``; no tokenizer is loaded).

How to run
----------
From the repository root, with safemed's virtualenv active::

    . .venv/bin/activate
    # one-off: create the comparison virtualenv (torch CPU wheel first, then the pinned tools)
    python benchmarks/eval_throughput.py --setup
    # the measurement (about 2-3 minutes on a 2-core machine; --skip-compare: safemed only, ~30 s)
    python benchmarks/eval_throughput.py
    python benchmarks/eval_throughput.py --skip-compare --memory-samples 0   # quickest check

The comparison virtualenv lives outside the work tree by default
(``~/.cache/safemed-bench/compare-env``; ``--compare-env`` to change). ``--setup`` does::

    python3 -m venv ENV
    ENV/bin/pip install torch==2.13.0                     # CPU wheel; else lm-eval pulls CUDA (GBs)
    ENV/bin/pip install -r benchmarks/requirements-compare.txt

The exit status is 0 when every target that was measured passed, 1 otherwise.
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
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements-compare.txt"
DEFAULT_ENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "safemed-bench" / "compare-env"
TORCH_PIN = "torch==2.13.0"

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


@contextlib.contextmanager
def standin_server(latency: float, log: Path):
    """``python -m safemed.testing.standin`` in its own process; yields its /v1 base URL."""
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-W", "ignore", "-m", "safemed.testing.standin",
                                 "--port", str(port), "--latency", str(latency)],
                                stdout=out, stderr=subprocess.STDOUT)
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
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------------------------------ running

@dataclass
class Run:
    """One measured process."""

    wall: float
    maxrss_mib: float
    cpu: float
    returncode: int
    log: Path


def measure(cmd: list[str], *, env: dict[str, str] | None, cwd: Path, log: Path, timeout: float) -> Run:
    """Run ``cmd`` to completion; wall time from just before spawn to reaping; peak RSS from wait4."""
    with open(log, "w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                wall = time.perf_counter() - start
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                wall = time.perf_counter() - start
                status = 124 << 8
                break
            time.sleep(0.002)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(wall=wall, maxrss_mib=usage.ru_maxrss / 1024, cpu=usage.ru_utime + usage.ru_stime,
               returncode=proc.returncode, log=log)


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


def run_safemed(url: str, data: Path, n: int, concurrency: int, work: Path, tag: str, timeout: float) -> Run:
    out = work / f"safemed-{tag}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [*safemed_exe(), "eval", "--model", f"openai/standin@{url}", "--benchmark", f"mcq:{data}",
           "--out", str(out), "--concurrency", str(concurrency), "-q"]
    env = {**os.environ, "OPENAI_API_KEY": "sk-standin"}
    run = measure(cmd, env=env, cwd=work, log=work / f"safemed-{tag}.log", timeout=timeout)
    check_ok(run, "safemed")
    results = json.loads((out / "results.json").read_text())
    block = next(iter(results["benchmarks"].values()))
    if block["n"] != n or block["n_error"] or not results["complete"]:
        raise RuntimeError(f"safemed run {tag} incomplete: n={block['n']} errors={block['n_error']}")
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


def run_floor(url: str, data: Path, concurrency: int, work: Path, tag: str, timeout: float) -> Run:
    """A bare aiohttp client (no validation, cache, scoring or output): what this machine and
    server allow at best, for reading the other rows; not one of the targets."""
    script = work / "floor_client.py"
    script.write_text(FLOOR.format(prompt=PROMPT))
    run = measure([sys.executable, str(script), url, str(data), str(concurrency)], env=None, cwd=work,
                  log=work / f"floor-{tag}.log", timeout=timeout)
    check_ok(run, "aiohttp floor")
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
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HOME=str(work / "hf-home"),
               TOKENIZERS_PARALLELISM="false", NO_COLOR="1", **extra)
    return env


def run_lm_eval(venv: Path, url: str, data: Path, n: int, concurrency: int, work: Path, tag: str,
                timeout: float) -> Run:
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
    run = measure(cmd, env=env, cwd=work, log=work / f"lm-eval-{tag}.log", timeout=timeout)
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


def run_inspect(venv: Path, url: str, data: Path, n: int, concurrency: int, work: Path, tag: str,
                timeout: float) -> Run:
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
    run = measure(cmd, env=env, cwd=work, log=work / f"inspect-{tag}.log", timeout=timeout)
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
    def throughput(self) -> float:
        return self.samples / self.wall

    @property
    def rss(self) -> float:
        return max(r.maxrss_mib for r in self.runs)


def print_table(rows: list[Row], reference: Row) -> None:
    header = ("tool", "samples", "conc.", "wall s", "samples/s", "safemed/tool", "peak RSS MiB", "runs (wall s)")
    body = []
    for row in rows:
        if not row.runs:
            body.append((row.tool, str(row.samples), str(row.concurrency), "-", "-", "-", "-", row.note))
            continue
        ratio = reference.throughput / row.throughput
        body.append((row.tool, str(row.samples), str(row.concurrency), f"{row.wall:.2f}", f"{row.throughput:.0f}",
                     f"{ratio:.2f}x", f"{row.rss:.0f}",
                     " ".join(f"{r.wall:.2f}" for r in row.runs)))
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for b in body:
        print("  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)))
    print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=2000, help="MCQ samples in the throughput run")
    parser.add_argument("--concurrency", type=int, default=200, help="requests in flight, for every tool")
    parser.add_argument("--latency", type=float, default=0.1, help="stand-in server latency (s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per tool (the median wall time is reported; every run is listed)")
    parser.add_argument("--memory-samples", type=int, default=50_000,
                        help="samples in the safemed peak-memory run (0: skip)")
    parser.add_argument("--skip-compare", action="store_true", help="measure safemed only")
    parser.add_argument("--only", choices=["lm-eval", "inspect"], action="append",
                        help="compare with just this tool (repeatable)")
    parser.add_argument("--compare-env", type=Path, default=DEFAULT_ENV,
                        help=f"virtualenv with lm-eval and inspect-ai [default: {DEFAULT_ENV}]")
    parser.add_argument("--setup", action="store_true", help="create/update the compare env, then exit")
    parser.add_argument("--startup-allowance", type=float, default=1.5, help="seconds of start-up allowed")
    parser.add_argument("--timeout", type=float, default=600, help="per-process time limit (s)")
    parser.add_argument("--no-floor", action="store_true",
                        help="skip the reference row: a bare aiohttp client doing only the HTTP calls")
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
    ideal = n / conc * latency
    limit = 1.5 * ideal + args.startup_allowance
    checks: list[tuple[str, bool, str]] = []
    try:
        data = write_mcq(work / f"mcq-{n}.jsonl", n)
        print(f"# {n} MCQ samples, concurrency {conc}, stand-in latency {latency * 1000:.0f} ms "
              f"(separate process), {os.cpu_count()} CPUs, python {sys.version.split()[0]}; temp dir {work}")
        safemed = Row("safemed", n, conc)
        rows = [safemed]
        with standin_server(latency, work / "standin.log") as url:
            # one untimed warm-up so every tool meets a server whose code paths are hot and
            # OS page cache holds the interpreters' files (the same for all tools)
            run_safemed(url, data, n, conc, work, "warmup", args.timeout)
            for i in range(args.repeats):
                safemed.runs.append(run_safemed(url, data, n, conc, work, str(i), args.timeout))
                print(f"  safemed run {i}: {safemed.runs[-1].wall:.2f} s", flush=True)
            if not args.no_floor:
                floor = Row("(bare aiohttp floor)", n, conc)
                for i in range(args.repeats):
                    floor.runs.append(run_floor(url, data, conc, work, str(i), args.timeout))
                    print(f"  bare aiohttp client run {i}: {floor.runs[-1].wall:.2f} s", flush=True)
            for tool in tools:
                row = Row({"lm-eval": "lm-eval-harness", "inspect": "inspect_ai"}[tool], n, conc)
                rows.append(row)
                runner = run_lm_eval if tool == "lm-eval" else run_inspect
                for i in range(args.repeats):
                    try:
                        row.runs.append(runner(venv, url, data, n, conc, work, str(i), args.timeout))
                    except RuntimeError as exc:
                        row.note = f"failed: see {work}/{tool}-{i}.log"
                        print(f"  {tool} run {i} FAILED: {exc}", flush=True)
                        break
                    print(f"  {tool} run {i}: {row.runs[-1].wall:.2f} s", flush=True)
                if tool == "inspect" and row.runs:
                    status, count = inspect_counts(venv, work / "inspect-0")
                    if status != "success" or count != n:
                        row.note = f"inspect log: status {status}, {count} samples"
            mem_rows: list[Row] = []
            if args.memory_samples:
                big = write_mcq(work / f"mcq-{args.memory_samples}.jsonl", args.memory_samples, seed=1)
                mem = Row("safemed", args.memory_samples, conc)
                mem.runs.append(run_safemed(url, big, args.memory_samples, conc, work, "memory", args.timeout))
                mem_rows.append(mem)

        print()
        print_table(rows if args.no_floor else [*rows, floor], safemed)
        checks.append((f"safemed wall <= 1.5 x ideal ({ideal:.2f} s) + {args.startup_allowance:g} s = {limit:.2f} s",
                       safemed.wall <= limit, f"{safemed.wall:.2f} s ({safemed.wall / ideal:.2f}x ideal)"))
        targets = {"lm-eval-harness": 1.3, "inspect_ai": 30.0}
        for row in rows[1:]:
            want = targets[row.tool]
            if row.runs:
                ratio = safemed.throughput / row.throughput
                checks.append((f"safemed throughput >= {want:g}x {row.tool}", ratio >= want, f"{ratio:.2f}x"))
            else:
                checks.append((f"safemed throughput >= {want:g}x {row.tool}", False, row.note or "not measured"))
        for mem in mem_rows:
            small = min(r.maxrss_mib for r in safemed.runs)
            growth = mem.rss / small
            print(f"\npeak RSS: {small:.0f} MiB at {n} samples, {mem.rss:.0f} MiB at {mem.samples} samples "
                  f"(x{growth:.2f} for x{mem.samples / n:.0f} the samples); {mem.samples} samples took "
                  f"{mem.wall:.1f} s = {mem.throughput:.0f} samples/s (ideal {mem.samples / conc * latency:.1f} s)")
            checks.append((f"safemed streams: peak RSS at {mem.samples} <= 3x peak at {n}", growth <= 3.0,
                           f"x{growth:.2f} ({mem.rss:.0f} MiB)"))
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
