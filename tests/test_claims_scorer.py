"""The scorer: a reason for every rejected host, golden cases for each ranking key, the fit score,
and the order of hosts never changing the choice."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from axis.placement.candidates import Candidate, candidate
from axis.placement.infer import Need
from axis.placement.scorer import Index, fit_score, rank
from tests.claimkit import GiB, facts, host


def cand(name: str, **kw) -> Candidate:
    base = dict(total=30 * GiB, available=24 * GiB, pressure="none", cores=8, os="linux",
                tools=frozenset({"git"}), probed=frozenset({"git", "ollama", "docker"}))
    base.update(kw)
    return Candidate(name=name, **base)


NEED = Need(memory=2 * GiB)


def best(need: Need, *hosts: Candidate) -> str | None:
    chosen = rank(need, hosts).best
    return chosen.host.name if chosen else None


def test_every_filter_rejects_with_its_reason():
    need = Need(tools=("ollama",), memory=8 * GiB, gpu_required=True, os="linux", selector=(("role", "gpu"),))
    hosts = [
        cand("a-never", problem="never observed: no facts yet (run `axis status` to gather them)"),
        cand("b-macos", os="macos", tools=frozenset({"ollama"}), gpu="M2", labels={"role": "gpu"}),
        cand("c-notool", gpu="A100", labels={"role": "gpu"}),
        cand("d-nogpu", tools=frozenset({"ollama"}), labels={"role": "gpu"}),
        cand("e-label", tools=frozenset({"ollama"}), gpu="A100", labels={"role": "cpu"}),
        cand("f-nofan", tools=frozenset({"ollama"}), gpu="A100", labels={"role": "gpu"}, fanout=False),
        cand("g-full", tools=frozenset({"ollama"}), gpu="A100", labels={"role": "gpu"}, leased=22 * GiB),
        cand("h-unprobed", gpu="A100", labels={"role": "gpu"}, probed=frozenset()),
        cand("i-ok", tools=frozenset({"ollama"}), gpu="A100", labels={"role": "gpu"}),
    ]
    placement = rank(need, hosts)
    assert [r.host.name for r in placement.ranked] == ["i-ok"]
    reasons = {r.host: r.reasons for r in placement.rejected}
    assert reasons == {
        "a-never": ("never observed: no facts yet (run `axis status` to gather them)",),
        "b-macos": ("OS macos, claim needs linux",),
        "c-notool": ("missing tool ollama",),
        "d-nogpu": ("no GPU",),
        "e-label": ("labels do not match selector role=gpu",),
        "f-nofan": ("fanout: false (left out of placement)",),
        "g-full": ("not enough allocatable memory: needs 8.0Gi, 7.0Gi free of 29.0Gi (total − 1Gi headroom, 22.0Gi leased)",),
        "h-unprobed": ("missing tool ollama (ollama not probed yet: observe the host again)",),
    }


def test_stored_facts_become_candidates_with_problems_when_unusable():
    h = host("a")
    assert "never observed" in candidate(h, None, "", None).problem
    assert candidate(h, "unreachable", "a: unreachable: refused", None).problem == \
        "last observation unreachable: a: unreachable: refused"
    no_mem = dict(facts(), memory=None, missing={"memory": "/proc/meminfo unreadable"})
    assert candidate(h, "partial", "", no_mem).problem == \
        "memory total unknown (/proc/meminfo unreadable): capacity cannot be checked"
    limited = facts(total_gib=64)
    limited["memory"]["cgroup_limit_bytes"] = 8 * GiB
    c = candidate(h, "complete", "", limited, leased=GiB, local_hostname="a.example")
    assert (c.total, c.available, c.allocatable, c.problem) == (8 * GiB, 8 * GiB, 6 * GiB, None)
    assert not c.local and candidate(h, "complete", "", facts(hostname="box"), local_hostname="BOX.lan").local


def test_golden_each_ranking_key_decides_when_the_ones_before_tie():
    # 1. lower memory pressure beats everything after it
    assert best(NEED, cand("a", pressure="medium", available=29 * GiB), cand("b", pressure="low", available=3 * GiB)) == "b"
    # 2. a GPU, when the task wants one
    wants = Need(memory=2 * GiB, gpu_wanted=True)
    assert best(wants, cand("a", available=28 * GiB), cand("b", gpu="RTX 4090", available=3 * GiB)) == "b"
    assert best(NEED, cand("a", available=28 * GiB), cand("b", gpu="RTX 4090", available=3 * GiB)) == "a"
    # 3. more effective headroom: min(available now, allocatable)
    assert best(NEED, cand("a", available=10 * GiB), cand("b", available=12 * GiB)) == "b"
    assert best(NEED, cand("a", available=20 * GiB, leased=14 * GiB), cand("b", available=16 * GiB)) == "b"
    # 4. more allocatable memory when effective headroom ties
    assert best(NEED, cand("a", available=8 * GiB, total=16 * GiB), cand("b", available=8 * GiB, total=40 * GiB)) == "b"
    # 5. lower reservation ratio when allocatable ties too
    a = cand("a", available=8 * GiB, total=21 * GiB, leased=0)  # allocatable 20, ratio 0
    b = cand("b", available=8 * GiB, total=41 * GiB, leased=20 * GiB)  # allocatable 20, ratio 0.5
    assert best(NEED, b, a) == "a"
    # 6. the name, when everything else ties
    assert best(NEED, cand("b"), cand("a")) == "a"


def test_fit_score_terms_follow_the_axis_scale():
    need = Need(memory=GiB, gpu_wanted=True)
    score, terms = fit_score(need, cand("a", total=5 * GiB, leased=GiB, pressure="low", gpu="A100", cores=4, local=True))
    assert {t.name: t.points for t in terms} == {"memory": 12, "pressure": 20, "gpu": 25, "cores": 4, "local": 10}
    assert score == 71
    score, terms = fit_score(Need(memory=GiB), cand("b", total=64 * GiB, pressure="high", gpu="A100", cores=32))
    assert {t.name: t.points for t in terms} == {"memory": 30, "pressure": 0, "gpu": 0, "cores": 10, "local": 0}
    assert next(t for t in terms if t.name == "gpu").why == "task wants no GPU"


def test_pending_reason_groups_hosts_by_reason_and_counts_the_rest():
    hosts = [cand(f"h{i}", problem="never observed") for i in range(5)] + [cand("x", leased=29 * GiB)]
    hosts += [cand("y", problem="last observation unreachable"), cand("z", fanout=False)]
    assert rank(Need(memory=17 * GiB), hosts).why_not(shown=2) == (
        "no host fits: h0, h1, h2 and 2 more: never observed | x: not enough allocatable memory: needs 17.0Gi, "
        "0B free of 29.0Gi (total − 1Gi headroom, 29.0Gi leased) | 2 more hosts for other reasons")
    assert rank(NEED, []).why_not() == "no hosts in the desired state"


_pressures = st.sampled_from(["none", "low", "medium", "high"])
_hosts = st.lists(st.builds(
    lambda i, total, avail, leased, pressure, gpu, tools, fanout: cand(
        f"h{i}", total=total * GiB, available=min(avail, total) * GiB, leased=min(leased, total) * GiB,
        pressure=pressure, gpu="GPU" if gpu else None, tools=frozenset(tools), fanout=fanout),
    st.integers(0, 40), st.integers(1, 64), st.integers(0, 64), st.integers(0, 64), _pressures, st.booleans(),
    st.sets(st.sampled_from(["git", "ollama", "docker"])), st.booleans()),
    min_size=1, max_size=12, unique_by=lambda c: c.name)
_needs = st.builds(lambda mem, gpu_w, gpu_r, tools: Need(memory=mem * GiB, gpu_wanted=gpu_w or gpu_r,
                                                          gpu_required=gpu_r, tools=tuple(sorted(tools))),
                   st.integers(0, 40), st.booleans(), st.booleans(), st.sets(st.sampled_from(["git", "ollama"])))


@settings(max_examples=300, deadline=None)
@given(hosts=_hosts, need=_needs, data=st.data())
def test_host_order_never_changes_the_choice(hosts, need, data):
    shuffled = data.draw(st.permutations(hosts))
    first, second = rank(need, hosts), rank(need, shuffled)
    assert [r.host.name for r in first.ranked] == [r.host.name for r in second.ranked]
    assert first.rejected == second.rejected
    # the bulk index picks exactly what the full ranking picks, in any order
    expected = first.best.host.name if first.best else None
    chosen = Index(shuffled).choose(need)
    assert (chosen.name if chosen else None) == expected


@settings(max_examples=100, deadline=None)
@given(hosts=_hosts, need=_needs, takes=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 20)), max_size=8))
def test_index_stays_in_rank_order_as_leases_change(hosts, need, takes):
    index = Index(hosts)
    current = {h.name: h for h in hosts}
    for position, gib in takes:
        name = hosts[position % len(hosts)].name
        index.set_leased(name, gib * GiB)
        current[name] = replace(current[name], leased=gib * GiB)
        expected = rank(need, current.values()).best
        chosen = index.choose(need)
        assert (chosen.name if chosen else None) == (expected.host.name if expected else None)
