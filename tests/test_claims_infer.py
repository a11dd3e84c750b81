"""Requirement inference: the keyword table, whole-word matching, explicit `requires` winning."""

from __future__ import annotations

import pytest

from axis.drivers.facts.script import FACTS_TOOLS
from axis.placement.infer import DEFAULT_MEMORY, KEYWORDS, infer
from tests.claimkit import GiB, claim

MiB = 1 << 20


@pytest.mark.parametrize("task, tools, memory, gpu_wanted", [
    ("run ollama inference on a 7b model", ("ollama",), 5 * GiB, True),
    ("analyze a git repo", ("git",), DEFAULT_MEMORY, False),
    ("decode the logs", (), DEFAULT_MEMORY, False),  # AXIS: substring "code" → git
    ("docker build the image", ("docker",), 1 * GiB, False),  # AXIS: "build" → go
    ("go build ./... and go test", ("go",), 1 * GiB, False),
    ("let's go and clean up /tmp", (), DEFAULT_MEMORY, False),  # the verb is not golang
    ("restart the node exporter", (), DEFAULT_MEMORY, False),  # a node is a machine here
    ("npm ci && npm test", ("node",), DEFAULT_MEMORY, False),
    ("fine-tune llama-3-70b with cuda", ("nvidia-smi",), 40 * GiB, True),
    ("check nvidia-smi output", ("nvidia-smi",), DEFAULT_MEMORY, True),
    ("heavy inference", (), 4 * GiB, True),
    ("LLM eval, 13B weights", (), 9 * GiB, True),
    ("serve a model", (), 600 * MiB, False),
    ("compile rust crates with cargo", ("cargo",), 1 * GiB, False),
    ("pytest the python repo", ("git", "python3"), DEFAULT_MEMORY, False),
    ("containerize the app", (), DEFAULT_MEMORY, False),  # "containerize" is not "container"
    ("gpu burn test", (), DEFAULT_MEMORY, True),
])
def test_keyword_table(task, tools, memory, gpu_wanted):
    need = infer(claim("c", task).spec).need
    assert (need.tools, need.memory, need.gpu_wanted, need.gpu_required) == (tools, memory, gpu_wanted, False)


def test_explicit_requires_win_field_by_field():
    spec = claim("c", "run ollama inference on a 70b model", requires={"memory": "8Gi"}).spec
    result = infer(spec)
    assert result.need.memory == 8 * GiB and result.need.tools == ("ollama",) and result.need.gpu_wanted
    assert any("overrides inferred 40.0Gi" in r for r in result.reasons)

    spec = claim("c", "docker build in the git repo", requires={"tools": []}).spec
    assert infer(spec).need.tools == ()  # an explicit empty list silences a wrong inference

    spec = claim("c", "cuda inference", requires={"gpu": False, "tools": ["python3"], "os": "macos"}).spec
    need = infer(spec).need
    assert (need.gpu_wanted, need.gpu_required, need.tools, need.os) == (False, False, ("python3",), "macos")

    need = infer(claim("c", "batch job", requires={"gpu": True}).spec).need
    assert need.gpu_required and need.gpu_wanted


def test_reasons_name_the_word_that_triggered_each_requirement():
    reasons = infer(claim("c", "run ollama inference on a 7b model", selector={"matchLabels": {"gpu": "nvidia"}}).spec).reasons
    assert 'tools: ollama ← "ollama"' in reasons
    assert 'memory: 5.0Gi ← "7b" (largest floor that matched)' in reasons
    assert 'gpu: preferred ← "inference" (hosts without one stay eligible)' in reasons
    assert "selector: gpu=nvidia" in reasons


def test_every_inferred_tool_is_probed_by_the_facts_script():
    # a tool the facts pass never looks for could never be found, and the claim would never bind
    assert {t for rule in KEYWORDS for t in rule.tools} <= set(FACTS_TOOLS)
    assert all(rule.memory == 0 or rule.memory >= DEFAULT_MEMORY for rule in KEYWORDS)
