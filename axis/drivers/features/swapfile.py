"""swapfile: a swap file of `size` at `path`, its /etc/fstab line, and `vm.swappiness`.

Nothing is created when the host already has at least `size` of swap without axis's own file
(facts.swap minus the file axis made): the plan is empty and its note says why. The kernel counts
a swap area without its header page (a 32 GiB file is 32 GiB - 4 KiB in SwapTotal), so each
active area may fall short of `size` by up to HEADER_SLACK: a host that another tool gave a
32 GiB file is not given a second one. The file is
built beside its final path (fallocate, dd when the filesystem cannot fallocate; chmod 600;
mkswap) and renamed into place, so a half-made file never sits at `path`. A file of the wrong
size is recreated (swapoff first, a live step). `swapon`, `swapoff` and `sysctl -p` are live
steps: a container's kernel refuses them, and the host's message is reported.

/etc/fstab is rewritten whole (atomically) from the probed content with one line added under a
`# managed by axis: swapfile` comment, never twice. It is edited as bytes: every line that is
not axis's keeps its bytes (Latin-1, CRLF, form feeds, a missing final newline), and removing
axis's lines gives back the file as it was; its permission bits are kept. An fstab (or any
other file) that cannot be read stops the feature: it is never taken for an absent one. axis records the path of the file it made
in STATE_DIR *before* creating it (a claim): an existing file at `path` that axis did not make
is never touched, and `swapfile: false` removes only the file, fstab line and sysctl file that
axis made (the kernel keeps its current swappiness until reboot).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from axis.drivers.facts import Facts
from axis.drivers.facts.sections import Section
from axis.drivers.features.base import (MANAGED_MARK, STATE_DIR, Command, FeatureDriver, Planned, Probe, RemoveFile,
                                        Step, remove_managed_step, write_step)
from axis.drivers.features.probes import ENOENT_FN, file_bytes, file_mode, file_probe, mode_probe, probe_lines
from axis.specs.features import SwapfileSettings
from axis.specs.units import format_size, human_size

FSTAB = "/etc/fstab"
SYSCTL = "/etc/sysctl.d/60-axis-swap.conf"
MARKER = f"{STATE_DIR}/swapfile.path"
#: The comment axis puts just above its fstab line; only lines under it are ever removed.
FSTAB_MARK = f"{MANAGED_MARK}: swapfile"
_MARK = FSTAB_MARK.encode()
MIB = 2**20
#: How far below its size one swap area may show in SwapTotal and still count as that size: the
#: kernel leaves out the header page (4 KiB; 64 KiB on some arm64 kernels). 1 MiB covers any page.
HEADER_SLACK = MIB


@dataclass(frozen=True)
class FileInfo:
    size: int
    kind: str                 # stat %F: "regular file", "directory", ...


@dataclass(frozen=True)
class State:
    fstab: bytes | None       # exact bytes; None: the host says there is no /etc/fstab
    sysctl: bytes | None
    marker: bytes | None      # the marker file's bytes
    files: dict[str, FileInfo] = field(default_factory=dict)  # the wanted path and axis's path
    fstab_mode: int | None = None  # /etc/fstab's permission bits, kept when axis rewrites it

    @property
    def keep_mode(self) -> int:
        """The mode /etc/fstab is written with: its own (a root-only 600 stays 600), else 644."""
        return self.fstab_mode if self.fstab_mode is not None else 0o644

    @property
    def axis_path(self) -> str | None:
        """The path of the swap file axis made, from its marker (None: axis made none)."""
        if self.marker is None or not self.marker.startswith(MANAGED_MARK.encode()):
            return None
        text = self.marker.decode("utf-8", errors="replace")
        return next((line.strip() for line in text.split("\n")
                     if line.strip() and not line.startswith("#")), None)


def file_size(settings: SwapfileSettings) -> int:
    """The size of the file axis makes: `size` rounded up to whole MiB (dd writes MiB blocks)."""
    return -(-settings.size // MIB) * MIB


def marker_text(path: str) -> str:
    return f"{MANAGED_MARK}: swapfile (the swap file axis made; `swapfile: false` removes it)\n{path}\n"


def render_sysctl(settings: SwapfileSettings) -> str:
    return f"{MANAGED_MARK}: swapfile\nvm.swappiness = {settings.swappiness}\n"


def _lines(data: bytes) -> list[bytes]:
    """Lines with their ends, split at b"\\n" only: CR, form feeds and other bytes stay inside
    their line (`str.splitlines` would split at \\f, \\x1c, U+2028 and rewrite the file)."""
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    return lines + [parts[-1]] if parts[-1] else lines


def _fields(line: bytes) -> list[bytes]:
    """fstab's fields of a line (none for a comment): fstab(5) separates them by spaces and
    tabs only, so a CR, form feed or vertical tab is part of a field (`bytes.split()` would cut
    `/swap\\rfile` into `/swap` and take that line for axis's)."""
    body = line.rstrip(b"\n")
    return [] if body.lstrip(b" \t").startswith(b"#") else [f for f in re.split(rb"[ \t]+", body) if f]


def _is_mark(line: bytes) -> bool:
    return line.rstrip(b"\r\n") == _MARK


def fstab_has(data: bytes | None, path: str) -> bool:
    return any(f[:1] == [path.encode()] for f in map(_fields, _lines(data or b"")))


def fstab_add(data: bytes | None, path: str) -> bytes:
    """Append axis's comment and line; a comment of axis's left without its line below it (the
    line was deleted by hand) goes, so the file never holds two.

    Every other line keeps its bytes. When the file's last line has no newline, the file keeps
    that shape: axis's lines follow a newline of their own and the last of them has none, so
    that `fstab_remove` gives back the original bytes."""
    lines = _lines(data or b"")
    body = b"".join(line for i, line in enumerate(lines)
                    if not _is_mark(line) or (i + 1 < len(lines) and _fields(lines[i + 1])))
    entry = _MARK + b"\n" + path.encode() + b" none swap sw 0 0"
    if body and not body.endswith(b"\n"):
        return body + b"\n" + entry
    return body + entry + b"\n"


def fstab_remove(data: bytes, path: str | None = None) -> bytes:
    """Drop each line that sits under axis's comment (for `path`, or any), with its comment.

    Every other line keeps its bytes; when axis's line was the file's last and had no newline
    (see `fstab_add`), the newline axis put before its comment goes too."""
    lines = _lines(data)
    out: list[bytes] = []
    i = 0
    while i < len(lines):
        if (_is_mark(lines[i]) and i + 1 < len(lines)
                and (f := _fields(lines[i + 1])) and (path is None or f[0] == path.encode())):
            if i + 2 == len(lines) and not lines[i + 1].endswith(b"\n") and out and out[-1].endswith(b"\n"):
                out[-1] = out[-1][:-1]
            i += 2
            continue
        out.append(lines[i])
        i += 1
    return b"".join(out)


def _active(facts: Facts) -> dict[str, int]:
    return {d.path: d.size_bytes for d in facts.swaps or []}


def _header_slack(facts: Facts, mine: str | None) -> int:
    """HEADER_SLACK for each active swap area besides axis's own file (one area when /proc/swaps
    is unknown but SwapTotal is not)."""
    if facts.swaps is None:
        return HEADER_SLACK
    return HEADER_SLACK * sum(1 for device in facts.swaps if device.path != mine)


def _in_proc_swaps(q: str) -> str:
    return f"awk 'NR > 1 {{ print $1 }}' /proc/swaps | grep -qxF -- {q}"


def _refuse_if_active(path: str, why: str) -> str:
    q = shlex.quote(path)
    return f"if {_in_proc_swaps(q)}; then echo {shlex.quote(f'{path} {why}')} >&2; exit 1; fi; "


def create_command(path: str, size: int) -> str:
    """Build the swap file beside `path`, then rename it into place (never over an active one)."""
    q, t, of = shlex.quote(path), shlex.quote(path + ".axis-new"), shlex.quote(f"of={path}.axis-new")
    make = (f"fallocate -l {size} -- {t} 2>/dev/null || "
            f"{{ rm -f -- {t}; dd if=/dev/zero {of} bs=1M count={size // MIB} status=none; }}")
    return (_refuse_if_active(path, "is in use as swap: swapoff it first")
            + f"rm -f -- {t} && (umask 077 && {{ {make}; }}) && chmod 600 -- {t} && mkswap -- {t} >/dev/null "
            f"&& mv -f -- {t} {q} || {{ rc=$?; rm -f -- {t}; exit $rc; }}")


def remove_file_command(path: str) -> str:
    return _refuse_if_active(path, "is still in use as swap: not removed") + f"rm -f -- {shlex.quote(path)}"


class Swapfile(FeatureDriver[SwapfileSettings, State]):
    settings_type = SwapfileSettings
    oses: ClassVar[frozenset[str]] = frozenset({"linux"})

    def probes(self, settings: SwapfileSettings | Literal[False]) -> dict[str, Probe]:
        wanted = shlex.quote(settings.path) if isinstance(settings, SwapfileSettings) else ""
        # size, file type and name (tab-separated) of the wanted file and of the one axis made;
        # a path that cannot be stat-ed for any reason but "no such file" fails the probe
        each = ('if [ -n "$p" ] && ! stat -c \'%s\t%F\t%n\' -- "$p" 2>/dev/null; then '
                '_axis_enoent "$p" || exit 1; fi')
        loop = f'for p in {wanted} "$m"; do {each}; done' if wanted else f'p=$m; {each}'
        marker = shlex.quote(MARKER)
        # (a marker that cannot be read fails the swapfile.marker probe, and so the feature)
        files = (f"LC_ALL=C; export LC_ALL; {ENOENT_FN}"
                 f"m=$(grep -v '^#' {marker} 2>/dev/null | head -n 1); {loop}; exit 0")
        return {"swapfile.fstab": file_probe(FSTAB), "swapfile.fstab_mode": mode_probe(FSTAB),
                "swapfile.sysctl": file_probe(SYSCTL), "swapfile.marker": file_probe(MARKER),
                "swapfile.files": Probe(files, as_root=True)}

    def observe(self, sections: Mapping[str, Section]) -> State:
        files: dict[str, FileInfo] = {}
        for line in probe_lines(sections, "swapfile.files", "the swap file"):
            parts = line.split("\t")
            if len(parts) == 3 and parts[0].isdigit():
                files[parts[2]] = FileInfo(int(parts[0]), parts[1])
        return State(file_bytes(sections, "swapfile.fstab", FSTAB), file_bytes(sections, "swapfile.sysctl", SYSCTL),
                     file_bytes(sections, "swapfile.marker", MARKER), files,
                     file_mode(sections, "swapfile.fstab_mode", FSTAB))

    def plan(self, settings: SwapfileSettings | Literal[False], state: State, facts: Facts) -> Planned:
        active = _active(facts)
        mine = state.axis_path
        if settings is False:
            steps: list[Step] = self._remove_file(mine, state, active) if mine else []
            fstab = fstab_remove(state.fstab, None) if state.fstab is not None else None
            if fstab is not None:
                steps += write_step(FSTAB, fstab, state.fstab, "drop axis's swap line", state.keep_mode)
            steps += remove_managed_step(SYSCTL, state.sysctl, "vm.swappiness")
            if mine:
                steps.append(Step("-", f"remove {MARKER} (the swap file axis made)", RemoveFile(MARKER)))
            return Planned(self._order(steps))

        path, size = settings.path, file_size(settings)
        steps = []
        notes: list[str] = []
        fstab = state.fstab
        if mine and mine != path:  # the path changed: the file axis made before goes
            steps += self._remove_file(mine, state, active)
            fstab = fstab_remove(fstab, mine) if fstab is not None else None
        skip = None
        if mine != path:
            if path in state.files:
                skip = f"{path} exists and axis did not make it: left alone (choose another path)"
            elif facts.swap is None:
                skip = f"current swap unknown ({facts.missing.get('swap', 'no facts')}): no swap file made"
            elif (other := facts.swap.total_bytes - active.get(mine or "", 0)) + _header_slack(facts, mine) \
                    >= settings.size:
                skip = f"swap already {human_size(other)} ≥ {human_size(settings.size)}: no swap file needed"
        if skip is not None:
            if fstab is not None:
                steps += write_step(FSTAB, fstab, state.fstab, "drop axis's old swap line", state.keep_mode)
            if mine:
                steps.append(Step("-", f"remove {MARKER} (the swap file axis made)", RemoveFile(MARKER)))
            return Planned(self._order(steps), [skip])

        have = state.files.get(path)
        fresh = have is None or have.size != size or have.kind != "regular file"
        if fresh:
            if have is not None and path in active:
                steps.append(Step("~", f"deactivate swap file {path} to resize it",
                                  Command(f"swapoff {shlex.quote(path)}"), live=True))
            steps += write_step(MARKER, marker_text(path), state.marker, "claim the swap file path for axis")
            steps.append(Step("+" if have is None else "~",
                              f"{'create' if have is None else 'recreate'} swap file {path} ({format_size(size)})",
                              Command(create_command(path, size))))
        if not fstab_has(fstab, path):
            fstab = fstab_add(fstab, path)
        if fstab is not None:
            steps += write_step(FSTAB, fstab, state.fstab, f"swap line for {path}", state.keep_mode)
        if facts.swaps is None:
            notes.append(f"active swap unknown ({facts.missing.get('swaps', 'no facts')}): swapon not planned")
        elif fresh or path not in active:
            steps.append(Step("~", f"activate swap file {path}", Command(f"swapon {shlex.quote(path)}"), live=True))
        written = write_step(SYSCTL, render_sysctl(settings), state.sysctl, f"vm.swappiness = {settings.swappiness}")
        steps += written
        if written or facts.swappiness != settings.swappiness:
            steps.append(Step("~", f"load {SYSCTL} into the running kernel",
                              Command(f"sysctl -p {shlex.quote(SYSCTL)}"), live=True))
        return Planned(self._order(steps), notes)

    @staticmethod
    def _order(steps: list[Step]) -> list[Step]:
        """swapoff first: a file must be free before it is rebuilt or removed (stable otherwise)."""
        def rank(step: Step) -> int:
            return 0 if isinstance(step.action, Command) and step.action.command.startswith("swapoff ") else 1
        return sorted(steps, key=rank)

    @staticmethod
    def _remove_file(path: str, state: State, active: dict[str, int]) -> list[Step]:
        steps: list[Step] = []
        if path in active:
            steps.append(Step("-", f"deactivate swap file {path}", Command(f"swapoff {shlex.quote(path)}"), live=True))
        if path in state.files:
            steps.append(Step("-", f"remove swap file {path} (axis made it)", Command(remove_file_command(path))))
        return steps
