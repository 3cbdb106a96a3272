"""Input-pipeline operations: pure functions ``features -> features`` of TensorFlow ops only.

Each op takes one example's feature dict and returns a new dict; compose them with
``Dataset.map``. They run eagerly too. No Python callbacks into the graph: everything is a TF
op, so tf.data runs them in parallel in C++.

Feature keys along the way (K keypoints):

``jpeg``          string, the encoded image (JPEG or PNG) before :func:`decode_crop_and_warp`.
``image``         uint8 ``[S, S, 3]`` after cropping; float32 in [0, 1] after :func:`to_float`.
``keypoints``     float32 ``[K, 2]`` x, y in pixels of the current image (continuous: pixel ``i``
                  spans ``[i, i + 1)``).
``visibility``    float32 ``[K]`` 1 visible, 0 occluded or outside the image.
``labelled``      bool ``[K]``.
``person_box``    float32 ``[4]`` x_min, y_min, x_max, y_max in source pixels.
``seed``          int64 ``[2]``: the example's seed; random ops derive their own seeds from it with
                  ``stateless_fold_in``, so results do not depend on parallelism or order.
``crop_matrix``   float32 ``[3, 3]`` maps crop coordinates (u, v, 1) to source (x, y, 1).
``flip``          bool, whether :func:`mirror` is to mirror the crop (the pipeline does it in the
                  batch stage, where it is nearly free); the crop is unmirrored until then.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

# XLA's DynamicSlice / DynamicUpdateSlice: tf.slice with a tensor start compiles anew for every
# start. TensorFlow exposes them only here (the module jax2tf builds on).
from tensorflow.compiler.tf2xla.python import xla as _xla

from blazepose import topology as topology_lib
from blazepose.data.config import AugmentConfig, CropConfig, TargetConfig

# Salts of the random streams, one per op, so ops never share random numbers.
_SALT = {"crop": 1, "colour": 2, "blur": 3, "noise": 4, "jpeg": 5, "occlusion": 6}


def _seed(seed, op: str) -> tf.Tensor:
    return tf.random.experimental.stateless_fold_in(seed, _SALT[op])


def _draws(features: dict, op: str, count: int) -> tf.Tensor:
    """``[count, ...]`` independent U[0, 1) numbers for ``op``, in one random op: ``[count]`` for
    one example, ``[count, B]`` for a batch (then the first example's seed serves the batch).

    One draw per op, not one per number: each stateless draw costs a few microseconds per
    example in tf.data, as much as dozens of arithmetic ops.
    """
    seed = features["seed"]
    if seed.shape.rank == 2:
        return tf.random.stateless_uniform(tf.stack([count, tf.shape(seed)[0]]),
                                           _seed(seed[0], op))
    return tf.random.stateless_uniform([count], _seed(seed, op))


def _between(uniform, low, high):
    """U[0, 1) numbers mapped onto [low, high)."""
    return low + (high - low) * uniform


# ---------------------------------------------------------------------------------------------
# Topology


def map_topology(features: dict, source: topology_lib.Topology,
                 target: topology_lib.Topology) -> dict:
    """Moves keypoints from ``source``'s layout into ``target``'s (e.g. LSP 14 -> BlazePose 33).

    Only mappings through BlazePose's 33 landmarks are supported: ``target`` must be
    ``blazepose_33`` or ``source`` itself. Points of the target without a source counterpart get
    ``labelled = False``.
    """
    if source.name == target.name:
        return dict(features)
    if target.name != topology_lib.BLAZEPOSE_33.name:
        raise ValueError(f"cannot map {source.name} to {target.name}; map to blazepose_33 or keep "
                         "the data set's own topology")
    # For each of the 33 targets, the source index feeding it (or -1).
    gather = np.full(target.num_keypoints, -1, np.int32)
    source_indices, blazepose_indices = topology_lib.mapped_indices(source)
    gather[blazepose_indices] = source_indices
    has_source = tf.constant(gather >= 0)
    safe = tf.constant(np.maximum(gather, 0))
    out = dict(features)
    out["keypoints"] = tf.where(has_source[:, None], tf.gather(features["keypoints"], safe), 0.0)
    out["visibility"] = tf.where(has_source, tf.gather(features["visibility"], safe), 0.0)
    out["labelled"] = has_source & tf.gather(features["labelled"], safe)
    return out


# ---------------------------------------------------------------------------------------------
# Crop geometry


def _compose(a, b):
    """``a @ b`` for small matrices, as broadcast multiply-adds: a 3x3 tf.matmul dispatches to
    oneDNN and costs ~100-200 us per example in tf.data, the arithmetic well under 1."""
    return tf.reduce_sum(a[:, :, tf.newaxis] * b[tf.newaxis, :, :], axis=1)


def _transform_points(matrix, points):
    """``[N, 2]`` points mapped by the affine ``[3, 3]`` matrix (broadcast, see _compose)."""
    return (tf.reduce_sum(points[:, tf.newaxis, :] * matrix[tf.newaxis, :2, :2], axis=-1)
            + matrix[:2, 2])


def _rotation_matrix(angle):
    cos, sin = tf.cos(angle), tf.sin(angle)
    return tf.stack([tf.stack([cos, -sin]), tf.stack([sin, cos])])


# BlazePose 33 indices of the parts a crop is framed by.
_LANDMARK = topology_lib.PoseLandmark
_HIPS = (int(_LANDMARK.LEFT_HIP), int(_LANDMARK.RIGHT_HIP))
_SHOULDERS = (int(_LANDMARK.LEFT_SHOULDER), int(_LANDMARK.RIGHT_SHOULDER))
# The limb joints nearly every data set labels (LSP's 12 that map onto BlazePose): shoulders,
# elbows, wrists, hips, knees, ankles. The body's extent is measured on these only, so a crop
# is framed alike whether a data set also labels faces and feet (COCO, BlazePose) or not (LSP).
_EXTENT_JOINTS = tuple(int(_LANDMARK[f"{side}_{joint}"])
                       for joint in ("SHOULDER", "ELBOW", "WRIST", "HIP", "KNEE", "ANKLE")
                       for side in ("LEFT", "RIGHT"))
# MediaPipe's crop radius (|aux landmark 34 - aux landmark 33|: half the crop side before the
# 1.25 scale) over the two body measures it tracks most closely, measured with Google's Full
# network on its own predictions for the 49 coco_mini photos where the detector finds someone
# (/work/scratch-style calibration; README "Crops as MediaPipe frames them"):
#   max distance mid-hip -> extent joint = 0.788 radius (coefficient of variation 15 %),
#   torso (mid-hip -> mid-shoulder)      = 0.539 radius (8 %);
#   the mean of the two estimates follows the network's radius within 7.7 % (CV).
MEDIAPIPE_EXTENT_PER_RADIUS = 0.788
MEDIAPIPE_TORSO_PER_RADIUS = 0.539

FRAMINGS = ("box", "mediapipe")


def _layout_indices(topology: topology_lib.Topology | None, num_keypoints: int,
                    blazepose_indices: tuple[int, ...]) -> list[int]:
    """Indices, in the current keypoint layout, of those of ``blazepose_indices`` it has."""
    if topology is None:
        if num_keypoints != topology_lib.NUM_BLAZEPOSE_LANDMARKS:
            return []
        topology = topology_lib.BLAZEPOSE_33
    source, target = topology_lib.mapped_indices(topology)
    where = dict(zip(target.tolist(), source.tolist()))
    return [where[b] for b in blazepose_indices if b in where]


def _labelled_mean(keypoints, labelled, indices):
    """Mean of the labelled points among ``indices`` ([2]) and how many there were."""
    if not indices:
        return tf.zeros([2]), tf.constant(0.0)
    weight = tf.cast(tf.gather(labelled, indices), tf.float32)
    points = tf.where(weight[:, None] > 0, tf.gather(keypoints, indices), 0.0)
    count = tf.reduce_sum(weight)
    return tf.math.divide_no_nan(tf.reduce_sum(points * weight[:, None], 0), count), count


def person_frame(features: dict, crop: CropConfig,
                 topology: topology_lib.Topology | None = None) -> dict:
    """Where the unaugmented crop goes: centre, side and rotation in source pixels.

    ``crop.framing == "mediapipe"`` frames the crop as MediaPipe's detector and tracker do
    (their ROI from keypoints 0 and 1, or from the auxiliary landmarks 33 and 34): centre at the
    mid-hip, rotated so that mid-shoulder lies straight above it, side
    ``2 * radius * crop.scale`` with the radius estimated from the labelled keypoints
    (``0.5 * (extent / MEDIAPIPE_EXTENT_PER_RADIUS + torso / MEDIAPIPE_TORSO_PER_RADIUS)``;
    extent = the largest distance from the mid-hip to a labelled limb joint). Mid-hip and
    mid-shoulder are the means of the labelled hips and shoulders (one of each suffices).
    Without a labelled hip and shoulder (or with a torso shorter than a pixel) it falls back to
    the box framing; ``framed`` says which was used.

    ``crop.framing == "box"``: a square around ``person_box``, side = its longer side times
    ``crop.scale``, rotated upright (as above) when ``crop.upright`` and a torso is labelled.

    Args:
      features: ``keypoints`` float32 [K, 2] source pixels, ``labelled`` bool [K],
        ``person_box`` float32 [4] (x_min, y_min, x_max, y_max).
      topology: the layout of ``keypoints``; None means BlazePose 33 when K == 33 (else no part
        is known and only the box framing is possible).

    Returns:
      ``centre`` float32 [2] (x, y) pixels, ``side`` float32 pixels, ``angle`` float32 radians
      (clockwise on screen, 0 upright; the crop -> source map is ``R(angle) * side / S``),
      ``has_torso`` bool, ``framed`` bool (the MediaPipe rule placed the crop).
    """
    if crop.framing not in FRAMINGS:
        raise ValueError(f"CropConfig.framing must be one of {FRAMINGS}, got {crop.framing!r}")
    keypoints, labelled = features["keypoints"], features["labelled"]
    count = keypoints.shape[0]
    hip, hips = _labelled_mean(keypoints, labelled, _layout_indices(topology, count, _HIPS))
    shoulder, shoulders = _labelled_mean(keypoints, labelled,
                                         _layout_indices(topology, count, _SHOULDERS))
    up = shoulder - hip
    torso = tf.norm(up)
    has_torso = (hips > 0) & (shoulders > 0) & (torso > 1.0)
    angle = tf.where(has_torso, tf.atan2(up[0], -up[1]), 0.0)
    box = features["person_box"]
    box_centre = tf.stack([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    box_side = tf.maximum(tf.maximum(box[2] - box[0], box[3] - box[1]), 1.0) * crop.scale
    if crop.framing == "box":
        return {"centre": box_centre, "side": box_side,
                "angle": angle if crop.upright else tf.constant(0.0),
                "has_torso": has_torso, "framed": tf.constant(False)}
    extent_indices = _layout_indices(topology, count, _EXTENT_JOINTS)
    if extent_indices:
        joints = tf.gather(keypoints, extent_indices)
        reach = tf.where(tf.gather(labelled, extent_indices), tf.norm(joints - hip, axis=-1), 0.0)
        extent = tf.reduce_max(reach)
    else:
        extent = torso * (MEDIAPIPE_EXTENT_PER_RADIUS / MEDIAPIPE_TORSO_PER_RADIUS)
    radius = 0.5 * (extent / MEDIAPIPE_EXTENT_PER_RADIUS + torso / MEDIAPIPE_TORSO_PER_RADIUS)
    return {"centre": tf.where(has_torso, hip, box_centre),
            "side": tf.where(has_torso, 2.0 * radius * crop.scale, box_side),
            "angle": angle, "has_torso": has_torso, "framed": has_torso}


CROP_DRAWS = 8
"""How many U[0, 1) numbers :func:`sample_crop` uses (:func:`crop_draws`)."""


def crop_draws(features: dict) -> tf.Tensor:
    """float32 ``[CROP_DRAWS]``: the example's random numbers for :func:`sample_crop`, from its
    ``seed``. Drawn by TF's kernel, outside any XLA compilation: XLA's stateless random ops
    give other numbers for the same seed."""
    return _draws(features, "crop", CROP_DRAWS)


def sample_crop(features: dict, crop: CropConfig, augment: AugmentConfig | None,
                topology: topology_lib.Topology | None = None, frame: dict | None = None,
                uniform=None) -> dict:
    """Chooses the crop: adds ``crop_matrix`` (crop -> source coordinates) and ``flip``.

    The crop is placed by :func:`person_frame` (MediaPipe's framing, or a square around the
    person box; ``frame`` when the caller has it already); ``augment`` (None for evaluation)
    randomises rotation, scale and shift around it, all as one affine matrix, and draws
    ``flip`` for :func:`mirror`. ``uniform``: :func:`crop_draws` of ``features`` when the
    caller has drawn them already (None: drawn here).
    """
    if frame is None:
        frame = person_frame(features, crop, topology)
    center, side, angle = frame["centre"], frame["side"], frame["angle"]
    flip = tf.constant(False)
    if augment is not None:
        u = crop_draws(features) if uniform is None else uniform
        degrees = math.radians(augment.max_rotation_degrees)
        angle += tf.where(u[0] < augment.rotation_probability,
                          _between(u[1], -degrees, degrees), 0.0)
        low, high = augment.scale_range
        # Log-uniform so zooming in and out are equally likely.
        side *= tf.where(u[2] < augment.scale_probability,
                         tf.exp(_between(u[3], math.log(low), math.log(high))), 1.0)
        center += tf.where(u[4] < augment.shift_probability,
                           _between(u[5:7], -augment.max_shift, augment.max_shift) * side, 0.0)
        flip = u[7] < augment.flip_probability
    out = dict(features)
    out["crop_matrix"] = _crop_matrix(center, side, angle, crop.size)
    out["flip"] = flip
    return out


def _crop_matrix(center, side, angle, size: int):
    """The affine ``[3, 3]`` crop -> source map of a square crop of ``size`` pixels."""
    size = float(size)
    linear = _rotation_matrix(angle) * (side / size)
    translation = center - tf.reduce_sum(linear, axis=1) * (size / 2)  # linear @ centre
    return tf.concat([tf.concat([linear, translation[:, None]], axis=1),
                      tf.constant([[0.0, 0.0, 1.0]])], axis=0)


# Why a record cannot be trained or evaluated on (index 0: it can). See record_problem.
RECORD_PROBLEMS = ("usable", "non-finite keypoints or box", "no labelled keypoint",
                   "no torso (a labelled hip and shoulder) to frame the crop",
                   "no labelled keypoint inside the crop")


def finite_geometry(features: dict) -> dict:
    """Non-finite keypoints and box values replaced by 0 (a box of 0 to 1 px), so that even a
    record with a problem (:func:`record_problem`) frames and crops without error."""
    box = features["person_box"]
    out = dict(features)
    out["keypoints"] = tf.where(tf.math.is_finite(features["keypoints"]),
                                features["keypoints"], 0.0)
    out["person_box"] = tf.where(tf.math.is_finite(box), box, tf.constant([0.0, 0.0, 1.0, 1.0]))
    return out


def record_problem(features: dict, crop: CropConfig,
                   topology: topology_lib.Topology | None = None,
                   frame: dict | None = None) -> tf.Tensor:
    """int32 index into :data:`RECORD_PROBLEMS` of the first problem of a record, 0 if none.

    Checked on the unaugmented crop of :func:`person_frame`: labelled keypoints and the person
    box must be finite, at least one keypoint labelled, a torso labelled when
    ``crop.require_torso``, and at least one labelled keypoint inside the crop. Such records give
    no useful loss (or a NaN one): the pipeline drops them and ``blazepose.data.pipeline``'s
    record check counts and names them. ``frame``: :func:`person_frame` of
    :func:`finite_geometry` of ``features``, when the caller has it already.
    """
    keypoints, labelled = features["keypoints"], features["labelled"]
    finite = tf.reduce_all(tf.math.is_finite(tf.where(labelled[:, None], keypoints, 0.0))) & (
        tf.reduce_all(tf.math.is_finite(features["person_box"])))
    if frame is None:
        frame = person_frame(finite_geometry(features), crop, topology)
    # Inside the square crop: the offset from its centre, turned back by its angle, within
    # half a side on both axes (the crop matrix's inverse, without building it). A non-finite
    # point compares False: never inside.
    offset = keypoints - frame["centre"]
    cos, sin = tf.cos(frame["angle"]), tf.sin(frame["angle"])
    along = tf.stack([cos * offset[:, 0] + sin * offset[:, 1],
                      -sin * offset[:, 0] + cos * offset[:, 1]], axis=-1)
    inside = tf.reduce_all(tf.abs(along) < 0.5 * frame["side"], axis=-1) & labelled
    problems = tf.stack([
        ~finite,
        ~tf.reduce_any(labelled),
        tf.constant(crop.require_torso) & ~frame["has_torso"],
        ~tf.reduce_any(inside),
    ])
    first = tf.argmax(tf.cast(problems, tf.int32), output_type=tf.int32) + 1
    return tf.where(tf.reduce_any(problems), first, 0)


def _affine_inverse(matrix):
    """Inverse of an affine ``[3, 3]`` matrix (last row 0, 0, 1), without a matrix op."""
    a, b, c = matrix[0, 0], matrix[0, 1], matrix[0, 2]
    d, e, f = matrix[1, 0], matrix[1, 1], matrix[1, 2]
    det = a * e - b * d
    inv = tf.stack([e, -b, -d, a]) / det
    tx = -(inv[0] * c + inv[1] * f)
    ty = -(inv[2] * c + inv[3] * f)
    return tf.stack([tf.stack([inv[0], inv[1], tx]), tf.stack([inv[2], inv[3], ty]),
                     tf.constant([0.0, 0.0, 1.0])])


def _translation(dx, dy):
    return tf.convert_to_tensor([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def _source_window(matrix, size: int, height, width):
    """Pixel window [y0, x0, h, w] of the source that the crop reads (clipped, non-empty)."""
    corners = tf.constant([[0.0, 0.0], [size, 0.0], [0.0, size], [size, size]])
    points = _transform_points(matrix, corners)
    low = tf.cast(tf.floor(tf.reduce_min(points, axis=0)), tf.int32) - 1
    high = tf.cast(tf.math.ceil(tf.reduce_max(points, axis=0)), tf.int32) + 1
    limit = tf.stack([width, height])
    low = tf.clip_by_value(low, 0, limit - 1)
    high = tf.clip_by_value(high, low + 1, limit)
    return tf.stack([low[1], low[0], high[1] - low[1], high[0] - low[0]])


_DCT_RATIOS = (1, 2, 4, 8)


def _decode_other(encoded, is_jpeg):
    """The whole uint8 ``[H, W, 3]`` image of a non-JPEG source (PNG, BMP, GIF), decoded once
    for both its size and its window; for a JPEG an empty ``[0, 0, 3]`` stand-in (a JPEG's size
    comes from its header and only its window is decoded)."""
    return tf.cond(is_jpeg, lambda: tf.zeros([0, 0, 3], tf.uint8),
                   lambda: tf.io.decode_image(encoded, channels=3, expand_animations=False))


def _window_decoder(encoded, is_jpeg, ratio_index, decoded_other=None):
    """``decode(window) -> uint8 [h, w, 3]``: only ``window`` ([y0, x0, h, w] pixels) of the
    image, which for a JPEG is the image scaled by ``1 / _DCT_RATIOS[ratio_index]`` (libjpeg
    scales in the inverse DCT and skips what lies outside the window); other formats are
    sliced out of ``decoded_other`` (:func:`_decode_other`, decoded here when None) at ratio 1."""
    if decoded_other is None:
        decoded_other = _decode_other(encoded, is_jpeg)

    def decode(window):
        def jpeg(ratio):
            # The default DCT is libjpeg-turbo's SIMD one; "INTEGER_FAST" measured 3x slower.
            # Plain (not "fancy") chroma upsampling: ~15 % less decode time; the crop is
            # downscaled anyway, so the slightly blockier colour edges do not matter.
            return tf.image.decode_and_crop_jpeg(encoded, window, channels=3, ratio=ratio,
                                                 fancy_upscaling=False)

        def other():
            return tf.slice(decoded_other, [window[0], window[1], 0],
                            [window[2], window[3], 3])

        return tf.cond(is_jpeg, lambda: tf.switch_case(
            ratio_index, [lambda r=r: jpeg(r) for r in _DCT_RATIOS]), other)

    return decode


def _image_size(encoded, is_jpeg, decoded_other):
    """(height, width) of an encoded image: a JPEG's from its header, another format's from
    its decoded pixels ``decoded_other`` (:func:`_decode_other`)."""
    return tf.cond(is_jpeg, lambda: tf.image.extract_jpeg_shape(encoded)[:2],
                   lambda: tf.shape(decoded_other)[:2])


def decode_crop_and_warp(features: dict, crop: CropConfig, compiled: bool = True) -> dict:
    """Decodes the part of ``jpeg`` the crop needs and warps it into a uint8 ``[S, S, 3]`` crop.

    Keypoints move by the inverse of ``crop_matrix``; points that leave the crop lose visibility.
    A crop whose matrix only scales and shifts (positive scales) is a resize of the decoded
    pixels; any other affine crop is one bilinear warp of uint8 pixels of only the needed window.

    A crop that shrinks a JPEG by 2x, 4x or 8x or more reads it decoded at 1/2, 1/4 or 1/8
    scale (the largest that still gives at least one decoded pixel per crop pixel): the inverse
    DCT does the downscaling, several times cheaper than decoding everything and without the
    aliasing of a bilinear shrink. High-resolution photos gain most.

    Every number the crop needs besides the pixels (DCT scale, window, resize or warp
    parameters, the applied matrix, the keypoints) comes from the image's size and the crop
    matrix alone: :func:`_warp_plan`, one XLA-compiled call with ``compiled`` (about 100 scalar
    TF ops otherwise, at ~1 us each in tf.data; the results agree to float rounding). Then the
    window is decoded once and resized or warped.
    """
    encoded = features["jpeg"]
    is_jpeg = tf.io.is_jpeg(encoded)
    # A PNG used to be decoded twice, for its size and for its window.
    decoded_other = _decode_other(encoded, is_jpeg)
    height_width = _image_size(encoded, is_jpeg, decoded_other)
    plan = (_warp_plan_compiled if compiled else _warp_plan)(
        features["crop_matrix"], height_width, is_jpeg, features["keypoints"],
        features["visibility"], crop.size)
    pixels = _window_decoder(encoded, is_jpeg, plan["ratio_index"], decoded_other)(
        plan["window"])
    warped = tf.cond(plan["axis_aligned"], lambda: _resize_and_place(pixels, plan, crop),
                     lambda: _warp_window(pixels, plan, crop))
    out = {k: v for k, v in features.items() if k != "jpeg"}
    out.update(image=tf.ensure_shape(warped, [crop.size, crop.size, 3]),
               keypoints=plan["keypoints"], crop_matrix=plan["crop_matrix"],
               visibility=plan["visibility"])
    return out


def _warp_plan(matrix, height_width, is_jpeg, keypoints, visibility, size: int) -> dict:
    """The numbers of :func:`decode_crop_and_warp` besides the pixels, from the crop matrix
    (float32 ``[3, 3]``, crop -> source), the source's (height, width) int32 ``[2]``, whether it
    is a JPEG, and the keypoints float32 ``[K, 2]`` / visibility ``[K]`` in source pixels.

    Returns a dict: ``ratio_index`` int32 (into ``_DCT_RATIOS``), ``window`` int32 ``[4]``
    (y0, x0, h, w in DCT-scaled pixels, what to decode), ``axis_aligned`` bool (resize, else
    warp); for the resize (:func:`_resize_and_place`) ``resized_hw`` int32 ``[2]`` and
    ``corner`` int32 ``[2]`` (row, column in the crop); for the warp (:func:`_warp_window`)
    ``fit`` bool, ``warp_hw`` int32 ``[2]`` (the window's size after the fit, if any),
    ``to_index`` float32 ``[3, 3]`` (crop pixel -> window index) and ``capacity_index`` int32;
    and ``crop_matrix`` (the matrix actually applied), ``keypoints`` float32 ``[K, 2]`` in crop
    pixels, ``visibility`` float32 ``[K]`` (0 outside the crop).
    Both paths are computed and one is selected: pure arithmetic, no branches.
    """
    # Source pixels per crop pixel, along the crop's shorter-sampled axis.
    shrink = tf.minimum(tf.norm(matrix[:2, 0]), tf.norm(matrix[:2, 1]))
    ratio_index = tf.where(is_jpeg, tf.reduce_sum(tf.cast(
        shrink >= tf.constant(_DCT_RATIOS[1:], tf.float32), tf.int32)), 0)
    ratio = tf.cast(tf.gather(_DCT_RATIOS, ratio_index), tf.float32)
    # libjpeg's scaled size rounds up.
    scaled_hw = tf.cast(tf.math.ceil(tf.cast(height_width, tf.float32) / ratio), tf.int32)
    to_scaled = tf.stack([1.0 / ratio, 1.0 / ratio, 1.0])[:, tf.newaxis]  # diag(...) @ matrix
    scaled = to_scaled * matrix
    axis_aligned = ((matrix[0, 1] == 0.0) & (matrix[1, 0] == 0.0) & (matrix[0, 0] > 0.0)
                    & (matrix[1, 1] > 0.0))
    aligned = _axis_aligned_plan(scaled, scaled_hw, size)
    warp = _projective_plan(scaled, scaled_hw, size)
    applied = tf.where(axis_aligned, aligned["applied"], scaled) / to_scaled
    points = _transform_points(_affine_inverse(applied), keypoints)
    inside = tf.reduce_all((points >= 0.0) & (points < float(size)), axis=-1)
    return {"ratio_index": ratio_index, "axis_aligned": axis_aligned,
            "window": tf.where(axis_aligned, aligned["window"], warp["window"]),
            "resized_hw": aligned["resized_hw"], "corner": aligned["corner"],
            "fit": warp["fit"], "warp_hw": warp["warp_hw"], "to_index": warp["to_index"],
            "capacity_index": warp["capacity_index"], "crop_matrix": applied,
            "keypoints": points, "visibility": tf.where(inside, visibility, 0.0)}


_warp_plan_compiled = tf.function(_warp_plan, jit_compile=True, autograph=False)


def warp_capacities(size: int) -> tuple[int, int]:
    """Pixel counts of the two flat buffers :func:`_warp_window` lays a window out in:
    ``(2 size)²``, which holds most windows, and the largest window a JPEG crop can read, that
    of a crop shrinking its (DCT-scaled) source by just under 2x turned by 45 degrees:
    ``(2 sqrt(2) size + 4)²`` (4: the window's rounding and one-pixel margins). Two, not more:
    each is its own XLA compilation, and smaller buffers saved only ~0.02 ms per crop."""
    return ((2 * size) ** 2, (math.ceil(2 * math.sqrt(2) * size) + 4) ** 2)


def _projective_plan(matrix, height_width, size: int) -> dict:
    """:func:`_warp_plan`'s numbers for any affine crop (``matrix`` in DCT-scaled pixels): the
    window it reads, the crop -> window index map, and how :func:`_warp_window` lays the
    window out (see there). A window larger than every buffer (a non-JPEG source shrunk by
    over ~2.8x) is first resized to fit (``fit``, ``warp_hw``), and ``to_index`` maps into the
    resized window."""
    window = _source_window(matrix, size, height_width[0], height_width[1])
    # Crop coordinates -> window pixel indices (continuous coordinate - 0.5 = index).
    offset = tf.cast(window[:2], tf.float32)
    to_index = _compose(_translation(-0.5 - offset[1], -0.5 - offset[0]),
                        _compose(matrix, _translation(0.5, 0.5)))
    capacities = warp_capacities(size)
    window_hw = tf.cast(window[2:], tf.float32)
    shrink = tf.sqrt(window_hw[0] * window_hw[1] / capacities[-1])
    fit = shrink > 1.0
    fitted_hw = tf.maximum(tf.floor(window_hw / shrink), 1.0)
    # Index coordinates scale about the pixel corners: i' = (i + 0.5) * s - 0.5.
    scale = fitted_hw / window_hw
    rescale = tf.convert_to_tensor([[scale[1], 0.0, 0.5 * scale[1] - 0.5],
                                    [0.0, scale[0], 0.5 * scale[0] - 0.5],
                                    [0.0, 0.0, 1.0]])
    to_index = tf.where(fit, _compose(rescale, to_index), to_index)
    warp_hw = tf.where(fit, tf.cast(fitted_hw, tf.int32), window[2:])
    capacity_index = tf.reduce_sum(tf.cast(
        warp_hw[0] * warp_hw[1] > tf.constant(capacities[:-1]), tf.int32))
    return {"window": window, "to_index": to_index, "fit": fit, "warp_hw": warp_hw,
            "capacity_index": capacity_index}


def _warp_window(pixels, plan: dict, crop: CropConfig):
    """Any crop: one bilinear warp of the decoded window's uint8 pixels (:func:`_warp_plan`).

    The warp is an XLA-compiled gather (:func:`_bilinear_warp`), about 3x cheaper than TF's
    ImageProjectiveTransformV3 kernel, which recomputes the sample position per channel. XLA
    needs static shapes, so the window's pixels are laid out row by row in a flat buffer, the
    smaller of :func:`warp_capacities` that holds them (one compiled warp per capacity): two
    memcpys (padding a 2-D canvas cost as much as the warp). Every window of a JPEG crop fits
    (the decoder's DCT scaling keeps the crop under twice its side in decoded pixels, see
    :func:`decode_crop_and_warp`). A larger window (a non-JPEG source shrunk by over ~2.8x) is
    first resized to fit the larger buffer, one extra bilinear step on a downscale. That resize
    cost ~3x the warp (~0.9 ms): with a single (2 size)² buffer, every rotated crop of a large
    person in a 640x480 frame paid it.
    """
    def fit():
        fitted = tf.image.resize(pixels, plan["warp_hw"], method="bilinear")
        return tf.cast(tf.clip_by_value(tf.round(fitted), 0.0, 255.0), tf.uint8)

    pixels = tf.cond(plan["fit"], fit, lambda: pixels)
    height, width = plan["warp_hw"][0], plan["warp_hw"][1]
    flat = tf.reshape(pixels, [-1, 3])
    fill = tf.constant(crop.fill_value, tf.uint8)

    def warp_in(capacity):
        # Fill after the window: the warp reads the last row for every neighbour outside it.
        buffer = tf.concat([flat, tf.fill([capacity + 1 - height * width, 3], fill)], axis=0)
        buffer = tf.ensure_shape(buffer, [capacity + 1, 3])
        return _bilinear_warp(buffer, plan["to_index"], plan["warp_hw"], crop.size)

    return tf.switch_case(plan["capacity_index"],
                          [lambda c=c: warp_in(c) for c in warp_capacities(crop.size)])


@tf.function(jit_compile=True, autograph=False)
def _bilinear_warp(buffer, to_index, window_hw, size: int):
    """uint8 ``[size, size, 3]``: output pixel (u, v) bilinearly samples the window at index
    coordinates ``to_index @ (u, v, 1)`` (affine). The window's ``window_hw`` = (h, w) pixels
    are the first ``h * w`` rows of ``buffer`` (static ``[N, 3]`` uint8), row-major, and its
    last row holds the fill value: neighbours outside the window read it, as
    ImageProjectiveTransformV3's CONSTANT mode does (the window holds every source pixel the
    crop can reach, so outside it is outside the image)."""
    grid = tf.range(size, dtype=tf.float32)
    u, v = grid[tf.newaxis, :], grid[:, tf.newaxis]
    x = to_index[0, 0] * u + to_index[0, 1] * v + to_index[0, 2]
    y = to_index[1, 0] * u + to_index[1, 1] * v + to_index[1, 2]
    height, width = window_hw[0], window_hw[1]
    # Clamped just beyond the window so far-away samples cannot overflow the int32 indices.
    x0 = tf.clip_by_value(tf.floor(x), -2.0, tf.cast(width, tf.float32) + 1.0)
    y0 = tf.clip_by_value(tf.floor(y), -2.0, tf.cast(height, tf.float32) + 1.0)
    fx, fy = (x - x0)[..., tf.newaxis], (y - y0)[..., tf.newaxis]
    col, row = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    fill_row = buffer.shape[0] - 1

    def read(r, c):
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        return tf.cast(tf.gather(buffer, tf.where(inside, r * width + c, fill_row)), tf.float32)

    top = read(row, col) * (1.0 - fx) + read(row, col + 1) * fx
    bottom = read(row + 1, col) * (1.0 - fx) + read(row + 1, col + 1) * fx
    return tf.cast(tf.round(top * (1.0 - fy) + bottom * fy), tf.uint8)


def _axis_aligned_plan(matrix, height_width, size: int) -> dict:
    """:func:`_warp_plan`'s numbers for a crop that only scales (by positive factors) and
    shifts (``matrix`` in DCT-scaled pixels): decode exactly the pixels inside the crop
    (``window``), resize them to ``resized_hw`` and place them at ``corner`` of the output.

    Rounding the window to whole pixels moves the crop by under half a source pixel;
    ``applied`` is the matrix actually applied, so keypoints stay exact. (Meaningless for other
    matrices, which :func:`_warp_plan` then does not select.)
    """
    size = float(size)
    scale_x, scale_y = matrix[0, 0], matrix[1, 1]  # source pixels per crop pixel
    left, top = matrix[0, 2], matrix[1, 2]
    height = tf.cast(height_width[0], tf.float32)
    width = tf.cast(height_width[1], tf.float32)
    x0 = tf.clip_by_value(tf.floor(left), 0.0, width - 1.0)
    y0 = tf.clip_by_value(tf.floor(top), 0.0, height - 1.0)
    x1 = tf.clip_by_value(tf.math.ceil(left + size * scale_x), x0 + 1.0, width)
    y1 = tf.clip_by_value(tf.math.ceil(top + size * scale_y), y0 + 1.0, height)
    # Where those source pixels land in the crop, in whole crop pixels.
    u0 = tf.clip_by_value(tf.round((x0 - left) / scale_x), 0.0, size - 1.0)
    v0 = tf.clip_by_value(tf.round((y0 - top) / scale_y), 0.0, size - 1.0)
    u1 = tf.clip_by_value(tf.round((x1 - left) / scale_x), u0 + 1.0, size)
    v1 = tf.clip_by_value(tf.round((y1 - top) / scale_y), v0 + 1.0, size)
    # The mapping actually applied: crop u in [u0, u1) <- source x in [x0, x1), likewise y.
    applied_x = (x1 - x0) / (u1 - u0)
    applied_y = (y1 - y0) / (v1 - v0)
    tx = x0 - u0 * applied_x
    ty = y0 - v0 * applied_y
    applied = tf.convert_to_tensor([[applied_x, 0.0, tx], [0.0, applied_y, ty], [0.0, 0.0, 1.0]])
    return {"window": tf.cast(tf.stack([y0, x0, y1 - y0, x1 - x0]), tf.int32),
            "resized_hw": tf.cast(tf.stack([v1 - v0, u1 - u0]), tf.int32),
            "corner": tf.cast(tf.stack([v0, u0]), tf.int32), "applied": applied}


def _resize_and_place(pixels, plan: dict, crop: CropConfig):
    """The axis-aligned crop (:func:`_axis_aligned_plan`): the decoded window resized to its
    place in the output, filled around."""
    resized = tf.image.resize(pixels, plan["resized_hw"], method="bilinear")
    # Bilinear weights are convex, so the floats stay in [0, 255]: rounding needs no clip.
    resized = tf.cast(resized + 0.5, tf.uint8)
    return _place(resized, plan["corner"][0], plan["corner"][1], crop)


def _place(pixels, top, left, crop: CropConfig):
    """uint8 ``[h, w, 3]`` pixels at row ``top``, column ``left`` of a ``[S, S, 3]`` canvas of
    ``crop.fill_value``, built from fills and two concatenations (row copies): ~half the time
    of TF's Pad kernel on uint8."""
    height, width, channels = tf.shape(pixels)[0], tf.shape(pixels)[1], pixels.shape[2]
    size, fill = crop.size, tf.constant(crop.fill_value, pixels.dtype)
    band = tf.concat([tf.fill(tf.stack([height, left, channels]), fill), pixels,
                      tf.fill(tf.stack([height, size - left - width, channels]), fill)], axis=1)
    return tf.concat([tf.fill(tf.stack([top, size, channels]), fill), band,
                      tf.fill(tf.stack([size - top - height, size, channels]), fill)], axis=0)


def mirror(features: dict, flip_permutation: tuple[int, ...] | None = None) -> dict:
    """Mirrors left to right the crops whose ``flip`` is set; one example or a batch.

    The image ``[..., H, W, C]`` (any dtype) is reversed along W, keypoints ``[..., K, 2]`` go to
    ``x -> W - x``, and ``flip_permutation`` (``Topology.flip_permutation``, None for none)
    swaps left and right in ``keypoints``, ``visibility`` and ``labelled``: the in-graph form of
    :func:`blazepose.keypoints.flip_keypoints`, which defines the flip (tests check they agree).
    ``crop_matrix`` (if present) becomes the mirrored crop's. Selects, not branches: under XLA
    it fuses into the next pass over pixels.
    """
    flip = features["flip"]
    image = features["image"]
    width = (float(image.shape[-2]) if image.shape[-2] is not None
             else tf.cast(tf.shape(image)[-2], tf.float32))
    keypoints = features["keypoints"]
    mirrored = tf.stack([width - keypoints[..., 0], keypoints[..., 1]], axis=-1)
    out = dict(features)
    out["image"] = tf.where(_per_image(flip), tf.reverse(image, [-2]), image)
    out["keypoints"] = tf.where(flip[..., tf.newaxis, tf.newaxis], _permute(
        mirrored, flip_permutation, axis=-2), keypoints)
    for key in ("visibility", "labelled"):
        out[key] = tf.where(flip[..., tf.newaxis], _permute(features[key], flip_permutation),
                            features[key])
    if "crop_matrix" in features:  # crop -> source, composed with u -> W - u
        matrix = features["crop_matrix"]
        mirrored = tf.stack(
            [-matrix[..., 0], matrix[..., 1], matrix[..., 2] + width * matrix[..., 0]], axis=-1)
        out["crop_matrix"] = tf.where(flip[..., tf.newaxis, tf.newaxis], mirrored, matrix)
    return out


def _permute(values, permutation, axis=-1):
    return values if permutation is None else tf.gather(values, permutation, axis=axis)


# ---------------------------------------------------------------------------------------------
# Pixel augmentation (on the small crop)


def to_float(features: dict) -> dict:
    """uint8 image(s) -> float32 in [0, 1]."""
    out = dict(features)
    out["image"] = tf.image.convert_image_dtype(features["image"], tf.float32)
    return out


def _per_image(values):
    """[...] parameters -> [..., 1, 1, 1] to broadcast over images."""
    return values[..., tf.newaxis, tf.newaxis, tf.newaxis]


# numpy, not a tf.constant: module import must not start the TF runtime (multi-worker setup).
_GREY = np.array([0.299, 0.587, 0.114], np.float32)
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
                       np.float32)


def colour_matrix(saturation, hue_radians) -> tf.Tensor:
    """``[..., 3, 3]`` matrices applying a saturation factor and a hue rotation (in YIQ space) to
    RGB column vectors; ``saturation`` and ``hue_radians`` are scalars or ``[...]``."""
    saturation = tf.convert_to_tensor(saturation, tf.float32)[..., tf.newaxis, tf.newaxis]
    hue_radians = tf.convert_to_tensor(hue_radians, tf.float32)
    grey = tf.tile(_GREY[tf.newaxis], [3, 1])
    saturate = saturation * tf.eye(3) + (1.0 - saturation) * grey
    cos, sin = tf.cos(hue_radians), tf.sin(hue_radians)
    one, zero = tf.ones_like(cos), tf.zeros_like(cos)
    rotate_iq = tf.stack([tf.stack([one, zero, zero], -1), tf.stack([zero, cos, -sin], -1),
                          tf.stack([zero, sin, cos], -1)], -2)
    hue = tf.constant(np.linalg.inv(_RGB_TO_YIQ)) @ rotate_iq @ tf.constant(_RGB_TO_YIQ)
    return hue @ saturate


def adjust_colour(features: dict, augment: AugmentConfig) -> dict:
    """Brightness, contrast, saturation and hue folded into one affine colour map per image.

    ``out = clip(A x + b)`` with ``A = contrast * hue @ saturation`` and ``b`` holding brightness
    and the contrast pivot (the mean grey level of the colour-mapped image, computed from the
    per-image mean colour, on every 4th row and column, since the map is linear): one fused
    pass over the pixels when compiled with XLA, as
    :func:`blazepose.data.pipeline.batch_transform` does. Float images ``[H, W, 3]`` or a batch
    ``[B, H, W, 3]``; images not chosen get the identity.
    """
    u = _draws(features, "colour", 5)
    image = features["image"]
    applied = u[0] < augment.colour_probability
    hue = math.radians(augment.max_hue_degrees)
    matrix = colour_matrix(_between(u[1], *augment.saturation_range), _between(u[2], -hue, hue))
    contrast = _between(u[3], *augment.contrast_range)
    brightness = _between(u[4], -augment.max_brightness, augment.max_brightness)
    # The mean colour of every 4th row and column: XLA's CPU reductions are slow, and a full
    # mean cost twice the colour map itself for no visible difference in the pivot.
    mean_colour = tf.reduce_mean(image[..., ::4, ::4, :], axis=[-3, -2])  # [..., 3]
    pivot = tf.tensordot(tf.linalg.matvec(matrix, mean_colour), _GREY, axes=1)  # [...]
    linear = contrast[..., tf.newaxis, tf.newaxis] * matrix
    offset = ((1.0 - contrast) * pivot + brightness)[..., tf.newaxis] * tf.ones(3)
    linear = tf.where(applied[..., tf.newaxis, tf.newaxis], linear, tf.eye(3))
    offset = tf.where(applied[..., tf.newaxis], offset, 0.0)
    # Three broadcast multiply-adds, not a matmul with an inner size of 3: under XLA
    # (batch_transform compiles this stage) they fuse with the clip into one pass over the pixels.
    linear = linear[..., tf.newaxis, tf.newaxis, :, :]  # [..., 1, 1, 3 out, 3 in]
    coloured = offset[..., tf.newaxis, tf.newaxis, :] + sum(
        image[..., c:c + 1] * linear[..., c] for c in range(3))
    out = dict(features)
    out["image"] = tf.clip_by_value(coloured, 0.0, 1.0)
    return out


def blur(features: dict, augment: AugmentConfig) -> dict:
    """Separable Gaussian blur with a random sigma, on one image ``[H, W, 3]`` (uint8 or float,
    kept; static H and W): an XLA-compiled sum of shifted rows and columns, edges reflected."""
    u = _draws(features, "blur", 2)
    image = features["image"]
    radius = int(math.ceil(2 * augment.blur_sigma_range[1]))

    def apply():
        return _gaussian_blur(image, _between(u[1], *augment.blur_sigma_range), radius)

    out = dict(features)
    out["image"] = tf.cond(u[0] < augment.blur_probability, apply, lambda: image)
    return out


def _reflect(values, axis: int, radius: int):
    """Pads ``radius`` mirrored values (edge not repeated) on both sides of static ``axis``."""
    length = values.shape[axis]
    head = tf.reverse(tf.gather(values, tf.range(1, radius + 1), axis=axis), [axis])
    tail = tf.reverse(tf.gather(values, tf.range(length - radius - 1, length - 1), axis=axis),
                      [axis])
    return tf.concat([head, values, tail], axis)


@tf.function(jit_compile=True, autograph=False)
def _gaussian_blur(image, sigma, radius: int):
    """``image`` ``[H, W, C]`` blurred by a Gaussian of ``sigma`` pixels, ``2 radius + 1`` taps.

    Shifted slices, not a depthwise convolution: XLA fuses each pass into one loop (about 2x
    cheaper than TF's depthwise kernels on a 256 crop, far cheaper than XLA's own). Both passes
    see the pixels as ``[H, W * C]`` rows, so each loop runs along contiguous memory; the
    vertical pass goes first, on the unpadded rows (~30 % less time than ``[H, W, C]`` slices
    with the horizontal pass first).
    """
    taps = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * (taps / sigma) ** 2)
    kernel /= tf.reduce_sum(kernel)
    height, width, channels = image.shape
    rows = tf.reshape(tf.cast(image, tf.float32), [height, width * channels])
    padded = _reflect(rows, 0, radius)
    rows = sum(kernel[i] * padded[i:i + height] for i in range(2 * radius + 1))
    padded = tf.reshape(_reflect(tf.reshape(rows, [height, width, channels]), 1, radius),
                        [height, (width + 2 * radius) * channels])
    rows = sum(kernel[i] * padded[:, i * channels:(i + width) * channels]
               for i in range(2 * radius + 1))
    pixels = tf.reshape(rows, [height, width, channels])
    if image.dtype == tf.uint8:
        return tf.cast(tf.clip_by_value(tf.round(pixels), 0.0, 255.0), tf.uint8)
    return tf.cast(pixels, image.dtype)


def add_noise(features: dict, augment: AugmentConfig) -> dict:
    """Additive zero-mean noise with a random std (in [0, 1] units), on one image ``[H, W, C]``
    (uint8 or float, kept) or a batch ``[B, H, W, C]``; images not chosen are unchanged.

    The pipeline applies it per example on the uint8 crop, compiled: only the chosen crops pay.
    """
    u = _draws(features, "noise", 3)
    image = features["image"]
    applied = u[0] < augment.noise_probability
    std = u[1] * augment.max_noise_std
    # The bits of a U[0, 1) float: a distinct key per draw for the per-pixel hash.
    key = tf.bitcast(u[2], tf.uint32)
    if image.shape.rank == 3:
        result = tf.cond(applied, lambda: _hash_noise_compiled(image, key, std), lambda: image)
    else:
        result = tf.where(_per_image(applied), _hash_noise(
            image, _per_image(key), _per_image(std)), image)
    out = dict(features)
    out["image"] = result
    return out


def _lowbias32(bits):
    """A 32-bit integer hash with strong avalanche (Wellons' "lowbias32"), elementwise."""
    bits = tf.bitwise.bitwise_xor(bits, tf.bitwise.right_shift(bits, 16))
    bits *= tf.constant(0x7FEB352D, tf.uint32)
    bits = tf.bitwise.bitwise_xor(bits, tf.bitwise.right_shift(bits, 15))
    bits *= tf.constant(0x846CA68B, tf.uint32)
    return tf.bitwise.bitwise_xor(bits, tf.bitwise.right_shift(bits, 16))


def _hash_noise(images, keys, stds):
    """``images`` ``[..., H, W, C]`` (uint8 or float in [0, 1], kept) plus uniform noise in 256
    levels with std ``stds`` ([0, 1] units); ``keys`` uint32 and ``stds`` broadcast per image.

    Each value's level comes from a counter-based hash of its index within the image and the
    image's key: no random-number kernel, so under XLA the noise is made in the same loop that
    adds it (~2.4x cheaper per crop than drawing TF's Philox bits for every value).
    """
    shape = tf.shape(images)[-3:]
    index = tf.bitcast(tf.reshape(tf.range(tf.reduce_prod(shape)), shape), tf.uint32)
    bits = _lowbias32(index * tf.constant(0x9E3779B9, tf.uint32) + keys)
    # The top byte as a signed level -128..127, centred: 256 equally likely values, std 73.9.
    levels = tf.cast(tf.bitwise.right_shift(tf.bitcast(bits, tf.int32), 24), tf.float32) + 0.5
    noise = levels * (3 ** 0.5 / 128.0) * stds
    if images.dtype == tf.uint8:
        pixels = tf.cast(images, tf.float32) + 255.0 * noise
        return tf.cast(tf.clip_by_value(tf.round(pixels), 0.0, 255.0), tf.uint8)
    return tf.cast(tf.clip_by_value(tf.cast(images, tf.float32) + noise, 0.0, 1.0), images.dtype)


_hash_noise_compiled = tf.function(_hash_noise, jit_compile=True, autograph=False)


def degrade_jpeg(features: dict, augment: AugmentConfig) -> dict:
    """Re-encodes one crop as a JPEG of random quality (uint8 or float, kept)."""
    u = _draws(features, "jpeg", 2)
    image = features["image"]
    low, high = augment.jpeg_quality_range

    def apply():
        quality = tf.minimum(tf.cast(tf.floor(_between(u[1], low, high + 1)), tf.int32), high)
        return tf.image.adjust_jpeg_quality(image, quality)

    out = dict(features)
    out["image"] = tf.ensure_shape(
        tf.cond(u[0] < augment.jpeg_probability, apply, lambda: image), image.shape)
    return out


OCCLUDER_FIELDS = ("x0", "y0", "x1", "y1", "red", "green", "blue", "shade_x", "shade_y")
"""Columns of ``occluders``: pixel rectangle ``[x0, x1) x [y0, y1)`` (empty when x1 <= x0), the
colour in [0, 1] and its change across the rectangle (left to right, top to bottom)."""


def sample_occluders(features: dict, augment: AugmentConfig) -> dict:
    """BlazePose's occlusion augmentation, first half (one example): draws up to
    ``max_occluders`` rectangles of a random colour with a random linear shading, and gives the
    keypoints under them visibility 0.

    Adds ``occluders`` float32 ``[max_occluders, 9]`` (:data:`OCCLUDER_FIELDS`, crop pixels);
    :func:`paint_occluders` draws them.
    """
    return _occluders_from(features, _occlusion_draws(features, augment), augment)


def _occlusion_draws(features: dict, augment: AugmentConfig) -> tf.Tensor:
    """The ``1 + 10 * max_occluders`` U[0, 1) numbers occlusion uses: whether, then per
    rectangle presence, size, place, colour and shading."""
    return _draws(features, "occlusion", 1 + 10 * augment.max_occluders)


def _occluders_from(features: dict, u, augment: AugmentConfig) -> dict:
    """:func:`sample_occluders` given its ``1 + 10 * max_occluders`` U[0, 1) numbers ``u``."""
    count = augment.max_occluders
    per_occluder = tf.reshape(u[1:], [count, 10])
    keypoints = features["keypoints"]
    size_xy = tf.cast(tf.shape(features["image"])[1::-1], tf.float32)  # W, H
    # The first rectangle comes whenever occlusion happens; each further one half the time.
    present = (u[0] < augment.occlusion_probability) & tf.concat(
        [[True], per_occluder[1:, 0] < 0.5], axis=0)  # [N]
    extent = tf.maximum(tf.floor(_between(per_occluder[:, 1:3], *augment.occluder_size_range)
                                 * size_xy), 1.0)  # [N, 2] w, h in whole pixels
    low = tf.minimum(tf.floor(per_occluder[:, 3:5] * (size_xy - extent + 1.0)), size_xy - extent)
    high = tf.where(present[:, tf.newaxis], low + extent, low)  # absent: empty
    under = tf.reduce_all((keypoints[:, tf.newaxis] >= low) & (keypoints[:, tf.newaxis] < high),
                          axis=-1)  # [K, N]
    hidden = tf.reduce_any(under, axis=-1)
    occluders = tf.concat([low, high, per_occluder[:, 5:8],
                           _between(per_occluder[:, 8:10], -0.3, 0.3)], axis=1)
    out = dict(features)
    out["occluders"] = occluders
    out["visibility"] = tf.where(hidden, 0.0, features["visibility"])
    return out


def paint_occluders(image, occluders, window: tuple[int, int] | None = None):
    """``image`` ``[H, W, 3]`` (uint8 or float, kept) with ``occluders`` ``[N, 9]`` (see
    :func:`sample_occluders`) drawn in order: each covered pixel becomes ``clip(colour +
    shade_x * ramp_x + shade_y * ramp_y)``, the ramps going 0 -> 1 across the rectangle.

    ``window`` (height, width), static and at least every rectangle's size: each rectangle is
    painted through a window of that size around it (an XLA dynamic slice, painted, written
    back in place), so the work scales with the occluder, not the image; only under XLA
    compilation (:data:`_paint_occluders_compiled`). None: the whole image, H and W may be
    dynamic, any mode.
    """
    for index in range(occluders.shape[0]):
        x0, y0, x1, y1, red, green, blue, shade_x, shade_y = tf.unstack(occluders[index])
        if window is None:
            top, left, region = 0, 0, image
        else:  # the window's corner, moved inside the image; it still covers the rectangle
            top = tf.cast(tf.clip_by_value(y0, 0.0, float(image.shape[0] - window[0])), tf.int32)
            left = tf.cast(tf.clip_by_value(x0, 0.0, float(image.shape[1] - window[1])),
                           tf.int32)
            corner = tf.stack([top, left, 0])
            region = _xla.dynamic_slice(image, corner, [window[0], window[1], image.shape[2]])
        shape = tf.shape(region)
        cols = tf.cast(left + tf.range(shape[1]), tf.float32)[:, tf.newaxis]  # [w, 1]
        rows = tf.cast(top + tf.range(shape[0]), tf.float32)[:, tf.newaxis, tf.newaxis]
        inside = (cols >= x0) & (cols < x1) & (rows >= y0) & (rows < y1)  # [h, w, 1]
        ramp_x = (cols - x0) / tf.maximum(x1 - x0 - 1.0, 1.0)
        ramp_y = (rows - y0) / tf.maximum(y1 - y0 - 1.0, 1.0)
        painted = tf.clip_by_value(tf.stack([red, green, blue]) + shade_x * ramp_x
                                   + shade_y * ramp_y, 0.0, 1.0)
        region = tf.where(inside, tf.image.convert_image_dtype(painted, image.dtype,
                                                               saturate=True), region)
        image = region if window is None else _xla.dynamic_update_slice(image, region, corner)
    return image


# Compiled, painting costs a fraction of TF's op-by-op selects or copies of the crop; through
# dynamic slices ~40 % less than gathering and scattering the window's pixel indices.
_paint_occluders_compiled = tf.function(paint_occluders, jit_compile=True, autograph=False)


def occlude(features: dict, augment: AugmentConfig) -> dict:
    """BlazePose's occlusion augmentation on one image: for the images that get occluders,
    :func:`sample_occluders`, then :func:`paint_occluders` compiled with XLA (through windows
    the size of the largest possible rectangle, when the image's size is static). The others
    pay for one comparison."""
    image = features["image"]
    window = None
    if image.shape[:2].is_fully_defined():
        largest = augment.occluder_size_range[1]
        window = tuple(min(int(math.ceil(largest * side)), side) for side in image.shape[:2])
    u = _occlusion_draws(features, augment)

    def apply():
        sampled = _occluders_from(features, u, augment)
        return (_paint_occluders_compiled(image, sampled["occluders"], window),
                sampled["visibility"])

    painted, visibility = tf.cond(u[0] < augment.occlusion_probability, apply,
                                  lambda: (image, features["visibility"]))
    out = dict(features)
    out["image"] = tf.ensure_shape(painted, image.shape)
    out["visibility"] = visibility
    return out


# ---------------------------------------------------------------------------------------------
# Targets


def make_targets(features: dict, targets: TargetConfig, crop_size: int) -> dict:
    """Adds the training targets, vectorised over keypoints (and over a leading batch
    dimension, when ``keypoints`` is ``[B, K, 2]``; shapes below are per example).

    ``heatmap`` float32 ``[H, H, K]``: a Gaussian (peak 1, ``heatmap_sigma`` cells) at each
    labelled keypoint inside the crop, zero elsewhere. ``heatmap_weight`` float32 ``[K]``: 1 for
    labelled keypoints (an out-of-crop point is supervised as "no peak"). ``landmarks`` float32
    ``[K, 2]``: keypoints in crop pixels (the regression head's units; 0 where unlabelled). With
    ``targets.offsets``: ``offsets`` float32 ``[H, H, 2K]``, per cell and keypoint the (x, y)
    vector from the cell centre to the keypoint in cells, interleaved as the model's offset head,
    and ``offset_mask`` float32 ``[H, H, K]``, 1 within ``offset_radius`` cells of a labelled,
    in-crop keypoint.
    """
    size = targets.heatmap_size
    keypoints = features["keypoints"]
    labelled = features["labelled"]
    inside = tf.reduce_all((keypoints >= 0.0) & (keypoints < float(crop_size)), axis=-1)
    present = tf.cast(labelled & inside, tf.float32)  # [K]
    cells = keypoints * (size / crop_size)  # [K, 2] in heatmap cells
    centres = (tf.range(size, dtype=tf.float32) + 0.5)[:, tf.newaxis]  # [H, 1]
    dx = centres - cells[..., tf.newaxis, :, 0]  # [W, K]: cell centre - keypoint
    dy = centres - cells[..., tf.newaxis, :, 1]  # [H, K]
    two_sigma2 = 2.0 * targets.heatmap_sigma ** 2
    gx = tf.exp(-dx ** 2 / two_sigma2) * present[..., tf.newaxis, :]  # absent: all-zero map
    gy = tf.exp(-dy ** 2 / two_sigma2)
    out = dict(features)
    out.update(heatmap=gy[..., :, tf.newaxis, :] * gx[..., tf.newaxis, :, :],
               heatmap_weight=tf.cast(labelled, tf.float32),
               landmarks=tf.where(labelled[..., tf.newaxis], keypoints, 0.0))
    if targets.offsets:
        offset_x = -dx[..., tf.newaxis, :, :] + tf.zeros([size, 1, 1])  # [H, W, K]
        offset_y = -dy[..., :, tf.newaxis, :] + tf.zeros([1, size, 1])
        near = tf.cast(offset_x ** 2 + offset_y ** 2 <= targets.offset_radius ** 2, tf.float32)
        offsets = tf.stack([offset_x, offset_y], axis=-1)  # [H, W, K, 2]
        out["offsets"] = tf.reshape(offsets, tf.concat(
            [tf.shape(offsets)[:-2], [2 * keypoints.shape[-2]]], axis=0))
        out["offset_mask"] = near * present[..., tf.newaxis, tf.newaxis, :]
    return out


TRAINING_KEYS = ("image", "heatmap", "heatmap_weight", "landmarks", "visibility", "labelled",
                 "offsets", "offset_mask")


def select(features: dict, keys=TRAINING_KEYS) -> dict:
    """Keeps only those of ``keys`` present (what the trainer consumes)."""
    return {key: features[key] for key in keys if key in features}
