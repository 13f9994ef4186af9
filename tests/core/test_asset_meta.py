"""One way to describe a library asset: the same avatar gives the same catalog, tags and
description whether its source comes from a job, a stored record (this version's or the
previous one's) or this machine's job records."""

from __future__ import annotations

from pathlib import Path

from avatar_importer.core.asset_meta import (
    AssetMeta,
    AvatarSource,
    export_summary,
    sources_by_code,
    spec_for_existing,
)
from avatar_importer.core.manifest import ManifestRow
from avatar_importer.core.options import AvatarChoices
from avatar_importer.core.stages import JobSpec, JobState


def job(**spec: object) -> JobState:
    state = JobState(id="j1", spec=JobSpec(photo=Path("/p/ada.png"), name="Ada", **spec),
                     service="sandbox")
    state.avatar_code, state.export_code = "av1", "ex1"
    return state


def test_export_summary_reads_the_choices_back_from_export_parameters():
    choices = AvatarChoices(lod="LOD2", profile="2K.jpg", glasses="glasses_03",
                            blendshapes=["mobile_51"])
    assert export_summary(choices.export_parameters()) == {
        "lod": "LOD2", "profile": "2K.jpg", "haircut": "HaircutGenerated",
        "outfit": "LORI", "glasses": "glasses_03", "blendshapes": "mobile_51"}
    parts = AvatarChoices(outfit_mode="PARTS", outfit_top="polo_Jil", haircut="NONE")
    summary = export_summary(parts.export_parameters())
    assert summary["outfit_top"] == "polo_Jil" and "haircut" not in summary
    assert "outfit" not in summary
    assert export_summary({}) == {} and export_summary({"lod": "", "haircuts": 3}) == {}


def test_a_job_a_stored_record_and_an_old_record_give_one_description():
    params = ManifestRow(row=1, name="Ada", lod="LOD2").export_parameters()
    state = job(subtype="male", export_parameters=params)
    from_job = AvatarSource.from_job(state)
    stored = AvatarSource.from_record(from_job.to_record())
    old = AvatarSource.from_record({  # the previous version's avatar_importer_source
        "service": "sandbox", "avatar_code": "av1", "export_code": "ex1", "subtype": "male",
        "export_options": params, "photo": "/p/ada.png"})
    metas = [AssetMeta.for_avatar("Ada", s) for s in (from_job, stored, old)]
    for meta in metas:
        meta.date = "2026-01-01 00:00 UTC"
    assert len({m.description_text() for m in metas}) == 1
    assert {m.catalog_path for m in metas} == {"Avatars/sandbox/male"}
    assert {tuple(m.all_tags) for m in metas} == {("sandbox", "avatar")}
    text = metas[0].description_text()
    assert text.splitlines() == [
        "Service: sandbox", "Avatar code: av1",
        "Export options: blendshapes=mobile_51;visemes_15, haircut=HaircutGenerated, "
        "lod=LOD2, outfit=LORI, profile=1K.png", "Date: 2026-01-01 00:00 UTC"]


def test_the_users_catalog_tags_and_text_come_first_and_are_recorded():
    meta = AssetMeta.for_avatar("Ada", AvatarSource.from_job(job()), catalog="Cast/Leads",
                                tags=["lead", "sandbox"], description="The lead")
    assert meta.catalog_path == "Cast/Leads"
    assert meta.all_tags == ["lead", "sandbox", "avatar"]
    assert meta.description_text().startswith("The lead\nService: sandbox\n")
    fields = meta.row_fields()
    assert fields["catalog"] == "Cast/Leads" and fields["tags"] == ["lead", "sandbox"]
    assert fields["avatar_code"] == "av1" and fields["export_code"] == "ex1"
    assert fields["description"] == meta.description_text()


def test_nothing_known_is_a_file_avatar_without_export_options():
    meta = AssetMeta.for_avatar("Imported", AvatarSource.from_record(None))
    assert meta.catalog_path == "Avatars/file/female"
    assert "Export options" not in meta.description_text()
    assert meta.row_fields()["avatar_code"] is None
    assert AvatarSource.from_record({"export_parameters": "junk"}).export_parameters == {}


def test_sources_by_code_takes_the_newest_record_with_export_parameters():
    url = "http://127.0.0.1:1/"
    params = AvatarChoices(lod="LOD2").export_parameters()

    def record(code: str, created: float, export_parameters: dict, base_url: str = url,
               subtype: str = "male") -> dict:
        return {"id": f"{code}{created}", "avatar_code": code, "created": created,
                "base_url": base_url, "service": "sandbox", "export_code": f"e{created}",
                "spec": JobSpec(photo=None, name="x", subtype=subtype,
                                export_parameters=export_parameters).to_record()}

    records = [record("a", 1, params), record("a", 3, params, subtype="female"),
               record("a", 5, {}),  # a plain import from the list: says nothing
               record("b", 2, params, base_url="http://127.0.0.1:2/"),
               {"id": "c", "avatar_code": "c", "base_url": url, "spec": "odd"}]
    found = sources_by_code(records, url)
    assert set(found) == {"a"}
    assert found["a"].subtype == "female" and found["a"].export_code == "e3"
    assert found["a"].export_parameters == params and found["a"].service == "sandbox"


def test_an_existing_avatar_is_imported_with_what_is_known_of_it():
    known = AvatarSource(service="sandbox", avatar_code="a", subtype="male",
                         export_parameters=AvatarChoices(lod="LOD2").export_parameters())
    spec = spec_for_existing("Ada", known)
    assert (spec.name, spec.photo, spec.subtype) == ("Ada", None, "male")
    assert export_summary(spec.export_parameters)["lod"] == "LOD2"
    assert spec_for_existing("Ada", known, listed_subtype="female").subtype == "female", \
        "the service's own word on the subtype wins"
    nothing = spec_for_existing("Bob", None)
    assert (nothing.subtype, nothing.export_parameters) == ("female", {})
