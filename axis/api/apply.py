"""`POST /apply`: a YAML body stored and acted on exactly as `axis apply -f FILE -o json` would.

The steps are `axis.reconcile.apply_pass`'s, as for `axis apply` — store the objects in one
transaction (nothing at all if any document is invalid), converge the hosts they concern, bind
pending claims, record the claims' conditions — and the answer is the document it prints, so a client
can switch between the CLI and the API without re-learning the output. Two differences, both
because a request is not a directory: objects are recorded as coming from `<request>:LINE`,
and there is no `--prune` (a request has no notion of "the files that used to be here").
Under `axis serve --watch` the hosts are converged by that controller (the answer's `controller`
names its pid), as they are for an `axis apply` run beside it. `?converge=false` stores only, as
`--no-converge`: no host is contacted, no claim bound, no lease taken; the answer says
`"storeOnly": true` and binding waits for a converging apply or the controller.
"""

from __future__ import annotations

import asyncio
from typing import Any

from axis.cli.context import AppContext
from axis.cli.plan_view import applied_data
from axis.reconcile.apply_pass import finish, store
from axis.specs.loader import load_spec_text
from axis.state.lock import ApplyLock, controller_pid

#: Where objects applied through the API say they came from, in errors and in `metadata.source`.
REQUEST_PATH = "<request>"


def apply_yaml(app: AppContext, text: str, *, dry_run: bool, converge: bool, jobs: int = 16) -> dict[str, Any]:
    """Store the objects in `text`, then (unless `converge` is false) converge and bind; raise
    SpecErrors (nothing stored) on bad input.

    Blocking (DB transactions, and an event loop of its own for the SSH work, as the CLI runs it):
    the HTTP handler calls it in a worker thread, so a long converge never holds up other requests.
    """
    loaded = load_spec_text(text, REQUEST_PATH)
    with ApplyLock(app.state):  # serialised with other API and CLI applies on this state DB
        stored = store(app.db(), loaded, dry_run=dry_run, converge=converge, controller=controller_pid(app.state))
        return applied_data(asyncio.run(finish(app.db(), app.ssh, stored, jobs=jobs)))
