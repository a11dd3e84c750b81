"""Which hosts a fan-out command (`axis on`, `axis clean`) means by `NAME` or `all` plus `-l`."""

from __future__ import annotations

from axis.app.context import AppError
from axis.cli.selectors import LabelSelector
from axis.specs import Host


def select_hosts(hosts: list[Host], target: str, selector: str | None) -> list[Host]:
    """`all`: every host with `fanout: true` that the selector matches; a name: that host, even
    with `fanout: false` (naming a host is explicit consent)."""
    try:
        labels = LabelSelector.parse(selector)
    except ValueError as exc:
        raise AppError(str(exc)) from exc
    if target == "all":
        chosen = [h for h in hosts if h.spec.fanout and labels.matches(h.metadata.labels)]
        if not chosen:
            raise AppError("no host matches: `all` leaves out hosts with fanout: false"
                           + (f" and those not matching -l {selector}" if selector else ""))
        return chosen
    by_name = {h.metadata.name: h for h in hosts}
    if target not in by_name:
        known = ", ".join(sorted(by_name)) or "none; run `axis apply -f specs/` first"
        raise AppError(f"no host named {target!r} in the state (known: {known})")
    host = by_name[target]
    if not labels.matches(host.metadata.labels):
        raise AppError(f"host {target!r} does not match -l {selector}")
    return [host]
