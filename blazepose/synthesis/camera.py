"""A weak-perspective camera: body frame -> camera space (pixels), and solids in camera space.

Camera space is that of :mod:`.geometry`: x to the image's right, y down, z away from the camera,
all in pixels; pixel column i spans ``[i, i + 1)``.

The view is given by three angles (degrees), applied in this order to the body frame:

* ``azimuth``: the person turns about the vertical. 0: the person faces the camera (their left
  on the image's right); 90: they face the image's right; 180: their back is to the camera;
  -90: they face the image's left.
* ``elevation``: the camera looks down from above (positive) or up from below (negative).
* ``roll``: the picture turns in its plane; positive turns the person clockwise on screen.

then ``scale`` (pixels per unit of body height) and ``offset`` (the camera-space position of
the body frame's origin, the pelvis centre; its z is irrelevant to an orthographic view).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blazepose.synthesis.body_model import Solid
from blazepose.synthesis.geometry import (
    SurfaceHit,
    capsule_front_surface,
    ellipsoid_front_surface,
    rotation_x,
    rotation_y,
    rotation_z,
)

__all__ = ["CameraSolid", "View", "solids_to_camera", "view_rotation"]

# Body frame (y up, z towards the viewer when facing it) -> camera axes (y down, z away).
_BODY_TO_CAMERA_AXES = np.diag([1.0, -1.0, -1.0])


def view_rotation(azimuth: np.ndarray | float, elevation: np.ndarray | float,
                  roll: np.ndarray | float) -> np.ndarray:
    """``[..., 3, 3]`` rotation taking body-frame directions to camera-space directions."""
    return (rotation_z(roll) @ _BODY_TO_CAMERA_AXES @ rotation_x(elevation)
            @ rotation_y(azimuth))


@dataclass(frozen=True)
class View:
    """A camera pose; every field broadcasts over a batch shape B (e.g. frames).

    Attributes:
      rotation: float64 ``B + [3, 3]`` from :func:`view_rotation`.
      scale: float64 ``B``, pixels per unit of body height.
      offset: float64 ``B + [3]``, camera-space position of the body frame's origin.
    """

    rotation: np.ndarray
    scale: np.ndarray
    offset: np.ndarray

    def points(self, body_points: np.ndarray) -> np.ndarray:
        """Camera-space positions ``[..., N, 3]`` of body-frame points ``[..., N, 3]``.

        The view's batch shape must broadcast against the points' leading dimensions.
        """
        rotated = np.einsum("...ij,...nj->...ni", self.rotation, body_points)
        return (np.asarray(self.scale)[..., None, None] * rotated
                + np.asarray(self.offset)[..., None, :])

    def point(self, body_point: np.ndarray) -> np.ndarray:
        """Camera-space position ``B + [3]`` of one body-frame point ``B + [3]``."""
        return self.points(np.asarray(body_point)[..., None, :])[..., 0, :]


@dataclass(frozen=True)
class CameraSolid:
    """A body solid in camera space, ready to ray-cast (see :mod:`.geometry`)."""

    part: str
    part_id: int
    kind: str
    start: np.ndarray | None = None
    end: np.ndarray | None = None
    radii: tuple[np.ndarray, np.ndarray] | None = None
    center: np.ndarray | None = None
    axes: np.ndarray | None = None
    inverse_axes: np.ndarray | None = None

    def front_surface(self, x: np.ndarray, y: np.ndarray) -> SurfaceHit:
        """Ray-cast the solid at image points (x, y), broadcast against its batch shape."""
        if self.kind == "capsule":
            return capsule_front_surface(x, y, self.start, self.end, *self.radii)
        return ellipsoid_front_surface(x, y, self.center, self.inverse_axes)

    def with_point_axis(self) -> CameraSolid:
        """The same solid with a length-1 axis appended to its batch shape ``B -> B + [1]``,
        so that it broadcasts against per-landmark query points ``B + [K]``."""

        def expand(array, trailing):
            if array is None:
                return None
            array = np.asarray(array)
            return np.expand_dims(array, axis=array.ndim - trailing)

        return CameraSolid(
            part=self.part, part_id=self.part_id, kind=self.kind,
            start=expand(self.start, 1), end=expand(self.end, 1),
            radii=None if self.radii is None else (expand(self.radii[0], 0),
                                                   expand(self.radii[1], 0)),
            center=expand(self.center, 1), axes=expand(self.axes, 2),
            inverse_axes=expand(self.inverse_axes, 2))

    def image_bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """x_min, y_min, x_max, y_max of the solid's image footprint (arrays of shape B)."""
        if self.kind == "capsule":
            radius = np.maximum(self.radii[0], self.radii[1])
            low = np.minimum(self.start[..., :2], self.end[..., :2]) - radius[..., None]
            high = np.maximum(self.start[..., :2], self.end[..., :2]) + radius[..., None]
        else:
            half = np.sqrt(np.sum(self.axes[..., :2, :] ** 2, axis=-1))
            low = self.center[..., :2] - half
            high = self.center[..., :2] + half
        return low[..., 0], low[..., 1], high[..., 0], high[..., 1]


def solids_to_camera(solids: tuple[Solid, ...], view: View) -> tuple[CameraSolid, ...]:
    """The body-frame solids seen through ``view`` (radii and axes scaled to pixels)."""
    scale = np.asarray(view.scale, np.float64)
    converted = []
    for solid in solids:
        if solid.kind == "capsule":
            converted.append(CameraSolid(
                part=solid.part, part_id=solid.part_id, kind="capsule",
                start=view.point(solid.start), end=view.point(solid.end),
                radii=(scale * solid.radii[0], scale * solid.radii[1])))
        else:
            axes = scale[..., None, None] * (view.rotation @ solid.axes)
            converted.append(CameraSolid(
                part=solid.part, part_id=solid.part_id, kind="ellipsoid",
                center=view.point(solid.center), axes=axes, inverse_axes=np.linalg.inv(axes)))
    return tuple(converted)
