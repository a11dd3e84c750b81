"""earlyoom: the package installed with the host's package manager, its service enabled and running.

axis remembers that it installed the package (a marker under STATE_DIR, written right after the
install), so `earlyoom: false` disables and purges only a package axis installed; one that was
there before axis is left installed (axis just stops managing it, and says so).

The package helpers below (probe, install, remove, service) are shared with `tailscale`: the
package manager comes from the probe (`apt-get`, `dnf`, `yum`; the facts' tool list does not
name dnf/yum), `apt-get update` runs first when the package lists are empty and again when
an install fails for a missing candidate. On a host whose init is not systemd the service
step is *live*: the host refuses it with its own message, and the package stays converged.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import ClassVar, Literal, Mapping

from pydantic import BaseModel

from axis.drivers.facts import Facts
from axis.drivers.facts.sections import Section
from axis.drivers.features.base import (MANAGED_MARK, STATE_DIR, Command, Probe, RemoveFile, Step, file_bytes,
                                        file_probe, probe_lines, write_step)
from axis.specs.features import EarlyoomSettings

PACKAGE = "earlyoom"
SERVICE = "earlyoom"
MARKER = f"{STATE_DIR}/earlyoom.installed"

MANAGERS = ("apt-get", "dnf", "yum", "brew")


@dataclass(frozen=True)
class PackageState:
    manager: str | None          # "apt-get", "dnf", "yum", "brew", or None (none found / not probed)
    installed: bool
    lists: int | None            # apt: package list files in /var/lib/apt/lists (0 = never updated)
    enabled: str                 # `systemctl is-enabled` ("enabled", "disabled", "" when unknown)
    active: str                  # `systemctl is-active` ("active", "inactive", "" when unknown)
    marker_text: bytes | None    # the marker file axis writes after installing the package

    @property
    def marker(self) -> bool:
        """axis installed the package: its marker is there and carries the managed mark."""
        return self.marker_text is not None and self.marker_text.startswith(MANAGED_MARK.encode())


def package_probe(package: str, service: str) -> str:
    """One probe for a package and its service: `key: value` lines, always exit 0.

    Linux: the package manager, the package's state (dpkg `ii` / rpm installed), the number of
    apt package lists, and systemd's view of the service (`is-enabled`/`is-active` work without
    root; on a host without systemd they print nothing). macOS (Homebrew): whether the formula
    is installed, whether its root LaunchDaemon (`sudo brew services`) exists and the daemon runs.
    """
    p, s = shlex.quote(package), shlex.quote(service)
    plist = shlex.quote(f"/Library/LaunchDaemons/homebrew.mxcl.{package}.plist")
    return (
        'if [ "$(uname -s)" = Darwin ]; then '
        "if command -v brew >/dev/null 2>&1; then echo 'manager: brew'; "
        f"brew list --formula --versions {p} >/dev/null 2>&1 && echo 'status: ii'; fi; "
        f"[ -f {plist} ] && echo 'enabled: enabled'; "
        f"pgrep -x {shlex.quote(service)} >/dev/null 2>&1 && echo 'active: active'; "
        "elif command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then "
        "echo 'manager: apt-get'; "
        f"echo \"status: $(dpkg-query -W -f='${{db:Status-Abbrev}}' {p} 2>/dev/null)\"; "
        "echo \"lists: $(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' 2>/dev/null | wc -l)\"; "
        "elif command -v dnf >/dev/null 2>&1; then echo 'manager: dnf'; "
        f"rpm -q {p} >/dev/null 2>&1 && echo 'status: ii'; "
        "elif command -v yum >/dev/null 2>&1; then echo 'manager: yum'; "
        f"rpm -q {p} >/dev/null 2>&1 && echo 'status: ii'; "
        "else echo 'manager: none'; fi; "
        'if [ "$(uname -s)" != Darwin ] && command -v systemctl >/dev/null 2>&1; then '
        f"echo \"enabled: $(systemctl is-enabled {s} 2>/dev/null)\"; "
        f"echo \"active: $(systemctl is-active {s} 2>/dev/null)\"; fi; "
        "exit 0")


def _pairs(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep:
            out.setdefault(key.strip(), value.strip())
    return out


def observe_package(sections: Mapping[str, Section], probe: str, marker: str, marker_path: str,
                    package: str) -> PackageState:
    """The package probe's answer (it exits 0 whatever it finds: a failure or a cut-off output
    leaves the package's state unknown, `Unreadable`) and axis's marker file."""
    kv = _pairs(probe_lines(sections, probe, f"the state of package {package}"))
    manager = kv.get("manager")
    lists = kv.get("lists")
    return PackageState(
        manager=manager if manager in MANAGERS else None,
        # dpkg's abbreviated status: 2nd letter `i` = installed ("ii ", "hi "); "rc" = config only
        installed=len(kv.get("status", "")) >= 2 and kv["status"][1] == "i",
        lists=int(lists) if lists is not None and lists.isdigit() else None,
        enabled=kv.get("enabled", ""), active=kv.get("active", ""),
        marker_text=file_bytes(sections, marker, marker_path))


def _manager(state: PackageState, facts: Facts) -> str | None:
    if state.manager:
        return state.manager
    for tool in ("apt-get", "brew"):  # the probe failed: fall back on the facts' tool list
        if facts.tools.get(tool):
            return tool
    return None


def brew_path(facts: Facts) -> str:
    """Homebrew by its full path: neither a non-interactive SSH session nor sudo's secure_path
    has /opt/homebrew/bin on PATH."""
    return shlex.quote(facts.tools.get("brew") or "brew")


def apt_install_command(package: str, lists_empty: bool) -> str:
    """`apt-get install -y`, non-interactive; `apt-get update` first when the lists are empty,
    or after an install that failed because apt knows no candidate for the package."""
    install = f"DEBIAN_FRONTEND=noninteractive apt-get install -y {shlex.quote(package)}"
    if lists_empty:
        return f"apt-get update && {install}"
    return (f"out=$({install} 2>&1) && exit 0; rc=$?; "
            "case $out in *'Unable to locate package'*|*'no installation candidate'*) "
            f"apt-get update && {install};; "
            "*) printf '%s\\n' \"$out\" >&2; exit $rc;; esac")


def install_steps(package: str, marker: str, state: PackageState, facts: Facts) -> list[Step]:
    """Install `package` unless it is installed, then record that axis installed it."""
    if state.installed:
        return []
    manager = _manager(state, facts)
    q = shlex.quote(package)
    if manager == "apt-get":
        command = Command(apt_install_command(package, state.lists == 0))
    elif manager in ("dnf", "yum"):
        command = Command(f"{manager} install -y {q}")
    elif manager == "brew":
        command = Command(f"{brew_path(facts)} install {q}", as_root=False)  # Homebrew refuses root
    else:
        command = Command("echo 'no apt-get, dnf, yum or brew on this host' >&2; exit 1")
    return [Step("+", f"install package {package} ({manager or 'no package manager'})", command),
            *write_step(marker, marker_text(package), state.marker_text, f"remember that axis installed {package}")]


def marker_text(package: str) -> str:
    return f"{MANAGED_MARK}: {package}\ninstalled-by-axis: {package}\n"


def remove_steps(package: str, marker: str, state: PackageState, facts: Facts) -> list[Step]:
    """Purge `package` only if axis installed it (its marker), then forget the marker."""
    if not state.marker:
        return []
    steps: list[Step] = []
    if state.installed:
        manager = _manager(state, facts)
        q = shlex.quote(package)
        if manager == "apt-get":
            command = Command(f"DEBIAN_FRONTEND=noninteractive apt-get purge -y {q}")
        elif manager in ("dnf", "yum"):
            command = Command(f"{manager} remove -y {q}")
        elif manager == "brew":
            command = Command(f"{brew_path(facts)} uninstall {q}", as_root=False)
        else:
            command = Command("echo 'no apt-get, dnf, yum or brew on this host' >&2; exit 1")
        steps.append(Step("-", f"remove package {package} (axis installed it)", command))
    steps.append(Step("-", f"remove {marker} (axis installed {package})", RemoveFile(marker)))
    return steps


def service_running(state: PackageState) -> bool:
    return state.enabled == "enabled" and state.active == "active"


def systemd_service_step(service: str, state: PackageState, facts: Facts, enable: bool) -> list[Step]:
    """`systemctl enable|disable --now SERVICE` when needed; live on a host without systemd."""
    q = shlex.quote(service)
    live = not facts.has_systemd
    if enable:
        if service_running(state):
            return []
        return [Step("~", f"enable and start the {service} service", Command(f"systemctl enable --now {q}"), live=live)]
    if state.enabled != "enabled" and state.active != "active":
        return []
    return [Step("~", f"stop and disable the {service} service", Command(f"systemctl disable --now {q}"), live=live)]


def not_axis_note(package: str, state: PackageState, removing: bool) -> list[str]:
    """Say so when the package was there before axis: `false` leaves it installed."""
    if not state.installed or state.marker:
        return []
    if removing:
        return [f"{package} was not installed by axis: left installed, no longer managed"]
    return [f"{package} was installed before axis: `false` would leave it installed"]


class Earlyoom:
    name: ClassVar[str] = "earlyoom"
    oses: ClassVar[frozenset[str]] = frozenset({"linux"})

    def probes(self, settings: BaseModel | Literal[False]) -> dict[str, Probe]:
        return {"earlyoom.pkg": Probe(package_probe(PACKAGE, SERVICE)), "earlyoom.marker": file_probe(MARKER)}

    def observe(self, sections: Mapping[str, Section]) -> PackageState:
        return observe_package(sections, "earlyoom.pkg", "earlyoom.marker", MARKER, PACKAGE)

    def plan(self, settings: BaseModel | Literal[False], state: PackageState, facts: Facts) -> list[Step]:
        if settings is False:
            if not state.marker:
                return []
            stop = systemd_service_step(SERVICE, state, facts, enable=False) if state.installed else []
            return stop + remove_steps(PACKAGE, MARKER, state, facts)
        assert isinstance(settings, EarlyoomSettings)
        return install_steps(PACKAGE, MARKER, state, facts) + systemd_service_step(SERVICE, state, facts, enable=True)

    def notes(self, settings: BaseModel | Literal[False], state: PackageState, facts: Facts) -> list[str]:
        return not_axis_note(PACKAGE, state, removing=settings is False)
