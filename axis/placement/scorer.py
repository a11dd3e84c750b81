"""Placement: pure filters with a reason for every rejected host, a deterministic ranking, and
the AXIS fit score with each of its terms shown.

Ranking (first difference decides): lower memory pressure; a GPU when the task wants one; more
effective headroom (min of memory free on the host now and allocatable on the ledger); more
allocatable memory; lower reservation ratio (leased / cap); then the host name. The name makes
the order total, so the same inputs give the same choice whatever order the hosts come in.

The fit score (0-100) explains a choice; it does not make it. It keeps the AXIS scale:
min(30, allocatable MiB / 256) + pressure (none 25, low 20, medium 10, high 0) + GPU 25 (the
host has one and the task wants one) + min(10, cores) + local 10 (the host is this machine, see
`candidates._is_local`). Locality is not a ranking key, so a local host may rank below a
remote one with a lower score when the remote one has more headroom.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from dataclasses import dataclass, replace

from axis.placement.candidates import Candidate
from axis.placement.infer import Need
from axis.specs.units import human_size

MiB = 1 << 20
PRESSURE_RANK = {"none": 0, "low": 1, "medium": 2, "high": 3}
PRESSURE_POINTS = {"none": 25, "low": 20, "medium": 10, "high": 0}

RankKey = tuple[int, int, int, int, float, str]


@dataclass(frozen=True)
class Term:
    name: str
    points: int
    why: str


@dataclass(frozen=True)
class Ranked:
    host: Candidate
    score: int
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class Rejected:
    host: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Placement:
    need: Need
    ranked: tuple[Ranked, ...]  # best first
    rejected: tuple[Rejected, ...]  # by name

    @property
    def best(self) -> Ranked | None:
        return self.ranked[0] if self.ranked else None

    def why_not(self, shown: int = 3) -> str:
        """Why no host fits, for a Pending claim's reason: hosts grouped by identical reasons."""
        if not self.rejected:
            return "no hosts in the desired state"
        groups: dict[str, list[str]] = {}
        for r in self.rejected:
            groups.setdefault("; ".join(r.reasons), []).append(r.host)
        parts = [f"{_names(hosts)}: {reason}" for reason, hosts in list(groups.items())[:shown]]
        more = sum(len(hosts) for hosts in list(groups.values())[shown:])
        return "no host fits: " + " | ".join(parts) + (f" | {more} more host{'s' if more > 1 else ''} for other reasons" if more else "")


def _names(hosts: list[str], shown: int = 3) -> str:
    return ", ".join(hosts[:shown]) + (f" and {len(hosts) - shown} more" if len(hosts) > shown else "")


def static_reasons(need: Need, host: Candidate) -> list[str]:
    """Why the host can never take this claim, whatever the ledger holds (empty: it can)."""
    if host.problem:
        return [host.problem]
    reasons = []
    if not host.fanout:
        reasons.append("fanout: false (left out of placement)")
    if need.os and host.os != need.os:
        reasons.append(f"OS {host.os or 'unknown'}, claim needs {need.os}")
    if any(host.labels.get(k) != v for k, v in need.selector):
        reasons.append("labels do not match selector " + ",".join(f"{k}={v}" for k, v in need.selector))
    missing = [t for t in need.tools if t not in host.tools]
    if missing:
        unprobed = [t for t in missing if t not in host.probed]
        reasons.append(f"missing tool {', '.join(missing)}"
                       + (f" ({', '.join(unprobed)} not probed yet: observe the host again)" if unprobed else ""))
    if need.gpu_required and not host.gpu:
        reasons.append("no GPU")
    if need.cgroup_cap and host.enforcement != "cgroup":
        why = f" ({host.enforcement_reason})" if host.enforcement_reason else ""
        reasons.append(f"memory enforcement is {host.enforcement or 'unknown'}{why}; the claim requires cgroup")
    return reasons


def memory_reason(need: Need, host: Candidate) -> str | None:
    """Why the ledger cannot give the claim its memory on this host now (None: it can)."""
    if host.allocatable >= need.memory:
        return None
    return (f"not enough allocatable memory: needs {human_size(need.memory)}, "
            f"{human_size(max(0, host.allocatable))} free of {human_size(host.cap)} "
            f"(total − 1Gi headroom, {human_size(host.leased)} leased)")


def rank_key(need: Need, host: Candidate) -> RankKey:
    return _key(host, need.gpu_wanted)


def _key(host: Candidate, gpu_wanted: bool) -> RankKey:
    return (PRESSURE_RANK.get(host.pressure, 3), 0 if gpu_wanted and host.gpu else 1,
            -host.effective, -host.allocatable, host.ratio, host.name)


def fit_score(need: Need, host: Candidate) -> tuple[int, tuple[Term, ...]]:
    allocatable_mib = max(0, host.allocatable) // MiB
    gpu = 25 if host.gpu and need.gpu_wanted else 0
    gpu_why = host.gpu if host.gpu and need.gpu_wanted else ("no GPU" if not host.gpu else "task wants no GPU")
    terms = (
        Term("memory", min(30, allocatable_mib // 256), f"{allocatable_mib} MiB allocatable / 256, at most 30"),
        Term("pressure", PRESSURE_POINTS.get(host.pressure, 0), f"memory pressure {host.pressure}"),
        Term("gpu", gpu, gpu_why),
        Term("cores", min(10, host.cores), f"{host.cores} cores, at most 10"),
        Term("local", 10 if host.local else 0, "this machine" if host.local else "remote"),
    )
    return sum(t.points for t in terms), terms


def rank(need: Need, hosts: Iterable[Candidate]) -> Placement:
    """Every host either ranked (best first, with its score) or rejected with its reasons."""
    ranked, rejected = [], []
    for host in hosts:
        reasons = static_reasons(need, host)
        memory = memory_reason(need, host) if not host.problem else None
        if memory:
            reasons.append(memory)
        if reasons:
            rejected.append(Rejected(host.name, tuple(reasons)))
        else:
            score, terms = fit_score(need, host)
            ranked.append(Ranked(host, score, terms))
    ranked.sort(key=lambda r: rank_key(need, r.host))
    rejected.sort(key=lambda r: r.host)
    return Placement(need, tuple(ranked), tuple(rejected))


class Index:
    """The same choice as `rank(need, hosts).best`, for many claims against one fleet snapshot.

    Hosts are kept in rank order twice (GPU wanted or not: the only way a claim changes the
    order); the static filters are computed once per distinct need shape; a claim then takes the
    first host in order that passes them and has the memory. `take` re-sorts one host after a
    lease changes what it holds, so a pass can bind claim after claim without rebuilding.
    """

    def __init__(self, hosts: Iterable[Candidate]):
        self._hosts = {h.name: h for h in hosts}
        usable = [h for h in self._hosts.values() if not h.problem]
        self._orders = {wanted: sorted(_key(h, wanted) for h in usable) for wanted in (False, True)}
        self._static: dict[tuple[object, ...], frozenset[str]] = {}
        self._placements: dict[Need, Placement] = {}  # valid until a host's leases change

    @property
    def hosts(self) -> list[Candidate]:
        return list(self._hosts.values())

    def get(self, name: str) -> Candidate | None:
        return self._hosts.get(name)

    def choose(self, need: Need) -> Candidate | None:
        shape = (need.tools, need.gpu_required, need.os, need.selector, need.cgroup_cap)
        fits = self._static.get(shape)
        if fits is None:
            fits = frozenset(h.name for h in self._hosts.values() if not static_reasons(need, h))
            self._static[shape] = fits
        for key in self._orders[need.gpu_wanted]:
            host = self._hosts[key[-1]]
            if host.name in fits and host.allocatable >= need.memory:
                return host
        return None

    def placement(self, need: Need) -> Placement:
        """The full ranking; once hosts fill up, every claim of the same shape waits for the
        same reasons, so it is computed once until a lease changes."""
        found = self._placements.get(need)
        if found is None:
            found = self._placements[need] = rank(need, self._hosts.values())
        return found

    def set_leased(self, name: str, leased: int) -> None:
        """Record what the host's live leases now hold, and move it to its new place in order."""
        old = self._hosts[name]
        new = replace(old, leased=leased)
        self._hosts[name] = new
        self._placements.clear()
        if old.problem:
            return
        for wanted, order in self._orders.items():
            del order[bisect_left(order, _key(old, wanted))]
            insort(order, _key(new, wanted))
