"""Writes the lspet builder's dummy data: a tiny LSP Extended release in the original format.

    python datasets_tfds/lspet/dummy_data/make_dummy_data.py [--out DIR]

Layout (DIR defaults to this script's folder), as lspet_dataset.zip extracts::

    joints.mat               MATLAB v5 file, variable `joints`: 14 x 3 x 6 double,
                             joints(j, :, i) = [x, y, flag] of joint j (LSP order) in image i,
                             flag 1 = visible, 0 = not annotated; 1-based pixel coordinates
    images/im00001.jpg ..    6 synthetic 60x80 pictures (flat colours, a dot per placed joint)

Images and what they exercise:

    im00001  every joint visible; the neck (joint 12) at (30.5, 17.25)
    im00002  left knee and left ankle missing: flag 0 at (0, 0)
    im00003  right elbow with flag 0 at a plausible position (29.0, 31.0): not annotated
    im00004  head top missing, marked (-1, 0) with flag 0
    im00005  no joint annotated: every flag 0, every coordinate 0
    im00006  every joint visible; the left wrist at x = 59.75, on the last pixel column

tf-blazepose's filter (all x and y > 0) keeps im00001, im00003 and im00006.
The output is deterministic (the .mat header text is fixed, JPEGs are encoded by TensorFlow),
so re-running the script reproduces the committed files.
"""

from __future__ import annotations

import pathlib

import numpy as np

from datasets_tfds.dummy_data_tools import mat_file_bytes, run_script, write_jpeg

WIDTH, HEIGHT = 60, 80
NUM_IMAGES = 6
MAT_HEADER = b"MATLAB 5.0 MAT-file, written by datasets_tfds/lspet/dummy_data/make_dummy_data.py"

# A person facing the camera, 1-based MATLAB pixel coordinates (x, y), in LSP's joint order:
# right ankle, right knee, right hip, left hip, left knee, left ankle, right wrist, right elbow,
# right shoulder, left shoulder, left elbow, left wrist, neck, head top. The person's right is
# on the image's left.
STICK_FIGURE = np.array([
    [22, 74], [23, 58], [25, 42], [35, 42], [37, 58], [38, 74],
    [14, 40], [17, 30], [22, 20], [38, 20], [43, 30], [46, 40],
    [30, 17], [30, 5],
], np.float64)  # fmt: skip

RIGHT_ELBOW, LEFT_KNEE, LEFT_ANKLE, LEFT_WRIST, NECK, HEAD_TOP = 7, 4, 5, 11, 12, 13


def lspet_joints() -> np.ndarray:
    """float64 ``[N, 14, 3]``: (x, y, flag) per image and joint, before MATLAB's orientation."""
    joints = np.zeros((NUM_IMAGES, 14, 3))
    for image in range(NUM_IMAGES):
        joints[image, :, :2] = STICK_FIGURE + [image - 2.0, 0.5 * image]
        joints[image, :, 2] = 1.0
    joints[0, NECK] = [30.5, 17.25, 1.0]
    joints[1, [LEFT_KNEE, LEFT_ANKLE]] = [0.0, 0.0, 0.0]
    joints[2, RIGHT_ELBOW] = [29.0, 31.0, 0.0]
    joints[3, HEAD_TOP] = [-1.0, 0.0, 0.0]
    joints[4] = 0.0
    joints[5, LEFT_WRIST] = [59.75, 40.0, 1.0]
    return joints


def picture(joints: np.ndarray, shade: int) -> np.ndarray:
    """uint8 ``[80, 60, 3]``: a flat background and a 3x3 dot on each annotated joint."""
    image = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    image[:] = (40 + shade, 90, 140 - shade)
    for x, y, flag in joints:
        if flag == 1 and x > 0 and y > 0:
            column, row = int(x) - 1, int(y) - 1  # 1-based pixel -> 0-based index
            image[max(row - 1, 0):row + 2, max(column - 1, 0):column + 2] = (250, 230, 40)
    return image


def write_mat(path: pathlib.Path, joints_in_file_orientation: np.ndarray,
              header: bytes = MAT_HEADER) -> None:
    """A MATLAB v5 file holding `joints`, with ``header`` as its header text."""
    path.write_bytes(mat_file_bytes({"joints": joints_in_file_orientation}, header,
                                    compress=False))


def write_folder(folder: pathlib.Path) -> None:
    """``joints.mat`` (14 x 3 x N) and ``images/im00001.jpg`` .. in ``folder``."""
    joints = lspet_joints()
    (folder / "images").mkdir(parents=True, exist_ok=True)
    write_mat(folder / "joints.mat", np.transpose(joints, (1, 2, 0)))  # [i, j, c] -> (j, c, i)
    for index in range(NUM_IMAGES):
        write_jpeg(folder / "images" / f"im{index + 1:05d}.jpg", picture(joints[index], 12 * index),
                   quality=60)


if __name__ == "__main__":
    run_script(write_folder, __doc__, __file__)
