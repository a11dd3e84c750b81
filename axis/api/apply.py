"""`POST /apply`: a YAML body stored and acted on exactly as `axis apply -f FILE -o json` would.

The steps are `axis.app.apply`'s, as for `axis apply` — under the apply lock, store the objects
in one transaction (nothing at all if any document is invalid), converge the hosts they concern,
bind pending claims, record the claims' conditions — and the answer is the document it prints,
so a client can switch between the CLI and the API without re-learning the output. Two
differences, both because a request is not a directory: objects are recorded as coming from
`<request>:LINE`, and there is no `--prune` (a request has no notion of "the files that used to
be here"). Under `axis serve --watch` the hosts are converged by that controller (the answer's
`controller` names its pid), as they are for an `axis apply` run beside it. `?converge=false`
stores only, as `--no-converge`: no host is contacted, no claim bound, no lease taken; the answer
says `"storeOnly": true` and binding waits for a converging apply or the controller.
"""

from __future__ import annotations

from axis.app.applied import applied_data
from axis.app.apply import apply_specs
from axis.app.context import AppContext
from axis.app.documents import AppliedDocument
from axis.specs.loader import load_spec_text

#: Where objects applied through the API say they came from, in errors and in `metadata.source`.
REQUEST_PATH = "<request>"


def apply_yaml(app: AppContext, text: str, *, dry_run: bool, converge: bool, jobs: int = 16) -> AppliedDocument:
    """Store the objects in `text`, then (unless `converge` is false) converge and bind; raise
    SpecErrors (nothing stored) on bad input. Blocking: the HTTP handler calls it in a worker thread."""
    loaded = load_spec_text(text, REQUEST_PATH)
    return applied_data(apply_specs(app, loaded, dry_run=dry_run, converge=converge, jobs=jobs))
