"""What a body retarget did, for the panel's result line and the batch's JSON report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RetargetResult:
    action_name: str
    frame_start: int
    frame_end: int
    fps: float  # the source's frame rate
    mapped: dict[str, str]  # source bone -> target bone
    unmapped_source: list[str]
    unmapped_target: list[str]
    source_family: str
    target_family: str
    source_file: str = ""
    source_format: str = ""  # "bvh" or "fbx"
    root_scale: float = 1.0  # avatar leg length / source leg length (root motion factor)
    rest_corrected: list[str] = field(default_factory=list)  # target bones re-aimed
    scene_fps_set: bool = False  # the scene's rate and range were set to the source's
    time_scale: float = 1.0  # scene frames per source frame (1 unless the rates differ)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def frame_count(self) -> int:
        return self.frame_end - self.frame_start + 1

    def summary(self) -> str:
        """One line for the panel: frames, bones driven, what was left out."""
        text = (f"{self.action_name}: frames {self.frame_start}-{self.frame_end} at "
                f"{self.fps:g} fps, {len(self.mapped)} bones driven")
        if self.unmapped_target:
            text += f", {len(self.unmapped_target)} avatar bones not driven"
        return text

    def as_report(self) -> dict[str, Any]:
        """JSON-ready dict (every field, plus ``frame_count``)."""
        out = asdict(self)
        out["frame_count"] = self.frame_count
        return out
