"""Bad specs: every error names the exact file, line and field, and all are reported at once."""

from __future__ import annotations

import pytest

from axis.specs import SpecErrors, load_specs

GOOD_HOST = """\
apiVersion: axis/v1
kind: Host
metadata:
  name: ubu-1
spec:
  address: ubu-1.lan
"""

# (id, files, [(file, line, field, message fragment), ...])
CASES = [
    ("yaml-syntax", {"a.yaml": "apiVersion: axis/v1\nkind: Host\nmetadata:\n  name: [ubu-1\nspec: {}\n"},
     [("a.yaml", 5, None, "invalid YAML")]),
    ("yaml-tab-indent", {"a.yaml": "apiVersion: axis/v1\nkind: Host\nmetadata:\n\tname: x\n"},
     [("a.yaml", 4, None, "invalid YAML")]),
    ("duplicate-key", {"a.yaml": GOOD_HOST + "  address: again\n"},
     [("a.yaml", 7, None, "duplicate key")]),
    ("unknown-top-field", {"a.yaml": GOOD_HOST + "extra: 1\n"},
     [("a.yaml", 7, "extra", "unknown field")]),
    ("unknown-spec-field", {"a.yaml": GOOD_HOST + "  adress: typo\n"},
     [("a.yaml", 7, "spec.adress", "unknown field")]),
    ("unknown-feature", {"a.yaml": GOOD_HOST + "  features:\n    swapfle: {}\n"},
     [("a.yaml", 8, "spec.features.swapfle", "unknown field")]),
    ("unknown-feature-setting", {"a.yaml": GOOD_HOST + "  features:\n    swapfile:\n      size: 8G\n      swapiness: 5\n"},
     [("a.yaml", 10, "spec.features.swapfile.swapiness", "unknown field")]),
    ("wrong-type-port", {"a.yaml": GOOD_HOST + "  port: twenty-two\n"},
     [("a.yaml", 7, "spec.port", "valid integer")]),
    ("port-out-of-range", {"a.yaml": GOOD_HOST + "  port: 70000\n"},
     [("a.yaml", 7, "spec.port", "less than or equal to 65535")]),
    ("wrong-type-sudo", {"a.yaml": GOOD_HOST + "  sudo: sometimes\n"},
     [("a.yaml", 7, "spec.sudo", "valid boolean")]),
    ("feature-not-mapping", {"a.yaml": GOOD_HOST + "  features:\n    earlyoom: yes please\n"},
     [("a.yaml", 8, "spec.features.earlyoom", "expected a mapping of settings, true or false")]),
    ("bad-size", {"a.yaml": GOOD_HOST + "  features:\n    swapfile: {size: 32X}\n"},
     [("a.yaml", 8, "spec.features.swapfile.size", "invalid size '32X'")]),
    ("bad-duration", {"c.yaml": "apiVersion: axis/v1\nkind: Claim\nmetadata: {name: job}\nspec:\n  task: build it\n  ttl: 45 minutes\n"},
     [("c.yaml", 6, "spec.ttl", "invalid duration '45 minutes'")]),
    ("bad-claim-memory", {"c.yaml": "apiVersion: axis/v1\nkind: Claim\nmetadata: {name: job}\nspec:\n  task: t\n  requires:\n    memory: lots\n"},
     [("c.yaml", 7, "spec.requires.memory", "invalid size 'lots'")]),
    ("bad-claim-os", {"c.yaml": "apiVersion: axis/v1\nkind: Claim\nmetadata: {name: job}\nspec:\n  task: t\n  requires: {os: windows}\n"},
     [("c.yaml", 6, "spec.requires.os", "'linux' or 'macos'")]),
    ("bad-tool-name", {"c.yaml": "apiVersion: axis/v1\nkind: Claim\nmetadata: {name: job}\nspec:\n  task: t\n  requires:\n    tools:\n      - git\n      - $(rm -rf /)\n"},
     [("c.yaml", 9, "spec.requires.tools[1]", "tool name")]),
    ("missing-task", {"c.yaml": "apiVersion: axis/v1\nkind: Claim\nmetadata: {name: job}\nspec:\n  ttl: 5m\n"},
     [("c.yaml", 4, "spec.task", "required field missing")]),
    ("missing-address", {"a.yaml": "apiVersion: axis/v1\nkind: Host\nmetadata:\n  name: ubu-1\nspec:\n  sudo: true\n"},
     [("a.yaml", 5, "spec.address", "required field missing")]),
    ("bad-name", {"a.yaml": GOOD_HOST.replace("name: ubu-1", "name: Ubu_1")},
     [("a.yaml", 4, "metadata.name", "DNS-1123")]),
    ("bad-label-value", {"a.yaml": GOOD_HOST.replace("  name: ubu-1\n", "  name: ubu-1\n  labels:\n    role: bad value!\n")},
     [("a.yaml", 5, "metadata.labels", "label value 'bad value!'")]),
    ("label-not-string", {"a.yaml": GOOD_HOST.replace("  name: ubu-1\n", "  name: ubu-1\n  labels:\n    gpu: true\n")},
     [("a.yaml", 6, "metadata.labels.gpu", "valid string")]),
    ("unknown-kind", {"a.yaml": "apiVersion: axis/v1\nkind: Server\nmetadata: {name: x}\nspec: {}\n"},
     [("a.yaml", 2, "kind", "unknown kind 'Server'")]),
    ("missing-kind", {"a.yaml": "apiVersion: axis/v1\nmetadata: {name: x}\nspec: {}\n"},
     [("a.yaml", 1, "kind", "required field missing")]),
    ("missing-apiversion", {"a.yaml": "# no apiVersion\n\nkind: Host\nmetadata: {name: x}\nspec: {address: x}\n"},
     [("a.yaml", 3, "apiVersion", "required field missing")]),
    ("wrong-apiversion", {"a.yaml": GOOD_HOST.replace("axis/v1", "axis/v2")},
     [("a.yaml", 1, "apiVersion", "unsupported apiVersion 'axis/v2'")]),
    ("not-a-mapping", {"a.yaml": "- just\n- a list\n"},
     [("a.yaml", 1, None, "must be a mapping")]),
    ("duplicate-across-files", {"a.yaml": GOOD_HOST, "sub/b.yml": "# comment\n" + GOOD_HOST},
     [("b.yml", 2, "metadata.name", "duplicate Host 'ubu-1', first defined at")]),
    ("profile-bad-selector", {"p.yaml": "apiVersion: axis/v1\nkind: HostProfile\nmetadata: {name: base}\nspec:\n  selector:\n    labels: {role: worker}\n"},
     [("p.yaml", 6, "spec.selector.labels", "unknown field")]),
    ("second-document", {"a.yaml": GOOD_HOST + "---\n" + GOOD_HOST.replace("ubu-1", "ubu-2").replace("address: ubu-2.lan", "address: ubu-2.lan\n  fanout: maybe")},
     [("a.yaml", 14, "spec.fanout", "valid boolean")]),
    ("swap-path-relative", {"a.yaml": GOOD_HOST + "  features:\n    swapfile: {path: swap.img}\n"},
     [("a.yaml", 8, "spec.features.swapfile.path", "absolute path")]),
]


@pytest.mark.parametrize("files,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_spec_names_file_line_field(specs, files, expected):
    root = specs(files)
    with pytest.raises(SpecErrors) as info:
        load_specs([root])
    errors = info.value.errors
    assert len(errors) == len(expected), [str(e) for e in errors]
    for error, (file, line, field, fragment) in zip(errors, expected):
        assert error.path.endswith(file), str(error)
        assert error.line == line, str(error)
        assert error.field == field, str(error)
        assert fragment in error.message, str(error)
        assert str(error).startswith(f"{error.path}:{line}: "), str(error)


def test_message_format_names_kind_and_object(specs):
    root = specs({"a.yaml": GOOD_HOST + "  port: 0\n"})
    with pytest.raises(SpecErrors) as info:
        load_specs([root])
    assert str(info.value.errors[0]) == (
        f"{root}/a.yaml:7: Host/ubu-1: spec.port: Input should be greater than or equal to 1")


def test_all_errors_reported_at_once(specs):
    root = specs({"a.yaml": GOOD_HOST + "  port: x\n  sudo: maybe\n", "b.yaml": "kind: Nope\n"})
    with pytest.raises(SpecErrors) as info:
        load_specs([root])
    assert [(e.path.rsplit("/", 1)[1], e.field) for e in info.value.errors] == [
        ("a.yaml", "spec.port"), ("a.yaml", "spec.sudo"), ("b.yaml", "apiVersion")]


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(SpecErrors) as info:
        load_specs([tmp_path / "nope"])
    assert "no such file or directory" in str(info.value)


def test_profile_matching_nothing_is_not_an_error(specs):
    root = specs({"p.yaml": "apiVersion: axis/v1\nkind: HostProfile\nmetadata: {name: gpu}\n"
                            "spec:\n  selector: {matchLabels: {gpu: nvidia}}\n  features: {earlyoom: {}}\n"})
    [loaded] = load_specs([root])
    assert loaded.key == ("HostProfile", "gpu")


def test_hidden_dirs_and_other_files_are_skipped(specs):
    root = specs({"a.yaml": GOOD_HOST, ".git/x.yaml": "garbage: [", "README.md": "kind: nope", "notes.txt": "x"})
    assert [l.key for l in load_specs([root])] == [("Host", "ubu-1")]


def test_empty_documents_and_list_kind(specs):
    listed = ("apiVersion: axis/v1\nkind: List\nitems:\n"
              "- apiVersion: axis/v1\n  kind: Host\n  metadata: {name: a, generation: 4}\n  spec: {address: a}\n"
              "  status: {anything: ignored}\n"
              "- apiVersion: axis/v1\n  kind: Host\n  metadata: {name: b}\n  spec: {address: b, port: x}\n")
    root = specs({"a.yaml": "---\n---\n" + listed})
    with pytest.raises(SpecErrors) as info:
        load_specs([root])
    [error] = info.value.errors
    assert (error.line, error.field, error.name) == (14, "spec.port", "b")


def test_unhashable_kind_control_character_and_multiline_text_are_one_line_errors():
    """Found by tests/test_spec_fuzz.py: `kind: []` raised TypeError, a control character gave a
    two-line error at line 0, a key with a carriage return split its error line."""
    from axis.specs import SpecError
    from axis.specs.loader import load_spec_text

    with pytest.raises(SpecErrors) as kind:
        load_spec_text("apiVersion: axis/v1\nkind: []\nmetadata: {name: a}\nspec: {}\n", "f.yaml")
    assert str(kind.value) == "f.yaml:2: []/a: kind: unknown kind [] (expected one of Host, HostProfile, Claim)"
    with pytest.raises(SpecErrors) as char:
        load_spec_text("apiVersion: axis/v1\nkind: Host\n\x1f\n", "f.yaml")
    assert str(char.value).splitlines() == ["f.yaml:3: invalid YAML: unacceptable character #x001f: special characters are not allowed"]
    assert str(SpecError("f.yaml", 4, "bad\r\nthing", field="spec.\r")) == "f.yaml:4: spec. : bad thing"


def test_a_huge_value_is_cut_in_the_middle_of_its_error_line():
    from axis.specs import SpecError

    line = str(SpecError("f.yaml", 3, f"label value '{'a' * 5000}' must be at most 63 characters", "Host", "x",
                         "metadata.labels"))
    assert line.startswith("f.yaml:3: Host/x: metadata.labels: label value 'aaa") and len(line) < 300
    assert line.endswith("' must be at most 63 characters") and "characters)…" in line
