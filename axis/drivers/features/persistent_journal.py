"""persistentJournal: /var/log/journal exists, so journald keeps the logs across reboots.

With journald's default `Storage=auto`, the journal is persistent exactly when /var/log/journal
exists. axis creates it (`systemd-tmpfiles --create --prefix /var/log/journal` then sets its
group and ACLs) and restarts systemd-journald, a live step (a host without systemd refuses it).
The journal counts as persisting once journald has made its machine-id directory there; until
then the restart is planned again (and, once refused, remembered as refused).

axis records that it created the directory (a marker under STATE_DIR, written just before the
mkdir): `persistentJournal: false` removes only a directory axis created — with the journal
files in it — and restarts journald so it logs to /run again. A directory that was there before
axis (Debian 12's systemd package ships one) is left alone.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from axis.drivers.facts import Facts
from axis.drivers.facts.sections import Section
from axis.drivers.features.base import (MANAGED_MARK, STATE_DIR, Command, FeatureDriver, Planned, Probe, RemoveFile,
                                        Step, Unreadable, write_step)
from axis.drivers.features.probes import ENOENT_FN, file_bytes, file_probe, probe_lines
from axis.specs.features import PersistentJournalSettings

JOURNAL_DIR = "/var/log/journal"
MARKER = f"{STATE_DIR}/persistent-journal.created"
RESTART = "systemctl restart systemd-journald"
_Q = shlex.quote(JOURNAL_DIR)  # a constant, quoted all the same like every path in a command

#: Prints `dir: yes|no|other`, `persisting: yes` when journald writes there, and the last
#: `Storage=` set in journald.conf(.d). `dir: no` (and no machine-id, no journald.conf) only when
#: the host says there is no such file; any other failure to look or read (EACCES on /var/log,
#: an unreadable journald.conf or machine-id) fails the probe with the host's words (`cat`'s
#: "Permission denied"), never "not persisting" or "default storage".
#: Run as root like the steps, so that what it sees is what `mkdir` would see.
PROBE = (
    f"LC_ALL=C; export LC_ALL; {ENOENT_FN}"
    f"if [ -d {_Q} ]; then echo 'dir: yes'; "
    "id=; if [ -e /etc/machine-id ] || [ -L /etc/machine-id ]; then id=$(cat /etc/machine-id) || exit 1; "
    "elif ! _axis_enoent /etc/machine-id; then exit 1; fi; "
    f'[ -n "$id" ] && [ -d {_Q}/"$id" ] && echo \'persisting: yes\'; '
    f"elif [ -e {_Q} ] || [ -L {_Q} ]; then echo 'dir: other'; "
    f"elif _axis_enoent {_Q}; then echo 'dir: no'; else exit 1; fi; "
    "conf=$(for f in /etc/systemd/journald.conf /etc/systemd/journald.conf.d/*.conf; do "
    'if [ -e "$f" ] || [ -L "$f" ]; then cat -- "$f" || exit 1; elif ! _axis_enoent "$f"; then exit 1; fi; '
    "done) || exit 1; "
    "s=$(printf '%s\\n' \"$conf\" | sed -n 's/^[[:space:]]*Storage=//p' | tail -n 1); "
    '[ -n "$s" ] && echo "storage: $s"; exit 0')


@dataclass(frozen=True)
class State:
    dir: str                  # "yes", "no", "other" (something that is not a directory)
    persisting: bool          # journald's machine-id directory is there
    storage: str              # journald's Storage= ("" = default, auto)
    marker: bytes | None

    @property
    def created_by_axis(self) -> bool:
        return self.marker is not None and self.marker.startswith(MANAGED_MARK.encode())


def marker_text() -> str:
    return f"{MANAGED_MARK}: persistentJournal\ncreated-by-axis: {JOURNAL_DIR}\n"


class PersistentJournal(FeatureDriver[PersistentJournalSettings, State]):
    settings_type = PersistentJournalSettings
    oses: ClassVar[frozenset[str]] = frozenset({"linux"})

    def probes(self, settings: PersistentJournalSettings | Literal[False]) -> dict[str, Probe]:
        return {"persistentJournal.dir": Probe(PROBE, as_root=True), "persistentJournal.marker": file_probe(MARKER)}

    def observe(self, sections: Mapping[str, Section]) -> State:
        kv: dict[str, str] = {}
        for line in probe_lines(sections, "persistentJournal.dir", JOURNAL_DIR):
            key, sep, value = line.partition(":")
            if sep:
                kv[key.strip()] = value.strip()
        if kv.get("dir") not in ("yes", "no", "other"):
            raise Unreadable(JOURNAL_DIR, f"the probe printed no `dir:` line ({kv.get('dir', 'none')!r})")
        return State(kv["dir"], kv.get("persisting") == "yes", kv.get("storage", ""),
                     file_bytes(sections, "persistentJournal.marker", MARKER))

    def plan(self, settings: PersistentJournalSettings | Literal[False], state: State, facts: Facts) -> Planned:
        return Planned(self._steps(settings, state, facts), self._notes(settings, state, facts))

    def _steps(self, settings: PersistentJournalSettings | Literal[False], state: State, facts: Facts) -> list[Step]:
        restart = Step("~", "restart systemd-journald", Command(RESTART), live=True)
        if settings is False:
            if not state.created_by_axis:
                return []
            steps: list[Step] = []
            if state.dir == "yes":
                steps += [Step("-", f"remove {JOURNAL_DIR} (axis created it; its journal files go too)",
                               Command(f"rm -rf -- {_Q}")), restart]
            return steps + [Step("-", f"remove {MARKER} (axis created {JOURNAL_DIR})", RemoveFile(MARKER))]
        if state.dir == "other":
            return []
        steps = []
        if state.dir != "yes":
            steps += write_step(MARKER, marker_text(), state.marker, f"remember that axis created {JOURNAL_DIR}")
            steps.append(Step("+", f"create {JOURNAL_DIR}", Command(
                f"mkdir -p {_Q} && {{ ! command -v systemd-tmpfiles >/dev/null 2>&1 || "
                f"systemd-tmpfiles --create --prefix {_Q}; }}")))
        if self._journald_uses_dir(state) and (steps or not state.persisting):
            steps.append(restart)
        return steps

    @staticmethod
    def _journald_uses_dir(state: State) -> bool:
        return state.storage.lower() not in ("volatile", "none")

    def _notes(self, settings: PersistentJournalSettings | Literal[False], state: State, facts: Facts) -> list[str]:
        if settings is False:
            if state.dir == "yes" and not state.created_by_axis:
                return [f"{JOURNAL_DIR} was not created by axis: left as it is"]
            return []
        if state.dir == "other":
            return [f"{JOURNAL_DIR} exists but is not a directory: left alone"]
        if not self._journald_uses_dir(state):
            return [f"journald has Storage={state.storage}: it does not use {JOURNAL_DIR}"]
        return []
