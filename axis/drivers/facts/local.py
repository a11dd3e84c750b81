"""Run the facts script on this machine (for ``axis facts`` and the local node).

Why the same script and not Python's own probes: one code path means ``axis facts`` shows
exactly what a remote sweep would see, and the local run doubles as a live test of it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime

from .assemble import parse_facts
from .models import Facts
from .script import build_script

DEFAULT_TIMEOUT_S = 30.0


async def collect_local(extra_tools: Iterable[str] = (), *,
                        timeout: float = DEFAULT_TIMEOUT_S) -> Facts:
    """Run ``sh -s`` with the script on stdin and ``LC_ALL=C``; parse what it printed.

    A timeout kills the shell and parses the partial output (the result will say the
    output was cut off) rather than raising.
    """
    import asyncio  # running: already imported by its event loop; `axis get` reads Facts without it

    script = build_script(extra_tools)
    env = dict(os.environ, LC_ALL="C", LANG="C")
    started = datetime.now(UTC)
    proc = await asyncio.create_subprocess_exec(
        "sh", "-s", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(script.text.encode()), timeout)
    except TimeoutError:
        proc.kill()
        stdout = stderr = b""
        await proc.wait()
    return parse_facts(stdout.decode("utf-8", errors="replace"), script.boundary,
                       stderr=stderr.decode("utf-8", errors="replace"), collected_at=started)
