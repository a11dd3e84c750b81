"""What a person reads: `describe` wraps to the terminal (tables stay tables, a piped describe
and -o json/yaml do not change), and `get hosts` and `get hosts -o wide` agree on SUDO."""

from __future__ import annotations

import json
from axis.state import Database
from axis.state.facts import Observation, store_observations
from tests.factskit import golden_facts

LONG = "a machine under the stairs whose description goes on well past any terminal's eighty columns"
SPECS = {"hosts.yaml": f"""
    apiVersion: axis/v1
    kind: Host
    metadata: {{name: root-box, labels: {{owner: someone-with-a-long-name, zone: basement-rack-two, role: worker}}}}
    spec: {{address: 192.0.2.1, description: "{LONG}"}}
    ---
    apiVersion: axis/v1
    kind: Host
    metadata: {{name: ops-box}}
    spec: {{address: 192.0.2.2, user: ops}}
    ---
    apiVersion: axis/v1
    kind: Host
    metadata: {{name: ops-sudo}}
    spec: {{address: 192.0.2.5, user: ops, sudo: true}}
    ---
    apiVersion: axis/v1
    kind: Host
    metadata: {{name: new-sudo}}
    spec: {{address: 192.0.2.3, sudo: true}}
    ---
    apiVersion: axis/v1
    kind: Host
    metadata: {{name: new-plain}}
    spec: {{address: 192.0.2.4}}
    ---
    apiVersion: axis/v1
    kind: HostProfile
    metadata: {{name: base}}
    spec: {{features: {{earlyoom: {{}}, watchdog: false}}}}
"""}


def _fleet(axis, specs, state_db) -> None:  # type: ignore[no-untyped-def]
    assert axis("apply", "--no-converge", "-f", str(specs(SPECS))).code == 0
    with Database(state_db).write() as session:
        # debian12 logs in as root; debian12-testhost as ops, with passwordless sudo
        store_observations(session, [Observation(name, "complete", "", golden_facts(fixture), 1.0)
                                     for name, fixture in (("root-box", "debian12"), ("ops-box", "debian12-testhost"),
                                                                    ("ops-sudo", "debian12-testhost"))])


def _column(out: str, header: str) -> dict[str, str]:
    lines = out.splitlines()
    at = lines[0].index(header)
    return {line.split()[0]: line[at:].split()[0] for line in lines[1:]}


def test_get_hosts_and_wide_agree_on_sudo(axis, specs, state_db):  # type: ignore[no-untyped-def]
    _fleet(axis, specs, state_db)
    table, wide = axis("get", "hosts").out, axis("get", "hosts", "-o", "wide").out
    # a root login is root; ops-box's spec leaves sudo out, so its steps run without sudo even though
    # the host has passwordless sudo (steps use `sudo -n` only under `sudo: true`); unobserved: the spec
    expected = {"root-box": "root", "ops-box": "no", "ops-sudo": "yes", "new-sudo": "yes", "new-plain": "no"}
    assert _column(table, "SUDO") == _column(wide, "SUDO") == expected
    for out in (table, wide):
        assert "no (sudo available)" in next(line for line in out.splitlines() if line.startswith("ops-box"))
    assert _column(table, "FEATURES")["new-plain"] == "earlyoom,-watchdog"


def test_get_help_explains_sudo_and_the_feature_markers(axis):  # type: ignore[no-untyped-def]
    out = " ".join(axis("get", "--help").out.replace("│", " ").split())
    assert "`-name` is one set to false (axis removes it from the host)" in out
    assert "root (the login is root); no when the spec leaves `sudo` out or false" in out


def test_describe_wraps_to_the_terminal_and_keeps_its_tables(axis, specs, state_db, monkeypatch):  # type: ignore[no-untyped-def]
    _fleet(axis, specs, state_db)
    monkeypatch.delenv("COLUMNS", raising=False)  # piped (capsys is no terminal): one line per field
    piped = axis("describe", "host", "root-box").out
    assert "Labels:       owner=someone-with-a-long-name, role=worker, zone=basement-rack-two\n" in piped
    monkeypatch.setenv("COLUMNS", "60")
    lines = axis("describe", "host", "root-box").out.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 60, "\n".join(lines)
    labels = lines.index("Labels:       owner=someone-with-a-long-name, role=worker,")
    assert lines[labels + 1] == " " * 14 + "zone=basement-rack-two"
    features = lines.index("Effective features:")
    assert lines[features + 1].split() == ["FEATURE", "SETTINGS", "FROM", "STATE", "MESSAGE"]
    assert [line.split()[:2] for line in lines[features + 2:features + 4]] == [["earlyoom", "{}"], ["watchdog", "remove"]]
    doc = json.loads(axis("get", "host", "root-box", "-o", "json").out)
    assert doc["spec"]["description"] == LONG


def test_describe_tables_carry_no_escape_codes_on_a_terminal(monkeypatch):  # type: ignore[no-untyped-def]
    # the captured table is printed again through a console that counts escape codes as
    # characters: with them, a full-width header row spilled onto a second line on a terminal
    from axis.cli.output import indented_table

    monkeypatch.setenv("FORCE_COLOR", "1")  # rich colours as on a terminal
    monkeypatch.setenv("COLUMNS", "60")
    text = indented_table(["TYPE", "REASON", "AGE", "MESSAGE"], [["Warning", "Refused", "3m", "x" * 60]])
    assert "\x1b" not in text
    lines = text.splitlines()
    assert lines[0].split() == ["TYPE", "REASON", "AGE", "MESSAGE"]
    assert max(len(line.rstrip()) for line in lines) <= 60, text


def test_describe_at_80_columns_keeps_every_cell_whole(monkeypatch):  # type: ignore[no-untyped-def]
    # wide fixed columns at 80 columns: rich cut them and squeezed the message out; now the
    # table runs wide (as piped) when the message would get under MESSAGE_MIN_WIDTH
    from axis.cli.output import MESSAGE_MIN_WIDTH, indented_table

    monkeypatch.setenv("COLUMNS", "80")
    refused = "refused: the host's package manager is locked by another process (dpkg frontend lock held by pid 4242)"
    row = ["unattended-upgrades", "{schedule: daily, reboot: false}", "profile/base-hardening", "refused", refused]
    text = indented_table(["FEATURE", "SETTINGS", "FROM", "STATE", "MESSAGE"], [row])
    for cell in row:
        assert cell in text, text
    # a narrow table still wraps its message to the terminal, at least MESSAGE_MIN_WIDTH wide
    text = indented_table(["TYPE", "MESSAGE"], [["Warning", refused]])
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
    assert " ".join(line[2 + len("Warning") + 3:].strip() for line in text.splitlines()[1:]) == refused
    assert MESSAGE_MIN_WIDTH >= 24
