"""``interlake run-job NAME``: run a job of ``databricks.yml`` locally, its tasks in dependency order, each through
its own entry point (``python jobs/<task>.py <parameters>``) with the bundle's parameters. Stops at the first
failure with a summary, so the schedule definition is exercised, not just kept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from interlake.errors import ConfigError


def load_job(bundle: str, name: str) -> tuple[list[dict], dict]:
    try:
        doc = yaml.safe_load(Path(bundle).read_text())
    except OSError as exc:
        raise ConfigError(f"--bundle {bundle}: cannot read it ({exc.strerror})") from None
    jobs = (doc.get("resources") or {}).get("jobs") or {}
    if name not in jobs:
        raise ConfigError(f"{bundle}: no job named {name!r}; jobs there: {', '.join(jobs) or 'none'}")
    variables = {k: (v or {}).get("default") for k, v in (doc.get("variables") or {}).items()}
    return jobs[name].get("tasks") or [], variables


def task_order(tasks: list[dict]) -> list[dict]:
    """Topological order (stable by position); a cycle or an unknown dependency is a ConfigError."""
    by_key = {t["task_key"]: t for t in tasks}
    deps = {t["task_key"]: [d["task_key"] for d in t.get("depends_on") or []] for t in tasks}
    for key, ds in deps.items():
        for d in ds:
            if d not in by_key:
                raise ConfigError(f"task {key!r} depends on unknown task {d!r}")
    order, done = [], set()
    while len(order) < len(tasks):
        ready = [t for t in tasks if t["task_key"] not in done and all(d in done for d in deps[t["task_key"]])]
        if not ready:
            raise ConfigError(f"tasks {sorted(set(by_key) - done)} depend on each other in a cycle")
        order.append(ready[0])
        done.add(ready[0]["task_key"])
    return order


def _substitute(value: str, variables: dict) -> str:
    for k, v in variables.items():
        value = value.replace("${var." + k + "}", str(v))
    return value


def run_job(name: str, *, conf: str | None = None, bundle: str | None = None) -> int:
    root = Path(__file__).resolve().parents[2]
    bundle = bundle or str(root / "databricks.yml")
    tasks, variables = load_job(bundle, name)
    if conf:
        variables["conf"] = conf
    base = Path(bundle).resolve().parent
    results = []
    for task in task_order(tasks):
        spec = task.get("spark_python_task") or {}
        script = base / spec.get("python_file", "")
        params = [_substitute(str(p), variables) for p in spec.get("parameters") or []]
        params = [p for p in params if p not in ("--log-format", "json")] if sys.stderr.isatty() else params
        print(f"[{name}] task {task['task_key']}: python {script.relative_to(base)} {' '.join(params)}", flush=True)
        started = time.time()
        proc = subprocess.run([sys.executable, str(script), *params], env=os.environ.copy())
        results.append((task["task_key"], proc.returncode, time.time() - started))
        if proc.returncode != 0:
            break
    skipped = [t["task_key"] for t in task_order(tasks)][len(results):]
    for key, code, secs in results:
        print(f"[{name}] {key:<12} {'ok' if code == 0 else f'FAILED (exit {code})':<16} {secs:6.1f}s")
    for key in skipped:
        print(f"[{name}] {key:<12} skipped (an earlier task failed)")
    failed = [k for k, c, _ in results if c != 0]
    print(f"job {name}: {'FAILED at ' + failed[0] if failed else 'ok'}; {len(results)} of {len(tasks)} tasks ran")
    return 1 if failed else 0
