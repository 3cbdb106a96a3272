"""lspet: Leeds Sports Pose Extended (10,000 images, 14 joints) in the shared pose layout.

Build (the archive extracted into the manual dir; see README.md)::

    tfds build datasets_tfds/lspet --manual_dir=/path/to/folder --data_dir=/path/to/out

Each example is one image and its one annotated person (``datasets_tfds.common``,
``pose_features(14)``): keypoints float32 ``[14, 2]`` in ``LSP_14`` order, continuous pixel
coordinates (the file's 1-based MATLAB values - 0.5); labelled bool ``[14]``: True where the
file's flag is 1 (LSPET's annotators placed visible joints only; flag 0 and the coordinate
markers of missing joints give False); visibility float32 ``[14]``: 1 where labelled;
person_box float32 ``[4]`` from the labelled joints' extent clipped to the image (the whole
image when none is labelled). LSPET has no test split: every image is in ``train``.
"""

from __future__ import annotations

import tensorflow_datasets as tfds
from etils import epath

from blazepose.topology import LSP_14
from datasets_tfds import lsp_common
from datasets_tfds.custom_pose.annotation_files import PersonRecord
from datasets_tfds.pose_builder import PoseBuilder

_MANUAL_DOWNLOAD_INSTRUCTIONS = """\
LSP Extended cannot be downloaded automatically (see its terms on the page below). Download
lspet_dataset.zip from http://sam.johnson.io/research/lspet.html and extract it into the manual
dir, either directly or into a folder lspet_dataset/:

    MANUAL_DIR/joints.mat          (or MANUAL_DIR/lspet_dataset/joints.mat)
    MANUAL_DIR/images/im00001.jpg .. im10000.jpg   (beside joints.mat)

joints.mat holds the MATLAB array `joints`, 14 x 3 x 10000 (x, y, flag; flag 1 = visible).
"""


class Builder(PoseBuilder):
    """DatasetBuilder for Leeds Sports Pose Extended in the manual dir (README.md)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Every LSPET image in train; only flagged-visible joints labelled."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_DOWNLOAD_INSTRUCTIONS
    TOPOLOGY = LSP_14
    HOMEPAGE = lsp_common.LSPET.homepage

    def _split_sources(self, manual_dir: epath.Path) -> dict[str, list[PersonRecord]]:
        plan = lsp_common.plan_original(manual_dir, lsp_common.LSPET, self.name)
        self.info.metadata["source"] = plan.summary
        return plan.splits
