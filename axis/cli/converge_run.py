"""Running a converge pass from the command line: the same pass, with a progress line."""

from __future__ import annotations

import asyncio

from axis.cli.context import AppContext
from axis.cli.progress import fleet_progress
from axis.reconcile.apply_pass import Applied, Stored, finish


def run_pass(app: AppContext, stored: Stored, *, jobs: int) -> Applied:
    label = "planning" if stored.dry_run else "converging"
    with fleet_progress(len(stored.work), label) as tick:
        return asyncio.run(finish(app.db(), app.ssh, stored, jobs=jobs, on_done=lambda _o: tick()))
