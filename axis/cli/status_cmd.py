"""`axis facts` (this machine) and `axis status` (every host, fresh or `--cached`).

With a controller running on the state DB, `axis status` asks it for the document (it observes
the hosts over its open connections and stores what it saw) and only renders it here: that path
loads neither the state DB's modules nor SSH's, which the direct path imports when it runs.
"""

from __future__ import annotations

import typer

from axis.cli.context import app_context
from axis.cli.controller_path import warm_status
from axis.cli.output import Format, emit, print_table


def facts(
    output: Format = typer.Option(Format.table, "-o", "--output", help="table, json or yaml"),
) -> None:
    """Facts of this machine, gathered by the same script axis runs on every host (no SSH)."""
    import asyncio

    from axis.app.observed import summary
    from axis.drivers.facts import collect_local
    from axis.specs.units import human_size

    local = asyncio.run(collect_local())
    if output in (Format.json, Format.yaml):
        emit(local.model_dump(mode="json"), output)
        return
    row = summary(local)
    fields = [("hostname", local.hostname), ("status", local.status), ("os", row["os"]),
              ("kernel", local.os.kernel if local.os else None), ("arch", local.os.arch if local.os else None),
              ("cpu", f"{local.cpu.model} ({local.cpu.cores} cores)" if local.cpu else None),
              ("load", f"{local.load.load1} {local.load.load5} {local.load.load15}" if local.load else None),
              ("memory", f"{row['ram']} used, pressure {row['pressure']}"), ("gpu", row["gpu"]),
              ("root disk", row["disk"]), ("sudo", row["sudo"]), ("memory cap", row["memoryEnforcement"]),
              ("swap", f"{human_size(local.swap.used_bytes)}/{human_size(local.swap.total_bytes)}" if local.swap else None),
              ("init", local.init_system),
              ("tools", " ".join(sorted(t for t, p in local.tools.items() if p)) or None)]
    fields += [(f"missing {k}", v) for k, v in sorted(local.missing.items())]
    print_table(["FACT", "VALUE"], fields)


def status(
    ctx: typer.Context,
    output: Format = typer.Option(Format.table, "-o", "--output", help="table, json or yaml"),
    cached: bool = typer.Option(False, "--cached", help="read the state DB only; no SSH"),
    jobs: int = typer.Option(32, "--jobs", "-j", min=1, help="hosts observed at once"),
    timeout: float = typer.Option(30.0, "--timeout", help="seconds per host, connect included"),
) -> None:
    """Cluster snapshot: every host's status and facts, and cluster totals."""
    app = app_context(ctx)
    snapshot = None if cached else warm_status(app, jobs=jobs, timeout=timeout)
    if snapshot is None:
        if not cached:
            from axis.app.observe import observe_hosts
            from axis.cli.progress import fleet_progress

            observe_hosts(app, jobs=jobs, timeout=timeout, progress=lambda total: fleet_progress(total, "observing"))
        # imported here: a fresh observation loads it while its hosts answer (axis.app.observe.AFTER_OBSERVING)
        from axis.app.queries import cluster_status

        snapshot = cluster_status(app)
    rows, totals = snapshot["hosts"], snapshot["totals"]
    if output in (Format.json, Format.yaml):
        emit(snapshot, output)
        return
    from axis.specs.units import human_size  # pydantic's: a warm `-o json` never loads it

    print_table(["NAME", "STATUS", "OS", "CORES", "LOAD", "RAM", "PRESSURE", "GPU", "DISK", "AGE", "REASON"],
                [[r["name"], r["status"], *(r["summary"].get(k) for k in ("os", "cores", "load", "ram", "pressure", "gpu", "disk")),
                  r["age"], r["reason"]] for r in rows])
    typer.echo(f"\n{totals['reachable']}/{totals['hosts']} hosts reachable · {totals['cores']} cores · "
               f"memory {human_size(totals['memoryAvailableBytes'])} available of {human_size(totals['memoryTotalBytes'])} · "
               f"{totals['gpus']} GPU(s)")

