"""Hosts as placement sees them: the few facts that filters, ranking and the fit score read.

Built from stored facts (the newest observation of each host) and the memory of its live leases.
The facts JSON is read directly rather than re-validated into `Facts` models: the rows were
validated when stored, and a 1,000-host fleet must load in well under a second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from axis.specs import Host, Kind
from axis.state.stored_specs import valid

if TYPE_CHECKING:
    from sqlmodel import Session

    from axis.state.snapshot import Snapshot

GiB = 1 << 30

#: Kept free on every host for its OS and daemons (AXIS: RAM total − 1024 MiB).
HEADROOM = GiB


@dataclass(frozen=True)
class Candidate:
    """One host; `problem` set means its facts cannot be used and it is ineligible."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    fanout: bool = True
    problem: str | None = None
    os: str | None = None
    tools: frozenset[str] = frozenset()
    probed: frozenset[str] = frozenset()  # tools the facts pass looked for (found or not)
    gpu: str | None = None  # the first GPU's name
    total: int = 0  # memory capacity: RAM total, or the cgroup limit when lower
    available: int = 0
    pressure: str = "none"
    cores: int = 0
    local: bool = False
    leased: int = 0  # memory held by live leases
    enforcement: str | None = None  # how a job's memory cap is enforced: cgroup | watchdog | none
    enforcement_reason: str = ""

    @property
    def cap(self) -> int:
        return lease_cap(self.total)

    @property
    def allocatable(self) -> int:
        return self.cap - self.leased

    @property
    def effective(self) -> int:
        """Memory a new claim could really use now: free on the ledger and free on the host."""
        return min(self.available, self.allocatable)

    @property
    def ratio(self) -> float:
        """Share of the cap already leased (1.0 when the cap is zero)."""
        return self.leased / self.cap if self.cap else 1.0


def enforcement_in_force(mode: str | None, reason: str, *, login_is_root: bool | None,
                         spec_sudo: bool) -> tuple[str | None, str]:
    """The memory enforcement `axis exec` really gets on a host: the facts' `mode` and `reason`,
    except that the facts say cgroup for a login with passwordless sudo, while the runner uses
    `sudo -n` only where the Host's spec says `sudo: true`; without it, a login that is not root
    gets the watchdog (and a claim that requires cgroup must not be placed there)."""
    if mode == "cgroup" and login_is_root is False and not spec_sudo:
        return "watchdog", "systemd-run needs root: the login user is not root and the Host's spec says sudo: false"
    return mode, reason


def enforcement_of(data: Mapping[str, Any], host: Host) -> tuple[str | None, str]:
    """`enforcement_in_force` read from a host's stored facts (placement and `axis exec` alike)."""
    enforcement = data.get("memory_enforcement") or {}
    return enforcement_in_force(
        enforcement.get("mode"), enforcement.get("reason") or (data.get("missing") or {}).get("memory_enforcement", ""),
        login_is_root=(data.get("sudo") or {}).get("is_root"), spec_sudo=host.spec.sudo)


def _base(host: Host, leased: int) -> Candidate:
    """The host as its spec and the ledger describe it, before its facts are read."""
    return Candidate(name=host.metadata.name, labels=dict(host.metadata.labels), fanout=host.spec.fanout,
                     leased=leased)


def lease_cap(capacity: int) -> int:
    """What leases may hold in total on a host of `capacity` (`memory_capacity`): it minus the headroom."""
    return max(0, capacity - HEADROOM)


def memory_capacity(total: int, cgroup_limit: int | None) -> int:
    """The memory a host can give its claims: a container sees the machine's RAM but may only
    use its cgroup's limit (placement and the dashboard's lease bars both count this)."""
    return cgroup_limit if cgroup_limit and cgroup_limit < total else total


def candidate(host: Host, status: str | None, reason: str, data: Mapping[str, Any] | None, *,
              leased: int = 0, local_hostname: str | None = None) -> Candidate:
    """A host with its newest observation (`status` None: never observed)."""
    base = _base(host, leased)
    if status is None:
        return _with_problem(base, "never observed: no facts yet (run `axis status` to gather them)")
    if data is None:
        return _with_problem(base, f"last observation {status}" + (f": {reason}" if reason else ""))
    memory = data.get("memory")
    if not memory or not memory.get("total_bytes"):
        why = (data.get("missing") or {}).get("memory", "not reported")
        return _with_problem(base, f"memory total unknown ({why}): capacity cannot be checked")
    total = memory_capacity(memory["total_bytes"], memory.get("cgroup_limit_bytes"))
    available = min(memory["available_bytes"], total)
    tools = data.get("tools") or {}
    gpus = data.get("gpus") or []
    mode, why = enforcement_of(data, host)
    return Candidate(
        name=base.name, labels=base.labels, fanout=base.fanout, leased=leased,
        os=(data.get("os") or {}).get("family"),
        tools=frozenset(name for name, path in tools.items() if path),
        probed=frozenset(tools),
        gpu=gpus[0]["name"] if gpus else None,
        total=total, available=available, pressure=memory.get("pressure", "high"),
        cores=(data.get("cpu") or {}).get("cores") or 0,
        local=_is_local(data.get("hostname"), local_hostname),
        enforcement=mode, enforcement_reason=why,
    )


def _with_problem(base: Candidate, problem: str) -> Candidate:
    return Candidate(name=base.name, labels=base.labels, fanout=base.fanout, leased=base.leased, problem=problem)


def _is_local(reported: str | None, local_hostname: str | None) -> bool:
    """The host is this machine when it reports this machine's hostname (short names compared).

    The spec address cannot tell: it may be an ~/.ssh/config alias, and 127.0.0.1:2201 may be a
    container with its own hostname. What the host itself says is what identifies it.
    """
    if not reported or not local_hostname:
        return False
    return reported.split(".")[0].lower() == local_hostname.split(".")[0].lower()


def load_candidates(session: Session, *, now: float, local_hostname: str | None = None) -> list[Candidate]:
    """Every desired host with its newest facts and live leases: three queries, any fleet size;
    through the ORM, in the caller's transaction (the ledger's bind)."""
    from axis.state import facts as facts_store
    from axis.state.leases import leased_by_host
    from axis.state.objects import valid_models

    return candidates_of(valid_models(session, Host), facts_store.latest(session), leased_by_host(session, now=now),
                         local_hostname)


def read_candidates(snap: Snapshot, *, now: float, local_hostname: str | None = None) -> list[Candidate]:
    """What `load_candidates` reads, from a plain DB-API snapshot (`axis place`, the API's
    ranking): the same three queries without the ORM (a test compares the two)."""
    hosts = valid(snap.objects(Kind.HOST), Host)
    return candidates_of(hosts, snap.latest_facts([h.metadata.name for h in hosts]), snap.leased_by_host(now),
                         local_hostname)


class StoredFacts(Protocol):
    """What a candidate reads of a host's newest observation: a FactsRecord or a FactsRow."""

    @property
    def status(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def data(self) -> dict[str, Any] | None: ...


def candidates_of(hosts: list[Host], newest: Mapping[str, StoredFacts], leased: Mapping[str, int],
                  local_hostname: str | None) -> list[Candidate]:
    """Each host with its newest observation and the memory its live leases hold."""
    out = []
    for host in hosts:
        record = newest.get(host.metadata.name)
        held = leased.get(host.metadata.name, 0)
        try:
            out.append(candidate(host, record.status if record else None, record.reason if record else "",
                                 record.data if record else None, leased=held, local_hostname=local_hostname))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:  # one host's odd facts stay its own
            out.append(_with_problem(_base(host, held), f"stored facts unreadable ({type(exc).__name__}: {exc}); "
                                           "the next observation replaces them"))
    return out
