"""The one rule for library file names: what the manifest accepts is exactly what Back Up
All and Save to Library make, so the same name gives the same file."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from avatar_importer.core.library_names import (
    MAX_NAME_BYTES,
    library_name,
    name_key,
    name_problem,
    with_suffix,
)
from avatar_importer.core.manifest import parse_rows

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.mark.parametrize("given,made", [
    ("Ada", "Ada"),
    ("Ada (lead)", "Ada (lead)"),  # the old Back Up All rule made "Ada _lead_"
    ("O'Brien & Co", "O'Brien & Co"),
    ("Zoë Ж 😀", "Zoë Ж 😀"),
    ("a/b", "a_b"),
    ('why?*"<>|', "why_"),
    ("line\nbreak\t", "line_break_"),
    (".hidden", "hidden"),
    ("  spaced . ", "spaced"),
    ("CON", "CON_"),
    ("nul.txt", "nul_.txt"),
    ("...", "avatar"),
    ("", "avatar"),
])
def test_library_name_keeps_good_names_and_mends_bad_ones(given, made):
    assert library_name(given) == made
    assert name_problem(made) == ""


def test_names_are_cut_to_whole_characters_within_63_bytes():
    made = library_name("é" * 40)  # 80 bytes
    assert made == "é" * 31 and len(made.encode()) <= MAX_NAME_BYTES
    suffixed = with_suffix("x" * 70, "a1b2c3d4")
    assert suffixed.endswith("_a1b2c3d4") and len(suffixed.encode()) == MAX_NAME_BYTES
    assert name_problem(suffixed) == ""


def test_the_manifest_accepts_a_name_exactly_when_it_is_its_own_library_name():
    alphabet = "aZ0 ._-/\\:*?\"<>|\x00\x1f\x7féЖ😀()&+,'"
    rng = random.Random(13)
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 70)))
        if rng.random() < 0.1:
            text = rng.choice(["CON", "nul", "com1", "LPT9", "aux"]) + text[:4]
        made = library_name(text)
        assert library_name(made) == made, text
        assert (name_problem(text) == "") == (made == text), text
        assert len(made.encode()) <= MAX_NAME_BYTES


@pytest.mark.parametrize("name,needle", [
    ("", "empty"),
    ("x" * 64, "longer than 63 bytes"),
    ("a/b", "cannot name a file"),
    (".hidden", "cannot name a file"),
    ("trail.", "cannot name a file"),
    ("Aux", "Windows device name"),
])
def test_a_manifest_row_with_a_name_the_rule_mends_fails_naming_why(tmp_path: Path, name,
                                                                     needle):
    (tmp_path / "a.png").write_bytes(PNG)
    manifest = parse_rows([{"name": name, "photo": "a.png"},
                           {"name": library_name(name), "photo": "a.png"}], base=tmp_path)
    assert [p.column for p in manifest.problems] == ["name"]
    assert needle in manifest.problems[0].message
    assert [r.name for r in manifest.rows] == [library_name(name)], \
        "the name Back Up All would make is accepted as it is"


def test_names_differing_only_in_case_are_one_file():
    assert name_key("Ada") == name_key("ADA")
    assert name_key("Ada") != name_key("Bob")
