"""Rotations and the two ray-cast solids the synthetic bodies are made of.

Everything here is plain numpy and broadcasts over leading dimensions, so the same functions
render a whole image (points ``[h, w]``) and test the occlusion of keypoints in a whole sequence
(points ``[T, 33]``, solids ``[T, 1]``).

Camera space, used by every function taking pixel positions: x to the image's right and y down,
both in pixels with pixel column i spanning ``[i, i + 1)``; z is the depth away from the camera,
in the same pixel unit. The projection is orthographic (weak perspective), so the ray through
image point ``(x, y)`` is the line ``{(x, y, z)}`` and a solid's "front surface" at ``(x, y)``
is its point of smallest z on that line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "SurfaceHit",
    "capsule_front_surface",
    "ellipsoid_front_surface",
    "rotation_x",
    "rotation_y",
    "rotation_z",
]

_TINY = 1e-9


def _rotation(angle_degrees: np.ndarray | float, axis: int) -> np.ndarray:
    """``[..., 3, 3]`` right-handed rotation by ``angle_degrees`` about coordinate ``axis``."""
    angle = np.deg2rad(np.asarray(angle_degrees, np.float64))
    cos, sin = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    if axis == 0:
        rows = [[one, zero, zero], [zero, cos, -sin], [zero, sin, cos]]
    elif axis == 1:
        rows = [[cos, zero, sin], [zero, one, zero], [-sin, zero, cos]]
    else:
        rows = [[cos, -sin, zero], [sin, cos, zero], [zero, zero, one]]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def rotation_x(angle_degrees: np.ndarray | float) -> np.ndarray:
    """``[..., 3, 3]`` rotation about x; positive angles turn +y towards +z."""
    return _rotation(angle_degrees, 0)


def rotation_y(angle_degrees: np.ndarray | float) -> np.ndarray:
    """``[..., 3, 3]`` rotation about y; positive angles turn +z towards +x."""
    return _rotation(angle_degrees, 1)


def rotation_z(angle_degrees: np.ndarray | float) -> np.ndarray:
    """``[..., 3, 3]`` rotation about z; positive angles turn +x towards +y."""
    return _rotation(angle_degrees, 2)


@dataclass(frozen=True)
class SurfaceHit:
    """Where camera rays through some image points meet a solid's front surface.

    All arrays share the broadcast shape ``S`` of the query points and the solid.

    Attributes:
      hit: bool ``S``, whether the ray meets the solid.
      depth: float64 ``S``, z of the front surface (camera space, pixels); +inf where no hit.
      normal: float64 ``S + [3]``, unit outward surface normal in camera space (its z is <= 0
        where the surface faces the camera); undefined where no hit.
      u: float64 ``S``, first surface coordinate for texturing: a capsule's position along its
        axis in [0, 1] (0 at the first end), an ellipsoid's first unit-sphere coordinate.
      v: float64 ``S``, second surface coordinate: a capsule's signed distance from its axis over
        the radius in [-1, 1], an ellipsoid's second unit-sphere coordinate.
      w: float64 ``S``, an ellipsoid's third unit-sphere coordinate (zero for capsules).
    """

    hit: np.ndarray
    depth: np.ndarray
    normal: np.ndarray
    u: np.ndarray
    v: np.ndarray
    w: np.ndarray


def capsule_front_surface(x: np.ndarray, y: np.ndarray, start: np.ndarray, end: np.ndarray,
                          start_radius: np.ndarray | float, end_radius: np.ndarray | float
                          ) -> SurfaceHit:
    """Front surface of a tapered capsule (a cone between two spheres) along camera rays.

    The image-plane footprint is exact (the set of points within the interpolated radius of the
    projected axis); the depth at a point is the depth of the axis at the nearest axis point
    minus the height of a sphere of the interpolated radius, which is exact for axes parallel to
    the image and for the end caps, and a close approximation otherwise.

    Args:
      x: float ``S_p`` image x of the query points (pixels).
      y: float ``S_p`` image y of the query points.
      start: float ``S_c + [3]`` first axis end (x, y, z in camera space).
      end: float ``S_c + [3]`` second axis end.
      start_radius: radius at ``start`` (pixels), broadcastable to ``S_c``.
      end_radius: radius at ``end``.

    Returns:
      The hits, broadcast over ``S_p`` and ``S_c``; ``u`` runs from start (0) to end (1).
    """
    start = np.asarray(start, np.float64)
    end = np.asarray(end, np.float64)
    axis_x = end[..., 0] - start[..., 0]
    axis_y = end[..., 1] - start[..., 1]
    offset_x = x - start[..., 0]
    offset_y = y - start[..., 1]
    length_squared = axis_x * axis_x + axis_y * axis_y
    along = np.clip((offset_x * axis_x + offset_y * axis_y) / np.maximum(length_squared, _TINY),
                    0.0, 1.0)
    # An axis seen end-on has no direction in the image: its nearer end is in front.
    end_on = length_squared < 1e-12
    along = np.where(end_on, np.where(start[..., 2] <= end[..., 2], 0.0, 1.0), along)
    radius = start_radius + along * (np.asarray(end_radius) - start_radius)
    radius = np.maximum(radius, _TINY)
    from_axis_x = offset_x - along * axis_x
    from_axis_y = offset_y - along * axis_y
    distance_squared = from_axis_x * from_axis_x + from_axis_y * from_axis_y
    hit = distance_squared < radius * radius
    height = np.sqrt(np.maximum(radius * radius - distance_squared, 0.0))
    axis_depth = start[..., 2] + along * (end[..., 2] - start[..., 2])
    depth = np.where(hit, axis_depth - height, np.inf)
    normal = np.stack([from_axis_x / radius, from_axis_y / radius, -height / radius], axis=-1)
    # Signed lateral coordinate: positive on the left of the axis direction in the image.
    side = np.sign(axis_x * from_axis_y - axis_y * from_axis_x)
    lateral = side * np.sqrt(distance_squared) / radius
    return SurfaceHit(hit=hit, depth=depth, normal=normal, u=along, v=lateral,
                      w=np.zeros_like(along))


def ellipsoid_front_surface(x: np.ndarray, y: np.ndarray, center: np.ndarray,
                            inverse_axes: np.ndarray) -> SurfaceHit:
    """Front surface of an ellipsoid along camera rays, solved exactly.

    The ellipsoid is ``{p : |A (p - center)| <= 1}`` where ``A = inverse_axes`` is the inverse of
    the matrix whose columns are its three semi-axis vectors.

    Args:
      x: float ``S_p`` image x of the query points (pixels).
      y: float ``S_p`` image y of the query points.
      center: float ``S_e + [3]`` centre in camera space.
      inverse_axes: float ``S_e + [3, 3]``, the inverse semi-axis matrix ``A``.

    Returns:
      The hits; ``(u, v, w)`` is the hit point in the ellipsoid's own unit-sphere coordinates
      (``A (p - center)``), i.e. along its first, second and third semi-axis.
    """
    center = np.asarray(center, np.float64)
    inverse_axes = np.asarray(inverse_axes, np.float64)
    dx = x - center[..., 0]
    dy = y - center[..., 1]
    dz = -center[..., 2]
    # Unit-sphere coordinates of the ray point at depth z: q0 + z * direction.
    q0 = [inverse_axes[..., i, 0] * dx + inverse_axes[..., i, 1] * dy + inverse_axes[..., i, 2] * dz
          for i in range(3)]
    direction = [inverse_axes[..., i, 2] for i in range(3)]
    a = sum(d * d for d in direction)
    b = sum(q * d for q, d in zip(q0, direction))
    c = sum(q * q for q in q0) - 1.0
    discriminant = b * b - a * c
    hit = discriminant > 0.0
    depth_hit = (-b - np.sqrt(np.maximum(discriminant, 0.0))) / np.maximum(a, _TINY)
    depth = np.where(hit, depth_hit, np.inf)
    q = [qi + depth_hit * d for qi, d in zip(q0, direction)]
    # The outward normal is A^T q (the gradient of |A (p - c)|^2 / 2).
    normal = np.stack([sum(inverse_axes[..., i, j] * q[i] for i in range(3)) for j in range(3)],
                      axis=-1)
    normal = normal / np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), _TINY)
    return SurfaceHit(hit=hit, depth=depth, normal=normal, u=q[0], v=q[1], w=q[2])
