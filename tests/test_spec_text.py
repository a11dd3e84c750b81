"""No spec string may hold a character that drives or reorders a terminal, and the CLI's tables
and error lines show such characters escaped when they come from elsewhere (a host's facts).

C1 controls (U+009B is a one-character CSI) and bidi overrides (U+202E) used to load, and
`axis get -o wide` printed what hosts reported raw.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from axis.specs import SpecErrors
from axis.specs.bounded_yaml import bounded_yaml
from axis.specs.errors import SpecError
from axis.specs.loader import load_spec_text
from axis.specs.text import visible
from axis.state import Database
from tests.claimkit import host, store
from tests.factskit import golden_facts

ROOT = Path(__file__).resolve().parent.parent

HOST_SPEC = """apiVersion: axis/v1
kind: Host
metadata:
  name: web
spec:
  address: web.lan
  description: "{label}"
"""

REFUSED = {
    "\x1b": "control character U+001B",
    "\x9b": "control character U+009B",  # CSI: ESC [ in one character
    "\x85": "control character U+0085",
    "\x9f": "control character U+009F",
    "\u202e": "bidirectional formatting character U+202E",
    "\u202a": "bidirectional formatting character U+202A",
    "\u2066": "bidirectional formatting character U+2066",
    "\u2069": "bidirectional formatting character U+2069",
    "\u200f": "bidirectional formatting character U+200F",
    "\u061c": "bidirectional formatting character U+061C",
}


@pytest.mark.parametrize("char", sorted(REFUSED))
def test_c1_controls_and_bidi_controls_are_refused_in_spec_text_with_path_and_line(char: str) -> None:
    text = HOST_SPEC.format(label=f"\\u{ord(char):04x}x")  # a YAML escape: the file itself stays plain
    with pytest.raises(SpecErrors) as caught:
        load_spec_text(text, "specs/web.yaml")
    (error,) = caught.value.errors
    assert str(error) == (f"specs/web.yaml:7: Host/web: spec.description: {REFUSED[char]} "
                          "is not allowed in spec text")


def test_raw_bidi_override_in_a_key_is_refused_too() -> None:
    text = HOST_SPEC.format(label="x").replace("address:", "addr\u202eess:")
    with pytest.raises(SpecErrors, match=r"specs/web.yaml:6: .*U\+202E is not allowed in spec text"):
        load_spec_text(text, "specs/web.yaml")


@pytest.mark.parametrize("text", ["tab\there", "zero\u200dwidth joiner (emoji)", "café ☕", "\u00a0nbsp"])
def test_ordinary_text_still_loads(text: str) -> None:
    (loaded,) = load_spec_text(HOST_SPEC.format(label=text.replace("\t", "\\t")), "specs/web.yaml")
    assert loaded.obj.spec.description == text


def test_visible_escapes_every_refused_character_and_nothing_else() -> None:
    assert visible("a\x1b[31mb\x9b2Jc\u202ed\u2066e\tf\u200dg") == "a\\x1b[31mb\\x9b2Jc\\u202ed\\u2066e\tf\u200dg"
    line = str(SpecError("specs/x.yaml", 3, "quoted \x9b and \u202e", "Host", "web"))
    assert line == "specs/x.yaml:3: Host/web: quoted \\x9b and \\u202e"


def test_table_output_escapes_what_a_host_reported(axis, state_db: Path | str) -> None:
    """A host's facts are the host's word: a GPU name with an OSC title sequence, a CSI and a
    bidi override reaches `get hosts -o wide` escaped."""
    data = golden_facts("debian12")
    data["gpus"] = [{"name": "evil\x1b]0;title\x07\x9b2J\u202eliam", "vendor": "nvidia", "source": "nvidia-smi"}]
    store(Database(state_db), [host("web")], {"web": data})
    wide = axis("get", "hosts", "-o", "wide")
    assert wide.code == 0, wide.err
    assert "evil\\x1b]0;title\\x07\\x9b2J\\u202eliam" in wide.out
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", wide.out)


def _figure(text: str, before: str) -> int:
    """The `~N,NNN` written right before `before` in `text`."""
    found = re.search(r"~([\d,]+)\s+" + re.escape(before), " ".join(text.split()))
    assert found, before
    return int(found.group(1).replace(",", ""))


def test_the_fleet_node_estimate_in_the_docs_is_measured() -> None:
    """README and bounded_yaml's docstring both give the nodes of 200 hosts and 50 claims written
    like the examples: the same figure, within 2% of what the homelab example repeated measures."""
    readme = _figure((ROOT / "README.md").read_text(), "nodes. Collections nest")
    docstring = _figure((ROOT / "axis" / "specs" / "bounded_yaml.py").read_text(), "nodes (measured")
    assert readme == docstring
    specs = ROOT / "examples" / "homelab" / "specs"
    docs = {kind: [d for d in (specs / f"{kind}s.yaml").read_text().split("\n---\n") if f"kind: {kind.title()}" in d]
            for kind in ("host", "claim")}
    fleet = []
    for kind, count in (("host", 200), ("claim", 50)):
        for i in range(count):
            doc = docs[kind][i % len(docs[kind])]
            fleet.append(re.sub(r"(?m)^(  name: )\S+", rf"\g<1>{kind}{i}", doc, count=1))
    yaml = bounded_yaml()
    assert len(list(yaml.load_all("\n---\n".join(fleet)))) == 250
    measured = yaml.composer.nodes
    assert abs(measured - readme) <= 0.02 * measured, measured


def test_the_controllers_log_lines_escape_what_a_host_said(capsys, stderr_log):
    """Step reasons and events carry a host's own words into the controller's log lines."""
    import logging

    stderr_log()
    logging.getLogger("axis.reconcile.controller").info("axis-t1: refused: \x1b]0;owned\x07 \x9b2J \u202eevil")
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x9b" not in err and "\u202e" not in err
    assert "\\x1b]0;owned\\x07" in err and "\\u202e" in err
