"""The sandbox serves a texture profile's files from a folder (real sizes for benchmarks)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from conftest import make_engine

from avatar_importer.core.cache import Cache
from avatar_importer.core.params import default_export_parameters, default_parameters
from avatar_importer.core.stages import JobSpec, Stage
from avatar_importer.sandbox.server import Sandbox, SandboxConfig
from avatar_importer.sandbox.textures import resolution_of


@pytest.mark.parametrize("name,pixels", [
    ("AvatarBodyFemale_Color_2K.jpg", 2048), ("AvatarEyes_Normal_512.png", 512),
    ("LORI_Normal_4K.webp", 4096), ("HaircutGenerated_Color_1K.png", 1024),
    ("model.glb", None), ("Thing_Color_3K.png", None)])
def test_resolution_named_in_the_file_name(name: str, pixels: int | None) -> None:
    assert resolution_of(name) == pixels


def test_textures_found_in_the_folder_are_served_instead(tmp_path: Path, photo: Path) -> None:
    folder = tmp_path / "2K.jpg"
    folder.mkdir()
    real = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40 + b"\xff\xd9"
    (folder / "AvatarBodyFemale_Color_2K.jpg").write_bytes(real)
    params = copy.deepcopy(default_export_parameters())
    params["textures"]["profile"] = "2K.jpg"
    config = SandboxConfig(compute_seconds=0.2, export_seconds=0.05, texture_dir=folder)
    with Sandbox(config) as sb:
        engine = make_engine(sb, Cache(tmp_path / "cache"))
        try:
            state = engine.submit(JobSpec(photo=photo, name="Ada",
                                          parameters=default_parameters(),
                                          export_parameters=params))
            engine.run_until_done(tick=0.01, timeout=60)
        finally:
            engine.shutdown()
    assert state.stage == Stage.DONE, state.error
    files = {name: Path(path) for name, path in state.search.items()}
    assert files["AvatarBodyFemale_Color_2K.jpg"].read_bytes() == real
    # the others were not in the folder: the small generated ones, named for the profile
    head = files["AvatarHeadFemale_Color_2K.jpg"].read_bytes()
    assert head.startswith(b"\x89PNG") and len(head) < 20_000
