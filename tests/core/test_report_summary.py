"""The panel's summary rows stay short whatever the import held (many materials, missing
files, every kind of scene change); the full report keeps every detail."""

from __future__ import annotations

from avatar_importer.core.report_summary import SUMMARY_WIDTH, full_report_lines, summary_rows


def big_import() -> dict:
    materials = [{"name": f"Material_{i:03d}_with_a_long_name", "part": "outfit",
                  "objects": [f"obj{i}"], "changes": ["render method dithered"]}
                 for i in range(120)]
    images = [{"name": f"img{i}.png", "resolved": i >= 3, "source": "cache" if i >= 3
               else "missing", "filepath": f"/x/img{i}.png"} for i in range(150)]
    return {
        "collection_name": "A very long avatar name that would never fit a sidebar",
        "objects": [f"obj{i}" for i in range(130)],
        "armature": "A very long avatar name that would never fit a sidebar",
        "bone_count": 1234,
        "parts": {f"obj{i}": "outfit" for i in range(130)},
        "materials": materials,
        "images": images,
        "missing_images": ["img0.png", "img1.png", "img2.png", "mask_a.jpg", "unity.png"],
        "unused_missing_images": ["mask_a.jpg", "unity.png"],
        "shape_keys": {f"obj{i}": 66 if i < 3 else 0 for i in range(130)},
        "warnings": [f"warning number {i} with a long explanation" for i in range(12)],
        "scene_changes": ["armature AvatarRoot renamed X",
                          "Cycles transparent bounces raised 8 -> 128 for the hair",
                          "scaled x0.0123456 for the scene's unit scale 81 (real size in metres)",
                          "placed at the 3D cursor (1.5, -2.25, 3)", "something new"],
        "seconds": 1.5,
        "source_file": "/somewhere/model.glb",
    }


def test_every_row_fits_and_says_what_matters() -> None:
    rows = summary_rows(big_import())
    texts = [text for _icon, text in rows]
    assert all(len(t) <= SUMMARY_WIDTH for t in texts), [t for t in texts
                                                         if len(t) > SUMMARY_WIDTH]
    assert texts == ["12 warnings", "147/150 images", "3 missing: drawn pink",
                     "2 missing, not used", "120/120 materials", "130 meshes, 1234 bones",
                     "66 shape keys", "Transp. bounces: 128", "Scaled x0.0123456",
                     "At the 3D cursor", "1 more scene change"]
    assert dict((t, i) for i, t in rows)["147/150 images"] == "ERROR"


def test_full_report_keeps_every_detail() -> None:
    body = big_import()
    lines = full_report_lines(body)
    text = "\n".join(lines)
    assert lines[0] == f"Avatar report: {body['collection_name']}"
    for mat in body["materials"]:
        assert mat["name"] in text
    for name in body["missing_images"]:
        assert name in text
    assert "Missing but unused by any material: mask_a.jpg, unity.png" in lines
    for change in body["scene_changes"]:
        assert change in lines


def test_nothing_imported_nothing_to_say() -> None:
    assert summary_rows({}) == [] and full_report_lines({}) == []
