"""What a claim needs: requirements inferred from its free-text `task`, explicit `requires` winning.

The table below is axis's documented keyword table. It starts from the earlier AXIS tool's and
fixes what went wrong there:

* **Whole words, not substrings.** The task is split into lower-case words at every character
  that is not a letter, digit or `+` ("nvidia-smi" → "nvidia smi", "llama-3-70b" → "llama 3
  70b"); a row matches a word or a two-word phrase. So "decode" does not contain "code", and
  "docker build" needs docker but not go.
* **Tools only from words that name them.** AXIS read `inference/llm/gpu` as "needs ollama" and
  `build/compile` as "needs go"; a PyTorch inference job or a `make` build then landed nowhere.
  Here a tool is inferred only from its own name or an unambiguous alias (`repo`, `clone` → git;
  `go build` → go, never the English verb "go" alone; `nodejs`/`npm` → node, never "node",
  which in a fleet means a machine). AXIS's `analyze` and `code` are dropped: "analyze a CSV"
  needs no git. Every inferred tool is one the facts script always probes, so it can be checked.
* **Memory floors that fit the model size.** AXIS's 4 GiB for a 70b model is what let two big
  jobs land on one host; floors for parameter counts follow a 4-bit quantised model (≈ 0.55 GiB
  per billion parameters plus runtime). The largest floor that matches wins.
* **GPU words express a wish, not a filter.** `gpu`, `cuda`, `inference`, `llm` make a GPU host
  rank first (and earn the fit score's GPU points); only `requires.gpu: true` rejects hosts
  without one, so an inference task still runs on a CPU-only box when nothing better is free.

Explicit `requires` fields win field by field: listing `tools` (even `tools: []`) replaces the
inferred tools, `memory` replaces the inferred floor, `gpu: true|false` replaces the GPU wish.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from axis.specs.models import ClaimSpec
from axis.specs.units import human_size

MiB = 1 << 20
GiB = 1 << 30

#: A task that names nothing still holds this much: a zero-memory lease would let any number of
#: claims pile onto one host, which is the incident the ledger exists to prevent.
DEFAULT_MEMORY = 512 * MiB


@dataclass(frozen=True)
class Rule:
    """One row of the keyword table: any of `words` (a word or two-word phrase) implies the rest."""

    words: tuple[str, ...]
    tools: tuple[str, ...] = ()
    memory: int = 0
    gpu: bool = False


KEYWORDS: tuple[Rule, ...] = (
    # tools, each from its own name or an unambiguous alias
    Rule(("ollama",), tools=("ollama",)),
    Rule(("docker", "dockerfile", "container", "containers"), tools=("docker",)),
    Rule(("git", "repo", "repos", "repository", "clone", "commit", "commits"), tools=("git",)),
    Rule(("golang", "go build", "go test", "go run", "go mod", "go vet", "go install"), tools=("go",)),
    Rule(("python", "python3", "pip", "pytest"), tools=("python3",)),
    Rule(("nodejs", "node js", "npm", "npx"), tools=("node",)),
    Rule(("cargo", "rust", "rustc"), tools=("cargo",)),
    Rule(("swift", "swiftc", "xcode"), tools=("swift",)),
    Rule(("gcc", "g++"), tools=("gcc",)),
    Rule(("cuda", "nvidia", "nvidia smi"), tools=("nvidia-smi",), gpu=True),
    # GPU wishes
    Rule(("gpu", "gpus"), gpu=True),
    Rule(("inference",), memory=600 * MiB, gpu=True),
    Rule(("llm", "llms"), memory=3 * GiB // 2, gpu=True),
    # memory floors
    Rule(("model", "models"), memory=600 * MiB),
    Rule(("build", "compile"), memory=1 * GiB),
    Rule(("heavy",), memory=4 * GiB),
    Rule(("1b", "3b"), memory=3 * GiB),
    Rule(("7b", "8b"), memory=5 * GiB),
    Rule(("13b", "14b"), memory=9 * GiB),
    Rule(("30b", "32b", "34b"), memory=20 * GiB),
    Rule(("70b", "72b"), memory=40 * GiB),
)

_SPLIT = re.compile(r"[^a-z0-9+]+")


@dataclass(frozen=True)
class Need:
    """Everything placement checks for one claim; hashable, so equal needs can share work."""

    tools: tuple[str, ...] = ()
    memory: int = DEFAULT_MEMORY
    gpu_required: bool = False
    gpu_wanted: bool = False
    os: str | None = None
    selector: tuple[tuple[str, str], ...] = ()
    cgroup_cap: bool = False  # requires.enforcement: cgroup


@dataclass(frozen=True)
class Inference:
    need: Need
    reasons: tuple[str, ...]  # one line per decision: which word triggered what, what overrode it


def words(task: str) -> set[str]:
    """The task's words and adjacent two-word phrases, lower-cased."""
    tokens = [t for t in _SPLIT.split(task.lower()) if t]
    return set(tokens) | {f"{a} {b}" for a, b in pairwise(tokens)}


def infer(spec: ClaimSpec) -> Inference:
    """The claim's requirements and the reasons behind each of them."""
    found = words(spec.task)
    tools: dict[str, str] = {}
    memory, memory_word = 0, ""
    gpu_word = ""
    for rule in KEYWORDS:
        hit = next((w for w in rule.words if w in found), None)
        if hit is None:
            continue
        for tool in rule.tools:
            tools.setdefault(tool, hit)
        if rule.memory > memory:
            memory, memory_word = rule.memory, hit
        gpu_word = gpu_word or (hit if rule.gpu else "")
    reasons: list[str] = []
    explicit = spec.requires
    if "tools" in explicit.model_fields_set:
        need_tools = tuple(sorted(set(explicit.tools)))
        reasons.append(f"tools: {', '.join(need_tools) or 'none'} (requires.tools"
                       + (f", overrides inferred {', '.join(sorted(tools))})" if tools else ")"))
    else:
        need_tools = tuple(sorted(tools))
        reasons += [f'tools: {tool} ← "{word}"' for tool, word in sorted(tools.items())]
    if explicit.memory is not None:
        need_memory = explicit.memory
        reasons.append(f"memory: {human_size(need_memory)} (requires.memory"
                       + (f", overrides inferred {human_size(memory)})" if memory else ")"))
    elif memory:
        need_memory = memory
        reasons.append(f'memory: {human_size(need_memory)} ← "{memory_word}" (largest floor that matched)')
    else:
        need_memory = DEFAULT_MEMORY
        reasons.append(f"memory: {human_size(need_memory)} (default: no memory keyword)")
    if explicit.gpu is not None:
        gpu_required = gpu_wanted = explicit.gpu
        reasons.append(f"gpu: {'required' if explicit.gpu else 'not wanted'} (requires.gpu"
                       + (f', overrides "{gpu_word}")' if gpu_word else ")"))
    else:
        gpu_required, gpu_wanted = False, bool(gpu_word)
        if gpu_word:
            reasons.append(f'gpu: preferred ← "{gpu_word}" (hosts without one stay eligible)')
    if explicit.os:
        reasons.append(f"os: {explicit.os} (requires.os)")
    selector = tuple(sorted(spec.selector.match_labels.items()))
    if selector:
        reasons.append("selector: " + ",".join(f"{k}={v}" for k, v in selector))
    if explicit.enforcement == "cgroup":
        reasons.append("enforcement: cgroup (requires.enforcement)")
    need = Need(tools=need_tools, memory=need_memory, gpu_required=gpu_required, gpu_wanted=gpu_wanted,
                os=explicit.os, selector=selector, cgroup_cap=explicit.enforcement == "cgroup")
    return Inference(need, tuple(reasons))
