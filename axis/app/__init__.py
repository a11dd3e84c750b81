"""axis's application layer: what every front end does and shows, whichever front end it is.

`axis.cli` (the commands people type) and `axis.api` (the HTTP API and the MCP server) are thin
peers over this package: they parse their input, call it, and render what it returns. Here live
the context a command or request runs in, the documents both show (objects, claims with their
phase, leases, events, observations, cluster totals, the applied/plan document, the controller's
health) and the operations both perform (apply with its lock, delete, place, exec, observing the
fleet, starting a controller), so a rule or a document exists once and the front ends agree.
Renew and release are the ledger's (`axis.placement.ledger`), called by both front ends directly:
`app.operations` says why."""
