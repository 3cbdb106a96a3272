"""Input-pipeline ops: each eagerly and inside Dataset.map, on images made here."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from blazepose import keypoints as keypoints_lib
from blazepose import topology
from blazepose.data import ops, pipeline
from blazepose.data.config import NO_AUGMENTATION, AugmentConfig, CropConfig, PipelineConfig

K = topology.NUM_BLAZEPOSE_LANDMARKS


def _distinct_colours(count, min_distance=80):
    """Bright colours pairwise at least ``min_distance`` apart (L1), so discs are not confused."""
    rng = np.random.default_rng(42)
    colours = []
    for candidate in rng.integers(40, 256, (5000, 3)):
        if all(np.abs(candidate - c).sum() >= min_distance for c in colours):
            colours.append(candidate)
    assert len(colours) >= count
    return np.array(colours[:count], np.uint8)


COLOURS = _distinct_colours(K)


def _dotted_image(points, height=300, width=400, radius=4, encode="png"):
    """A black image with a distinct coloured disc at each (x, y) point (continuous pixels)."""
    image = np.zeros((height, width, 3), np.uint8)
    rows, cols = np.mgrid[0:height, 0:width] + 0.5
    for index, (x, y) in enumerate(points):
        image[(cols - x) ** 2 + (rows - y) ** 2 <= radius ** 2] = COLOURS[index]
    data = tf.io.encode_png(image) if encode == "png" else tf.io.encode_jpeg(image, quality=98)
    return image, data


def _features(points, encoded, box=None, seed=0):
    points = np.asarray(points, np.float32)
    if box is None:
        box = [points[:, 0].min(), points[:, 1].min(), points[:, 0].max(), points[:, 1].max()]
    return {"jpeg": encoded, "keypoints": tf.constant(points), "visibility": tf.ones(K),
            "labelled": tf.ones(K, tf.bool), "person_box": tf.constant(box, tf.float32),
            "seed": tf.constant([7, seed], tf.int64)}


def _random_points(seed, low=(120, 80), high=(280, 220)):
    # Keep the discs apart so each one's colour can be read back unambiguously.
    rng = np.random.default_rng(seed)
    points = []
    while len(points) < K:
        candidate = rng.uniform(low, high)
        if all(np.hypot(*(candidate - p)) > 14 for p in points):
            points.append(candidate)
    return np.array(points, np.float32)


def _disc_centre(image, colour, near, tolerance=45, search=16):
    """Centroid (continuous pixels) of the pixels close to ``colour`` within ``search`` pixels of
    ``near``; None if absent. A warp off by more than ``search`` pixels finds nothing."""
    distance = np.abs(image.astype(int) - colour.astype(int)).sum(-1)
    rows, cols = np.nonzero(distance < tolerance)
    close = (np.abs(cols + 0.5 - near[0]) < search) & (np.abs(rows + 0.5 - near[1]) < search)
    rows, cols = rows[close], cols[close]
    if len(rows) < 3:
        return None
    return np.array([cols.mean() + 0.5, rows.mean() + 0.5])


def _crop(features, augment, crop=None, flip_permutation=None):
    crop = crop or CropConfig()
    features = ops.sample_crop(features, crop, augment)
    return ops.mirror(ops.decode_crop_and_warp(features, crop), flip_permutation)


@pytest.mark.parametrize("case", ["identity-ish", "rotated", "scaled-shifted", "flipped"])
@pytest.mark.parametrize("mode", ["eager", "map"])
def test_keypoints_follow_the_warp(case, mode):
    """Discs drawn at the keypoints end up where the transformed keypoints say."""
    points = _random_points(seed=1)
    _, encoded = _dotted_image(points)
    augment = {
        "identity-ish": NO_AUGMENTATION,
        "rotated": dataclasses.replace(NO_AUGMENTATION, rotation_probability=1.0),
        "scaled-shifted": dataclasses.replace(NO_AUGMENTATION, scale_probability=1.0,
                                              shift_probability=1.0),
        "flipped": dataclasses.replace(NO_AUGMENTATION, flip_probability=1.0),
    }[case]
    features = _features(points, encoded)
    if mode == "eager":
        out = _crop(features, augment)
    else:
        dataset = tf.data.Dataset.from_tensors(features).map(lambda f: _crop(f, augment))
        out = next(iter(dataset))
    image = out["image"].numpy()
    keypoints = out["keypoints"].numpy()
    found = 0
    for index in range(K):
        x, y = keypoints[index]
        if not (8 <= x < 248 and 8 <= y < 248):
            continue
        centre = _disc_centre(image, COLOURS[index], (x, y))
        assert centre is not None, f"disc {index} missing at {x:.1f}, {y:.1f}"
        np.testing.assert_allclose(centre, [x, y], atol=0.75, err_msg=f"keypoint {index}")
        found += 1
    assert found >= K // 2
    if case == "flipped":
        assert bool(out["flip"]) and out["crop_matrix"].numpy()[0, 0] < 0
    if case == "rotated":  # took the warp, not the axis-aligned resize
        assert abs(out["crop_matrix"].numpy()[1, 0]) > 1e-3


@pytest.mark.parametrize("rotated", [False, True])
def test_large_jpeg_is_decoded_at_dct_scale_where_the_crop_shrinks_it(rotated, monkeypatch):
    """A 1600x1200 JPEG cropped ~3x smaller is decoded at 1/2 scale: discs still land on their
    keypoints, and the crop matches the one made from the same pixels as PNG (full decode)."""
    ratios = []
    decode = tf.image.decode_and_crop_jpeg
    monkeypatch.setattr(tf.image, "decode_and_crop_jpeg",
                        lambda *args, **kwargs: ratios.append(kwargs["ratio"]) or decode(
                            *args, **kwargs))
    points = _random_points(seed=9) * 4
    image, _ = _dotted_image(points, height=1200, width=1600, radius=16)
    jpeg = tf.io.encode_jpeg(image, quality=98)
    png = tf.io.encode_png(image)
    augment = dataclasses.replace(NO_AUGMENTATION, rotation_probability=float(rotated))
    features = ops.sample_crop(_features(points, jpeg), CropConfig(), augment)
    side = np.linalg.norm(features["crop_matrix"].numpy()[:2, 0])
    assert side >= 2.0, "the crop must shrink the source by 2x or more for this test"
    out = ops.decode_crop_and_warp(features, CropConfig())
    assert ratios == [2], "eagerly, only the chosen scale decodes"
    reference = ops.decode_crop_and_warp({**features, "jpeg": png}, CropConfig())
    # An unrotated crop reads whole decoded pixels: its placement may differ by half a pixel.
    np.testing.assert_allclose(out["keypoints"], reference["keypoints"], atol=0.5)
    crop = out["image"].numpy()
    found = 0
    for index, (x, y) in enumerate(out["keypoints"].numpy()):
        if 8 <= x < 248 and 8 <= y < 248:
            centre = _disc_centre(crop, COLOURS[index], (x, y))
            assert centre is not None, f"disc {index} missing at {x:.1f}, {y:.1f}"
            np.testing.assert_allclose(centre, [x, y], atol=0.75, err_msg=f"keypoint {index}")
            found += 1
    assert found >= K // 2
    difference = np.abs(crop.astype(float) - reference["image"].numpy().astype(float))
    assert np.median(difference) <= 2.0 and difference.mean() <= 6.0


def test_flip_permutes_left_and_right():
    """After a mirror flip the LEFT_WRIST label sits on the disc drawn at the RIGHT_WRIST."""
    points = _random_points(seed=2)
    _, encoded = _dotted_image(points)
    flip = dataclasses.replace(NO_AUGMENTATION, flip_probability=1.0)
    out = _crop(_features(points, encoded), flip,
                flip_permutation=tuple(topology.BLAZEPOSE_33.flip_permutation))
    left, right = topology.BLAZEPOSE_33.index("LEFT_WRIST"), topology.BLAZEPOSE_33.index(
        "RIGHT_WRIST")
    expected = out["keypoints"].numpy()[left]
    centre = _disc_centre(out["image"].numpy(), COLOURS[right], expected)
    np.testing.assert_allclose(centre, expected, atol=0.75)


@pytest.mark.parametrize("name", sorted(topology.TOPOLOGIES))
def test_mirror_is_the_topologys_flip_keypoints(name):
    """The in-graph mirror moves keypoints, visibility and labels as the numpy definition
    (``keypoints.flip_keypoints`` and ``flip_permutation``), on every topology, batched."""
    rig = topology.get_topology(name)
    rng = np.random.default_rng(len(name))
    keypoints = rng.uniform(0, 40, (2, rig.num_keypoints, 2)).astype(np.float32)
    visibility = rng.uniform(0, 1, (2, rig.num_keypoints)).astype(np.float32)
    labelled = rng.uniform(0, 1, (2, rig.num_keypoints)) < 0.7
    out = ops.mirror({"image": tf.zeros((2, 8, 40, 3), tf.uint8),
                      "flip": tf.constant([True, False]),
                      "keypoints": tf.constant(keypoints), "visibility": tf.constant(visibility),
                      "labelled": tf.constant(labelled)}, rig.flip_permutation)
    np.testing.assert_allclose(out["keypoints"][0],
                               keypoints_lib.flip_keypoints(keypoints[0], 40.0, rig))
    np.testing.assert_array_equal(out["keypoints"][1], keypoints[1])
    for key, values in (("visibility", visibility), ("labelled", labelled)):
        np.testing.assert_array_equal(out[key][0], np.take(values[0], rig.flip_permutation, -1))
        np.testing.assert_array_equal(out[key][1], values[1])


def test_flipping_twice_is_the_identity():
    points = _random_points(seed=3)
    _, encoded = _dotted_image(points, encode="jpeg")
    permutation = tuple(topology.BLAZEPOSE_33.flip_permutation)
    features = _features(points, encoded)
    plain = _crop(features, NO_AUGMENTATION, flip_permutation=permutation)
    flipped = _crop(features, dataclasses.replace(NO_AUGMENTATION, flip_probability=1.0),
                    flip_permutation=permutation)
    # Mirror the flipped crop back by hand: x -> 256 - x, permute, flip the image.
    back = flipped["keypoints"].numpy()[list(permutation)]
    back[:, 0] = 256 - back[:, 0]
    np.testing.assert_allclose(back, plain["keypoints"].numpy(), atol=1e-3)
    np.testing.assert_array_equal(flipped["image"].numpy()[:, ::-1], plain["image"].numpy())


def test_compiled_batch_stage_mirrors_image_keypoints_and_labels():
    """The pipeline mirrors in its XLA batch stage: the flipped crop is the plain one reversed,
    its keypoints mirrored and permuted, and the LEFT_WRIST target sits on the disc drawn at the
    RIGHT_WRIST."""
    points = _random_points(seed=6)
    _, encoded = _dotted_image(points)
    features = {**_features(points, encoded), "area": tf.constant(-1.0)}
    permutation = list(topology.BLAZEPOSE_33.flip_permutation)
    outputs = {}
    for flip in (0.0, 1.0):
        config = PipelineConfig(augment=dataclasses.replace(NO_AUGMENTATION,
                                                            flip_probability=flip))
        transform = pipeline.full_transform(config, topology.BLAZEPOSE_33, training=True)
        outputs[flip] = transform(features)
    plain, flipped = outputs[0.0], outputs[1.0]
    np.testing.assert_array_equal(flipped["image"].numpy(), plain["image"].numpy()[:, ::-1])
    expected = plain["landmarks"].numpy()[permutation] * [-1.0, 1.0] + [256.0, 0.0]
    np.testing.assert_allclose(flipped["landmarks"].numpy(), expected, atol=1e-4)
    np.testing.assert_array_equal(flipped["visibility"].numpy(),
                                  plain["visibility"].numpy()[permutation])
    np.testing.assert_allclose(flipped["heatmap"].numpy(),
                               plain["heatmap"].numpy()[:, ::-1][..., permutation], atol=1e-5)
    left = topology.BLAZEPOSE_33.index("LEFT_WRIST")
    right = topology.BLAZEPOSE_33.index("RIGHT_WRIST")
    target = flipped["landmarks"].numpy()[left]
    image = np.round(flipped["image"].numpy() * 255).astype(np.uint8)
    np.testing.assert_allclose(_disc_centre(image, COLOURS[right], target), target, atol=0.75)


def test_mirror_handles_images_of_unknown_width():
    """Traced with a dynamic image size, mirror reads the width at run time."""
    features = {"image": tf.constant(np.arange(2 * 5 * 3, dtype=np.uint8).reshape(2, 5, 3)),
                "keypoints": tf.constant([[1.0, 0.5], [4.5, 1.5]]),
                "visibility": tf.constant([1.0, 0.0]), "labelled": tf.constant([True, False]),
                "flip": tf.constant(True)}
    spec = {k: tf.TensorSpec([None] * v.shape.rank, v.dtype) for k, v in features.items()}
    mirrored = tf.function(lambda f: ops.mirror(f, (1, 0)), input_signature=[spec])(features)
    np.testing.assert_array_equal(mirrored["image"], features["image"].numpy()[:, ::-1])
    np.testing.assert_allclose(mirrored["keypoints"], [[0.5, 1.5], [4.0, 0.5]])
    np.testing.assert_array_equal(mirrored["visibility"], [0.0, 1.0])
    np.testing.assert_array_equal(mirrored["labelled"], [False, True])


def test_points_leaving_the_crop_lose_visibility():
    points = _random_points(seed=4)
    points[0] = [395.0, 295.0]  # far outside the box-based crop
    _, encoded = _dotted_image(points)
    box = [150, 100, 250, 200]
    out = _crop(_features(points, encoded, box=box), NO_AUGMENTATION)
    keypoints = out["keypoints"].numpy()
    outside = ~np.all((keypoints >= 0) & (keypoints < 256), axis=1)
    assert outside[0]
    np.testing.assert_array_equal(out["visibility"].numpy(), np.where(outside, 0.0, 1.0))
    assert bool(out["labelled"].numpy()[0]), "still labelled: supervised as absent"


def test_crop_reaching_outside_the_image_is_filled():
    points = _random_points(seed=5, low=(5, 5), high=(120, 100))
    _, encoded = _dotted_image(points)
    crop = CropConfig(fill_value=77)
    out = _crop(_features(points, encoded, box=[0, 0, 120, 100]), NO_AUGMENTATION, crop=crop)
    image = out["image"].numpy()
    origin = np.linalg.inv(out["crop_matrix"].numpy()) @ [0.0, 0.0, 1.0]  # image corner in crop
    assert origin[0] > 2 and origin[1] > 2
    assert np.all(image[: int(origin[1]) - 1, :] == 77)
    assert np.all(image[:, : int(origin[0]) - 1] == 77)


def test_upright_crop_puts_shoulders_above_hips():
    points = _random_points(seed=6)
    # A person lying down: shoulders to the right of the hips.
    for name, xy in [("LEFT_HIP", (150, 160)), ("RIGHT_HIP", (150, 140)),
                     ("LEFT_SHOULDER", (250, 160)), ("RIGHT_SHOULDER", (250, 140))]:
        points[topology.BLAZEPOSE_33.index(name)] = xy
    _, encoded = _dotted_image(points)
    out = _crop(_features(points, encoded), None, crop=CropConfig(upright=True))
    k = out["keypoints"].numpy()
    index = topology.BLAZEPOSE_33.index
    shoulders = (k[index("LEFT_SHOULDER")] + k[index("RIGHT_SHOULDER")]) / 2
    hips = (k[index("LEFT_HIP")] + k[index("RIGHT_HIP")]) / 2
    np.testing.assert_allclose(shoulders[0], hips[0], atol=1e-3)
    assert shoulders[1] < hips[1]


def _float_features(seed=0):
    rng = np.random.default_rng(seed)
    return {"image": tf.constant(rng.random((64, 64, 3), dtype=np.float32)),
            "keypoints": tf.constant(rng.uniform(0, 64, (K, 2)).astype(np.float32)),
            "visibility": tf.ones(K), "labelled": tf.ones(K, tf.bool),
            "seed": tf.constant([1, seed], tf.int64)}


@pytest.mark.parametrize("mode", ["eager", "map"])
def test_occlusion_hides_the_keypoints_it_covers(mode):
    always = AugmentConfig(occlusion_probability=1.0, max_occluders=2,
                           occluder_size_range=(0.3, 0.5))
    hidden_some = False
    for seed in range(6):
        features = _float_features(seed)
        if mode == "eager":
            out = ops.occlude(features, always)
        else:
            out = next(iter(tf.data.Dataset.from_tensors(features).map(
                lambda f: ops.occlude(f, always))))
        changed = np.pad(np.any(out["image"].numpy() != features["image"].numpy(), axis=-1),
                         1, mode="edge")
        for (x, y), visible in zip(features["keypoints"].numpy(), out["visibility"].numpy()):
            around = changed[int(y): int(y) + 3, int(x): int(x) + 3]  # 3x3 around the point
            if around.all():
                assert visible == 0.0, (x, y)
            elif not around.any():
                assert visible == 1.0, (x, y)
            hidden_some |= visible == 0.0
    assert hidden_some


def test_occluders_are_painted_inside_their_rectangles_only():
    """Compiled through windows (as the pipeline paints) and eager on the whole image agree,
    on float and uint8 crops; pixels outside every rectangle are kept."""
    always = AugmentConfig(occlusion_probability=1.0, max_occluders=2,
                           occluder_size_range=(0.2, 0.6))
    rows, cols = np.mgrid[0:64, 0:64]
    for seed in range(4):
        features = ops.sample_occluders(_float_features(seed), always)
        occluders = features["occluders"]
        covered = np.zeros((64, 64), bool)
        for x0, y0, x1, y1 in occluders.numpy()[:, :4]:
            covered |= (cols >= x0) & (cols < x1) & (rows >= y0) & (rows < y1)
        assert covered.any()
        for image in (features["image"], tf.image.convert_image_dtype(features["image"],
                                                                       tf.uint8)):
            eager = ops.paint_occluders(image, occluders).numpy()
            assert eager.dtype == image.dtype
            # Through windows of the largest rectangle (0.6 x 64 -> 39), as the pipeline does.
            for window in (None, (39, 39)):
                compiled = ops._paint_occluders_compiled(image, occluders, window).numpy()
                np.testing.assert_allclose(compiled.astype(float), eager.astype(float),
                                           atol=1e-5)
            changed = np.any(eager != image.numpy(), axis=-1)
            assert not changed[~covered].any(), "pixels outside every rectangle are kept"
            assert changed[covered].mean() > 0.9


def test_probability_zero_changes_nothing():
    features = _float_features(1)
    off = AugmentConfig(colour_probability=0, blur_probability=0, noise_probability=0,
                        occlusion_probability=0, jpeg_probability=0)
    for op in (ops.adjust_colour, ops.blur, ops.add_noise, ops.occlude, ops.degrade_jpeg):
        out = op(features, off)
        np.testing.assert_array_equal(out["image"], features["image"], err_msg=op.__name__)


@pytest.mark.parametrize("op", [ops.adjust_colour, ops.blur, ops.add_noise, ops.degrade_jpeg])
def test_pixel_ops_change_pixels_keep_range_and_are_seeded(op):
    always = AugmentConfig(colour_probability=1, blur_probability=1, noise_probability=1,
                           jpeg_probability=1)
    features = _float_features(2)
    first = op(features, always)["image"].numpy()
    again = next(iter(tf.data.Dataset.from_tensors(features).map(lambda f: op(f, always))))
    np.testing.assert_allclose(again["image"].numpy(), first, atol=1e-6)
    assert np.abs(first - features["image"].numpy()).mean() > 1e-3
    assert first.min() >= 0.0 and first.max() <= 1.0
    other = op({**features, "seed": tf.constant([1, 99], tf.int64)}, always)["image"].numpy()
    assert not np.array_equal(other, first)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_gaussian_blur_matches_a_separable_reference(dtype):
    """The compiled blur equals a NumPy Gaussian (edges mirrored without repeating the edge
    pixel), horizontally and vertically, on a non-square colour image."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (40, 52, 3)).astype(dtype)
    sigma, radius = 1.2, 3
    taps = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    kernel /= kernel.sum()
    expected = np.pad(image.astype(np.float64), [(radius, radius)] * 2 + [(0, 0)], "reflect")
    expected = sum(k * expected[:, i:i + 52] for i, k in enumerate(kernel))
    expected = sum(k * expected[i:i + 40] for i, k in enumerate(kernel))
    blurred = ops._gaussian_blur(tf.constant(image), tf.constant(sigma), radius).numpy()
    assert blurred.dtype == dtype
    tolerance = 0.5 + 1e-3 if dtype == np.uint8 else 1e-3
    np.testing.assert_allclose(blurred.astype(np.float64), expected, atol=tolerance)


def test_noise_on_uint8_crops_is_zero_mean_with_the_configured_std():
    """The per-example noise (compiled, 256 levels hashed from pixel index and key) on a grey
    uint8 crop: zero mean, std within ``max_noise_std`` and spread over the range, no
    correlation between neighbouring pixels, rows or channels; a fresh field per seed."""
    always = AugmentConfig(noise_probability=1.0, max_noise_std=0.04)
    grey = tf.fill([128, 128, 3], tf.constant(128, tf.uint8))
    stds, fields = [], []
    for seed in range(8):
        out = ops.add_noise({"image": grey, "seed": tf.constant([5, seed], tf.int64)}, always)
        assert out["image"].dtype == tf.uint8
        difference = (out["image"].numpy().astype(float) - 128.0) / 255.0
        assert abs(difference.mean()) < 0.002
        stds.append(difference.std())
        fields.append(difference)
        for a, b in ((difference[:, :-1], difference[:, 1:]),  # left / right neighbours
                     (difference[:-1], difference[1:]),  # rows
                     (difference[..., 0], difference[..., 1])):  # channels
            assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.03
    assert max(stds) <= 0.04 * 1.05 and min(stds) > 0.0, stds
    assert max(stds) > 0.02, stds
    assert not np.array_equal(fields[0], fields[1])
    assert abs(np.corrcoef(fields[0].ravel(), fields[1].ravel())[0, 1]) < 0.03


def test_colour_matrix_identity_and_greys():
    np.testing.assert_allclose(ops.colour_matrix(1.0, 0.0), np.eye(3), atol=1e-5)
    grey = np.array([0.4, 0.4, 0.4], np.float32)
    for saturation, hue in [(0.5, 0.3), (1.4, -0.2)]:
        np.testing.assert_allclose(ops.colour_matrix(saturation, hue).numpy() @ grey, grey,
                                   atol=1e-5)
    assert np.allclose(ops.colour_matrix(0.0, 0.0).numpy() @ [1.0, 0.0, 0.0], 0.299, atol=1e-5)


@pytest.mark.parametrize("mode", ["eager", "map"])
def test_heatmap_peaks_at_the_keypoint(mode):
    from blazepose.data.config import TargetConfig

    keypoints = np.array([[101.0, 61.0], [10.5, 250.0], [300.0, 20.0]], np.float32)
    features = {"keypoints": tf.constant(keypoints), "labelled": tf.constant([True, True, True]),
                "visibility": tf.ones(3)}
    config = TargetConfig(offsets=True)
    if mode == "eager":
        out = ops.make_targets(features, config, 256)
    else:
        out = next(iter(tf.data.Dataset.from_tensors(features).map(
            lambda f: ops.make_targets(f, config, 256))))
    heatmap = out["heatmap"].numpy()
    assert heatmap.shape == (64, 64, 3)
    row, col = np.unravel_index(np.argmax(heatmap[..., 0]), (64, 64))
    assert (col, row) == (25, 15)  # 101 / 4 = 25.25 cells: nearest cell centre 25.5
    # Sub-cell accuracy: the Gaussian's weighted centre is the keypoint.
    rows, cols = np.mgrid[0:64, 0:64] + 0.5
    weights = heatmap[..., 0]
    centre = [(cols * weights).sum() / weights.sum(), (rows * weights).sum() / weights.sum()]
    np.testing.assert_allclose(centre, keypoints[0] / 4, atol=1e-3)
    assert heatmap[..., 0].max() == pytest.approx(np.exp(-(0.25 ** 2 + 0.25 ** 2)
                                                         / (2 * 1.5 ** 2)), rel=1e-5)
    assert np.all(heatmap[..., 2] == 0), "outside the crop: no peak"
    assert out["heatmap_weight"].numpy().tolist() == [1, 1, 1]
    # Offsets point from a cell centre to the keypoint; decoding argmax + offset recovers it.
    from blazepose.model import decoding

    xy, _ = decoding.decode_heatmap_argmax(out["heatmap"][tf.newaxis], out["offsets"][tf.newaxis])
    np.testing.assert_allclose(xy.numpy()[0, :2] * 256, keypoints[:2], atol=1e-3)
    assert out["offset_mask"].numpy()[..., 2].sum() == 0


def test_map_topology_to_blazepose():
    lsp = topology.LSP_14
    rng = np.random.default_rng(0)
    features = {"keypoints": tf.constant(rng.uniform(0, 100, (14, 2)).astype(np.float32)),
                "visibility": tf.constant(rng.integers(0, 2, 14).astype(np.float32)),
                "labelled": tf.constant(rng.random(14) > 0.2)}
    out = ops.map_topology(features, lsp, topology.BLAZEPOSE_33)
    for index, target in enumerate(lsp.to_blazepose):
        if target is None:
            continue
        np.testing.assert_array_equal(out["keypoints"].numpy()[target],
                                      features["keypoints"].numpy()[index])
        assert out["labelled"].numpy()[target] == features["labelled"].numpy()[index]
    unmapped = set(range(K)) - {t for t in lsp.to_blazepose if t is not None}
    assert not any(out["labelled"].numpy()[i] for i in unmapped)
    with pytest.raises(ValueError, match="cannot map"):
        ops.map_topology(features, topology.BLAZEPOSE_33, lsp)


@pytest.mark.parametrize("training", [True, False])
def test_example_transform_in_map_is_deterministic(training):
    points = _random_points(seed=8)
    _, encoded = _dotted_image(points, encode="jpeg")
    config = PipelineConfig(augment=AugmentConfig(jpeg_probability=0.5))
    transform = pipeline.full_transform(config, topology.BLAZEPOSE_33, training)
    dataset = tf.data.Dataset.range(4).map(
        lambda i: transform({**_features(points, encoded), "seed": tf.stack(
            [tf.constant(7, tf.int64), i])}), num_parallel_calls=4, deterministic=True)
    first = [b["image"].numpy() for b in dataset]
    second = [b["image"].numpy() for b in dataset]
    for a, b in zip(first, second):  # float reductions may split work differently: 1 ulp
        np.testing.assert_allclose(a, b, atol=1e-6)
    evaluation_only = set() if training else {"area"}
    assert set(next(iter(dataset))) == {"image", "heatmap", "heatmap_weight", "landmarks",
                                        "visibility", "labelled"} | evaluation_only
    differs = any(not np.array_equal(first[0], other) for other in first[1:])
    assert differs == training, "augmentation varies per example only in training"


@pytest.mark.parametrize("mode", ["eager", "map"])
def test_batched_colour_and_noise_draw_per_image(mode):
    """On a batch, each image gets its own parameters and only the chosen ones change."""
    rng = np.random.default_rng(0)
    batch = {"image": tf.constant(np.repeat(rng.random((1, 32, 32, 3), dtype=np.float32), 8, 0)),
             "seed": tf.constant([[3, i] for i in range(8)], tf.int64)}
    half = AugmentConfig(colour_probability=0.5, noise_probability=0.5)
    for op in (ops.adjust_colour, ops.add_noise):
        if mode == "eager":
            out = op(batch, half)["image"].numpy()
        else:
            out = next(iter(tf.data.Dataset.from_tensors(batch).map(lambda b, op=op: op(b, half))))[
                "image"].numpy()
        changed = [not np.array_equal(image, batch["image"].numpy()[0]) for image in out]
        assert 0 < sum(changed) < 8, (op.__name__, changed)
        altered = [image for image, c in zip(out, changed) if c]
        assert len(altered) < 2 or not np.array_equal(altered[0], altered[1])


def test_make_targets_batched_equals_per_example():
    from blazepose.data.config import TargetConfig

    rng = np.random.default_rng(1)
    keypoints = rng.uniform(-20, 280, (3, 5, 2)).astype(np.float32)
    labelled = rng.random((3, 5)) > 0.3
    config = TargetConfig(offsets=True)
    batched = ops.make_targets({"keypoints": keypoints, "labelled": labelled}, config, 256)
    for index in range(3):
        single = ops.make_targets({"keypoints": keypoints[index], "labelled": labelled[index]},
                                  config, 256)
        for key in ("heatmap", "offsets", "offset_mask", "landmarks", "heatmap_weight"):
            np.testing.assert_allclose(batched[key][index], single[key], atol=1e-6, err_msg=key)


def _to_index(matrix):
    """Crop pixel index -> source pixel index, for ImageProjectiveTransformV3."""
    half = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]], np.float32)
    return np.linalg.inv(half) @ matrix @ half


@pytest.mark.parametrize("angle, side, size, exact", [
    (0.5, 60.0, 48, True),     # window fits the smaller buffer: one bilinear step, as TF's
    (-2.0, 60.0, 48, True),    # partly outside the image: fill value
    (0.3, 200.0, 48, True),    # the whole image, in the larger buffer: still one step
    (0.3, 200.0, 32, False),   # window larger than every buffer: resized first, then warped
])
def test_projective_warp_matches_tf_kernel(angle, side, size, exact):
    """The XLA gather warp samples like ImageProjectiveTransformV3 (to rounding), fill included,
    whichever buffer the window is laid out in."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:120, 0:160].astype(np.float32)
    smooth = np.stack([xx * 1.5, yy * 2.0, 128 + 60 * np.sin(xx / 9.0 + yy / 13.0)], -1)
    image = np.clip(smooth + rng.normal(0, 2, smooth.shape), 0, 255).astype(np.uint8)
    crop = CropConfig(size=size, fill_value=37)
    cos, sin, scale = np.cos(angle), np.sin(angle), side / crop.size
    centre = np.array([100.0, 50.0]) if side < 100 else np.array([80.0, 60.0])
    linear = np.array([[cos, -sin], [sin, cos]]) * scale
    translation = centre - linear @ [crop.size / 2, crop.size / 2]
    matrix = np.eye(3, dtype=np.float32)
    matrix[:2, :2], matrix[:2, 2] = linear, translation
    features = {"jpeg": tf.io.encode_png(image), "crop_matrix": tf.constant(matrix),
                "keypoints": tf.zeros([1, 2]), "visibility": tf.ones([1])}
    out = ops.decode_crop_and_warp(features, crop)
    warped = out["image"]
    np.testing.assert_allclose(out["crop_matrix"], matrix)
    transform = _to_index(matrix).reshape(9)[:8].astype(np.float32)
    expected = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None].astype(np.float32), transforms=transform[None],
        output_shape=[crop.size, crop.size], fill_value=37.0, interpolation="BILINEAR",
        fill_mode="CONSTANT")[0].numpy()
    difference = np.abs(warped.numpy().astype(np.float32) - expected)
    if exact:  # the same samples, rounded to uint8
        assert difference.max() <= 1.0, difference.max()
    else:  # interpolating twice differs a little inside, more where the image meets the fill
        assert np.median(difference) <= 1.0
        assert np.mean(difference <= 3.0) > 0.97, np.mean(difference <= 3.0)
    assert (warped.numpy() == 37).all(axis=-1).any() == (expected == 37).all(axis=-1).any()


def test_evaluation_keeps_the_person_area_in_crop_pixels():
    """A source area (COCO's, for OKS) is rescaled by the crop: crop side 256 over a person box
    of 100 px x 1.25 makes every source pixel (256 / 125)² crop pixels²."""
    points = _random_points(seed=2)
    _, encoded = _dotted_image(points, encode="png")
    features = _features(points, encoded)
    features["person_box"] = tf.constant([50.0, 60.0, 150.0, 160.0])
    transform = pipeline.example_transform(PipelineConfig(), topology.BLAZEPOSE_33, False)
    seed = tf.constant([0, 1], tf.int64)
    out = transform({**features, "area": tf.constant(900.0), "seed": seed})
    # The unrotated crop reads whole source pixels: its applied scale is off by < 1 % per axis.
    np.testing.assert_allclose(out["area"], 900.0 * (256 / 125.0) ** 2, rtol=0.03)
    unknown = transform({**features, "seed": seed})
    assert float(unknown["area"]) == -1.0


def _op_types(graph_def) -> list[str]:
    """Every op type in a graph and its function library (cond branches included)."""
    types = [node.op for node in graph_def.node]
    for function in graph_def.library.function:
        types.extend(node.op for node in function.node_def)
    return types


def test_a_non_jpeg_source_is_decoded_once():
    """A PNG's size and its crop window come from one decode (it used to be decoded twice,
    once only to learn its size); a JPEG is decoded through its window only."""
    points = _random_points(seed=4)
    image, encoded = _dotted_image(points, encode="png")
    features = ops.sample_crop(_features(points, encoded), CropConfig(), None)
    crop = tf.function(lambda f: ops.decode_crop_and_warp(f, CropConfig()))
    graph = crop.get_concrete_function(features).graph.as_graph_def()
    types = _op_types(graph)
    assert types.count("DecodeImage") == 1, types
    assert "DecodeJpeg" not in types  # JPEGs: DecodeAndCropJpeg of the window
    # The decoded PNG's pixels reach the crop.
    out = crop(features)
    assert out["image"].shape == (256, 256, 3)
    assert int(tf.reduce_max(out["image"])) == int(image.max())


@pytest.mark.parametrize("encode, crop, framing", [
    ("jpeg", CropConfig(), "box"),
    ("png", CropConfig(framing="mediapipe"), "mediapipe"),
    ("png", CropConfig(size=48), "box"),  # non-JPEG windows too large for the warp buffers
])
def test_compiled_example_geometry_agrees_with_the_uncompiled_ops(encode, crop, framing):
    """The XLA-compiled framing and warp plan (PipelineConfig.compile_example_geometry) give
    the crops of the op-by-op graph: same random choices, flips, record checks and labels;
    keypoints and matrices to float rounding (XLA's cos, sin and exp differ from TF's by an
    ulp); a rounding that lands differently moves a bilinear sample by ~1e-5 pixel, so a few
    pixel values differ by one level."""
    del framing  # (in the test id)
    augment = AugmentConfig(rotation_probability=0.5, max_rotation_degrees=40.0,
                            scale_probability=0.7, shift_probability=0.7, flip_probability=0.5,
                            occlusion_probability=0.3, blur_probability=0.3,
                            noise_probability=0.3)
    points = _random_points(seed=11)
    _, encoded = _dotted_image(points, encode=encode)

    def crops(compiled):
        config = PipelineConfig(crop=crop, augment=augment, compile_example_geometry=compiled)
        transform = pipeline.example_transform(config, topology.BLAZEPOSE_33, True)
        function = tf.function(transform)
        features = {**_features(points, encoded), "seed": tf.constant([3, 0], tf.int64)}
        nodes = len(function.get_concrete_function(features).graph.as_graph_def().node)
        dataset = tf.data.Dataset.range(24).map(lambda i: transform(
            {**_features(points, encoded), "seed": tf.stack([tf.constant(3, tf.int64), i])}))
        return nodes, list(dataset.as_numpy_iterator())

    compiled_nodes, compiled = crops(True)
    plain_nodes, plain = crops(False)
    # The framing and plan really are compiled calls, not the op-by-op graph.
    assert compiled_nodes < plain_nodes / 2, (compiled_nodes, plain_nodes)
    assert len({bool(c["flip"]) for c in plain}) == 2  # both kinds of crop were drawn
    identical = []
    for a, b in zip(compiled, plain):
        for key in ("flip", "problem", "labelled", "seed"):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        np.testing.assert_allclose(a["keypoints"], b["keypoints"], atol=1e-3)
        # A keypoint on the crop's border (to rounding) may fall either side of it.
        border = np.any(np.minimum(np.abs(b["keypoints"]),
                                   np.abs(b["keypoints"] - crop.size)) < 1e-3, axis=-1)
        np.testing.assert_array_equal(a["visibility"][~border], b["visibility"][~border])
        difference = np.abs(a["image"].astype(int) - b["image"].astype(int))
        assert difference.max() <= 2, difference.max()
        identical.append(np.mean(difference == 0))
    assert np.mean(identical) > 0.999, np.mean(identical)
