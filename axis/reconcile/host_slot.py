"""One host's place in the controller's queue: when it is due, its failures in a row (which set
its backoff), the pass running now, whether its spec changed while that pass ran, and the
ownership token its last pass ran under (a host granted anew, after another controller held it,
is due at once: a killed controller's hosts are passed when taken over, not at their next resync)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from axis.reconcile.supervisor import doubling

BACKOFF_BASE = 5.0
BACKOFF_CAP = 300.0


@dataclass
class Slot:
    due: float
    failures: int = 0
    task: asyncio.Task[None] | None = None
    again: bool = False  # the spec changed while a pass was running: run once more right after
    token: int = 0  # the ownership token of its last pass (`axis.state.ownership`)

    def failed(self) -> float:
        """One more failed pass in a row: due again after the backoff, returned."""
        self.failures += 1
        delay = backoff(self.failures)
        self.due = time.time() + delay
        return delay


def backoff(failures: int) -> float:
    """A host's retry delay after `failures` failed passes in a row: 5 s doubling to 5 minutes."""
    return doubling(BACKOFF_BASE, BACKOFF_CAP, failures)
