"""The one POSIX ``sh`` script that gathers every fact about a host in one round trip.

Why one script: the earlier Go tool (AXIS) opened one SSH command per fact, so a sweep
of N hosts cost ~20·N round trips and a slow host stalled every probe. axis sends this
script once per host per pass (``sh -s`` with the script on stdin) and parses the
printed sections in Python with pure functions (see ``sections.py``). The script's text is
``facts.sh`` beside this module (package data, read by shellcheck as it is); ``build_script``
fills in its placeholders.

Output protocol (version 2), one marker per line. ``B`` is the run's boundary: 32 random hex
digits (128 bits) that the caller draws with ``secrets`` for every run (``build_script``
returns it with the text) and hands to the parser::

    @@axis:B:facts v=2 os=Linux
    @@axis:B:section:NAME
    ...the probe's stdout, verbatim, then one newline that the script always adds...
    @@axis:B:stderr:NAME one line of the probe's stderr (at most 20 lines)
    @@axis:B:end:NAME rc=N
    ...more sections...
    @@axis:B:done

Why a boundary, like a MIME multipart boundary: probes print host data (mount points, file
contents, tool output) that anyone with an account may shape; a FUSE mount at
``/tmp/m@@axis:section:uname`` used to end a section early. Only a line that is exactly a
marker carrying this run's boundary counts (``sections.py``); anything else is data. The host
cannot forge one: the boundary is drawn fresh for each run, after the host is chosen, and
exists only in the script the caller sends on the shell's stdin (``sh -s``: never the SSH
command line, which any user on the host could read in ``ps`` while the script runs) and in
an unexported shell variable (never in a probe's argv or environment). The markers are printed
with ``printf "$_axis_m"``: that is no argv only because ``printf`` is a shell builtin, so the
script first checks that it is one (``command -V printf``: dash, bash, busybox ash, zsh and
ksh93 say "printf is a shell builtin") and refuses to run otherwise, with the reason on stderr
(``parse_facts(stderr=...)`` makes it every fact's reason). Only the login user and root could
read the boundary from the shell's memory, and they run the probes anyway. A probe could echo
it only by printing the script itself, which none does.

Why the added newline: the probe's stdout goes straight to the output (no copy in a shell
variable, which would drop trailing newlines and hold all of it in memory), so the script
cannot tell whether it ended with a newline. It always prints one, so that every marker starts
a line, and the parser removes exactly that one: the probe's stdout comes back byte for byte,
with or without its final newline.

Design rules the script follows, and why:

* ``LC_ALL=C`` is forced inside the script as well as by the caller, because sshd may
  pass the user's ``LANG``/``LC_*`` through ``AcceptEnv`` and localised headers or
  decimal commas would otherwise reach the parser.
* Every probe runs with stdin from ``/dev/null``: the script itself arrives on stdin, and a
  probe that reads stdin (``sudo``, ``cat``) would swallow the rest of the script.
* stderr is captured per section (after its stdout, so the two never interleave) and is
  the "reason" when a fact is absent: the host's own words, e.g. ``nvidia-smi not found``.
* Commands that are known to hang (``df`` on a stale NFS mount, ``nvidia-smi`` with a
  wedged driver) are bounded by ``timeout`` when the host has it.
* Common admin directories (``/usr/sbin``, ``/opt/homebrew/bin``, ...) are *appended* to
  ``PATH``: a non-interactive SSH session on macOS does not see Homebrew, and on Debian a
  normal user does not see ``/usr/sbin/ip``. Appending keeps the user's own precedence.
* User data (extra tool names from specs) is validated against a strict regex and then
  ``shlex.quote``-d; nothing from a spec is ever pasted into the script unquoted.
"""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from axis.drivers.shell_files import fill, read_shell_file
from axis.specs.names import check_tool_name  # one rule: what a spec accepts, the script accepts

SCRIPT_VERSION = 2

#: Hex digits in a boundary: 128 bits from ``secrets``, a MIME boundary's strength.
BOUNDARY_HEX_DIGITS = 32
BOUNDARY_RE = re.compile(rf"^[0-9a-f]{{{BOUNDARY_HEX_DIGITS}}}$")

#: Tools looked up with ``command -v`` on every host (AXIS's list plus what the feature
#: drivers need: package managers, nvidia-smi, tailscale, earlyoom).
FACTS_TOOLS: tuple[str, ...] = (
    "go", "python3", "git", "docker", "ollama", "node", "swift", "cargo", "gcc",
    "brew", "apt-get", "nvidia-smi", "tailscale", "earlyoom",
)

SECTION_NAME = r"[A-Za-z0-9_.-]{1,64}"  # the script refuses other names; the splitter reads only these
SECTION_NAME_RE = re.compile(rf"^{SECTION_NAME}$")

NVIDIA_QUERY = "name,memory.total,memory.used,utilization.gpu"

MACOS_SYSCTLS: tuple[str, ...] = (
    "hw.memsize", "hw.ncpu", "hw.physicalcpu", "hw.model", "machdep.cpu.brand_string",
    "vm.swapusage", "kern.memorystatus_vm_pressure_level", "vm.loadavg",
    "kern.hv_vmm_present",
)

#: The script's text (`facts.sh` beside this module): its `@NAME@` placeholders are filled by
#: `build_script`, each value quoted or checked first.
_TEMPLATE = read_shell_file("axis.drivers.facts", "facts.sh")


@dataclass(frozen=True)
class FactsScript:
    """One run's script and the boundary its markers carry (hand both to the parser)."""

    text: str
    boundary: str = field(repr=False)


def new_boundary() -> str:
    """A fresh boundary for one run: 128 bits from the OS's CSPRNG, as hex digits."""
    return secrets.token_hex(BOUNDARY_HEX_DIGITS // 2)


def marker_prefix(boundary: str) -> str:
    """``@@axis:B``: what every marker line of a run with ``boundary`` starts with.

    Raises ``ValueError`` unless ``boundary`` looks like ``new_boundary()``'s output: a short
    or fixed boundary would let host data guess it.
    """
    if not isinstance(boundary, str) or not BOUNDARY_RE.fullmatch(boundary):
        raise ValueError(f"invalid facts boundary: must be {BOUNDARY_HEX_DIGITS} lowercase hex digits")
    return f"@@axis:{boundary}"


def _section_name(name: str) -> str:
    if not SECTION_NAME_RE.fullmatch(name):
        raise ValueError(f"invalid section name {name!r}: must match {SECTION_NAME_RE.pattern}")
    return name


def tool_list(extra_tools: Iterable[str] = ()) -> list[str]:
    """The default tools followed by the extras, without duplicates, in order. Each name is
    checked with the spec's own rule (`axis.specs.names.check_tool_name`, ValueError): they end
    up in a shell script run as a possibly privileged user."""
    out: list[str] = []
    for name in (*FACTS_TOOLS, *extra_tools):
        check_tool_name(name)
        if name not in out:
            out.append(name)
    return out


def build_script(extra_tools: Iterable[str] = (), extra_sections: Mapping[str, str] | None = None) -> FactsScript:
    """Build one run's facts script, framed with a fresh boundary; ``extra_tools`` are probed
    with ``command -v`` too.

    ``extra_sections`` maps a section name to a shell command line (the feature drivers'
    probes): each runs as ``sh -c`` in its own section, so the features are observed in the
    same round trip as the facts. Raises ``ValueError`` on a bad tool or section name.
    Build a new script for every run: a boundary used twice could have been seen by the host.
    """
    boundary = new_boundary()
    tools = " ".join(shlex.quote(t) for t in tool_list(extra_tools))
    extra = "".join(f"_axis_section {_section_name(name)} sh -c {shlex.quote(command)}\n"
                    for name, command in (extra_sections or {}).items())
    return FactsScript(fill(_TEMPLATE, {
        "@VERSION@": str(SCRIPT_VERSION),
        "@MARKER@": shlex.quote(marker_prefix(boundary)),
        "@NVIDIA_QUERY@": NVIDIA_QUERY,
        "@TOOLS@": tools,
        "@SYSCTLS@": " ".join(shlex.quote(s) for s in MACOS_SYSCTLS),
        "@EXTRA_SECTIONS@\n": extra,
    }), boundary)
