"""One host's place in the controller's queue: when it is due, its failures in a row (which set
its backoff), the pass running now, whether its spec changed while that pass ran, and the
ownership token its last pass ran under (a host granted anew, after another controller held it,
is due at once: a killed controller's hosts are passed when taken over, not at their next resync).

A pass runs until its `halt` is set: when the controller stops, or when this controller's grant
for the host lapses (`lapse`): the step in flight finishes and no other starts, so a pass does
not go on changing a host that another controller may now be passing (its record is fenced anyway)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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
    halt: asyncio.Event = field(default_factory=asyncio.Event)  # its pass's stop

    def lapse(self, token: int | None) -> None:
        """Halt the pass in flight unless the host is still held with its token (`token`: what
        this controller holds it with now, None when its grant is not in force)."""
        if self.task is not None and token != self.token:
            self.halt.set()

    def failed(self) -> float:
        """One more failed pass in a row: due again after the backoff, returned."""
        self.failures += 1
        delay = backoff(self.failures)
        self.due = time.time() + delay
        return delay


def backoff(failures: int) -> float:
    """A host's retry delay after `failures` failed passes in a row: 5 s doubling to 5 minutes."""
    return doubling(BACKOFF_BASE, BACKOFF_CAP, failures)


class Slots(dict[str, Slot]):
    """The controller's queue: each desired host's slot, by name."""

    def busy(self) -> frozenset[str]:
        """The hosts with a pass in flight, which every membership tick keeps (a host given away
        now would be passed by its next holder at the same time)."""
        return frozenset(name for name, slot in self.items() if slot.task is not None)

    def running(self) -> list[asyncio.Task[None]]:
        return [slot.task for slot in self.values() if slot.task is not None]

    def lapse(self, token: Callable[[str], int | None]) -> None:
        """Halt every pass whose grant lapsed (`token(host)`: what the host is held with now)."""
        for name, slot in self.items():
            slot.lapse(token(name))

    def halt(self) -> None:
        """The controller stops: every pass in flight finishes its step and starts no other."""
        for slot in self.values():
            slot.halt.set()
