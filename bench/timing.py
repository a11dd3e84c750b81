"""Running and timing the benchmark's commands: one Figure (samples with the machine's load and
the CPU seconds spent) per measured thing, tools interleaved repetition by repetition."""

from __future__ import annotations

import os
import resource
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class BenchError(RuntimeError):
    """A tool failed or answered wrongly: the figure would be meaningless."""


@dataclass
class Figure:
    """Samples (seconds or MiB) of one measured thing."""

    name: str
    command: str
    unit: str = "s"
    samples: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)  # 1-min load average before each sample
    cpu_client: list[float] = field(default_factory=list)  # CPU seconds of the tool's processes
    cpu_hosts: list[float] = field(default_factory=list)  # CPU seconds used inside the test hosts
    extra: dict[str, Any] = field(default_factory=dict)
    #: CPU seconds so far of a running process that does this tool's work for it (the warm
    #: group's controller), counted into cpu_client: its children's CPU alone would miss it.
    server_cpu: Callable[[], float] | None = field(default=None, repr=False)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def best(self) -> float:
        return min(self.samples)

    def as_json(self) -> dict[str, Any]:
        out = {"command": self.command, "unit": self.unit, "median": round(self.median, 4),
               "min": round(min(self.samples), 4), "max": round(max(self.samples), 4),
               "samples": [round(s, 4) for s in self.samples], "load1_before": self.load}
        if self.cpu_client:
            out["cpu_seconds_client_median"] = round(statistics.median(self.cpu_client), 3)
            out["cpu_seconds_client"] = [round(c, 3) for c in self.cpu_client]
        if self.cpu_hosts:
            out["cpu_seconds_hosts_median"] = round(statistics.median(self.cpu_hosts), 3)
            out["cpu_seconds_hosts"] = [round(c, 3) for c in self.cpu_hosts]
        return {**out, **self.extra}


def run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 600) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall seconds of the whole command as a user runs it (start-up included), and its output."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - started, proc


def checked(cmd: list[str], **kwargs: Any) -> tuple[float, subprocess.CompletedProcess[str]]:
    """`run`, raising BenchError with the output's tail when the command fails."""
    took, proc = run(cmd, **kwargs)
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip())[-2000:]
        raise BenchError(f"`{' '.join(cmd)}` exited {proc.returncode}:\n{tail}")
    return took, proc


def checked_stoppable(cmd: list[str], *, timeout: float, grace: float = 60.0) -> subprocess.CompletedProcess[str]:
    """`checked` for a script that starts test hosts of its own: it runs in a session of its own
    (a Ctrl-C at the terminal reaches only the bench), and when the bench is interrupted or the
    timeout passes, it gets one SIGINT and `grace` seconds to stop its hosts before SIGKILL."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        raise
    if proc.returncode != 0:
        raise BenchError(f"`{' '.join(cmd)}` exited {proc.returncode}:\n{(err.strip() or out.strip())[-2000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def load1() -> float:
    """The 1-minute load average, recorded with every sample: the hosts share these cores."""
    return round(os.getloadavg()[0], 2)


def children_cpu() -> float:
    """CPU seconds of every finished child process (and the descendants they waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """CPU seconds of a running process so far (all its threads, and its children it waited for)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def measure(figures: list[tuple[Figure, Callable[[], float]]], reps: int, *,
            hosts_cpu: Callable[[], float] | None, warmup: bool = True) -> None:
    """Warm every tool up once, then `reps` rounds, each tool once per round (interleaved).

    Besides wall time, each run's CPU seconds: the tool's own processes (client: the finished
    children, plus the figure's `server_cpu`) and, with `hosts_cpu`, everything that ran inside
    the test hosts (sshd, shells, probes). On this shared 2-core machine the wall time follows
    the load; the CPU seconds barely do."""
    if warmup:
        for figure, once in figures:
            print(f"  warm-up: {figure.name}", flush=True)
            once()
    for rep in range(reps):
        for figure, once in figures:
            figure.load.append(load1())
            server_cpu = figure.server_cpu or (lambda: 0.0)
            client = children_cpu() + server_cpu()
            hosts = hosts_cpu() if hosts_cpu else 0.0
            figure.samples.append(once())
            if hosts_cpu:
                time.sleep(0.2)  # let the hosts finish closing the sessions before reading their CPU
            figure.cpu_client.append(children_cpu() + server_cpu() - client)
            in_hosts = ""
            if hosts_cpu:
                figure.cpu_hosts.append(hosts_cpu() - hosts)
                in_hosts = f", hosts {figure.cpu_hosts[-1]:6.2f} s"
            print(f"  rep {rep + 1}/{reps}: {figure.name:28s} {figure.samples[-1]:7.3f} {figure.unit}"
                  f"   cpu: client {figure.cpu_client[-1]:6.2f} s{in_hosts}   (load {figure.load[-1]})", flush=True)

