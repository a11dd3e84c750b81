"""Which hosts a fan-out command (`axis on`, `axis clean`) means by `NAME` or `all` plus `-l`."""

from __future__ import annotations

from dataclasses import dataclass, field

from axis.app.context import AppError
from axis.cli.selectors import LabelSelector
from axis.specs import Host


@dataclass(frozen=True)
class Selection:
    """The hosts a fan-out runs on, and the names of those `all` left out for `fanout: false`
    (which the selector matched): a summary that counts only the chosen hosts must say so."""

    hosts: list[Host]
    left_out: list[str] = field(default_factory=list)

    def left_out_note(self, command: str) -> str | None:
        """One line naming the left-out hosts and how to include them; None if there are none."""
        if not self.left_out:
            return None
        return (f"left out {len(self.left_out)} host(s) with fanout: false: {', '.join(self.left_out)} "
                f"(name one to include it: axis {command} {self.left_out[0]} ...)")


def select_hosts(hosts: list[Host], target: str, selector: str | None) -> Selection:
    """`all`: every host with `fanout: true` that the selector matches; a name: that host, even
    with `fanout: false` (naming a host is explicit consent)."""
    try:
        labels = LabelSelector.parse(selector)
    except ValueError as exc:
        raise AppError(str(exc)) from exc
    if target == "all":
        matching = [h for h in hosts if labels.matches(h.metadata.labels)]
        chosen = [h for h in matching if h.spec.fanout]
        if not chosen:
            raise AppError("no host matches: `all` leaves out hosts with fanout: false"
                           + (f" and those not matching -l {selector}" if selector else ""))
        return Selection(chosen, [h.metadata.name for h in matching if not h.spec.fanout])
    by_name = {h.metadata.name: h for h in hosts}
    if target not in by_name:
        known = ", ".join(sorted(by_name)) or "none; run `axis apply -f specs/` first"
        raise AppError(f"no host named {target!r} in the state (known: {known})")
    host = by_name[target]
    if not labels.matches(host.metadata.labels):
        raise AppError(f"host {target!r} does not match -l {selector}")
    return Selection([host])
