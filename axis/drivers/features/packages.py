"""Packages and their services, for the drivers that install one (earlyoom, tailscale).

The package manager comes from the probe (`apt-get`, `dnf`, `yum`, `brew`; the facts' tool list
does not name dnf/yum), `apt-get update` runs first when the package lists are empty and again
when an install fails for a missing candidate. axis remembers that it installed a package (a
marker file under STATE_DIR, written right after the install), so removal purges only a
package axis installed. On a host whose init is not systemd the service step is *live*: the
host refuses it with its own message, and the package stays converged.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from axis.drivers.facts import Facts
from axis.drivers.facts.sections import Section
from axis.drivers.features.base import MANAGED_MARK, Command, RemoveFile, Step, Unreadable, write_step
from axis.drivers.features.probes import ASK_FN, Answer, answers, file_bytes, probe_lines

MANAGERS = ("apt-get", "dnf", "yum", "brew")


@dataclass(frozen=True)
class PackageState:
    manager: str | None          # "apt-get", "dnf", "yum", "brew", or None (the host has none of them)
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
    """One probe for a package and its service; exits 0 whatever the tools answer, which
    `observe_package` reads (see `probes.ASK_FN`: each question's exit status and words).

    Linux: the package manager, dpkg's status of the package (or `rpm -q`), the apt package
    lists, and systemd's view of the service (`is-enabled` reads unit files, so it answers on a
    host not booted with systemd; `is-active` is asked only where systemd runs, as
    sd_booted(3) tells: /run/systemd/system). macOS (Homebrew): whether the formula is
    installed, whether its root LaunchDaemon (`sudo brew services`) exists and the daemon runs.
    """
    p, s = shlex.quote(package), shlex.quote(service)
    plist = shlex.quote(f"/Library/LaunchDaemons/homebrew.mxcl.{package}.plist")
    return (
        ASK_FN + '_axis_os=$(uname -s); if [ "$_axis_os" = Darwin ]; then '
        "if command -v brew >/dev/null 2>&1; then echo 'manager: brew'; "
        f"_axis_ask brew brew list --formula --versions {p}; fi; "
        f"[ -f {plist} ] && echo 'enabled: enabled'; "
        f"_axis_ask pgrep pgrep -x {s}; "
        "elif command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then "
        "echo 'manager: apt-get'; "
        f"_axis_ask dpkg dpkg-query -W -f='${{db:Status-Abbrev}}' {p}; "
        "_axis_ask lists find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*'; "
        "elif command -v dnf >/dev/null 2>&1; then echo 'manager: dnf'; "
        f"_axis_ask rpm rpm -q {p}; "
        "elif command -v yum >/dev/null 2>&1; then echo 'manager: yum'; "
        f"_axis_ask rpm rpm -q {p}; "
        "else echo 'manager: none'; fi; "
        'if [ "$_axis_os" != Darwin ] && command -v systemctl >/dev/null 2>&1; then '
        f"_axis_ask enabled systemctl is-enabled {s}; "
        f"if [ -d /run/systemd/system ]; then _axis_ask active systemctl is-active {s}; "
        "else echo 'systemd: not running'; fi; fi; "
        "exit 0")


#: A state word as `systemctl is-enabled|is-active` prints it (enabled, static, not-found, ...).
_UNIT_STATE = re.compile(r"[a-z][a-z-]*")
#: How systemd (old, or offline: not booted with it) says the unit does not exist.
_NO_UNIT = re.compile(r"Failed to get unit file state for \S+: No such file or directory")


def _asked(asks: Mapping[str, Answer], key: str, what: str) -> Answer:
    answer = asks.get(key)
    if answer is None:
        raise Unreadable(what, f"the probe printed no answer of {key}")
    return answer


def _installed(manager: str | None, asks: Mapping[str, Answer], package: str) -> bool:
    """Whether the package manager says `package` is installed. Only its documented "no" is a
    no: dpkg-query's exit 1 "no packages found matching", rpm's "package X is not installed",
    Homebrew's exit 1 with nothing on stdout, and Homebrew's name with no version after it (exit
    0: an uninstall left the formula's Cellar folder empty, and `brew list --versions` prints
    each folder it finds with the kegs inside). An exit 0 that printed nothing is no answer. Anything else is a failure to ask: `Unreadable`,
    with the tool's words. The answer is read from the tool's stdout only (`Answer.lines`): a
    warning on stderr is not part of it."""
    what = f"the state of package {package}"
    if manager == "apt-get":
        dpkg = _asked(asks, "dpkg", what)
        if dpkg.rc == 0:
            status = "".join(dpkg.lines).strip()  # 2nd letter `i` = installed ("ii", "hi"); "rc" = config only
            return len(status) >= 2 and status[1] == "i"
        if dpkg.rc == 1 and any("no packages found matching" in line for line in dpkg.errors):
            return False
        raise Unreadable(what, f"dpkg-query: {dpkg.words()}")
    if manager in ("dnf", "yum"):
        rpm = _asked(asks, "rpm", what)
        if rpm.rc == 0:
            return True
        if [line.strip() for line in rpm.lines] == [f"package {package} is not installed"]:
            return False
        raise Unreadable(what, f"rpm -q: {rpm.words()}")
    if manager == "brew":
        brew = _asked(asks, "brew", what)
        if brew.rc == 0:
            said = [line.split() for line in brew.lines if line.strip()]
            if said:  # each installed keg's version follows the name; the name alone: no keg
                return any(len(words) > 1 for words in said)
            raise Unreadable(what, f"brew list: {brew.words()}")
        if brew.rc == 1 and not any(line.strip() for line in brew.lines) and all(
                line.startswith("Warning:") or not line.strip() for line in brew.errors):
            return False
        raise Unreadable(what, f"brew list: {brew.words()}")
    return False


def _unit_state(asks: Mapping[str, Answer], key: str, service: str) -> str:
    """systemctl's answer for the service: the state word it printed on stdout ("" when it was
    not asked: no systemctl, or systemd not running); an error instead of a state is `Unreadable`."""
    answer = asks.get(key)
    if answer is None:
        return ""
    state = next((line.strip() for line in answer.lines if _UNIT_STATE.fullmatch(line.strip())), None)
    if state is not None:
        return state
    if key == "enabled" and any(_NO_UNIT.fullmatch(line.strip()) for line in answer.errors):
        return "not-found"
    raise Unreadable(f"the state of service {service}", f"systemctl is-{key}: {answer.words()}")


def observe_package(sections: Mapping[str, Section], probe: str, marker: str, marker_path: str,
                    package: str, service: str) -> PackageState:
    """The package probe's answers and axis's marker file. The probe exits 0 whatever the tools
    say; it failing or being cut off, or a tool that could not answer, leaves the package's
    state unknown: `Unreadable` (never "not installed", which `false` would read as "nothing
    of axis's to remove" while the marker goes)."""
    plain, asks = answers(probe_lines(sections, probe, f"the state of package {package}"))
    manager = plain.get("manager")
    if manager not in (*MANAGERS, "none"):
        raise Unreadable(f"the state of package {package}", f"the probe named no package manager ({manager!r})")
    manager = None if manager == "none" else manager
    installed = _installed(manager, asks, package)
    lists = None
    if manager == "apt-get":
        found = _asked(asks, "lists", "the apt package lists")
        if found.rc != 0:
            raise Unreadable("the apt package lists", f"find: {found.words()}")
        lists = sum(1 for line in found.lines if line.strip())
    if manager == "brew":
        ps = _asked(asks, "pgrep", f"the state of service {service}")
        if ps.rc not in (0, 1):
            raise Unreadable(f"the state of service {service}", f"pgrep: {ps.words()}")
        enabled, active = plain.get("enabled", ""), "active" if ps.rc == 0 else ""
    else:
        enabled, active = _unit_state(asks, "enabled", service), _unit_state(asks, "active", service)
    return PackageState(manager=manager, installed=installed, lists=lists,
                        enabled=enabled, active=active,
                        marker_text=file_bytes(sections, marker, marker_path))


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
    manager = state.manager
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
        manager = state.manager
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
