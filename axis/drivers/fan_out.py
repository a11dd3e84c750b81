"""A bounded concurrent fan-out over hosts in which one slow or dead host never holds up the others."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def fan_out(items: Iterable[T], work: Callable[[T], Awaitable[R]], *, jobs: int,
                  on_done: Callable[[T, R], None] | None = None) -> list[R]:
    """Run `work` on every item, at most `jobs` at once; results in input order.

    `work` must turn its own failures into results: one host's exception must not cancel the rest.
    """
    gate = asyncio.Semaphore(max(1, jobs))

    async def one(item: T) -> R:
        async with gate:
            result = await work(item)
        if on_done is not None:
            on_done(item, result)
        return result

    return list(await asyncio.gather(*(one(item) for item in items)))
