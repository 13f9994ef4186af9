"""Panel choices become the service's parameters; discovery answers fill the lists."""

from __future__ import annotations

from conftest import make_client

from avatar_importer.core.options import (
    FALLBACK_EXPORT_CATALOGUE,
    NONE,
    AvatarChoices,
    catalogue_from_service,
    modifications_from_service,
)


def test_defaults_match_the_tutorial_with_visemes():
    params = AvatarChoices().export_parameters()
    assert params["format"] == "glb" and params["lod"] == "LOD1"
    assert params["haircuts"] == {"list": ["HaircutGenerated"]}
    assert params["outfits"] == {"list": ["LORI"]}
    assert params["blendshapes"] == {"list": ["mobile_51", "visemes_15"]}
    assert AvatarChoices().parameters() == {
        "avatar_modifications": {"remove_smile": True, "remove_glasses": True}}


def test_parts_outfit_none_and_profile():
    choice = AvatarChoices(lod="LOD2", profile="4K.webp", haircut=NONE, outfit_mode="PARTS",
                           outfit_top="polo_Jil", outfit_bottom=NONE,
                           outfit_shoes="sneakers_AZAT", glasses="glasses_03",
                           blendshapes=["visemes_14", "bogus"], modifications=[])
    params = choice.export_parameters()
    assert params["lod"] == "LOD2" and params["textures"]["profile"] == "4K.webp"
    assert "haircuts" not in params and "outfits" not in params
    assert params["outfits_top"] == {"list": ["polo_Jil"]}
    assert "outfits_bottom" not in params
    assert params["outfits_shoes"] == {"list": ["sneakers_AZAT"]}
    assert params["glasses"] == {"list": ["glasses_03"]}
    assert params["blendshapes"] == {"list": ["visemes_14"]}
    assert choice.parameters() == {}


def test_unknown_values_fall_back_to_safe_ones():
    params = AvatarChoices(lod="LOD9", profile="8K.tga").export_parameters()
    assert params["lod"] == "LOD1" and params["textures"]["profile"] == "1K.png"


def test_discovery_answers_fill_the_catalogue(sandbox):
    client = make_client(sandbox)
    lists = catalogue_from_service(client.available_export_parameters("female"))
    assert "HaircutGenerated" in lists["haircuts"] and "LORI" in lists["outfits"]
    mods = modifications_from_service(client.available_parameters("female"), "female")
    assert "remove_smile" in mods


def test_a_broken_discovery_answer_keeps_the_built_in_lists():
    lists = catalogue_from_service({"haircuts": "nonsense", "outfits": {"list": []}})
    assert lists["haircuts"] == FALLBACK_EXPORT_CATALOGUE["haircuts"]
    assert lists["outfits"] == FALLBACK_EXPORT_CATALOGUE["outfits"]
    assert modifications_from_service({}, "male") == ["remove_smile", "remove_glasses",
                                                      "remove_stubble"]
