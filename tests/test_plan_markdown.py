"""`axis diff -o markdown`: the plan as a pull-request comment. What hosts say reaches it only as
code, so hostile text cannot break out (checked on the HTML a CommonMark+GFM-tables renderer
makes of it, raw HTML allowed as on GitHub), and the comment stays under GitHub's limit."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from axis.app.plan_document import PlanDocument, plan_document
from axis.cli.plan_markdown import BUDGET, MARKER, code, fenced, render_markdown
from tests.plankit import PANIC, down_host, dry_run, in_sync_host, pending_host

NOW = 1_800_000_000.0
HOSTILE = ("` </details></code><img src=x onerror=alert(1)> <!-- hide @octocat #1 [x](https://evil.example) "
           "| **bold** ``` \x1b[31m \u202eevil")


def _plan(outcomes, warnings: list[str] | None = None) -> PlanDocument:
    return plan_document(dry_run(outcomes, warnings), NOW)


def _html(markdown: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


def _three_hosts() -> str:
    return render_markdown(_plan([pending_host(), in_sync_host(), down_host()]))


def test_three_hosts_headline_table_and_details() -> None:
    md = _three_hosts()
    assert md.startswith(MARKER + "\n")
    assert "### axis plan: 1 to change, 1 in sync, 1 unreachable, 0 failed (2 step(s) on 3 host(s))" in md
    html = _html(md)
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>", html, re.S)
    assert rows == ["<code>ubu-1</code>", "<code>ubu-3</code>"]  # the in-sync host is on its own line
    assert "In sync: <code>ubu-2</code>" in html
    assert html.count("<details>") == html.count("</details>") == 1  # the unreachable host: its reason is in the table
    assert f"<code>update {PANIC} (kernel.panic = 7)</code>" in html
    assert '<code class="language-diff">' in html and "+kernel.panic = 7" in html
    assert "<em>(live)</em>" in html
    assert "swapoff: Operation not permitted" in html
    assert "<code>ubu-3: unreachable: connection refused</code>" in html
    assert len(md.encode()) < 3000, len(md.encode())


def test_hostile_host_text_stays_code() -> None:
    # a context line (" ```") could close a three-backtick fence; the fence is longer
    hostile_diff = f"--- a\n+++ b\n+{HOSTILE}\n ```\n ````\n </details><img src=y>\n+@octocat"
    outcomes = [pending_host(diff=hostile_diff, reason_words=HOSTILE), down_host(detail=HOSTILE)]
    md = render_markdown(_plan(outcomes, warnings=[HOSTILE]))
    html = _html(md)
    assert "<blockquote>\n<p>warning: <code>" in html
    # nothing the hosts said became an element, a comment, a link or a mention outside code
    assert "<img" not in html and "<!--" not in html.replace(MARKER, "") and "<a " not in html
    assert "<strong>" not in html
    assert html.count("<details>") == html.count("</details>") == 1  # the unreachable host: its reason is in the table
    outside_code = re.sub(r"<code[^>]*>.*?</code>", "", html, flags=re.S)
    assert "@octocat" not in outside_code and "#1" not in outside_code and "evil" not in outside_code
    # the table kept its four columns although the reason holds a `|`
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)[1:]:
        assert row.count("<td>") == 4, row
    # controls and bidi overrides are shown escaped, never raw
    assert "\x1b" not in md and "\u202e" not in md and "\\x1b[31m" in md and "\\u202e" in md
    # the diff's own fence lines are content of one block
    assert " ````" in html and html.count('class="language-diff"') == 1


def test_code_span_and_fence_outrun_the_backticks_inside() -> None:
    assert code("a ``b`` c") == "```a ``b`` c```"
    assert code("`x`") == "`` `x` ``"
    assert code("a|b", cell=True) == "`a\\|b`"
    assert code("one\ntwo\tthree") == "`one two three`"
    assert code("") == ""
    assert len(code("x" * 1000)) < 310
    block = fenced("+````\n+x")
    assert block.startswith("`````diff\n") and block.endswith("\n`````")


def test_a_long_diff_is_cut_with_a_note() -> None:
    long_diff = "\n".join(f"+line {i}" for i in range(500))
    block = fenced(long_diff)
    assert "+line 79" in block and "+line 80" not in block
    assert "420 more line(s) cut" in block


def test_a_large_fleet_stays_under_githubs_limit_and_names_what_is_left_out() -> None:
    big = "\n".join(f"+{'é' * 70} {i}" for i in range(100))  # multi-byte: the budget counts bytes
    outcomes = [pending_host(f"host-{i:03d}", diff=big) for i in range(300)]
    outcomes += [in_sync_host(f"sync-{i:03d}") for i in range(300)]
    md = render_markdown(_plan(outcomes))
    assert len(md.encode()) <= BUDGET < 65_536
    assert "Left out to stay under GitHub's comment limit" in md and "and " in md
    assert md.rstrip().endswith("</sub>")
    html = _html(md)
    assert html.count("<details>") == html.count("</details>") > 0


def test_a_fleet_in_sync_says_so() -> None:
    md = render_markdown(_plan([in_sync_host("a"), in_sync_host("b")]))
    assert "0 to change, 2 in sync" in md and "<details>" not in md and "| host |" not in md
