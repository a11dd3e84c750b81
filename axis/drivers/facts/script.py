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
command line, which any user on the host could read in ``ps`` while the script runs), in the
here-document that feeds the root probes' script to its one root shell's stdin (a pipe in dash,
a file only the login user can read in bash), and in an unexported shell variable (never in a
probe's argv or environment: probes run in subshells, their commands get no unexported
variable). The markers are printed
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
#: The root probes' script (`facts_root.sh`): fed by the facts script to one root shell.
_ROOT_TEMPLATE = read_shell_file("axis.drivers.facts", "facts_root.sh")

#: The section that carries the exit status and stderr of the one root shell the root probes run
#: in (`sudo -n`'s own refusal ends up there); its stdout is always empty.
ROOT_GROUP = "root-probes"


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


def _probe_lines(sections: Mapping[str, str]) -> str:
    return "".join(f"_axis_section {_section_name(name)} _axis_probe {shlex.quote(command)}\n"
                   for name, command in sections.items())


def _root_group(marker: str, root_shell: str, root_sections: Mapping[str, str]) -> str:
    """The shell function that feeds the root probes' script to `root_shell` on its stdin (a
    here-document: never an argv), and the `_axis_group` call that runs it. The here-document's
    delimiter is drawn fresh, like the boundary, so no probe line can end it early."""
    inner = fill(_ROOT_TEMPLATE, {"@MARKER@": marker, "@SECTIONS@\n": _probe_lines(root_sections)})
    delimiter = f"_AXIS_ROOT_{secrets.token_hex(8)}"
    if delimiter in inner.splitlines():  # pragma: no cover - 64 random bits
        raise ValueError("root probes' here-document delimiter found in the probes")
    # the function's body is a subshell: whatever the root shell's command line does (an `exit`),
    # the facts script goes on
    return (f"_axis_root_probes() (\n{root_shell} <<'{delimiter}'\n{inner}{delimiter}\n)\n"
            f"_axis_group {ROOT_GROUP} _axis_root_probes\n")


def build_script(extra_tools: Iterable[str] = (), extra_sections: Mapping[str, str] | None = None, *,
                 root_sections: Mapping[str, str] | None = None, root_shell: str = "") -> FactsScript:
    """Build one run's facts script, framed with a fresh boundary; ``extra_tools`` are probed
    with ``command -v`` too.

    ``extra_sections`` maps a section name to a shell command line (the feature drivers'
    probes): each runs in a subshell of the script (``_axis_probe``: a fork, not a new ``sh``)
    in its own section, so the features are observed in the same round trip as the facts.
    ``root_sections`` are probes that need root, run by ``root_shell`` (a command line that
    starts ``sh -s`` as root, e.g. ``sudo -n sh -c 'sh -s'``): one root shell for all of them
    (a ``sudo`` per probe cost each probe a sudo's start-up, PAM and sudoers, on the host),
    framed like the others, followed by the ``ROOT_GROUP`` section with that shell's own exit
    status and stderr. Raises ``ValueError`` on a bad tool or section name, or root sections
    without a root shell.
    Build a new script for every run: a boundary used twice could have been seen by the host.
    """
    if root_sections and not root_shell:
        raise ValueError("root probes need the command line of a root shell")
    boundary = new_boundary()
    marker = shlex.quote(marker_prefix(boundary))
    tools = " ".join(shlex.quote(t) for t in tool_list(extra_tools))
    return FactsScript(fill(_TEMPLATE, {
        "@VERSION@": str(SCRIPT_VERSION),
        "@MARKER@": marker,
        # the name of the run's stderr file (see facts.sh): not the boundary, which must never
        # appear in a path; guessing it only makes that run capture stderr the old way
        "@ERRFILE@": secrets.token_hex(8),
        "@NVIDIA_QUERY@": NVIDIA_QUERY,
        "@TOOLS@": tools,
        "@SYSCTLS@": " ".join(shlex.quote(s) for s in MACOS_SYSCTLS),
        "@EXTRA_SECTIONS@\n": _probe_lines(extra_sections or {}),
        "@ROOT_SECTIONS@\n": _root_group(marker, root_shell, root_sections) if root_sections else "",
    }), boundary)
