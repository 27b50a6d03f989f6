"""The markdown plan (PR comments, drift issues): names are data and cannot add markup.

A ruleset name comes from a file anyone can propose in a pull request, or from the live org.
In a GitHub comment it must show as written, and never become HTML, a link, an @mention, an
issue reference, a new table row, a broken <summary>, or disappear into whitespace.
"""

from __future__ import annotations

import re

from rulesync.plan import Change, Create, Plan, SequenceRef, Update
from rulesync.render import MARKDOWN_LIMIT, md_text, render_markdown

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "@octocat please approve",
    "[click me](https://evil.example/)",
    "https://evil.example/login",
    "see www.evil.example",
    "fixes #1 and org/repo#2",
    "a | b | c",
    "line one\nline two</summary></details><details open><summary>",
    "  padded  ",
    "`code` **bold** _it_ ~~gone~~ $x^2$ :shipit:",
    "![img](https://evil.example/p.png)",
    "right\u202eto-left",
]


def _create(name: str, **attributes: object) -> Change:
    return Create(name=name, after={"attributes": {"name": name, **attributes}})


def _plan(changes: list[Change], environment: str = "production") -> Plan:
    return Plan(
        environment=environment,
        api_url="https://api.example/api/v2",
        changes=tuple(changes),
        unchanged=0,
    )


def _visible(markdown: str) -> str:
    """The text a reader sees, decoded the way a browser decodes character references."""
    import html

    return html.unescape(markdown).replace("\u200b", "")


def test_escaped_text_has_no_markup_and_reads_as_written() -> None:
    for name in HOSTILE:
        out = md_text(name)
        assert "\n" not in out and "\r" not in out
        bare = re.sub(r"&#\d+;", "\0", out)  # character references are inert
        for char in "<>|[]`*_~$\\&":
            assert char not in bare, (name, char)
        assert not re.search(r"@\w", bare), "a live @mention"
        assert not re.search(r"#\w", bare), "a live issue reference"
        assert "://" not in bare and "www." not in bare, "a live link"
        seen = _visible(out)
        if name == "  padded  ":
            assert seen == "␣␣padded␣␣"
        elif "\n" in name:
            assert seen == name.replace("\n", "\\u000a")
        elif "\u202e" in name:
            assert seen == "right\\u202eto-left"
        else:
            assert seen == name


def test_every_hostile_name_stays_in_its_row_and_its_summary() -> None:
    changes = [_create(name, smsReceivedAction=name) for name in HOSTILE]
    markdown = render_markdown(_plan(changes))
    table = [line for line in markdown.splitlines() if line.startswith("| + |")]
    assert len(table) == len(HOSTILE), "one table row per change, no extra rows"
    for row in table:
        assert row.count("|") == 6, row  # symbol, ruleset, action, fields, sequences
    summaries = [line for line in markdown.splitlines() if line.startswith("<details>")]
    assert len(summaries) == len(HOSTILE)
    for line in summaries:
        assert re.fullmatch(r"<details><summary>\+ create <b>[^<>]*</b></summary>", line), line
    assert markdown.count("<details>") == markdown.count("</details>") == len(HOSTILE)
    assert "<img" not in markdown and "](http" not in markdown and "@octocat" not in markdown


def test_one_heading_per_environment_and_the_environment_is_escaped() -> None:
    markdown = render_markdown(_plan([_create("A")], environment="prod\n# Injected"))
    headings = [line for line in markdown.splitlines() if line.startswith("#")]
    assert headings == ["### rulesync plan: prod&#92;u000a#&#8203; Injected"]


def test_the_patch_block_cannot_be_closed_by_a_value() -> None:
    change = Update(
        name="R",
        id=1,
        before={"attributes": {"smsReceivedAction": "old"}, "relationships": {}},
        after={"attributes": {"smsReceivedAction": "```\n@here"}, "relationships": {}},
        patch=({"op": "replace", "path": "/attributes/smsReceivedAction", "value": "```\n@x"},),
        live_version="sha256:" + "0" * 64,
    )
    markdown = render_markdown(_plan([change]))
    fences = re.findall(r"(?m)^(`{3,})", markdown)
    assert fences and all(len(f) == 4 for f in fences), "the fence is longer than any run in it"


def test_the_comment_stays_under_the_limit_counted_in_utf8_bytes() -> None:
    # 4-byte characters: a count in characters would let this through at 4x the budget
    changes = [_create(f"🚀{i:04}" + "🚀" * 60, smsReceivedAction="🔥" * 200) for i in range(600)]
    markdown = render_markdown(_plan(changes))
    assert len(markdown.encode("utf-8")) <= MARKDOWN_LIMIT
    assert "more changed rulesets are not shown here" in markdown
    assert markdown.count("<details>") == markdown.count("</details>") > 0


def test_hostile_sequence_names_stay_inert_in_their_collapsed_list() -> None:
    doc = {"attributes": {"name": "Shared", "includeUnsubscribeLinks": True}, "relationships": {}}
    was = {"attributes": {"name": "Shared", "includeUnsubscribeLinks": False}, "relationships": {}}
    change = Update(
        name="Shared",
        id=5,
        before=was,
        after=doc,
        patch=({"op": "replace", "path": "/attributes/includeUnsubscribeLinks", "value": True},),
        live_version="sha256:" + "0" * 64,
        sequences=tuple(SequenceRef(id=i + 1, name=n) for i, n in enumerate(HOSTILE)),
    )
    markdown = render_markdown(_plan([change]))
    assert f"<details><summary>Used by {len(HOSTILE)} sequences</summary>" in markdown
    items = [line for line in markdown.splitlines() if line.startswith("- ")]
    assert items == [f"- {md_text(n)} (id {i + 1})" for i, n in enumerate(HOSTILE)]
    assert markdown.count("<details>") == markdown.count("</details>") == 2
    assert "<img" not in markdown and "](http" not in markdown and "@octocat" not in markdown
