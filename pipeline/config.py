"""Typed, layered configuration: defaults → ``--config FILE`` → ``--set a.b=value``.

The pydantic models below are the single source of defaults; ``configs/default.yaml`` mirrors
them with a comment on every key (a test keeps the two equal). Unknown keys and bad values raise
:class:`ConfigError` naming the key path, which the CLI turns into exit code 2.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(ValueError):
    """A user-caused configuration problem; the message names the key path.

    The message is kept on one line: control characters in user-given keys are escaped.
    """

    def __init__(self, message: str) -> None:
        from pipeline.inputs import one_line

        super().__init__(one_line(message))


class _Section(BaseModel):
    # NaN and infinities are refused: they defeat range checks and are not valid JSON (manifest).
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class IngestConfig(_Section):
    analysis_fps: float = Field(10.0, ge=0.0, le=240.0)
    queue_size: int = Field(16, ge=1, le=4096)
    queue_mib: float = Field(48.0, gt=0.0, le=4096.0)
    decode_threads: int = Field(0, ge=0, le=64)
    max_consecutive_faults: int = Field(50, ge=1)
    truncation_tolerance_s: float = Field(1.0, ge=0.0)
    skip_unneeded_frames: bool = True
    skip_deblocking: bool = False


class DetectorConfig(_Section):
    model: str = "yolox_nano"
    confidence: float = Field(0.1, ge=0.0, le=1.0)
    nms_iou: float = Field(0.45, gt=0.0, le=1.0)
    input_size: int = Field(416, ge=64, le=2048)
    tiling: Literal["off", "auto", "always"] = "auto"
    tile_overlap: float = Field(0.2, ge=0.0, lt=1.0)

    @field_validator("tiling", mode="before")
    @classmethod
    def _yaml_off(cls, v: Any) -> Any:
        # YAML 1.1 reads a bare `off` as false and `on` as true.
        return {False: "off", True: "always"}.get(v, v) if isinstance(v, bool) else v
    min_box_height: float = Field(8.0, ge=0.0)
    weak_confidence: float = Field(0.03, ge=0.0, le=1.0)
    threads: int = Field(0, ge=0, le=64)
    detect_period_s: float = Field(0.3, ge=0.0, le=5.0)
    motion_gate: bool = True
    motion_width: int = Field(160, ge=16, le=1920)
    motion_pixel_threshold: int = Field(18, ge=1, le=255)
    motion_min_area: float = Field(0.0005, ge=0.0, le=1.0)
    motion_refresh_s: float = Field(20.0, gt=0.0, le=600.0)
    tracked_motion_period_s: float = Field(0.0, ge=0.0, le=10.0)


class TrackerConfig(_Section):
    type: str = "bytetrack"
    high_threshold: float = Field(0.3, ge=0.0, le=1.0)
    low_threshold: float = Field(0.1, ge=0.0, le=1.0)
    new_track_threshold: float = Field(0.35, ge=0.0, le=1.0)
    inside_start_threshold: float = Field(0.15, ge=0.0, le=1.0)
    match_iou: float = Field(0.2, gt=0.0, le=1.0)
    low_match_iou: float = Field(0.5, gt=0.0, le=1.0)
    lost_timeout_s: float = Field(3.0, gt=0.0)
    min_hits: int = Field(2, ge=1)
    appearance_weight: float = Field(0.5, ge=0.0, le=5.0)
    interpolate_max_gap_s: float = Field(1.0, ge=0.0, le=10.0)

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> TrackerConfig:
        if self.low_threshold > self.high_threshold:
            raise ValueError(
                f"low_threshold ({self.low_threshold}) must be <= high_threshold "
                f"({self.high_threshold})"
            )
        return self


class AttributesConfig(_Section):
    child_height_ratio: float = Field(0.78, gt=0.0, lt=1.5)
    ratio_softness: float = Field(0.05, gt=0.0, le=0.5)
    min_tracks_for_perspective: int = Field(3, ge=2)
    edge_margin_px: float = Field(3.0, ge=0.0)


class EventsConfig(_Section):
    carry_min_duration_s: float = Field(1.0, gt=0.0)
    carry_max_gap_s: float = Field(4.0, ge=0.0)
    carry_min_off_ground: float = Field(0.2, ge=0.0, le=1.0)
    carry_size_ratio: tuple[float, float] = (0.2, 0.8)
    carry_min_containment: float = Field(0.35, ge=0.0, le=1.0)
    carry_max_relative_speed: float = Field(0.6, gt=0.0)
    carry_max_scene_ratio: float = Field(0.8, gt=0.0)
    carry_min_held_aspect: float = Field(0.5, gt=0.0)
    carry_perspective_min_tracks: int = Field(5, ge=2)
    carry_merged_box: bool = False
    carry_merged_min_height_ratio: float = Field(1.25, gt=1.0)
    carry_inner_min_share: float = Field(0.5, gt=0.0, le=1.0)
    carry_inner_min_height_ratio: float = Field(0.9, gt=0.0)
    carry_merged_min_duration_s: float = Field(2.0, gt=0.0)
    lead_min_duration_s: float = Field(3.0, gt=0.0)
    lead_max_gap_s: float = Field(2.0, ge=0.0)
    lead_max_distance: float = Field(0.6, gt=0.0)
    lead_min_speed: float = Field(0.15, ge=0.0)
    lead_max_relative_speed: float = Field(0.35, gt=0.0)
    min_score: float = Field(0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _size_range(self) -> EventsConfig:
        lo, hi = self.carry_size_ratio
        if not 0 < lo < hi <= 1.5:
            raise ValueError(f"carry_size_ratio must be [low, high] with 0 < low < high <= 1.5, got {[lo, hi]}")
        return self


class ModelsConfig(_Section):
    dir: str | None = None
    cache_dir: str = "~/.cache/reunite/models"
    allow_download: bool = False


class OutputConfig(_Section):
    annotated_video: Literal["always", "flagged", "never"] = "flagged"

    @field_validator("annotated_video", mode="before")
    @classmethod
    def _video_bool(cls, v: Any) -> Any:
        # true/false (and YAML's on/off) from configs written before "flagged" existed
        return {False: "never", True: "always"}.get(v, v) if isinstance(v, bool) else v
    video_crf: int = Field(23, ge=0, le=51)
    mot_txt: bool = True
    event_clips: bool = True
    clip_pre_roll_s: float = Field(3.0, ge=0.0, le=60.0)
    clip_post_roll_s: float = Field(3.0, ge=0.0, le=60.0)
    clip_max_s: float = Field(60.0, gt=0.0)
    clip_max_fps: float = Field(25.0, gt=0.0, le=120.0)
    clip_min_height: int = Field(480, ge=0, le=2160)
    enhance_dark: bool = True
    contact_sheet: bool = True
    contact_sheet_frames: int = Field(12, ge=1, le=64)
    report: bool = True


class FacesConfig(_Section):
    enabled: bool = True
    embedder: str = "Dlib"
    candidates_per_track: int = Field(6, ge=1, le=64)
    candidate_min_gap_s: float = Field(0.5, ge=0.0)
    faces_per_template: int = Field(3, ge=1, le=64)
    head_fraction: float = Field(0.4, gt=0.0, le=1.0)
    head_min_width: int = Field(200, ge=32, le=2048)
    min_face_px: float = Field(20.0, ge=1.0)
    ok_face_px: float = Field(60.0, ge=1.0)
    min_quality: float = Field(0.35, ge=0.0, le=1.0)
    detector_threshold: float = Field(0.0, ge=-2.0, le=3.0)
    match_threshold: float | None = Field(None, gt=0.0, le=2.0)
    identity_threshold: float | None = Field(None, gt=0.0, le=2.0)
    appearance_threshold: float = Field(0.04, ge=0.0, le=1.0)
    thumbnail_px: int = Field(160, ge=32, le=1024)
    enroll_min_face_px: float = Field(40.0, ge=1.0)


class Config(_Section):
    ingest: IngestConfig = IngestConfig()
    detector: DetectorConfig = DetectorConfig()
    tracker: TrackerConfig = TrackerConfig()
    attributes: AttributesConfig = AttributesConfig()
    events: EventsConfig = EventsConfig()
    models: ModelsConfig = ModelsConfig()
    output: OutputConfig = OutputConfig()
    faces: FacesConfig = FacesConfig()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def hash(self) -> str:
        """sha256 of the canonical JSON of the resolved config."""
        return config_hash(self.to_dict())


def config_hash(data: Any) -> str:
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def _format_error(err: ValidationError, prefix: str = "") -> str:
    lines = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(root)"
        if prefix:
            path = f"{prefix}.{path}" if path != "(root)" else prefix
        if e["type"] == "extra_forbidden":
            lines.append(f"{path}: unknown key{_known_keys_hint(e['loc'])}")
        else:
            got = repr(e.get("input"))
            lines.append(f"{path}: {e['msg']} (got {got if len(got) <= 80 else got[:77] + '...'})")
    if len(lines) > 3:  # one readable line: the first problems, then a count
        lines = lines[:3] + [f"and {len(lines) - 3} more problem(s)"]
    return "; ".join(lines)


def _known_keys_hint(loc: tuple[Any, ...]) -> str:
    model: Any = Config
    for part in loc[:-1]:
        field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        if field is None:
            return ""
        model = field.annotation
    if hasattr(model, "model_fields"):
        return f" (known: {', '.join(model.model_fields)})"
    return ""


def parse_set(expr: str) -> tuple[list[str], Any]:
    """Parse ``a.b.c=value`` into a key path and a YAML-typed value.

    Raises:
        ConfigError: the expression has no ``=`` or an empty key segment.
    """
    if "=" not in expr:
        raise ConfigError(f"--set {expr!r}: expected KEY.PATH=VALUE")
    key, raw = expr.split("=", 1)
    parts = key.strip().split(".")
    if not all(p.strip() for p in parts):
        raise ConfigError(f"--set {expr!r}: empty key segment in {key!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        why = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"--set {key}: value {raw!r} is not valid YAML ({why})") from None
    return [p.strip() for p in parts], value


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def load_config(path: str | Path | None = None, sets: list[str] | tuple[str, ...] = ()) -> Config:
    """Resolve the configuration: model defaults, then a YAML file, then ``--set`` overrides.

    Raises:
        ConfigError: unreadable file, invalid YAML, unknown key or bad value (message names the
            key path and what was expected).
    """
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {str(p)!r}: cannot read ({exc})") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {str(p)!r}: invalid YAML ({exc})") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(
                f"config file {str(p)!r}: expected a mapping of sections, got {type(loaded).__name__}"
            )
        data = loaded
    for expr in sets:
        keys, value = parse_set(expr)
        node = data
        for i, k in enumerate(keys[:-1]):
            nxt = node.get(k)
            if nxt is None:
                nxt = node[k] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"{'.'.join(keys[: i + 1])}: is a value, not a section")
            node = nxt
        node[keys[-1]] = value
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc)) from None


def dump_yaml(cfg: Config) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
