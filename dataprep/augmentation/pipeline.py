"""`Pipeline`: an ordered list of transforms applied to one sample with one seeded generator.

A pipeline file (YAML or JSON) follows ``schemas/augment-pipeline.schema.json``::

    version: 1
    min_visibility: 0.3        # drop objects keeping less of their area inside the image
    min_size: 1.0              # drop boxes with a side under this many pixels
    fill: 114                  # value of pixels uncovered by a geometric transform (or [r, g, b])
    interpolation: bilinear    # nearest | bilinear | bicubic
    backend: opencv            # opencv (default: warps and blurs ~4x Pillow's) | pillow
    transforms:
      - {type: hflip, p: 0.5}
      - {type: rotate, degrees: 10, p: 0.5}
      - {type: color_jitter, brightness: 0.2, p: 0.8}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dataprep.augmentation import functional as F
from dataprep.augmentation.sample import Sample, drop_degenerate, warp_sample
from dataprep.augmentation.transforms import TRANSFORMS, Mosaic, P, Param, PixelTransform, Transform
from dataprep.errors import InputError, UsageError

SCHEMA_FILE = "augment-pipeline.schema.json"
INTERPOLATIONS = ("nearest", "bilinear", "bicubic")
BACKENDS = F.BACKENDS
SETTINGS = (
    Param("min_visibility", "probability", 0.0, 1.0, 0.3, "smallest share of an object's area kept inside the image"),
    Param("min_size", "number", 0.0, 10000.0, 1.0, "smallest box side in pixels; thinner boxes are dropped"),
)

PRESETS: dict[str, dict[str, Any]] = {
    "light": {
        "version": 1,
        "transforms": [
            {"type": "hflip", "p": 0.5},
            {"type": "scale", "factor": [0.9, 1.1], "p": 0.5},
            {"type": "translate", "fraction": 0.05, "p": 0.5},
            {"type": "color_jitter", "brightness": 0.1, "contrast": 0.1, "saturation": 0.1, "hue": 0.0, "p": 0.5},
        ],
    },
    "detection": {
        "version": 1,
        "min_visibility": 0.3,
        "transforms": [
            {"type": "hflip", "p": 0.5},
            {"type": "scale", "factor": [0.75, 1.25], "p": 0.7},
            {"type": "rotate", "degrees": 5, "p": 0.3},
            {"type": "shear", "x_degrees": 5, "p": 0.2},
            {"type": "translate", "fraction": 0.1, "p": 0.5},
            {"type": "color_jitter", "brightness": 0.25, "contrast": 0.25, "saturation": 0.3, "hue": 0.02, "p": 0.8},
            {"type": "blur", "sigma": [0.1, 1.5], "p": 0.1},
            {"type": "noise", "sigma": [2, 8], "p": 0.1},
        ],
    },
    "classification": {
        "version": 1,
        "transforms": [
            {"type": "resized_crop", "scale": [0.5, 1.0], "ratio": [0.75, 1.333], "p": 0.7},
            {"type": "hflip", "p": 0.5},
            {"type": "rotate", "degrees": 10, "p": 0.3},
            {"type": "color_jitter", "brightness": 0.3, "contrast": 0.3, "saturation": 0.3, "hue": 0.03, "p": 0.8},
            {"type": "blur", "sigma": [0.1, 1.0], "p": 0.1},
            {"type": "cutout", "holes": 1, "size": [0.1, 0.25], "p": 0.25},
        ],
    },
}


class Pipeline:
    """Transforms applied in order to one sample, every random draw from the `rng` given.

    Consecutive geometric transforms are composed into one matrix and resampled once. Objects
    are then clipped to the image; those keeping less than `min_visibility` of their area are
    dropped, and boxes with a side under `min_size` pixels are dropped as degenerate (both
    reported on the returned `Sample`).

    Args:
        transforms: `Transform` instances.
        min_visibility: 0..1.
        min_size: pixels.
        fill: 0..255 grey level, or an ``(r, g, b)`` triple, for uncovered pixels.
        interpolation: ``"nearest"``, ``"bilinear"`` or ``"bicubic"``.
        backend: image kernels: ``"opencv"`` (the default; run on one thread, see
            `functional.cv2_module`) or ``"pillow"``. Pixels differ slightly between the two;
            boxes do not.

    Raises:
        UsageError: a setting out of range, or the opencv backend without OpenCV.
    """

    def __init__(
        self,
        transforms: Sequence[Transform],
        *,
        min_visibility: float = 0.3,
        min_size: float = 1.0,
        fill: int | Sequence[int] = 114,
        interpolation: str = "bilinear",
        backend: str = F.DEFAULT_BACKEND,
    ) -> None:
        self.transforms = list(transforms)
        self.min_visibility = SETTINGS[0].check("pipeline", min_visibility)
        self.min_size = SETTINGS[1].check("pipeline", min_size)
        self.fill = _check_fill(fill)
        if interpolation not in INTERPOLATIONS:
            raise UsageError(
                f"pipeline: interpolation={interpolation!r} is unknown. Use one of {', '.join(INTERPOLATIONS)}"
            )
        self.interpolation = interpolation
        if backend not in BACKENDS:
            raise UsageError(f"pipeline: backend={backend!r} is unknown. Use one of {', '.join(BACKENDS)}")
        if backend == "opencv":
            F.cv2_module()
        self.backend = backend

    @property
    def partners_needed(self) -> int:
        """How many extra samples a call may ask for (3 with a mosaic, else 0)."""
        return max((Mosaic.partners for t in self.transforms if isinstance(t, Mosaic)), default=0)

    def __repr__(self) -> str:
        return f"Pipeline({self.transforms!r}, min_visibility={self.min_visibility}, min_size={self.min_size})"

    def to_dict(self) -> dict[str, Any]:
        """The pipeline as a pipeline-file document."""
        return {
            "version": 1,
            "min_visibility": self.min_visibility,
            "min_size": self.min_size,
            "fill": self.fill if isinstance(self.fill, int) else list(self.fill),
            "interpolation": self.interpolation,
            "backend": self.backend,
            "transforms": [t.to_dict() for t in self.transforms],
        }

    def __call__(
        self,
        image: npt.ArrayLike,
        boxes_xyxy: npt.ArrayLike | None = None,
        polygons: list[Any] | None = None,
        category_ids: npt.ArrayLike | None = None,
        *,
        rng: np.random.Generator,
        partners: Sequence[Sample] | Callable[[], Sequence[Sample]] | None = None,
    ) -> Sample:
        """Augment one image and its objects (the online, per-sample entry point).

        Args:
            image: ``(H, W, C)`` or ``(H, W)`` uint8.
            boxes_xyxy: ``(N, 4)`` absolute pixels (an all-NaN row: an image-level label).
            polygons: N entries: None, a list of ``(K, 2)`` parts, or a COCO RLE dict.
            category_ids: ``(N,)``.
            rng: this sample's generator, e.g. ``np.random.default_rng([seed, image_id, copy])``.
            partners: samples for a mosaic (or a function returning them, called only when a
                mosaic fires); their `source_index` should not collide with this sample's.

        Returns:
            The augmented `Sample`; ``source_index`` maps its objects to input rows.
        """
        return self.apply(Sample.from_arrays(image, boxes_xyxy, polygons, category_ids), rng=rng, partners=partners)

    def apply(
        self,
        sample: Sample,
        *,
        rng: np.random.Generator,
        partners: Sequence[Sample] | Callable[[], Sequence[Sample]] | None = None,
    ) -> Sample:
        """`__call__` on a `Sample` (keeps its `source_index`)."""
        warp = {
            "fill": self.fill,
            "interpolation": self.interpolation,
            "backend": self.backend,
            "min_visibility": self.min_visibility,
            "min_size": self.min_size,
        }
        sample = drop_degenerate(sample, self.min_size)
        matrix, size_wh = np.eye(3), (sample.width, sample.height)

        def flush(s: Sample, *, final: bool = False) -> Sample:
            nonlocal matrix
            if np.array_equal(matrix, np.eye(3)) and size_wh == (s.width, s.height):
                # nothing moved; at the end, still clip objects that came in outside the image
                return warp_sample(s, matrix, size_wh, with_image=False, **warp) if final and len(s.boxes_xyxy) else s
            out = warp_sample(s, matrix, size_wh, **warp)
            matrix = np.eye(3)
            return out

        for transform in self.transforms:
            if rng.random() >= transform.p:
                continue
            if transform.kind == "geometric":
                params = transform.make_params(rng, size_wh)
                matrix, size_wh = params["matrix"] @ matrix, tuple(params["size_wh"])
                continue
            sample = flush(sample)
            params = transform.make_params(rng, size_wh)
            if isinstance(transform, Mosaic):
                sample = transform.combine([sample, *self._partners(partners)], params, **warp)
                size_wh = (sample.width, sample.height)
            elif isinstance(transform, PixelTransform):
                image = transform.apply_image(sample.image, params, fill=self.fill, backend=self.backend)
                sample = sample.with_image(image)
        return flush(sample, final=True)

    def _partners(self, partners: Sequence[Sample] | Callable[[], Sequence[Sample]] | None) -> list[Sample]:
        found = list(partners() if callable(partners) else partners or [])
        if len(found) < Mosaic.partners:
            raise UsageError(
                f"mosaic needs {Mosaic.partners} partner samples, got {len(found)}. "
                "Pass partners= to the pipeline (dataprep.augment does this itself)"
            )
        return [drop_degenerate(p, self.min_size) for p in found[: Mosaic.partners]]


def _check_fill(fill: Any) -> int | tuple[int, ...]:
    ok_int = isinstance(fill, int) and not isinstance(fill, bool) and 0 <= fill <= 255
    if ok_int:
        return int(fill)
    if isinstance(fill, list | tuple) and len(fill) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in fill):
        return tuple(int(v) for v in fill)
    raise UsageError(f"pipeline: fill={fill!r} is not a colour. Use a grey level 0..255 or [r, g, b] with each 0..255")


# -- documents: schema, files, presets ------------------------------------------------------------


def pipeline_schema() -> dict[str, Any]:
    """The JSON schema of pipeline files, built from the transforms' `Param` declarations.

    ``schemas/augment-pipeline.schema.json`` is this function's output (a test keeps them equal).
    """
    rules = []
    for name, cls in TRANSFORMS.items():
        props: dict[str, Any] = {"type": {"const": name}}
        for param in (P, *cls.params):
            props[param.name] = param.schema()
        rules.append(
            {
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": {"properties": props, "additionalProperties": False},
            }
        )
    colour = {"type": "integer", "minimum": 0, "maximum": 255}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/dataprep/dataprep/schemas/augment-pipeline.schema.json",
        "title": "dataprep augmentation pipeline",
        "description": "Transforms applied in order to each image and its boxes/polygons (dataprep augment).",
        "type": "object",
        "required": ["transforms"],
        "additionalProperties": False,
        "properties": {
            "version": {"const": 1, "description": "file format version"},
            **{p.name: p.schema() for p in SETTINGS},
            "fill": {
                "description": "value of pixels a geometric transform uncovers: grey level or [r, g, b]; default 114",
                "anyOf": [colour, {"type": "array", "items": colour, "minItems": 3, "maxItems": 3}],
            },
            "interpolation": {"enum": list(INTERPOLATIONS), "description": "image resampling; default bilinear"},
            "backend": {
                "enum": list(BACKENDS),
                "default": F.DEFAULT_BACKEND,
                "description": "image kernels for warps, colour and blurs; opencv (one thread) is ~3x faster"
                " than pillow on the bench pipeline; pixels differ slightly, boxes do not; default opencv",
            },
            "transforms": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type"],
                    "properties": {"type": {"enum": sorted(TRANSFORMS)}},
                    "allOf": rules,
                },
            },
        },
    }


def pipeline_from_dict(doc: Any, *, source: str = "pipeline") -> Pipeline:
    """Build a `Pipeline` from a pipeline document (parsed YAML/JSON), checking it against the schema.

    Raises:
        UsageError: the document breaks the schema or a value is out of range; the message
            names `source`, the JSON path (``transforms[2].degrees``), the value and the fix.
    """
    from jsonschema import Draft202012Validator

    errors = sorted(
        Draft202012Validator(pipeline_schema()).iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]
    )
    if errors:
        raise UsageError(_schema_message(errors[0], doc, source))
    settings = {k: doc[k] for k in ("min_visibility", "min_size", "fill", "interpolation", "backend") if k in doc}
    transforms = []
    for i, entry in enumerate(doc["transforms"]):
        options = {k: v for k, v in entry.items() if k != "type"}
        try:
            transforms.append(TRANSFORMS[entry["type"]](**options))
        except UsageError as err:
            raise UsageError(f"{source}: transforms[{i}]: {err}") from None
    try:
        return Pipeline(transforms, **settings)
    except UsageError as err:
        raise UsageError(f"{source}: {err}") from None


def _schema_message(err: Any, doc: Any, source: str) -> str:
    """One line: where, what value, what is wrong, and the fix (from the parameter's declaration)."""
    path = list(err.absolute_path)
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "$"
    fix = "See schemas/augment-pipeline.schema.json"
    spec = None
    if len(path) >= 3 and path[0] == "transforms" and isinstance(doc["transforms"][path[1]], dict):
        cls = TRANSFORMS.get(doc["transforms"][path[1]].get("type"))
        spec = {p.name: p for p in (P, *cls.params)}.get(str(path[2])) if cls else None
    elif path and path[0] in {p.name for p in SETTINGS}:
        spec = next(p for p in SETTINGS if p.name == path[0])
    if spec is not None:
        fix = f"Use {spec.describe()} ({spec.help})"
    message = err.message
    if err.validator == "additionalProperties":
        fix = f"Remove it, or use one of: {', '.join(sorted(err.schema.get('properties', {})))}"
    elif err.validator == "enum" and path[-1:] == ["type"]:
        message = f"unknown transform {err.instance!r}"
        fix = f"Use one of: {', '.join(sorted(TRANSFORMS))}"
    elif err.validator == "enum":
        message = f"{err.instance!r} is not allowed"
        fix = f"Use one of: {', '.join(map(str, err.validator_value))}"
    elif err.validator in ("anyOf", "oneOf"):
        message = f"{err.instance!r} is not allowed"
    elif err.validator == "required":
        fix = "Add it, e.g. transforms: [{type: hflip, p: 0.5}]"
    if len(message) > 160:
        message = message[:157] + "..."
    return f"{source}: {where}: {message}. {fix}"


def load_pipeline(spec: str | Path | dict[str, Any] | Pipeline) -> Pipeline:
    """A pipeline from a preset name, a YAML/JSON file, a document dict, or a `Pipeline` (returned as is).

    Raises:
        UsageError: unknown preset and no such file; unreadable or invalid file (option, value, fix).
    """
    if isinstance(spec, Pipeline):
        return spec
    if isinstance(spec, dict):
        return pipeline_from_dict(spec)
    name = str(spec)
    if name in PRESETS:
        return pipeline_from_dict(PRESETS[name], source=f"preset {name!r}")
    path = Path(spec)
    if not path.is_file():
        raise UsageError(
            f"--pipeline {name!r}: no such file and not a preset. "
            f"Use a YAML/JSON pipeline file or one of the presets: {', '.join(PRESETS)}"
        )
    try:
        if path.suffix.lower() == ".json":
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as err:
                raise InputError(path, f"not valid JSON ({err})", hint="Fix the JSON syntax") from None
        else:
            from dataprep.files import read_yaml

            doc, _ = read_yaml(path)
    except (InputError, OSError) as err:
        raise UsageError(f"--pipeline {err}") from None
    if not isinstance(doc, dict):
        raise UsageError(
            f"--pipeline {path}: expected a mapping with a 'transforms' list. See the presets for examples"
        )
    return pipeline_from_dict(doc, source=str(path))


def write_schema(path: str | Path) -> None:
    """Write `pipeline_schema()` as indented JSON (how the file in ``schemas/`` is made)."""
    Path(path).write_text(json.dumps(pipeline_schema(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
