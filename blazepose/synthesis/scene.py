"""One synthetic training image: a posed, clothed person in a cluttered scene, with labels.

:func:`render_scene` draws the person and returns the image together with everything needed to
check its labels (the person's z-buffer and part buffer, the camera-space solids). It is a pure
function of the random generator it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blazepose.keypoints import box_from_keypoints
from blazepose.synthesis import render
from blazepose.synthesis.body_model import BodyShape, PosedBody, sample_body_shape
from blazepose.synthesis.camera import CameraSolid, View, solids_to_camera, view_rotation
from blazepose.synthesis.poses import sample_posed_body

__all__ = [
    "DEPTH_TOLERANCE",
    "Scene",
    "render_posed_body",
    "render_scene",
    "sample_view_angles",
]

DEPTH_TOLERANCE = 0.01
"""Depth slack of the visibility test, in units of body height (about 1.7 cm)."""


@dataclass(frozen=True)
class Scene:
    """A rendered example and its ground truth.

    Attributes:
      image: uint8 ``[H, W, 3]``.
      keypoints: float32 ``[33, 2]`` x, y in pixels (BLAZEPOSE_33 order), also outside the image.
      visibility: float32 ``[33]``: 1 visible, 0 hidden or outside the image.
      depth: float32 ``[33]`` camera-space z of each landmark (pixels, larger is farther).
      landmark_radius: float32 ``[33]`` depth of each landmark inside its limb, pixels.
      tolerance: depth slack of the visibility test, pixels.
      person_box: float32 ``[4]`` x_min, y_min, x_max, y_max of the person's whole silhouette
        (including parts hidden by occluders), clipped to the image.
      person_depth: float32 ``[H, W]`` the person's z-buffer (+inf where the person is absent).
      part_ids: int16 ``[H, W]``: body part (index into ``BODY_PARTS``) drawn at each pixel,
        ``render.BACKGROUND_PART`` or ``render.OCCLUDER_PART``.
      solids: the person's solids in camera space.
      occluders: flat occluders drawn in front of the person.
      archetype: name of the pose archetype.
      scale: pixels per unit of body height.
      azimuth: the person's turn relative to the camera, degrees (0 facing it).
    """

    image: np.ndarray
    keypoints: np.ndarray
    visibility: np.ndarray
    depth: np.ndarray
    landmark_radius: np.ndarray
    tolerance: float
    person_box: np.ndarray
    person_depth: np.ndarray
    part_ids: np.ndarray
    solids: tuple[CameraSolid, ...]
    occluders: list[render.FlatOccluder]
    archetype: str
    scale: float
    azimuth: float


def sample_view_angles(rng: np.random.Generator, archetype: str) -> tuple[float, float, float]:
    """(azimuth, elevation, roll) in degrees: mostly frontal or back views, some sideways,
    mostly upright pictures with a minority turned any way (upside down included)."""
    choice = rng.random()
    if choice < 0.45:
        azimuth = rng.normal(0.0, 22.0)
    elif choice < 0.65:
        azimuth = rng.normal(180.0, 22.0)
    else:
        azimuth = rng.uniform(-180.0, 180.0)
    elevation = rng.uniform(10.0, 65.0) if archetype == "lying" else rng.uniform(-15.0, 35.0)
    roll = rng.uniform(-180.0, 180.0) if rng.random() < 0.12 else rng.normal(0.0, 7.0)
    return float(azimuth), float(elevation), float(roll)


def _footprint(solids: tuple[CameraSolid, ...]) -> np.ndarray:
    """x_min, y_min, x_max, y_max over the solids' image bounds."""
    bounds = np.array([[float(v) for v in solid.image_bounds()] for solid in solids])
    return np.array([bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(),
                     bounds[:, 3].max()])


def _place(rng: np.random.Generator, body: PosedBody, angles: tuple[float, float, float],
           width: int, height: int, size_range: tuple[float, float], min_scale: float,
           allow_partial: bool) -> View:
    """A view that shows the body at a random size and position in a width x height image."""
    rotation = view_rotation(*angles)
    unit = View(rotation=rotation, scale=np.asarray(1.0), offset=np.zeros(3))
    x0, y0, x1, y1 = _footprint(solids_to_camera(body.solids, unit))
    extent_w, extent_h = max(x1 - x0, 1e-3), max(y1 - y0, 1e-3)
    fill = rng.uniform(*size_range)
    if allow_partial and rng.random() < 0.1:
        fill = rng.uniform(1.0, 1.6)  # close-up: part of the body leaves the picture
    scale = max(fill * min(width / extent_w, height / extent_h), min_scale)
    box_w, box_h = scale * extent_w, scale * extent_h
    out = 0.3 if (allow_partial and rng.random() < 0.2) else 0.0

    def corner(image_size, box_size):
        low = min(0.0, image_size - box_size) - out * box_size
        high = max(0.0, image_size - box_size) + out * box_size
        return rng.uniform(low, high)

    left, top = corner(width, box_w), corner(height, box_h)
    offset = np.array([left - scale * x0, top - scale * y0, 0.0])
    return View(rotation=rotation, scale=np.asarray(scale), offset=offset)


def _distractor(rng: np.random.Generator, canvas: np.ndarray, main_scale: float) -> None:
    """Draws a second, unlabelled person into the background, mostly cut off or small."""
    height, width = canvas.shape[:2]
    shape = sample_body_shape(rng)
    body, archetype = sample_posed_body(rng, shape)
    angles = sample_view_angles(rng, archetype)
    scale = main_scale * rng.uniform(0.4, 1.0)
    rotation = view_rotation(*angles)
    side = rng.integers(4)  # which border it stands at
    position = {0: (rng.uniform(-0.3, 0.05), rng.uniform(0, 1)),
                1: (rng.uniform(0.95, 1.3), rng.uniform(0, 1)),
                2: (rng.uniform(0, 1), rng.uniform(-0.3, 0.05)),
                3: (rng.uniform(0, 1), rng.uniform(0.95, 1.3))}[int(side)]
    offset = np.array([position[0] * width, position[1] * height, 0.0])
    solids = solids_to_camera(body.solids, View(rotation, np.asarray(scale), offset))
    depth = np.full((height, width), np.inf)
    parts = np.full((height, width), render.BACKGROUND_PART, np.int16)
    render.draw_body(canvas, depth, parts, solids, render.sample_outfit(rng),
                     render.sample_light(rng))


def render_scene(rng: np.random.Generator, width: int, height: int,
                 size_range: tuple[float, float] = (0.45, 0.95),
                 min_person_scale: float = 64.0, archetype: str | None = None,
                 shape: BodyShape | None = None,
                 view_angles: tuple[float, float, float] | None = None,
                 occluder_probability: float = 0.12, distractor_probability: float = 0.08
                 ) -> Scene:
    """Renders one labelled person.

    Args:
      rng: the only source of randomness.
      width: image width (pixels).
      height: image height (pixels).
      size_range: the person's footprint as a fraction of the image (longer side fitted).
      min_person_scale: smallest height of the (upright) person in pixels, so that limbs stay
        a few pixels thick.
      archetype: force a pose archetype (see ``poses.ARCHETYPES``).
      shape: force body proportions.
      view_angles: force (azimuth, elevation, roll) in degrees (see :mod:`.camera`).
      occluder_probability: chance of flat occluders in front of the person.
      distractor_probability: chance of a second, unlabelled person in the background.
    """
    shape = sample_body_shape(rng) if shape is None else shape
    body, archetype_name = sample_posed_body(rng, shape, archetype)
    angles = sample_view_angles(rng, archetype_name)
    if view_angles is not None:
        angles = tuple(float(a) for a in view_angles)
    return render_posed_body(rng, body, archetype_name, angles, width, height, size_range,
                             min_person_scale, occluder_probability, distractor_probability,
                             allow_partial=True)


def render_posed_body(rng: np.random.Generator, body: PosedBody, archetype: str,
                      view_angles: tuple[float, float, float], width: int, height: int,
                      size_range: tuple[float, float] = (0.45, 0.95),
                      min_person_scale: float = 64.0, occluder_probability: float = 0.12,
                      distractor_probability: float = 0.08, allow_partial: bool = True
                      ) -> Scene:
    """Renders a given posed body (batch shape ``()``) seen from ``view_angles``.

    The arguments are those of :func:`render_scene`; ``archetype`` only names the pose in the
    returned scene, and ``allow_partial`` permits close-ups and placements that cut part of the
    body off.
    """
    view = _place(rng, body, view_angles, width, height, size_range, min_person_scale,
                  allow_partial=allow_partial)
    solids = solids_to_camera(body.solids, view)
    landmarks = view.points(body.landmarks)
    scale = float(view.scale)

    canvas = render.random_background(rng, height, width)
    if rng.random() < distractor_probability:
        _distractor(rng, canvas, scale)
    person_depth = np.full((height, width), np.inf)
    part_ids = np.full((height, width), render.BACKGROUND_PART, np.int16)
    render.draw_body(canvas, person_depth, part_ids, solids, render.sample_outfit(rng),
                     render.sample_light(rng))
    silhouette = np.isfinite(person_depth)
    if silhouette.any():
        rows, cols = np.nonzero(silhouette)
        person_box = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1],
                              np.float32)
    else:
        person_box = box_from_keypoints(landmarks[:, :2], np.ones(33, bool), width, height)
    occluders = (render.sample_occluders(rng, person_box)
                 if rng.random() < occluder_probability else [])
    render.draw_occluders(canvas, part_ids, occluders)

    radius = body.landmark_radius * scale
    tolerance = DEPTH_TOLERANCE * scale
    visibility = render.landmark_visibility(landmarks, radius, solids, width, height,
                                            tolerance, occluders)
    image = render.finish_image(rng, canvas)
    return Scene(
        image=image,
        keypoints=landmarks[:, :2].astype(np.float32),
        visibility=visibility,
        depth=landmarks[:, 2].astype(np.float32),
        landmark_radius=radius.astype(np.float32),
        tolerance=tolerance,
        person_box=person_box.astype(np.float32),
        person_depth=person_depth.astype(np.float32),
        part_ids=part_ids,
        solids=solids,
        occluders=occluders,
        archetype=archetype,
        scale=scale,
        azimuth=view_angles[0],
    )
