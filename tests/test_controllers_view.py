"""What people and programs see of the controllers sharing a state DB: `axis get controllers`
(table, one by name, -o json|yaml), `describe host`'s Controller line, `GET /controllers` (the same
document as the CLI's), and `axis controller --lease` refusing what it cannot honour. `axis get
controller`, singular, stays the supervisor's health (tests/test_controller_supervise.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ruamel.yaml import YAML
from starlette.testclient import TestClient

from axis.reconcile.membership import Membership
from axis.state import Database
from tests.claimkit import host, store


def two_controllers(state_db: Path) -> None:
    """Hosts a..d shared by ctl-a (the leader, first to tick) and ctl-b, and ctl-c stopped."""
    db = Database(state_db)
    store(db, [host(n) for n in "abcd"], {}, now=time.time())
    a, b, c = (Membership(db, f"ctl-{n}", lease=3600) for n in "abc")
    for m in (a, b, c, a, b):
        m.tick()
    c.leave()
    a.tick()
    b.tick()
    db.close()


def test_get_controllers_lists_each_with_its_hosts_leader_heartbeat_and_state(state_db: Path, axis) -> None:
    two_controllers(state_db)
    r = axis("get", "controllers")
    assert r.code == 0
    header, *rows = r.out.splitlines()
    assert header.split() == ["NAME", "MACHINE", "PID", "HOSTS", "LEADER", "HEARTBEAT", "STATE"]
    cells = [row.split() for row in rows]
    assert [(c[0], c[3], c[-1]) for c in cells] == [("ctl-a", "2", "Live"), ("ctl-b", "2", "Live"), ("ctl-c", "0", "Stopped")]
    assert cells[0][4] == "yes" and "yes" not in cells[1] + cells[2]
    doc = json.loads(axis("get", "controllers", "-o", "json").out)
    assert doc["kind"] == "ControllerList"
    items = {c["name"]: c for c in doc["items"]}
    assert sorted(items["ctl-a"]["hosts"] + items["ctl-b"]["hosts"]) == ["a", "b", "c", "d"]
    assert (items["ctl-a"]["leader"], items["ctl-b"]["leader"], items["ctl-c"]["hosts"]) == (True, False, [])
    assert items["ctl-a"]["leaseSeconds"] == 3600 and items["ctl-a"]["pid"] > 0
    one = YAML(typ="safe").load(axis("get", "controllers", "ctl-b", "-o", "yaml").out)
    assert one == items["ctl-b"]
    missing = axis("get", "controllers", "nope")
    assert missing.code == 1 and "no controller named 'nope'" in missing.err


def test_get_controllers_on_a_db_no_controller_ran_on(axis) -> None:
    r = axis("get", "controllers")
    assert r.code == 0 and r.out == "" and "No controller has run on this state DB yet." in r.err
    assert json.loads(axis("get", "controllers", "-o", "json").out)["items"] == []


def test_describe_host_names_its_controller(state_db: Path, axis) -> None:
    two_controllers(state_db)
    doc = json.loads(axis("get", "controllers", "-o", "json").out)
    holder = next(c["name"] for c in doc["items"] if "a" in c["hosts"])
    out = axis("describe", "host", "a").out
    line = next(line for line in out.splitlines() if line.startswith("Controller:"))
    assert line.split()[1] == holder and "(token 1, until " in line
    db = Database(state_db)
    store(db, [host("e")], {}, now=time.time())  # stored after the last tick: nobody holds it yet
    db.close()
    assert "Controller:   <none> (no controller holds it now)" in axis("describe", "host", "e").out


def test_the_api_answers_get_controllers_as_the_cli(state_db: Path, client: TestClient, axis) -> None:
    two_controllers(state_db)
    r = client.get("/controllers")
    assert r.status_code == 200
    assert r.json() == json.loads(axis("get", "controllers", "-o", "json").out)
    assert client.get("/openapi.json").json()["paths"]["/controllers"]["get"]["responses"]["200"]


def test_controller_lease_is_checked(axis, specs) -> None:
    watch = specs({"empty.yaml": ""})
    for lease, why in (("1s", "--lease: 1s is outside 3s..1h"), ("2h", "--lease: 2h is outside 3s..1h"),
                       ("soon", "--lease: ")):
        r = axis("controller", "--watch", str(watch), "--lease", lease)
        assert r.code == 1 and why in r.err, (lease, r.err)
