"""Transform classes: validated parameters plus ``make_params(rng, size_wh)``.

Each transform draws its random parameters once per sample in `make_params` (torchvision v2's
split) from the generator it is handed, never a global one; the pixels and labels are then
moved by the kernels in `functional` (and `sample.warp_sample` for geometry). Geometric
transforms only return a ``(3, 3)`` matrix and an output size: the pipeline multiplies the
matrices of consecutive geometric transforms and resamples once.

Every parameter is declared once, as a `Param`; the class checks values against it and
`pipeline_schema` builds ``schemas/augment-pipeline.schema.json`` from the same declarations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from dataprep.augmentation import functional as F
from dataprep.augmentation.sample import Sample, drop_degenerate, warp_sample
from dataprep.errors import UsageError

Fill = tuple[int, ...] | int  # a colour per channel, or one grey level

Kind = Literal["probability", "number", "integer", "range", "factor", "symmetric", "size"]


@dataclass(frozen=True)
class Param:
    """One transform parameter: its kind, allowed interval, default and meaning.

    Kinds: ``probability`` (0..1), ``number``, ``integer``, ``size`` (integer pixels or null),
    ``range`` (a ``[low, high]`` pair), ``symmetric`` (a pair, or one number v meaning
    ``[-v, v]``), ``factor`` (a pair, or one number v meaning ``[1 - v, 1 + v]``).
    """

    name: str
    kind: Kind
    minimum: float
    maximum: float
    default: Any
    help: str

    def check(self, transform: str, value: Any) -> Any:
        """`value` normalised (ranges become ``(low, high)`` tuples).

        Raises:
            UsageError: wrong type or out of range, naming transform, parameter, value and fix.
        """
        where = f"transform {transform!r}: {self.name}={value!r}"
        fix = f"Use {self.describe()} ({self.help})"
        if self.kind == "size" and value is None:
            return None
        if self.kind in ("range", "symmetric", "factor"):
            if _is_number(value) and self.kind != "range":
                v = abs(float(value))
                low, high = (-v, v) if self.kind == "symmetric" else (max(1.0 - v, self.minimum), 1.0 + v)
            elif isinstance(value, list | tuple) and len(value) == 2 and all(_is_number(x) for x in value):
                low, high = float(value[0]), float(value[1])
            else:
                raise UsageError(f"{where} is not a valid range. {fix}")
            if low > high:
                raise UsageError(f"{where}: low end {low:g} is above high end {high:g}. {fix}")
            if low < self.minimum or high > self.maximum:
                raise UsageError(f"{where} is outside [{self.minimum:g}, {self.maximum:g}]. {fix}")
            return (low, high)
        integer = self.kind in ("integer", "size")
        if not _is_number(value) or (integer and float(value) != int(value)):
            raise UsageError(f"{where} is not {'an integer' if integer else 'a number'}. {fix}")
        if not self.minimum <= float(value) <= self.maximum:
            raise UsageError(f"{where} is outside [{self.minimum:g}, {self.maximum:g}]. {fix}")
        return int(value) if integer else float(value)

    def describe(self) -> str:
        """The allowed values, in words."""
        interval = f"[{self.minimum:g}, {self.maximum:g}]"
        return {
            "probability": f"a probability in {interval}",
            "number": f"a number in {interval}",
            "integer": f"an integer in {interval}",
            "size": f"an integer number of pixels in {interval}, or null",
            "range": f"a pair [low, high] within {interval}",
            "symmetric": f"a number v (meaning [-v, v]) or a pair [low, high] within {interval}",
            "factor": f"a number v (meaning [1-v, 1+v]) or a pair [low, high] within {interval}",
        }[self.kind]

    def schema(self) -> dict[str, Any]:
        """This parameter as a JSON schema fragment."""
        bounded = {"type": "number", "minimum": self.minimum, "maximum": self.maximum}
        pair = {"type": "array", "items": bounded, "minItems": 2, "maxItems": 2}
        if self.kind in ("integer", "size"):
            out: dict[str, Any] = {**bounded, "type": "integer"}
            if self.kind == "size":
                out = {"anyOf": [out, {"type": "null"}]}
        elif self.kind == "range":
            out = pair
        elif self.kind == "symmetric":
            out = {"anyOf": [{"type": "number", "minimum": 0, "maximum": self.maximum}, pair]}
        elif self.kind == "factor":
            out = {"anyOf": [{"type": "number", "minimum": 0, "maximum": self.maximum - 1}, pair]}
        else:
            out = bounded
        return {"description": f"{self.help}: {self.describe()}; default {self.default!r}", **out}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


P = Param("p", "probability", 0.0, 1.0, 0.5, "chance that the transform is applied to a sample")


class Transform:
    """Base class: parameter checking, `make_params`, and a dict form for pipeline files."""

    type: ClassVar[str]
    params: ClassVar[tuple[Param, ...]]
    kind: ClassVar[Literal["geometric", "pixel", "mosaic"]] = "pixel"

    def __init__(self, **options: Any) -> None:
        known = {p.name: p for p in (P, *self.params)}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise UsageError(
                f"transform {self.type!r}: unknown parameter {unknown[0]!r}. "
                f"Use one of: {', '.join(known)} (or check the spelling)"
            )
        self.options = {name: spec.check(self.type, options.get(name, spec.default)) for name, spec in known.items()}
        self.p: float = self.options["p"]

    def __getattr__(self, name: str) -> Any:
        options = self.__dict__.get("options", {})
        if name in options:
            return options[name]
        raise AttributeError(name)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({args})"

    def to_dict(self) -> dict[str, Any]:
        """The transform as a pipeline-file entry (ranges as lists)."""
        return {"type": self.type, **{k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()}}

    def make_params(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> dict[str, Any]:
        """Draw this sample's random parameters (the image is `size_wh` = (width, height) now)."""
        raise NotImplementedError


class GeometricTransform(Transform):
    """A transform that is an affine map: ``make_params`` returns ``matrix`` and ``size_wh``."""

    kind = "geometric"


class PixelTransform(Transform):
    """A transform of pixel values only: objects do not move."""

    def apply_image(
        self,
        image: F.ImageArray,
        params: dict[str, Any],
        *,
        fill: Fill,
        backend: str = F.DEFAULT_BACKEND,
    ) -> F.ImageArray:
        """The transformed ``(H, W, C)`` uint8 image (`fill`: the colour of uncovered pixels)."""
        return self.pixels(image, params, fill, backend)

    def pixels(self, image: F.ImageArray, params: dict[str, Any], fill: Fill, backend: str) -> F.ImageArray:
        """`apply_image`'s work, which each pixel transform defines."""
        raise NotImplementedError


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


# -- geometric ------------------------------------------------------------------------------------


class HorizontalFlip(GeometricTransform):
    """Mirror left-right."""

    type = "hflip"
    params = ()

    def make_params(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> dict[str, Any]:
        return {"matrix": F.hflip_matrix(size_wh[0]), "size_wh": size_wh}


class VerticalFlip(GeometricTransform):
    """Mirror top-bottom."""

    type = "vflip"
    params = ()

    def make_params(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> dict[str, Any]:
        return {"matrix": F.vflip_matrix(size_wh[1]), "size_wh": size_wh}


class Scale(GeometricTransform):
    """Zoom about the image centre by a factor drawn from `factor`; the canvas keeps its size."""

    type = "scale"
    params = (Param("factor", "range", 0.01, 10.0, (0.8, 1.2), "zoom factor, 1 = unchanged"),)

    def make_params(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> dict[str, Any]:
        s = _uniform(rng, self.factor)
        return {"matrix": F.scale_matrix(s, s, size_wh[0] / 2, size_wh[1] / 2), "size_wh": size_wh}


class Translate(GeometricTransform):
    """Shift by a fraction of the width and height, each drawn from `fraction`."""

    type = "translate"
    params = (Param("fraction", "symmetric", -1.0, 1.0, 0.1, "shift as a share of the image side"),)

    def make_params(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> dict[str, Any]:
        dx, dy = _uniform(rng, self.fraction) * size_wh[0], _uniform(rng, self.fraction) * size_wh[1]
        return {"matrix": F.translation_matrix(dx, dy), "size_wh": size_wh}


class Rotate(GeometricTransform):
    """Rotate about the centre by an angle drawn from `degrees` (positive: counter-clockwise)."""

    type = "rotate"
    params = (Param("degrees", "symmetric", -180.0, 180.0, 10.0, "rotation angle in degrees"),)

    def make_params(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> dict[str, Any]:
        angle = _uniform(rng, self.degrees)
        return {"matrix": F.rotation_matrix(angle, size_wh[0] / 2, size_wh[1] / 2), "size_wh": size_wh}


class Shear(GeometricTransform):
    """Skew about the centre by angles drawn from `x_degrees` and `y_degrees`."""

    type = "shear"
    params = (
        Param("x_degrees", "symmetric", -60.0, 60.0, 10.0, "horizontal shear angle in degrees"),
        Param("y_degrees", "symmetric", -60.0, 60.0, 0.0, "vertical shear angle in degrees"),
    )

    def make_params(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> dict[str, Any]:
        sx, sy = _uniform(rng, self.x_degrees), _uniform(rng, self.y_degrees)
        return {"matrix": F.shear_matrix(sx, sy, size_wh[0] / 2, size_wh[1] / 2), "size_wh": size_wh}


class Crop(GeometricTransform):
    """Cut a `width` x `height` window at a random place (padded with `fill` if the image is smaller)."""

    type = "crop"
    params = (
        Param("width", "size", 1, 16384, None, "window width in pixels; null = the image width"),
        Param("height", "size", 1, 16384, None, "window height in pixels; null = the image height"),
    )

    def make_params(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> dict[str, Any]:
        w, h = size_wh
        cw, ch = self.width or w, self.height or h
        x0 = int(rng.integers(min(0, w - cw), max(0, w - cw) + 1))
        y0 = int(rng.integers(min(0, h - ch), max(0, h - ch) + 1))
        return {"matrix": F.translation_matrix(-x0, -y0), "size_wh": (cw, ch)}


class ResizedCrop(GeometricTransform):
    """Cut a window of random area share `scale` and aspect `ratio`, resized to `width` x `height`.

    The window is drawn as torchvision's RandomResizedCrop does (ten tries, then the central
    crop of the nearest allowed aspect); null sizes keep the input's.
    """

    type = "resized_crop"
    params = (
        Param("width", "size", 1, 16384, None, "output width in pixels; null = the input width"),
        Param("height", "size", 1, 16384, None, "output height in pixels; null = the input height"),
        Param("scale", "range", 0.001, 1.0, (0.25, 1.0), "window area as a share of the image area"),
        Param("ratio", "range", 0.05, 20.0, (0.75, 4 / 3), "window width / height"),
    )

    def make_params(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> dict[str, Any]:
        w, h = size_wh
        out = (self.width or w, self.height or h)
        area = w * h
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * _uniform(rng, self.scale)
            aspect = math.exp(_uniform(rng, log_ratio))
            cw, ch = math.sqrt(target * aspect), math.sqrt(target / aspect)
            if 0 < cw <= w and 0 < ch <= h:
                x0, y0 = _uniform(rng, (0, w - cw)), _uniform(rng, (0, h - ch))
                return {"matrix": F.crop_matrix(x0, y0, cw, ch, *out), "size_wh": out}
        aspect = min(max(w / h, self.ratio[0]), self.ratio[1])
        cw, ch = (w, w / aspect) if w / h < aspect else (h * aspect, h)
        return {"matrix": F.crop_matrix((w - cw) / 2, (h - ch) / 2, cw, ch, *out), "size_wh": out}


# -- pixels ---------------------------------------------------------------------------------------


class ColorJitter(PixelTransform):
    """Brightness, contrast, saturation (factors, 1 = unchanged) and hue (turns), in that order."""

    type = "color_jitter"
    params = (
        Param("brightness", "factor", 0.0, 10.0, 0.2, "brightness factor"),
        Param("contrast", "factor", 0.0, 10.0, 0.2, "contrast factor"),
        Param("saturation", "factor", 0.0, 10.0, 0.2, "saturation factor"),
        Param("hue", "symmetric", -0.5, 0.5, 0.02, "hue shift in turns of the colour wheel"),
    )

    def make_params(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> dict[str, Any]:
        return {name: _uniform(rng, self.options[name]) for name in ("brightness", "contrast", "saturation", "hue")}

    def pixels(self, image: F.ImageArray, params: dict[str, Any], fill: Fill, backend: str) -> F.ImageArray:
        b, c, s, h = (params[k] for k in ("brightness", "contrast", "saturation", "hue"))
        return F.adjust_color(image, b, c, s, h, backend=backend)


class GaussianBlur(PixelTransform):
    """Blur with a Gaussian of standard deviation drawn from `sigma` pixels."""

    type = "blur"
    params = (Param("sigma", "range", 0.0, 50.0, (0.1, 2.0), "standard deviation in pixels"),)

    def make_params(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> dict[str, Any]:
        return {"sigma": _uniform(rng, self.sigma)}

    def pixels(self, image: F.ImageArray, params: dict[str, Any], fill: Fill, backend: str) -> F.ImageArray:
        return F.gaussian_blur_image(image, params["sigma"], backend=backend)


class GaussianNoise(PixelTransform):
    """Add Gaussian noise of standard deviation drawn from `sigma` (0..255 levels)."""

    type = "noise"
    params = (Param("sigma", "range", 0.0, 255.0, (5.0, 15.0), "noise standard deviation in 0..255 levels"),)

    def make_params(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> dict[str, Any]:
        return {"sigma": _uniform(rng, self.sigma), "seed": int(rng.integers(2**63))}

    def pixels(self, image: F.ImageArray, params: dict[str, Any], fill: Fill, backend: str) -> F.ImageArray:
        return F.gaussian_noise_image(image, params["sigma"], params["seed"])


class Cutout(PixelTransform):
    """Fill `holes` random rectangles, each side a share drawn from `size` of the image side."""

    type = "cutout"
    params = (
        Param("holes", "integer", 1, 64, 1, "number of rectangles"),
        Param("size", "range", 0.0, 1.0, (0.1, 0.3), "rectangle side as a share of the image side"),
    )

    def make_params(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> dict[str, Any]:
        w, h = size_wh
        sides = rng.uniform(self.size[0], self.size[1], size=(self.holes, 2)) * (w, h)
        centres = rng.uniform(0, 1, size=(self.holes, 2)) * (w, h)
        xyxy = np.rint(np.concatenate([centres - sides / 2, centres + sides / 2], axis=1)).astype(np.int64)
        return {"xyxy": xyxy}

    def pixels(self, image: F.ImageArray, params: dict[str, Any], fill: Fill, backend: str) -> F.ImageArray:
        return F.cutout_image(image, params["xyxy"], fill)


# -- several samples ------------------------------------------------------------------------------


class Mosaic(Transform):
    """Four samples in one canvas (YOLO-style): each scaled to fit the canvas and placed with a
    corner at a random centre point, so every quadrant shows the part of one image next to it.

    Needs three partner samples besides the current one (`Pipeline` takes them). The canvas is
    `width` x `height`, or the current sample's size.
    """

    type = "mosaic"
    kind = "mosaic"
    params = (
        Param("center", "range", 0.0, 1.0, (0.25, 0.75), "centre point as a share of the canvas side"),
        Param("width", "size", 1, 16384, None, "canvas width in pixels; null = the first sample's"),
        Param("height", "size", 1, 16384, None, "canvas height in pixels; null = the first sample's"),
    )
    partners = 3

    def make_params(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> dict[str, Any]:
        w, h = self.width or size_wh[0], self.height or size_wh[1]
        cx, cy = _uniform(rng, self.center) * w, _uniform(rng, self.center) * h
        return {"size_wh": (w, h), "center": (cx, cy), "order": rng.permutation(4)}

    def combine(self, samples: list[Sample], params: dict[str, Any], **warp: Any) -> Sample:
        """One sample from four (`samples[0]` is the current one), objects clipped to their quadrant."""
        w, h = params["size_wh"]
        cx, cy = params["center"]
        channels = samples[0].image.shape[2]
        fill = warp["fill"]
        canvas = np.empty((h, w, channels), np.uint8)
        canvas[:] = np.asarray(fill, np.uint8) if channels > 1 or isinstance(fill, int) else fill[0]
        icx, icy = round(cx), round(cy)
        quadrants = [(0, 0, icx, icy), (icx, 0, w, icy), (0, icy, icx, h), (icx, icy, w, h)]
        parts = []
        for quadrant, k in zip(quadrants, params["order"], strict=True):
            tile = samples[int(k)]
            x0, y0, x1, y1 = quadrant
            s = min(w / tile.width, h / tile.height)
            # the tile's corner nearest the centre goes to the centre
            tx = cx - s * tile.width if x0 == 0 else cx
            ty = cy - s * tile.height if y0 == 0 else cy
            matrix = F.translation_matrix(tx, ty) @ F.scale_matrix(s, s)
            if x1 > x0 and y1 > y0:
                pixels = F.affine_image(
                    _channels(tile.image, channels),
                    F.translation_matrix(-x0, -y0) @ matrix,
                    (x1 - x0, y1 - y0),
                    fill=fill,
                    interpolation=warp["interpolation"],
                    backend=warp.get("backend", F.DEFAULT_BACKEND),
                )
                canvas[y0:y1, x0:x1] = pixels
            parts.append(warp_sample(tile, matrix, (w, h), clip_rect=quadrant, with_image=False, **warp))
        return Sample(
            image=canvas,
            boxes_xyxy=np.concatenate([p.boxes_xyxy for p in parts]),
            category_ids=np.concatenate([p.category_ids for p in parts]),
            polygons=[seg for p in parts for seg in p.polygons],
            source_index=np.concatenate([p.source_index for p in parts]),
            clipped=np.concatenate([p.clipped for p in parts]),
            dropped_outside=np.concatenate([p.dropped_outside for p in parts]),
            dropped_degenerate=np.concatenate([p.dropped_degenerate for p in parts]),
        )


def _channels(image: F.ImageArray, channels: int) -> F.ImageArray:
    """`image` with `channels` channels (grey repeated, or RGB reduced to luma)."""
    if image.shape[2] == channels:
        return image
    if channels == 3:
        return np.repeat(image, 3, axis=2)
    return np.rint(image @ F.LUMA)[:, :, None].astype(np.uint8)


TRANSFORMS: dict[str, type[Transform]] = {
    cls.type: cls
    for cls in (
        HorizontalFlip,
        VerticalFlip,
        Scale,
        Translate,
        Rotate,
        Shear,
        Crop,
        ResizedCrop,
        ColorJitter,
        GaussianBlur,
        GaussianNoise,
        Cutout,
        Mosaic,
    )
}

__all__ = [
    "TRANSFORMS",
    "ColorJitter",
    "Crop",
    "Cutout",
    "GaussianBlur",
    "GaussianNoise",
    "GeometricTransform",
    "HorizontalFlip",
    "Mosaic",
    "Param",
    "PixelTransform",
    "ResizedCrop",
    "Rotate",
    "Scale",
    "Shear",
    "Transform",
    "Translate",
    "VerticalFlip",
    "drop_degenerate",
]
