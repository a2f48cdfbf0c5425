"""``interlake run-job NAME``: run a job of ``databricks.yml`` locally, its tasks in dependency order, each through
its own entry point (``python jobs/<task>.py <parameters>``) with the bundle's parameters. Stops at the first
failure with a summary, so the schedule definition is exercised, not just kept.

Ctrl-C (and SIGTERM) reach the running task once each, as they reach a job started on its own: the task stops the way
its job does (ingest at its next Spark action, the trending query after the batch in progress; a second Ctrl-C at
once), ``run-job`` waits for it, starts no further task and says so. The task runs in a session of its own, so the
terminal's Ctrl-C goes to ``run-job`` alone and is passed on once: delivered to both, the task would take it twice
(its "stop at once"). When ``run-job`` itself is killed (SIGKILL, as a scheduler's timeout does), the task is sent
a Ctrl-C by the kernel (Linux: ``PR_SET_PDEATHSIG``) and stops as above, rather than run on unwatched."""

from __future__ import annotations

import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from interlake.config import yaml_error, yaml_text
from interlake.errors import ConfigError


def load_job(bundle: str, name: str) -> tuple[list[dict], dict]:
    """The job's tasks and the bundle's variables (their defaults), the bundle's shape checked: each mistake is one
    line naming where it is in the file, as a config's are."""
    try:
        raw = Path(bundle).read_bytes()
    except OSError as exc:
        raise ConfigError(f"--bundle {bundle}: cannot read it ({exc.strerror})") from None
    text = yaml_text(bundle, raw)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise yaml_error(bundle, exc) from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{bundle}: is not a bundle: expected a mapping with resources.jobs.<name>.tasks (as "
                          "databricks.yml has), found " + ("nothing" if doc is None else f"a {type(doc).__name__}"))
    resources = doc.get("resources") or {}
    jobs = resources.get("jobs") if isinstance(resources, dict) else None
    jobs = jobs if isinstance(jobs, dict) else {}
    if name not in jobs:
        raise ConfigError(f"{bundle}: no job named {name!r}; jobs there: {', '.join(map(str, jobs)) or 'none'}")
    job = jobs[name] if isinstance(jobs[name], dict) else {}
    tasks = job.get("tasks") or []
    where = f"{bundle}: resources.jobs.{name}.tasks"
    if not isinstance(tasks, list) or not tasks:
        raise ConfigError(f"{where}: expected a list of tasks (each with task_key and spark_python_task)")
    for i, task in enumerate(tasks):
        if not isinstance(task, dict) or not isinstance(task.get("task_key"), str) or not task["task_key"]:
            raise ConfigError(f"{where}[{i}]: a task needs a task_key (its name)")
        deps = task.get("depends_on") or []
        if not isinstance(deps, list) or not all(isinstance(d, dict) and isinstance(d.get("task_key"), str)
                                                 for d in deps):
            raise ConfigError(f"{where}[{i}] ({task['task_key']}).depends_on: expected a list of "
                              "{task_key: <name>}, as in depends_on: [{task_key: ingest}]")
    keys = [t["task_key"] for t in tasks]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ConfigError(f"{where}: task_key {twice[0]!r} is given to more than one task")
    declared = doc.get("variables") or {}
    if not isinstance(declared, dict):
        raise ConfigError(f"{bundle}: variables: expected a mapping of name: {{default: ...}}")
    variables = {k: (v.get("default") if isinstance(v, dict) else None) for k, v in declared.items()}
    return tasks, variables


def plan_tasks(bundle: str, name: str, tasks: list[dict], variables: dict, base: Path) -> list[tuple[str, Path, list]]:
    """(task, script, parameters) of each task in running order, everything a task needs checked before the first
    starts: a job must not stop half-way on a mistake its bundle had from the start."""
    try:
        ordered = task_order(tasks)
    except ConfigError as exc:
        raise ConfigError(f"{bundle}: job {name!r}: {exc}") from None
    planned = []
    for task in ordered:
        key = task["task_key"]
        where = f"{bundle}: task {key!r} of job {name!r}"
        spec = task.get("spark_python_task")
        if not isinstance(spec, dict) or not spec.get("python_file"):
            kinds = [k for k in task if k.endswith("_task")]
            raise ConfigError(f"{where}: run-job runs spark_python_task tasks (python_file, parameters); this one "
                              + (f"has {kinds[0]}" if kinds else "has no spark_python_task with a python_file"))
        script = base / str(spec["python_file"])
        if not script.is_file():
            raise ConfigError(f"{where}: python_file {spec['python_file']} does not exist (paths are relative to the "
                              f"bundle's folder, {base})")
        params = spec.get("parameters") or []
        if not isinstance(params, list):
            raise ConfigError(f"{where}: parameters: expected a list, as in [\"--conf\", \"${{var.conf}}\"]")
        planned.append((key, script, [_substitute(str(p), variables, where) for p in params]))
    return planned


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


_REFERENCE = re.compile(r"\$\{([^}]*)\}")


def _substitute(value: str, variables: dict, where: str = "") -> str:
    """``${var.NAME}`` replaced by the variable's value; any other reference (``${bundle.name}``, a variable the bundle
    does not declare or gives no value) is an error, not passed on as its text."""
    def one(m: re.Match) -> str:
        ref = m.group(1)
        if not ref.startswith("var."):
            raise ConfigError(f"{where}: parameter {value!r}: run-job replaces only ${{var.NAME}}, not ${{{ref}}}")
        var = ref[len("var."):]
        if var not in variables:
            raise ConfigError(f"{where}: parameter {value!r}: the bundle declares no variable {var!r} (variables: "
                              f"{', '.join(variables) or 'none'})")
        if variables[var] is None:
            raise ConfigError(f"{where}: parameter {value!r}: variable {var!r} has no default"
                              + ("; pass --conf PATH" if var == "conf" else "; give it a default in the bundle"))
        return str(variables[var])

    return _REFERENCE.sub(one, value)


FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Forwarder:
    """While ``run-job`` runs: a signal it receives is noted (no further task starts) and passed on to the task
    running, if any. Python's ``subprocess.run`` killed the task a quarter of a second after a Ctrl-C instead."""

    def __init__(self) -> None:
        self.signals: list[int] = []
        self.unsent: list[int] = []  # received while no task ran
        self.task: subprocess.Popen | None = None

    def __enter__(self) -> Forwarder:
        main = threading.current_thread() is threading.main_thread()  # signals reach the main thread only
        self.before = {s: signal.signal(s, self.forward) for s in FORWARDED} if main else {}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self.before.items():
            signal.signal(s, handler)

    def forward(self, signum, frame) -> None:
        self.signals.append(signum)
        task = self.task
        if task is None:  # between tasks (no task starts after one) or while one starts: run() passes it on
            self.unsent.append(signum)
            return
        try:
            task.send_signal(signum)
        except ProcessLookupError:  # it has ended meanwhile
            pass

    def run(self, cmd: list[str]) -> int:
        self.task = subprocess.Popen(cmd, env=os.environ.copy(), start_new_session=True,
                                     preexec_fn=_interrupt_when_parent_dies(os.getpid()))
        try:
            # each signal passed on once: those received while it started here, those from now on by forward().
            # Before 2026-12-06 every signal received so far was sent here again, so a Ctrl-C that arrived just
            # after the process had started reached the task twice: a second Ctrl-C, which stops a job at once.
            while self.unsent:
                self.task.send_signal(self.unsent.pop(0))
            return self.task.wait()
        finally:
            self.task = None


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _interrupt_when_parent_dies(parent: int):
    """For the task's process before it starts (Linux): the kernel sends it SIGINT when ``run-job`` dies, even by
    SIGKILL, where no handler of ours runs; before 2026-12-02 the task ran on unwatched, holding its run lock. None
    elsewhere (the task then outlives a killed ``run-job``)."""
    if not sys.platform.startswith("linux"):
        return None

    def preexec() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)
        if os.getppid() != parent:  # run-job died before the setting took hold
            os.kill(os.getpid(), signal.SIGINT)
    return preexec


def _run_tasks(name: str, planned: list[tuple[str, Path, list]], base: Path, forwarder: Forwarder) -> list[tuple]:
    """(task, exit code, seconds) of each task run: up to the first that fails or is interrupted."""
    results = []
    for key, script, params in planned:
        if forwarder.signals:  # received between two tasks
            break
        params = [p for p in params if p not in ("--log-format", "json")] if sys.stderr.isatty() else params
        print(f"[{name}] task {key}: python {os.path.relpath(script, base)} {' '.join(params)}", flush=True)
        started = time.time()
        code = forwarder.run([sys.executable, str(script), *params])
        results.append((key, code, time.time() - started))
        if code != 0 or forwarder.signals:
            break
    return results


def run_job(name: str, *, conf: str | None = None, bundle: str | None = None) -> int:
    root = Path(__file__).resolve().parents[2]
    bundle = bundle or str(root / "databricks.yml")
    tasks, variables = load_job(bundle, name)
    if conf:
        variables["conf"] = conf
    base = Path(bundle).resolve().parent
    planned = plan_tasks(bundle, name, tasks, variables, base)
    with Forwarder() as forwarder:
        results = _run_tasks(name, planned, base, forwarder)
    signals = forwarder.signals
    skipped = [key for key, _, _ in planned][len(results):]
    for key, code, secs in results:
        status = "ok" if code == 0 else f"interrupted (exit {code})" if signals else f"FAILED (exit {code})"
        print(f"[{name}] {key:<12} {status:<16} {secs:6.1f}s")
    for key in skipped:
        print(f"[{name}] {key:<12} skipped ({'interrupted' if signals else 'an earlier task failed'})")
    failed = [k for k, c, _ in results if c != 0]
    if signals:
        last = results[-1][0] if results else None
        if last and not failed and not skipped:  # the last task stopped on request (a continuous query), ended well
            print(f"job {name}: ok, {last} stopped on request; {len(results)} of {len(tasks)} tasks ran")
            return 0
        where = f"at {last}" if failed else f"after {last}" if last else "before its first task"
        print(f"job {name}: interrupted {where}; {len(results)} of {len(tasks)} tasks ran")
        return 130
    print(f"job {name}: {'FAILED at ' + failed[0] if failed else 'ok'}; {len(results)} of {len(tasks)} tasks ran")
    return 1 if failed else 0
