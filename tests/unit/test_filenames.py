"""Exported file names: readable, deterministic, collision-free, never outside the folder."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rulesync.errors import ConfigError
from rulesync.filenames import assign, slug, write_files


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Inbound leads", "inbound-leads"),
        ("Входящие лиды", "vkhodyashchie-lidy"),
        ("受信リード", "shouxinrido"),
        ("Ünïcödé Ñame", "unicode-name"),
        ("🚀 Launch", "rocket-launch"),
        ("a/b/../../etc/passwd", "a-b-etc-passwd"),
        ("..", ""),
        ("!!!", ""),
        ("CON", "con-ruleset"),
        ("  padded\n", "padded"),
    ],
)
def test_slug_is_readable_and_safe(name: str, expected: str) -> None:
    assert slug(name) == expected


def test_collisions_get_ids_whatever_order_the_api_lists_them_in(tmp_path: Path) -> None:
    rulesets = [(7, "A b"), (3, "a-b"), (9, "!!!"), (4, "???"), (5, "Inbound"), (6, "Ab")]
    expected = {
        3: tmp_path / "a-b-3.yaml",
        7: tmp_path / "a-b-7.yaml",
        9: tmp_path / "ruleset-9.yaml",
        4: tmp_path / "ruleset-4.yaml",
        5: tmp_path / "inbound.yaml",
        6: tmp_path / "ab.yaml",
    }
    for seed in range(5):
        shuffled = rulesets[:]
        random.Random(seed).shuffle(shuffled)
        assert assign(shuffled, [], tmp_path) == expected


def test_a_taken_file_name_is_never_reused_even_in_another_case(tmp_path: Path) -> None:
    paths = assign([(5, "Inbound")], [tmp_path / "Inbound.yaml"], tmp_path)
    assert paths == {5: tmp_path / "inbound-5.yaml"}


@given(st.lists(st.text(max_size=300), max_size=30))
def test_every_name_gets_its_own_file_inside_the_folder(names: list[str]) -> None:
    folder = Path("/srv/org/rulesets")
    paths = assign(list(enumerate(names, start=1)), [], folder)
    assert len({str(p).lower() for p in paths.values()}) == len(names)
    for path in paths.values():
        assert path.parent == folder
        assert path.name.endswith(".yaml") and len(path.name) <= 80
        assert set(path.stem) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


def test_write_files_refuses_a_folder_that_leads_outside(tmp_path: Path) -> None:
    folder = tmp_path / "rulesets"
    folder.mkdir()
    (folder / "shared").symlink_to(tmp_path)
    with pytest.raises(ConfigError, match="outside"):
        write_files([(folder / "shared" / "x.yaml", "name: x\n")], folder)
    assert not (tmp_path / "x.yaml").exists()
    write_files([(folder / "x.yaml", "name: x\n")], folder)
    assert (folder / "x.yaml").read_text(encoding="utf-8") == "name: x\n"
