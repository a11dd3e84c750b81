"""`POST /apply`: a YAML body stored and acted on exactly as `axis apply -f FILE -o json` would.

The steps are those of `axis.cli.apply_cmd.apply` — store the objects in one transaction
(nothing at all if any document is invalid), converge the hosts they concern, bind pending
claims, record the claims' conditions — and the answer is the document it prints, so a client
can switch between the CLI and the API without re-learning the output. Two differences, both
because a request is not a directory: objects are recorded as coming from `<request>:LINE`,
and there is no `--prune` (a request has no notion of "the files that used to be here").
The tests compare the two outputs, so a change to one that is not made to the other fails.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from axis.cli.context import AppContext
from axis.cli.converge_run import work_for
from axis.cli.plan_view import outcomes_data
from axis.reconciler.fleet_pass import converge_fleet
from axis.reconciler.ledger import place_claims
from axis.reconciler.record import record_claim_conditions
from axis.specs.effective import matching_profiles
from axis.specs.loader import load_spec_text
from axis.state.objects import apply_objects, desired_hosts

#: Where objects applied through the API say they came from, in errors and in `metadata.source`.
REQUEST_PATH = "<request>"


def apply_yaml(app: AppContext, text: str, *, dry_run: bool, converge: bool, jobs: int = 16) -> dict[str, Any]:
    """Store the objects in `text`, converge and bind; raise SpecErrors (nothing stored) on bad input.

    Blocking (DB transactions, and an event loop of its own for the SSH work, as the CLI runs it):
    the HTTP handler calls it in a worker thread, so a long converge never holds up other requests.
    """
    loaded = load_spec_text(text, REQUEST_PATH)
    db = app.db()
    with db.write() as session:
        changes = apply_objects(session, loaded)
        hosts, profiles = desired_hosts(session)
        work, tools = work_for(session, loaded) if converge else ([], [])
        if dry_run:
            session.rollback()
    outcomes = asyncio.run(converge_fleet(db, app.ssh, work, dry_run=dry_run, extra_tools=tools, jobs=jobs))
    placed = [] if dry_run else place_claims(db, now=time.time())
    if not dry_run:
        with db.write() as session:
            record_claim_conditions(session, time.time())
    warnings = [f"HostProfile/{p.metadata.name} matches no host" for p in profiles
                if not any(p in matching_profiles(h, [p]) for h in hosts)]
    return {"dryRun": dry_run, "changes": [
        {"kind": c.kind, "name": c.name, "action": c.action, "generation": c.generation, "source": c.source}
        for c in changes], "warnings": warnings, **outcomes_data(outcomes),
        "claims": [{"claim": p.claim, "phase": p.phase, "host": p.host or None, "reason": p.reason or None}
                   for p in placed if p.phase]}
