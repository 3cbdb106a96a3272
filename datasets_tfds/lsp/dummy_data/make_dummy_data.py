"""Writes the lsp builder's dummy data: tiny LSP and LSP Extended releases in the original format.

    python datasets_tfds/lsp/dummy_data/make_dummy_data.py [--out DIR]

Layout (DIR defaults to this script's folder), the archives extracted into their folders::

    lsp_dataset/joints.mat          MATLAB v5 file, variable `joints`: 3 x 14 x 6 double,
                                    joints(:, j, i) = [x; y; flag] of joint j (LSP order) in
                                    image i, flag 0 = visible, 1 = occluded; 1-based pixels
    lsp_dataset/images/im0001.jpg ..   6 synthetic 60x80 pictures (a dot per joint)
    lspet_dataset/                  the lspet builder's dummy release (its make_dummy_data.py)

LSP images and what they exercise (config `original`: im0001-im0003 train, im0004-im0006 test):

    im0001  every joint visible
    im0002  right wrist (joint 6) occluded, flag 1, at (12.25, 41.5)
    im0003  left ankle (joint 5) occluded and outside the image at x = -2.0 (still placed);
            tf-blazepose's filter (all x and y > 0) drops this image
    im0004  right knee and neck occluded
    im0005  every joint visible
    im0006  left elbow occluded

Config `tf_blazepose_merged`: 5 LSP images and 3 LSPET images pass the filter; each source gives
1 validation and 1 test image, the rest train (train 3 + 1, validation 1 + 1, test 1 + 1).
The output is deterministic, so re-running the script reproduces the committed files.
"""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np

from datasets_tfds.dummy_data_tools import run_script, write_jpeg

NUM_IMAGES = 6
LSPET_SCRIPT = (pathlib.Path(__file__).resolve().parents[2] / "lspet" / "dummy_data"
                / "make_dummy_data.py")
MAT_HEADER = b"MATLAB 5.0 MAT-file, written by datasets_tfds/lsp/dummy_data/make_dummy_data.py"

RIGHT_KNEE, LEFT_ANKLE, RIGHT_WRIST, LEFT_ELBOW, NECK = 1, 5, 6, 10, 12


def lspet_script():
    """The lspet dummy-data script as a module (it writes the LSPET part and the .mat files)."""
    spec = importlib.util.spec_from_file_location("lspet_make_dummy_data", LSPET_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lsp_joints(stick_figure: np.ndarray) -> np.ndarray:
    """float64 ``[N, 14, 3]``: (x, y, flag) per image and joint, flag 1 = occluded."""
    joints = np.zeros((NUM_IMAGES, 14, 3))
    for image in range(NUM_IMAGES):
        joints[image, :, :2] = stick_figure + [1.5 - image, 0.25 * image]
    joints[1, RIGHT_WRIST] = [12.25, 41.5, 1.0]
    joints[2, LEFT_ANKLE] = [-2.0, 74.0, 1.0]
    joints[3, [RIGHT_KNEE, NECK], 2] = 1.0
    joints[5, LEFT_ELBOW, 2] = 1.0
    return joints


def write_lsp_folder(folder: pathlib.Path, lspet) -> None:
    """``joints.mat`` (3 x 14 x N) and ``images/im0001.jpg`` .. in ``folder``."""
    joints = lsp_joints(lspet.STICK_FIGURE)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    lspet.write_mat(folder / "joints.mat", np.transpose(joints, (2, 1, 0)), MAT_HEADER)
    for index in range(NUM_IMAGES):
        shown = joints[index].copy()
        shown[:, 2] = 1.0  # the picture marks every placed joint, occluded or not
        write_jpeg(folder / "images" / f"im{index + 1:04d}.jpg", lspet.picture(shown, 20 * index),
                   quality=60)


def write_folder(out: pathlib.Path) -> None:
    """LSP in ``out/lsp_dataset`` and LSP Extended in ``out/lspet_dataset``."""
    lspet = lspet_script()
    write_lsp_folder(out / "lsp_dataset", lspet)
    lspet.write_folder(out / "lspet_dataset")


if __name__ == "__main__":
    run_script(write_folder, __doc__, __file__)
