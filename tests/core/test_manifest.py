"""Manifest parsing (CSV and JSON), every file-level and row-level error, row slices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avatar_importer.core.errors import InputError
from avatar_importer.core.manifest import (
    COLUMNS,
    ManifestError,
    chunk_starts,
    load_manifest,
    parse_row_range,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "photos").mkdir()
    for name in ("ada", "bob", "cy", "left", "right"):
        (tmp_path / "photos" / f"{name}.png").write_bytes(PNG)
    return tmp_path


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_every_column(folder):
    path = write(folder, "cast.csv",
                 ",".join(COLUMNS) + "\n"
                 "Ada,photos/ada.png,,,sandbox,female,,LOD2,2K.jpg,Haircut3,ARPI,glasses_01,"
                 "mobile_51;visemes_15,Cast/Leads,hero; lead ,The lead\n"
                 "Bob,,,,,male,abc123,,,,NONE,,,,,\n")
    m = load_manifest(path, default_service="avatarsdk")
    assert m.problems == [] and m.total == 2
    ada, bob = m.rows
    assert ada.row == 1 and ada.name == "Ada"
    assert ada.photo == (folder / "photos" / "ada.png").resolve()
    assert (ada.service, ada.subtype, ada.lod, ada.profile) == ("sandbox", "female", "LOD2",
                                                                "2K.jpg")
    assert ada.blendshapes == ["mobile_51", "visemes_15"]
    assert ada.tags == ["hero", "lead"] and ada.catalog == "Cast/Leads"
    assert ada.catalog_path("sandbox", "female") == "Cast/Leads"
    params = ada.export_parameters()
    assert params["lod"] == "LOD2" and params["textures"]["profile"] == "2K.jpg"
    assert params["haircuts"] == {"list": ["Haircut3"]}
    assert params["outfits"] == {"list": ["ARPI"]}
    assert params["glasses"] == {"list": ["glasses_01"]}
    assert params["blendshapes"] == {"list": ["mobile_51", "visemes_15"]}
    assert bob.photo is None and bob.avatar_id == "abc123" and bob.service == "avatarsdk"
    assert "outfits" not in bob.export_parameters()
    assert bob.catalog_path("avatarsdk", "male") == "Avatars/avatarsdk/male"


def test_json_list_of_objects(folder):
    path = write(folder, "cast.json", json.dumps([
        {"name": "Ada", "photo": "photos/ada.png", "tags": ["a", "b"],
         "blendshapes": ["mobile_51"]},
        {"name": "Cy", "photo": str(folder / "photos" / "cy.png"), "service": "avaturn",
         "side_photo_1": "photos/left.png", "side_photo_2": "photos/right.png"},
    ]))
    m = load_manifest(path)
    assert [r.name for r in m.rows] == ["Ada", "Cy"] and not m.problems
    assert m.rows[0].tags == ["a", "b"]
    assert [p.name for p in m.rows[1].side_photos] == ["left.png", "right.png"]


@pytest.mark.parametrize("name,text,needle", [
    ("bad.csv", "name,photo,colour,size\nAda,photos/ada.png,red,1\n",
     "unknown column(s) 'colour', 'size'"),
    ("bad.json", '[{"name": "Ada", "hat": 1}]', "unknown key(s) 'hat'"),
    ("nohead.csv", "photo\nphotos/ada.png\n", "no \"name\" column"),
    ("empty.csv", "\n", "is empty"),
    ("twice.csv", "name,name\nA,B\n", "given twice: name"),
    ("obj.json", '{"name": "Ada"}', "JSON list of objects"),
    ("broken.json", '[{"name": ', "not valid JSON"),
    ("item.json", '["Ada"]', "item 1 is not an object"),
    ("quote.csv", 'name,photo\n"Ada,photos/ada.png\n', "not valid CSV"),
])
def test_file_level_errors_name_the_cause(folder, name, text, needle):
    with pytest.raises(ManifestError) as err:
        load_manifest(write(folder, name, text))
    assert needle in str(err.value) and name in str(err.value)
    assert isinstance(err.value, InputError)  # -> exit code 2


def test_unreadable_and_non_utf8(folder):
    with pytest.raises(ManifestError, match="cannot be read"):
        load_manifest(folder / "missing.csv")
    (folder / "latin.csv").write_bytes(b"name\n\xe9t\xe9\n")
    with pytest.raises(ManifestError, match="not UTF-8"):
        load_manifest(folder / "latin.csv")


def csv_line(**cells: str) -> str:
    return ",".join(cells.get(c, "") for c in COLUMNS)


A = {"name": "Ada", "photo": "photos/ada.png"}
ROW_ERRORS = [
    ("name", csv_line(photo="photos/ada.png"), "empty: every row needs a unique name"),
    ("name", csv_line(name="a/b", photo="photos/ada.png"), "cannot name a file"),
    ("name", csv_line(name=".hidden", photo="photos/ada.png"), "cannot name a file"),
    ("name", csv_line(name="x" * 70, photo="photos/ada.png"), "longer than 63 bytes"),
    ("photo", csv_line(name="Ada", photo="photos/nope.png"), "does not exist"),
    ("photo", csv_line(name="Ada"), "give a photo"),
    ("service", csv_line(**A, service="blender"), "unknown service 'blender'"),
    ("subtype", csv_line(**A, subtype="child"), "'child' is not one of male, female"),
    ("avatar_id", csv_line(**A, avatar_id="abc"), "not both"),
    ("avatar_id", csv_line(name="Ada", avatar_id="a b"), "is not an avatar id"),
    ("side_photo_2", csv_line(**A, side_photo_1="photos/left.png", service="avaturn"),
     "give both side photos"),
    ("side_photo_1", csv_line(**A, side_photo_1="photos/left.png",
                              side_photo_2="photos/right.png", service="avatarsdk"),
     "for the avaturn service"),
    ("side_photo_1", csv_line(**A, service="avaturn"), "needs two side photos"),
    ("side_photo_1", csv_line(**A, side_photo_1="photos/none.png",
                              side_photo_2="photos/right.png", service="avaturn"),
     "does not exist"),
    ("lod", csv_line(**A, lod="LOD9"), "'LOD9' is not one of LOD1, LOD2"),
    ("profile", csv_line(**A, profile="8K.tif"), "is not one of"),
    ("haircut", csv_line(**A, haircut="bad name!"), "not an option name"),
    ("blendshapes", csv_line(**A, blendshapes="smiles;mobile_51"), "unknown set(s) smiles"),
    ("catalog", csv_line(**A, catalog="Cast//Leads"), "empty level"),
    ("catalog", csv_line(**A, catalog="Cast:Leads"), "':'"),
    ("catalog", csv_line(**A, catalog="Cast\\Leads"), "backslash"),
    ("tags", csv_line(**A, tags="t" * 70), "longer than 63"),
    ("(end of row)", csv_line(**A) + ",extra", "more than the header"),
]


@pytest.mark.parametrize("column,line,needle", ROW_ERRORS)
def test_a_bad_row_fails_alone_naming_row_and_column(folder, column, line, needle):
    header = ",".join(COLUMNS)
    good = csv_line(name="Bob", photo="photos/bob.png")
    path = write(folder, "m.csv", f"{header}\n{good}\n{line}\n{good.replace('Bob', 'Cy')}\n")
    m = load_manifest(path)
    assert [r.name for r in m.rows] == ["Bob", "Cy"], "the good rows still run"
    assert [r.row for r in m.rows] == [1, 3]
    assert len(m.problems) == 1
    problem = m.problems[0]
    assert problem.row == 2 and problem.column == column, problem
    assert needle in problem.message
    assert str(problem).startswith("row 2") and repr(column) in str(problem)


def test_duplicate_names_fail_the_later_row(folder):
    path = write(folder, "m.csv", "name,photo\nAda,photos/ada.png\nada,photos/bob.png\n")
    m = load_manifest(path)
    assert [r.name for r in m.rows] == ["Ada"]
    assert m.problems[0].row == 2 and m.problems[0].column == "name"
    assert "row 1" in m.problems[0].message


def test_blank_lines_are_not_rows_and_bom_is_ignored(folder):
    path = folder / "m.csv"
    path.write_bytes("\ufeffname,photo\n\nAda,photos/ada.png\n\n".encode())
    m = load_manifest(path)
    assert [(r.row, r.name) for r in m.rows] == [(1, "Ada")] and m.total == 1


def test_json_value_types(folder):
    path = write(folder, "m.json", json.dumps([
        {"name": "Ada", "photo": "photos/ada.png", "lod": {"x": 1}},
        {"name": "Bob", "photo": "photos/bob.png", "tags": 5},
    ]))
    m = load_manifest(path)
    assert [(p.row, p.column) for p in m.problems] == [(1, "lod"), (2, "tags")]


@pytest.mark.parametrize("text,total,expected", [
    ("5", None, (5, 5)), ("3-7", None, (3, 7)), (" 2 - 4 ", None, (2, 4)),
    ("3-99", 10, (3, 10)), ("10", 10, (10, 10)),
])
def test_row_ranges(text, total, expected):
    assert parse_row_range(text, total) == expected


@pytest.mark.parametrize("text,total,needle", [
    ("0", None, "count from 1"), ("7-3", None, "upwards"), ("a-b", None, "give a row"),
    ("3,4", None, "give a row"), ("11", 10, "only 10 row(s)"), ("", None, "give a row"),
])
def test_bad_row_ranges(text, total, needle):
    with pytest.raises(InputError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        parse_row_range(text, total)


def test_select_slices_rows_and_problems(folder):
    lines = ["name,photo"] + [f"P{i},photos/ada.png" for i in range(1, 9)]
    lines[5] = "P5,photos/missing.png"
    m = load_manifest(write(folder, "m.csv", "\n".join(lines) + "\n"))
    rows, problems = m.select(*parse_row_range("3-6", m.total))
    assert [r.name for r in rows] == ["P3", "P4", "P6"]
    assert [p.row for p in problems] == [5]


def test_chunk_starts():
    assert chunk_starts(7, 3) == [1, 4, 7]
    assert chunk_starts(6, 3) == [1, 4]
    assert chunk_starts(1, 10) == [1]
    assert chunk_starts(0, 10) == []
    with pytest.raises(InputError):
        chunk_starts(5, 0)
