"""/etc/fstab is shared with the host: axis edits it as bytes, and every line that is not axis's
keeps its bytes, on add and on removal.

It used to be decoded with errors="replace" and split with str.splitlines: Latin-1 bytes became
U+FFFD, CRLF became LF, and a form feed, \\x1c-\\x1e, \\x85 or U+2028 split a line in two.
"""

from __future__ import annotations

import subprocess

import pytest

from hypothesis import given, settings, strategies as st

from axis.drivers.facts.sections import split_sections
from axis.drivers.features.base import WriteFile
from axis.drivers.features.swapfile import FSTAB, FSTAB_MARK, Swapfile, fstab_add, fstab_has, fstab_remove
from axis.specs.features import SwapfileSettings
from tests.factskit import section as framed
from tests.features.hostsim import capture, file_section, files_seen, with_files

D = Swapfile()
S = SwapfileSettings(size="32G", swappiness=10)
AXIS = f"{FSTAB_MARK}\n/swapfile none swap sw 0 0".encode()

#: Lines no text round trip survives: Latin-1 (a mount point "/média"), CRLF ends, a form feed,
#: \x1c and \x85 (line breaks to str.splitlines), UTF-8 U+2028, invalid UTF-8, a NUL-free
#: comment with a tab, and a last line without its newline.
HOSTILE = (b"# /etc/fstab: static file system information.\r\n"
           b"UUID=1234 /m\xe9dia ext4 defaults 0 2\r\n"
           b"\x0c\n"
           b"# page\x0cbreak \x1c sep \x85 nel \xe2\x80\xa8 ls \xff\xfe invalid\n"
           b"tmpfs\t/tmp\ttmpfs\tdefaults\t0 0\n"
           b"/dev/sdb1 /srv xfs defaults 0 0")


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def test_add_keeps_every_byte_and_remove_gives_the_original_back():
    added = fstab_add(HOSTILE, "/swapfile")
    assert added == HOSTILE + b"\n" + AXIS  # the file keeps its missing final newline
    assert fstab_has(added, "/swapfile") and not fstab_has(HOSTILE, "/swapfile")
    assert fstab_remove(added, "/swapfile") == HOSTILE
    assert fstab_remove(added) == HOSTILE


def test_with_a_final_newline_too():
    data = HOSTILE + b"\r\n"
    assert fstab_add(data, "/swapfile") == data + AXIS + b"\n"
    assert fstab_remove(fstab_add(data, "/swapfile"), "/swapfile") == data


def test_axis_lines_in_the_middle_go_and_nothing_else_moves():
    middle = b"a b c\r\n" + AXIS + b"\n" + b"\xe9 \x0c\n"
    assert fstab_remove(middle, "/swapfile") == b"a b c\r\n\xe9 \x0c\n"
    assert fstab_has(middle, "/swapfile")


def _probe_sections(tmp_path, data: bytes) -> dict:
    """What the real file probe prints for `data`, framed and parsed as the facts script does."""
    path = tmp_path / "fstab"
    path.write_bytes(data)
    done = subprocess.run(["sh", "-c", D.probes(S)["swapfile.fstab"].command.replace(FSTAB, str(path))],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    boundary = "1" * 32
    out = framed(boundary, "swapfile.fstab", done.stdout) + f"@@axis:{boundary}:done\n"
    return split_sections(out, boundary).sections


def test_the_real_probe_and_the_driver_keep_every_byte_on_add_and_on_removal(tmp_path):
    """Through the whole read path: od on the host, the section parser, observe, plan."""
    facts, sections = capture("debian12-container.txt")
    sections = {**sections, **_probe_sections(tmp_path, HOSTILE)}
    assert D.observe(sections).fstab == HOSTILE
    [write] = [s.action for s in D.plan(S, D.observe(sections), facts).steps if s.target == FSTAB]
    assert isinstance(write, WriteFile) and write.content == HOSTILE + b"\n" + AXIS
    # the host now holds what axis wrote; `swapfile: false` gives back the original bytes
    files = {**files_seen(D, S, sections), FSTAB: write.content}
    removing = with_files(D, False, sections, files)
    [undo] = [s.action for s in D.plan(False, D.observe(removing), facts).steps if s.target == FSTAB]
    assert isinstance(undo, WriteFile) and undo.content == HOSTILE


def test_an_fstab_already_holding_axis_line_is_left_alone():
    facts, sections = capture("debian12-container.txt")
    sections = {**sections, "swapfile.fstab": file_section("swapfile.fstab", HOSTILE + b"\n" + AXIS)}
    assert all(s.target != FSTAB for s in D.plan(S, D.observe(sections), facts).steps)


LINE = st.binary(max_size=40).filter(lambda b: b"\n" not in b and not b.startswith(FSTAB_MARK.encode()))


@settings(max_examples=300, deadline=None)
@given(st.lists(LINE, max_size=8), st.sampled_from([b"", b"\n", b"\r\n"]))
def test_any_bytes_round_trip(lines, end):
    data = b"\n".join(lines) + (end if lines else b"")
    added = fstab_add(data, "/swapfile")
    assert added.startswith(data)
    assert fstab_remove(added, "/swapfile") == data


# --- fields are separated by spaces and tabs only (fstab(5)) ----------------------------------

#: Bytes that `bytes.split()` takes for blanks (ASCII whitespace) but fstab(5) does not: inside a field they are
#: part of it, so a path field "/swapfile\r" is another path than "/swapfile".
NOT_BLANKS = [b"\r", b"\x0c", b"\x0b"]


@pytest.mark.parametrize("blank", NOT_BLANKS)
def test_a_path_field_holding_cr_or_form_feed_is_not_axis_path(blank):
    """`/swapfile<CR>` (or with \\f, \\v) names another file: not matched, not removed."""
    other = b"/swapfile" + blank + b"x none swap sw 0 0\n"
    assert not fstab_has(other, "/swapfile")
    assert fstab_add(other, "/swapfile") == other + AXIS + b"\n"  # so axis adds its own line
    under_mark = f"{FSTAB_MARK}\n".encode() + other
    assert fstab_remove(under_mark, "/swapfile") == under_mark  # and never removes the other one
    trailing = b"/swapfile" + blank + b" none swap sw 0 0\n"
    assert not fstab_has(trailing, "/swapfile")


@pytest.mark.parametrize("sep", [b" ", b"\t", b" \t  "])
def test_the_spec_path_is_matched_exactly_between_spaces_and_tabs(sep):
    line = sep.join([b"/swapfile", b"none", b"swap", b"sw", b"0", b"0"])
    assert fstab_has(b"# c\n" + line + b"\n", "/swapfile")
    assert fstab_has(b"\t" + line + b"\r\n", "/swapfile")  # CRLF: the CR is the last field's
    assert not fstab_has(line + b"\n", "/swap") and not fstab_has(line + b"\n", "/swapfile2")
    marked = f"{FSTAB_MARK}\n".encode() + line + b"\n"
    assert fstab_remove(b"keep\n" + marked, "/swapfile") == b"keep\n"
    assert not fstab_has(b"  # " + line + b"\n", "/swapfile")  # a comment, however indented
