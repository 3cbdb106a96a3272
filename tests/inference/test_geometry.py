"""Crop geometry: ROI rule, rotated crop and projection back, letterbox, mask back to the image."""

import math

import cv2
import numpy as np
import pytest

from blazepose.inference import geometry


def _roi(kp0, kp1, width=640, height=480):
    """MediaPipe's NormalizedRect of the crop for normalised keypoints 0 and 1."""
    pixels = np.array([kp0, kp1]) * [width, height]
    return geometry.roi_from_keypoints(pixels[0], pixels[1]).normalized(width, height)


def test_roi_upright_person_on_a_landscape_image():
    roi = _roi([0.5, 0.6], [0.5, 0.4])
    distance = 0.2 * 480  # pixels
    assert roi["rotation"] == pytest.approx(0.0, abs=1e-12)
    assert (roi["x_center"], roi["y_center"]) == pytest.approx((0.5, 0.6))
    assert roi["width"] == pytest.approx(2.5 * distance / 640)
    assert roi["height"] == pytest.approx(2.5 * distance / 480)


@pytest.mark.parametrize("kp1, rotation", [
    ([0.6, 0.5], math.pi / 2),  # lying, head to the right
    ([0.4, 0.5], -math.pi / 2),  # lying, head to the left
    ([0.5, 0.7], -math.pi),  # upside down: MediaPipe normalises into [-pi, pi)
    ([0.5 + 48 / 640, 0.5 - 48 / 480], math.pi / 4),  # 45 degrees in pixels, not in [0, 1]^2
])
def test_roi_rotation(kp1, rotation):
    assert _roi([0.5, 0.5], kp1)["rotation"] == pytest.approx(rotation, abs=1e-12)


def test_normalize_radians():
    angles = [3 * math.pi / 2, -3 * math.pi / 2, math.pi, -math.pi, 0.25, 2.5 * math.pi]
    expected = [-math.pi / 2, math.pi / 2, -math.pi, -math.pi, 0.25, math.pi / 2]
    assert [geometry.normalize_radians(a) for a in angles] == pytest.approx(expected, abs=1e-12)


def test_upright_person_gives_an_unrotated_crop_and_head_to_the_right_a_quarter_turn():
    upright = geometry.roi_from_keypoints((100, 200), (100, 120))  # kp1 straight above kp0
    assert upright.rotation == pytest.approx(0.0)
    assert upright.size == pytest.approx(2 * 80 * 1.25)
    lying = geometry.roi_from_keypoints((100, 200), (180, 200))  # head to the image's right
    assert lying.rotation == pytest.approx(math.pi / 2)
    # The crop's "up" (row 0) is on the head's side.
    top_centre = geometry.project_points(np.array([0.5, 0.0]), lying)
    assert top_centre[0] > lying.center_x + 0.4 * lying.size


ROIS = [geometry.Roi(150.3, 110.7, 120.0, 0.0), geometry.Roi(151.2, 120.4, 96.5, 0.7),
        geometry.Roi(170.0, 100.0, 150.0, -2.4), geometry.Roi(140.0, 125.0, 80.0, math.pi / 2)]


@pytest.mark.parametrize("roi", ROIS)
def test_crop_samples_exactly_where_projection_says(roi):
    """On linear ramps bilinear sampling is exact: crop pixel (row i, col j) must hold the image
    coordinate that project_points gives for the crop point ((j + 0.5) / S, (i + 0.5) / S)."""
    height, width, size = 240, 320, 64
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([cols + 0.5, rows + 0.5, np.zeros_like(rows)], axis=-1)  # pixel centres
    crop = geometry.crop_image(image, roi, size, sampling="pixel_centers")
    grid = (np.stack(np.meshgrid(np.arange(size), np.arange(size)), axis=-1) + 0.5) / size
    expected = geometry.project_points(grid, roi)
    inside = ((expected[..., 0] > 1) & (expected[..., 0] < width - 1)
              & (expected[..., 1] > 1) & (expected[..., 1] < height - 1))
    assert inside.mean() > 0.9
    np.testing.assert_allclose(crop[..., :2][inside], expected[inside], atol=2e-3)
    np.testing.assert_allclose(geometry.unproject_points(expected, roi), grid, atol=1e-9)


@pytest.mark.parametrize("roi", ROIS[1:])
def test_dots_cropped_with_a_rotated_roi_project_back_onto_themselves(roi):
    """Draw round dots at sub-pixel positions, crop, find them in the crop (intensity centroid),
    project the crop positions back: the image positions come back."""
    height, width, size = 240, 320, 128
    scale = 8  # draw at 8x and area-downsample: anti-aliased dots with exact centroids
    rng = np.random.default_rng(1)
    grid = np.stack(np.meshgrid([0.25, 0.5, 0.75], [0.3, 0.7]), axis=-1).reshape(-1, 2)
    crop_points = grid + rng.uniform(-0.03, 0.03, grid.shape)  # apart: one dot per window
    image_points = geometry.project_points(crop_points, roi)
    big = np.zeros((height * scale, width * scale), np.uint8)
    for x, y in image_points:
        centre = (int(round((x * scale - 0.5) * 16)), int(round((y * scale - 0.5) * 16)))
        cv2.circle(big, centre, 3 * scale * 16, 255, -1, cv2.LINE_AA, 4)
    image = cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)
    crop = geometry.crop_image(image, roi, size, sampling="pixel_centers")
    found = []
    for u, v in crop_points:
        col, row = int(u * size), int(v * size)
        half = int(5 * size / roi.size) + 3
        window = crop[row - half:row + half + 1, col - half:col + half + 1]
        rows, cols = np.mgrid[row - half:row + half + 1, col - half:col + half + 1]
        total = window.sum()
        found.append([((cols + 0.5) * window).sum() / total / size,
                      ((rows + 0.5) * window).sum() / total / size])
    back = geometry.project_points(np.array(found), roi)
    np.testing.assert_allclose(back, image_points, atol=0.05)


def test_landmarks_z_scales_with_the_crop_and_world_landmarks_turn_with_it():
    roi = geometry.Roi(200.0, 150.0, 512.0, 0.9)
    crop_landmarks = np.array([[0.5, 0.25, 0.1, 0.8, 0.9], [0.25, 0.5, -0.05, 0.1, 0.2]])
    projected = geometry.project_landmarks(crop_landmarks, roi)
    assert projected.dtype == np.float32
    np.testing.assert_allclose(projected[:, 2], crop_landmarks[:, 2] * 512.0, rtol=1e-6)
    np.testing.assert_allclose(projected[:, 3:], crop_landmarks[:, 3:], rtol=1e-6)
    # A metric vector pointing up in the crop points where the crop's "up" is in the image.
    world = geometry.rotate_world_landmarks(np.array([[0.0, -1.0, 0.3]]), roi.rotation)
    image_up = projected[0, :2] - np.array([roi.center_x, roi.center_y])
    np.testing.assert_allclose(world[0, :2] / np.linalg.norm(world[0, :2]),
                               image_up / np.linalg.norm(image_up), atol=1e-6)
    assert world[0, 2] == pytest.approx(0.3)


@pytest.mark.parametrize("width, height", [(200, 120), (90, 180)])
def test_letterbox_removal_recovers_image_coordinates(width, height):
    rows, cols = np.mgrid[0:height, 0:width]
    # float32 ramps: OpenCV resizes float images exactly (uint8 only to +-0.7 levels).
    image = np.stack([cols, rows, np.zeros_like(rows)], axis=-1).astype(np.float32)
    square, letterbox = geometry.letterbox_image(image, 224, sampling="pixel_centers")
    assert square.shape == (224, 224, 3) and square.dtype == np.float32
    left, top, right, bottom = letterbox.padding
    assert min(left, right) == 0.0 or min(top, bottom) == 0.0
    assert square[0, 0, 0] == -1.0  # the border (both test images need one)
    size = 224
    grid = (np.stack(np.meshgrid(np.arange(size), np.arange(size)), axis=-1) + 0.5) / size
    in_image = letterbox.remove(grid) * [width, height] - 0.5  # image pixel indices
    inside = ((in_image[..., 0] > 1) & (in_image[..., 0] < width - 2)
              & (in_image[..., 1] > 1) & (in_image[..., 1] < height - 2))
    values = (square[..., :2] + 1.0) * 127.5
    np.testing.assert_allclose(values[inside], in_image[inside], atol=1e-3)


@pytest.mark.parametrize("roi", ROIS)
def test_mediapipe_sampling_maps_the_corners_onto_pixel_indices(roi):
    """MediaPipe's warp: crop pixel (row i, col j) holds the image *index* at the continuous crop
    point (j / S, i / S): the pixel-centre crop moved by half a crop step against the crop's axes
    and half an image pixel along the image's."""
    height, width, size = 240, 320, 64
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([cols, rows, np.zeros_like(rows)], axis=-1)  # pixel indices
    crop = geometry.crop_image(image, roi, size)  # sampling="mediapipe" is the default
    grid = np.stack(np.meshgrid(np.arange(size), np.arange(size)), axis=-1) / size
    expected = geometry.project_points(grid, roi)
    inside = ((expected[..., 0] > 1) & (expected[..., 0] < width - 2)
              & (expected[..., 1] > 1) & (expected[..., 1] < height - 2))
    assert inside.mean() > 0.8
    # OpenCV's bilinear weights are fixed point (1/32 pixel).
    np.testing.assert_allclose(crop[..., :2][inside], expected[inside], atol=0.04)
    centred = geometry.crop_image(image, roi, size, sampling="pixel_centers")
    cos, sin = math.cos(roi.rotation), math.sin(roi.rotation)
    # Half a crop step along the crop's axes (R @ (1, 1)), less half an image pixel.
    shift = roi.size / size / 2.0 * np.array([cos - sin, sin + cos]) - 0.5
    np.testing.assert_allclose((centred[..., :2] - crop[..., :2])[inside].mean(axis=0), shift,
                               atol=0.02)


@pytest.mark.parametrize("width, height", [(200, 120), (90, 180), (1769, 994)])
def test_mediapipe_letterbox_has_fractional_padding_and_removes_exactly(width, height):
    rows, cols = np.mgrid[0:height, 0:width]
    image = np.stack([cols, rows, np.zeros_like(rows)], axis=-1).astype(np.float32)
    square, letterbox = geometry.letterbox_image(image, 224)
    side = max(width, height)
    left, top, right, bottom = letterbox.padding
    assert (left, top) == pytest.approx(((1 - width / side) / 2, (1 - height / side) / 2))
    assert (right, bottom) == (left, top)
    assert square[0, 0, 0] == -1.0 or min(width, height) == side
    # Tensor index k samples image index k * side / 224 (+ the offset of the centred square).
    grid = np.stack(np.meshgrid(np.arange(224), np.arange(224)), axis=-1) / 224.0
    in_image = letterbox.remove(grid) * [width, height]
    inside = ((in_image[..., 0] > 1) & (in_image[..., 0] < width - 2)
              & (in_image[..., 1] > 1) & (in_image[..., 1] < height - 2))
    values = (square[..., :2] + 1.0) * 127.5
    np.testing.assert_allclose(values[inside], in_image[inside], atol=0.04 * side / 224 + 1e-3)


def test_unknown_sampling_is_refused():
    with pytest.raises(ValueError, match="sampling"):
        geometry.crop_image(np.zeros((8, 8, 3), np.uint8), ROIS[0], 4, sampling="nearest")


def test_crop_mask_goes_back_onto_the_rotated_square():
    roi = geometry.Roi(160.0, 120.0, 100.0, 0.5)
    mask = geometry.crop_mask_to_image(np.ones((64, 64), np.float32), roi, 320, 240)
    assert mask.shape == (240, 320) and mask.dtype == np.float32
    polygon = np.zeros((240, 320), np.uint8)
    cv2.fillPoly(polygon, [np.round(roi.corners() - 0.5).astype(np.int32)], 1)
    inside = mask > 0.5
    iou = (inside & (polygon > 0)).sum() / (inside | (polygon > 0)).sum()
    assert iou > 0.97
    assert mask[0, 0] == 0.0
