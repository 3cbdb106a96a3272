"""Drawing: textured backgrounds, clothed and shaded bodies with a z-buffer, flat occluders.

Images are float32 ``[H, W, 3]`` in [0, 1] while drawing; pixel (row r, column c) is sampled at
its centre ``(c + 0.5, r + 0.5)`` in the camera-space convention of :mod:`.geometry`.

Visibility (:func:`landmark_visibility`) is decided with the same ray casts that draw the
image, through the centre of the pixel holding the landmark: a landmark is hidden when it lies
outside the image, under a flat occluder, or when some solid's front surface on that ray is
nearer than ``depth - radius - tolerance`` (``radius`` is how deep inside its limb the landmark
sits, see :class:`.body_model.PosedBody`). A point covered by a limb drawn in front of it is
therefore hidden, and so is a face point on the far side of the head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blazepose.synthesis.body_model import BODY_PARTS, FACE_POINT_ANGLES, face_direction
from blazepose.synthesis.camera import CameraSolid

__all__ = [
    "BACKGROUND_PART",
    "OCCLUDER_PART",
    "FlatOccluder",
    "Material",
    "Outfit",
    "draw_body",
    "draw_occluders",
    "finish_image",
    "front_depth",
    "landmark_visibility",
    "random_background",
    "sample_outfit",
    "sample_light",
]

BACKGROUND_PART = -1
"""Part-buffer value of pixels showing no body part of the labelled person."""

OCCLUDER_PART = -2
"""Part-buffer value of pixels covered by a flat occluder in front of the person."""


# ---------------------------------------------------------------------------------------------
# Colours and materials
# ---------------------------------------------------------------------------------------------


def _hsv_to_rgb(hue: float, saturation: float, value: float) -> np.ndarray:
    """One colour from HSV (all in [0, 1]) to RGB floats."""
    sector = (hue % 1.0) * 6.0
    index = int(sector) % 6
    fraction = sector - int(sector)
    p = value * (1.0 - saturation)
    q = value * (1.0 - saturation * fraction)
    t = value * (1.0 - saturation * (1.0 - fraction))
    table = [(value, t, p), (q, value, p), (p, value, t), (p, q, value), (t, p, value),
             (value, p, q)]
    return np.array(table[index], np.float64)


def _random_colour(rng: np.random.Generator, saturation=(0.0, 1.0), value=(0.1, 1.0)) -> np.ndarray:
    return _hsv_to_rgb(rng.random(), rng.uniform(*saturation), rng.uniform(*value))


def _skin_colour(rng: np.random.Generator) -> np.ndarray:
    light, dark = np.array([0.97, 0.82, 0.71]), np.array([0.30, 0.19, 0.13])
    mix = rng.random()
    return (1.0 - mix) * light + mix * dark + rng.normal(0.0, 0.02, 3)


@dataclass(frozen=True)
class Material:
    """A surface colour with an optional pattern over the solid's surface coordinates.

    ``pattern`` is "solid", "stripes" (bands across a limb, or horizontal bands on the trunk),
    "checks" or "speckle"; ``second`` is the pattern's other colour and ``frequency`` its
    number of bands per unit of surface coordinate.
    """

    colour: np.ndarray
    pattern: str = "solid"
    second: np.ndarray | None = None
    frequency: float = 4.0

    def shade(self, u: np.ndarray, v: np.ndarray, w: np.ndarray, ellipsoid: bool) -> np.ndarray:
        """``[N, 3]`` colours at surface coordinates ``(u, v, w)`` (see ``SurfaceHit``)."""
        base = np.broadcast_to(self.colour, u.shape + (3,))
        if self.pattern == "solid" or self.second is None:
            return base
        along = v if ellipsoid else u * 2.0
        across = u if ellipsoid else v
        if self.pattern == "stripes":
            mask = np.sin(np.pi * self.frequency * along) > 0.0
        elif self.pattern == "checks":
            mask = (np.sin(np.pi * self.frequency * along)
                    * np.sin(np.pi * self.frequency * across)) > 0.0
        else:  # speckle: a fixed pseudo-random function of the surface position
            field = np.sin(37.0 * along + 11.0 * across) * np.sin(23.0 * across - 17.0 * w + 5.0)
            mask = field > 0.55
        return np.where(mask[..., None], self.second, base)


@dataclass(frozen=True)
class Outfit:
    """Materials of one person: per body part, plus hair/face details painted on the head.

    Attributes:
      parts: material of each entry of :data:`BODY_PARTS`.
      skin: skin colour.
      hair: hair colour, or None for a bald head.
      hair_style: "short", "long" or "cap".
      eye_colour, lip_colour: face paint.
    """

    parts: dict[str, Material]
    skin: np.ndarray
    hair: np.ndarray | None
    hair_style: str
    eye_colour: np.ndarray
    lip_colour: np.ndarray


def _clothing(rng: np.random.Generator) -> Material:
    colour = _random_colour(rng, saturation=(0.0, 0.9), value=(0.08, 0.95))
    pattern = str(rng.choice(["solid", "stripes", "checks", "speckle"], p=[0.55, 0.2, 0.1, 0.15]))
    second = _random_colour(rng, value=(0.1, 1.0)) if pattern != "solid" else None
    return Material(colour=colour, pattern=pattern, second=second,
                    frequency=float(rng.uniform(2.0, 9.0)))


def sample_outfit(rng: np.random.Generator) -> Outfit:
    """Random clothes: a top (sleeves long, short or none), trousers or shorts, shoes, hair."""
    skin_colour = np.clip(_skin_colour(rng), 0.0, 1.0)
    skin = Material(colour=skin_colour)
    top = _clothing(rng)
    if rng.random() < 0.35:  # denim, black or khaki trousers are common
        bottom_colour = [np.array([0.16, 0.24, 0.42]), np.array([0.08, 0.08, 0.09]),
                         np.array([0.62, 0.55, 0.40])][int(rng.integers(3))]
        bottom = Material(colour=np.clip(bottom_colour + rng.normal(0, 0.03, 3), 0, 1))
    else:
        bottom = _clothing(rng)
    shoes = Material(colour=_random_colour(rng, saturation=(0.0, 0.6), value=(0.05, 0.95)))
    sleeves = str(rng.choice(["long", "short", "none"], p=[0.5, 0.38, 0.12]))
    trousers = str(rng.choice(["long", "shorts"], p=[0.68, 0.32]))
    parts = {}
    for part in BODY_PARTS:
        if part in ("pelvis",) or part.endswith("thigh"):
            parts[part] = bottom
        elif part.endswith("shin"):
            parts[part] = bottom if trousers == "long" else skin
        elif part in ("abdomen", "chest"):
            parts[part] = top
        elif part.endswith("upper_arm"):
            parts[part] = skin if sleeves == "none" else top
        elif part.endswith("forearm"):
            parts[part] = top if sleeves == "long" else skin
        elif part.endswith("foot"):
            parts[part] = shoes if rng.random() < 0.97 else skin
        else:  # head, neck, nose, ears, hands, thumbs
            parts[part] = skin
    if rng.random() < 0.12:  # gloves
        gloves = Material(colour=_random_colour(rng, value=(0.05, 0.9)))
        for side in ("left", "right"):
            parts[f"{side}_hand"] = parts[f"{side}_thumb"] = gloves
    hair_style = str(rng.choice(["short", "long", "cap", "bald"], p=[0.5, 0.3, 0.1, 0.1]))
    hair_colour = [np.array([0.05, 0.04, 0.03]), np.array([0.25, 0.15, 0.08]),
                   np.array([0.55, 0.4, 0.2]), np.array([0.85, 0.75, 0.5]),
                   np.array([0.6, 0.6, 0.6]), _random_colour(rng)][int(rng.integers(6))]
    if hair_style == "cap":
        hair_colour = _random_colour(rng, value=(0.1, 0.9))
    return Outfit(parts=parts, skin=skin_colour,
                  hair=None if hair_style == "bald" else np.clip(hair_colour, 0, 1),
                  hair_style=hair_style,
                  eye_colour=np.array([0.08, 0.06, 0.05]) + rng.uniform(0, 0.15, 3),
                  lip_colour=np.clip(skin_colour * np.array([0.85, 0.55, 0.55]), 0, 1))


def sample_light(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """(unit direction towards the light in camera space, ambient share in [0.3, 0.65])."""
    direction = np.array([rng.uniform(-0.9, 0.9), rng.uniform(-1.0, 0.4), -1.0])
    return direction / np.linalg.norm(direction), float(rng.uniform(0.3, 0.65))


# ---------------------------------------------------------------------------------------------
# Backgrounds
# ---------------------------------------------------------------------------------------------


def _pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``x [1, W]`` and ``y [H, 1]``."""
    return (np.arange(width, dtype=np.float32)[None, :] + 0.5,
            np.arange(height, dtype=np.float32)[:, None] + 0.5)


def _scene_colour(rng: np.random.Generator) -> np.ndarray:
    """Mostly muted colours, as walls, floors and furniture are; sometimes a vivid one."""
    if rng.random() < 0.2:
        return _random_colour(rng, saturation=(0.3, 1.0), value=(0.2, 1.0))
    return _random_colour(rng, saturation=(0.0, 0.45), value=(0.12, 0.95))


def _value_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Smooth noise ``[H, W]`` in [0, 1]: bilinear interpolation of a random ``cells`` grid."""
    grid = rng.random((cells + 2, cells + 2))
    y = np.linspace(0.0, cells, height)
    x = np.linspace(0.0, cells, width)
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """One random full-size texture ``[H, W, 3]``."""
    x, y = _pixel_grid(height, width)
    first = _scene_colour(rng)
    second = _scene_colour(rng)
    kind = int(rng.integers(6))
    if kind == 0:  # gradient
        angle = rng.uniform(0, 2 * np.pi)
        ramp = x * np.cos(angle) + y * np.sin(angle)
        ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-9)
    elif kind == 1:  # multi-octave noise
        ramp = sum(_value_noise(rng, height, width, int(cells)) / (i + 1)
                   for i, cells in enumerate(rng.integers(2, 40, size=3)))
        ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-9)
    elif kind == 2:  # stripes
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(4, 60)
        ramp = 0.5 + 0.5 * np.sin(2 * np.pi * (x * np.cos(angle) + y * np.sin(angle)) / period)
        if rng.random() < 0.5:
            ramp = (ramp > 0.5).astype(np.float64)
    elif kind == 3:  # checks / tiles
        size = rng.uniform(6, 60)
        ramp = ((np.floor(x / size) + np.floor(y / size)) % 2).astype(np.float64)
    elif kind == 4:  # fine grain (fabric, carpet, grass)
        ramp = rng.random((height, width)) * 0.5 + 0.5 * _value_noise(rng, height, width, 8)
    else:  # plain with a little shading
        ramp = 0.15 * _value_noise(rng, height, width, 3)
    ramp = np.broadcast_to(ramp, (height, width))[..., None].astype(np.float32)
    return (1.0 - ramp) * first.astype(np.float32) + ramp * second.astype(np.float32)


def _fill_shape(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """Draws one random rectangle, ellipse, bar or triangle of clutter onto ``canvas``."""
    height, width = canvas.shape[:2]
    cx, cy = rng.uniform(-0.1, 1.1) * width, rng.uniform(-0.1, 1.1) * height
    size = rng.uniform(0.03, 0.5) * max(height, width)
    angle = rng.uniform(0, np.pi)
    kind = int(rng.integers(4))
    aspect = rng.uniform(0.1, 1.0)
    bar_half_width = rng.uniform(1.0, 8.0)
    corners = rng.uniform(-1, 1, (3, 2)) * size
    # Every shape fits in a square of half-side 1.6 * size around its centre.
    reach = 1.6 * size
    row0, row1 = max(int(cy - reach), 0), min(int(cy + reach) + 1, height)
    col0, col1 = max(int(cx - reach), 0), min(int(cx + reach) + 1, width)
    if row0 >= row1 or col0 >= col1:
        return
    x = np.arange(col0, col1, dtype=np.float32)[None, :] + 0.5
    y = np.arange(row0, row1, dtype=np.float32)[:, None] + 0.5
    dx, dy = x - cx, y - cy
    along = dx * np.cos(angle) + dy * np.sin(angle)
    across = -dx * np.sin(angle) + dy * np.cos(angle)
    if kind == 0:
        mask = (np.abs(along) < size) & (np.abs(across) < size * aspect)
    elif kind == 1:
        mask = (along / size) ** 2 + (across / (size * aspect)) ** 2 < 1.0
    elif kind == 2:  # a long thin bar (poles, cables, limb-like distractors)
        mask = (np.abs(along) < size * 1.5) & (np.abs(across) < bar_half_width)
    else:
        signs = []
        for i in range(3):
            (x1, y1), (x2, y2) = corners[i], corners[(i + 1) % 3]
            signs.append((x2 - x1) * (dy - y1) - (y2 - y1) * (dx - x1) > 0)
        mask = (signs[0] == signs[1]) & (signs[1] == signs[2])
    if not mask.any():
        return
    region = canvas[row0:row1, col0:col1]
    if rng.random() < 0.3:
        region[mask] = _texture(rng, row1 - row0, col1 - col0)[mask]
    else:
        region[mask] = _scene_colour(rng)


def random_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A textured scene ``[H, W, 3]``: a wall texture, often a floor, and clutter shapes."""
    canvas = _texture(rng, height, width)
    if rng.random() < 0.5:  # floor below a horizon
        horizon = int(rng.uniform(0.3, 0.85) * height)
        canvas[horizon:] = _texture(rng, height - horizon, width)
    for _ in range(int(rng.poisson(5.0))):
        _fill_shape(canvas, rng)
    return canvas


# ---------------------------------------------------------------------------------------------
# Bodies
# ---------------------------------------------------------------------------------------------


def _face_paint(outfit: Outfit, u: np.ndarray, v: np.ndarray, w: np.ndarray,
                colours: np.ndarray, face_points: dict[str, np.ndarray]) -> np.ndarray:
    """Hair, eyes, brows and mouth painted by head-sphere coordinates (u left, v up, w front)."""
    colours = colours.copy()
    point = np.stack([u, v, w], axis=-1)
    if outfit.hair is not None:
        if outfit.hair_style == "cap":
            hair = v > 0.45
        elif outfit.hair_style == "long":
            hair = (v > 0.42) | ((w < 0.1) & (v > -0.9))
        else:
            hair = (v > 0.5 - 0.25 * np.clip(-w, 0, 1)) | ((w < -0.25) & (v > -0.45))
        colours[hair] = outfit.hair
    for side in ("left", "right"):
        eye = face_points[f"{side}_eye"]
        distance = np.linalg.norm(point - eye, axis=-1)
        colours[distance < 0.13] = np.array([0.92, 0.9, 0.88])
        colours[distance < 0.075] = outfit.eye_colour
        brow = np.linalg.norm(point - face_points[f"{side}_brow"], axis=-1)
        colours[(brow < 0.09) & (np.abs(v - face_points[f"{side}_brow"][1]) < 0.04)] = (
            outfit.hair if outfit.hair is not None else outfit.skin * 0.6)
    start, end = face_points["mouth_right"], face_points["mouth_left"]
    segment = end - start
    along = np.clip(np.sum((point - start) * segment, axis=-1) / np.sum(segment**2), 0, 1)
    mouth = np.linalg.norm(point - (start + along[..., None] * segment), axis=-1) < 0.05
    colours[mouth] = outfit.lip_colour
    return colours


def _face_points() -> dict[str, np.ndarray]:
    """Feature centres on the unit head sphere (u left, v up, w front)."""
    points = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        eye_yaw, eye_pitch = FACE_POINT_ANGLES["EYE"]
        points[f"{side}_eye"] = face_direction(sign * eye_yaw, eye_pitch)
        points[f"{side}_brow"] = face_direction(sign * 21.0, 27.0)
        points[f"mouth_{side}"] = face_direction(sign * FACE_POINT_ANGLES["MOUTH"][0],
                                                  FACE_POINT_ANGLES["MOUTH"][1])
    return points


_FACE = _face_points()


def draw_body(canvas: np.ndarray, depth_buffer: np.ndarray, part_buffer: np.ndarray,
              solids: tuple[CameraSolid, ...], outfit: Outfit, light: tuple[np.ndarray, float]
              ) -> None:
    """Draws a body's solids with a z-buffer, in place.

    Args:
      canvas: float ``[H, W, 3]`` image being drawn.
      depth_buffer: float ``[H, W]`` camera z of the nearest surface so far (+inf: none).
      part_buffer: int ``[H, W]`` part id (index into :data:`BODY_PARTS`) of the nearest
        surface so far; written where this body's surface is nearest.
      solids: the body's solids in camera space (batch shape ``()``).
      outfit: materials.
      light: (direction towards the light, ambient share), from :func:`sample_light`.
    """
    height, width = depth_buffer.shape
    direction, ambient = light
    for solid in solids:
        x0, y0, x1, y1 = (float(v) for v in solid.image_bounds())
        col0, col1 = max(int(np.floor(x0)), 0), min(int(np.ceil(x1)) + 1, width)
        row0, row1 = max(int(np.floor(y0)), 0), min(int(np.ceil(y1)) + 1, height)
        if col0 >= col1 or row0 >= row1:
            continue
        x = np.arange(col0, col1, dtype=np.float64)[None, :] + 0.5
        y = np.arange(row0, row1, dtype=np.float64)[:, None] + 0.5
        hit = solid.front_surface(x, y)
        region = (slice(row0, row1), slice(col0, col1))
        nearer = hit.hit & (hit.depth < depth_buffer[region])
        if not nearer.any():
            continue
        ellipsoid = solid.kind == "ellipsoid"
        u, v, w = (np.broadcast_to(c, nearer.shape)[nearer] for c in (hit.u, hit.v, hit.w))
        material = outfit.parts[solid.part]
        colours = material.shade(u, v, w, ellipsoid)
        if solid.part == "head":
            colours = _face_paint(outfit, u, v, w, colours, _FACE)
        normal = hit.normal[nearer]
        lambert = np.clip(normal @ direction, 0.0, 1.0)
        rim = 0.12 * np.clip(-normal[:, 2], 0.0, 1.0)  # keeps silhouettes from going black
        colours = colours * (ambient + (1.0 - ambient) * lambert + rim)[:, None]
        canvas[region][nearer] = colours
        depth_buffer[region][nearer] = np.broadcast_to(hit.depth, nearer.shape)[nearer]
        part_buffer[region][nearer] = solid.part_id


# ---------------------------------------------------------------------------------------------
# Occluders
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlatOccluder:
    """A flat object (box, sign, ball, pole) between the camera and the person.

    Rectangle or ellipse centred at (center_x, center_y) in pixels, half sizes along its own
    axes, turned by ``angle`` radians.
    """

    kind: str
    center_x: float
    center_y: float
    half_length: float
    half_width: float
    angle: float
    colour: np.ndarray

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether image points lie on the occluder (broadcasting)."""
        dx, dy = x - self.center_x, y - self.center_y
        along = dx * np.cos(self.angle) + dy * np.sin(self.angle)
        across = -dx * np.sin(self.angle) + dy * np.cos(self.angle)
        if self.kind == "ellipse":
            return (along / self.half_length) ** 2 + (across / self.half_width) ** 2 < 1.0
        return (np.abs(along) < self.half_length) & (np.abs(across) < self.half_width)


def sample_occluders(rng: np.random.Generator, person_box: np.ndarray) -> list[FlatOccluder]:
    """One or two occluders overlapping the person's box ``[x0, y0, x1, y1]``."""
    x0, y0, x1, y1 = (float(v) for v in person_box)
    size = max(x1 - x0, y1 - y0, 1.0)
    occluders = []
    for _ in range(int(rng.integers(1, 3))):
        occluders.append(FlatOccluder(
            kind=str(rng.choice(["rectangle", "ellipse"])),
            center_x=float(rng.uniform(x0, x1)), center_y=float(rng.uniform(y0, y1)),
            half_length=float(rng.uniform(0.1, 0.35) * size),
            half_width=float(rng.uniform(0.03, 0.25) * size),
            angle=float(rng.choice([0.0, np.pi / 2, rng.uniform(0, np.pi)])),
            colour=_random_colour(rng)))
    return occluders


def draw_occluders(canvas: np.ndarray, part_buffer: np.ndarray,
                   occluders: list[FlatOccluder]) -> None:
    """Paints the occluders over everything, marking them in the part buffer."""
    height, width = part_buffer.shape
    x, y = _pixel_grid(height, width)
    for occluder in occluders:
        mask = occluder.contains(x, y)
        shading = 0.85 + 0.15 * np.sin(0.05 * x + 0.03 * y)
        canvas[mask] = (occluder.colour * np.broadcast_to(shading, mask.shape)[..., None])[mask]
        part_buffer[mask] = OCCLUDER_PART


# ---------------------------------------------------------------------------------------------
# Visibility
# ---------------------------------------------------------------------------------------------


def front_depth(solids: tuple[CameraSolid, ...], x: np.ndarray, y: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Nearest surface depth and its part id at image points, over all ``solids``.

    ``x`` and ``y`` broadcast against the solids' batch shape (e.g. ``[T, 33]`` points with
    ``[T, 1]`` solids). Returns (depth, part id); +inf and -1 where no solid is hit.
    """
    best = np.full(np.broadcast(x, y).shape, np.inf)
    part = np.full(best.shape, BACKGROUND_PART, np.int32)
    for solid in solids:
        hit = solid.front_surface(x, y)
        depth = np.broadcast_to(hit.depth, best.shape)
        nearer = depth < best
        best = np.where(nearer, depth, best)
        part = np.where(nearer, solid.part_id, part)
    return best, part


def landmark_visibility(landmarks: np.ndarray, radius: np.ndarray,
                        solids: tuple[CameraSolid, ...], width: float, height: float,
                        tolerance: np.ndarray | float,
                        occluders: list[FlatOccluder] | None = None) -> np.ndarray:
    """1 where a landmark can be seen, else 0 (see the module docstring).

    Args:
      landmarks: float ``B + [33, 3]`` camera-space landmarks.
      radius: float broadcastable to ``B + [33]``: depth of each landmark inside its limb, px.
      solids: the person's camera-space solids, batch shape broadcastable to ``B + [1]``.
      width: image width in pixels.
      height: image height in pixels.
      tolerance: depth slack in pixels (broadcastable to ``B + [33]``).
      occluders: flat occluders in front of everything.

    Returns:
      float32 ``B + [33]``.
    """
    x, y, z = landmarks[..., 0], landmarks[..., 1], landmarks[..., 2]
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    # Tested at the centre of the pixel holding the landmark: exactly what the image shows.
    pixel_x, pixel_y = np.floor(x) + 0.5, np.floor(y) + 0.5
    nearest, _ = front_depth(solids, pixel_x, pixel_y)
    covered = nearest < z - radius - tolerance
    for occluder in occluders or []:
        covered |= occluder.contains(pixel_x, pixel_y)
    return (inside & ~covered).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Finishing
# ---------------------------------------------------------------------------------------------


def _blur(image: np.ndarray) -> np.ndarray:
    """3x3 binomial blur ([1, 2, 1] / 4 in each direction), edges replicated."""
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)), mode="edge")
    rows = 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]
    return 0.25 * rows[:, :-2] + 0.5 * rows[:, 1:-1] + 0.25 * rows[:, 2:]


def finish_image(rng: np.random.Generator, canvas: np.ndarray) -> np.ndarray:
    """Camera effects (exposure, colour cast, softness, sensor noise) -> uint8 ``[H, W, 3]``."""
    image = canvas.astype(np.float32)
    for _ in range(int(rng.choice([0, 1, 1, 2]))):
        image = _blur(image)
    gain = (rng.uniform(0.75, 1.2) * (1.0 + rng.normal(0.0, 0.05, 3))).astype(np.float32)
    image = np.clip(image * gain, 0.0, 1.0) ** np.float32(rng.uniform(0.8, 1.25))
    noise = rng.standard_normal(image.shape, dtype=np.float32)
    image = image + np.float32(rng.uniform(0.0, 0.03)) * noise
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
