"""lsp: Leeds Sports Pose (2,000 images, 14 joints) in the project's shared pose layout.

Build (the archive extracted into the manual dir; see README.md)::

    tfds build datasets_tfds/lsp --manual_dir=/path/to/folder --data_dir=/path/to/out
    tfds build datasets_tfds/lsp --config=tf_blazepose_merged --manual_dir=... --data_dir=...

Each example is one image and its one annotated person (``datasets_tfds.common``,
``pose_features(14)``): keypoints float32 ``[14, 2]`` in ``LSP_14`` order, continuous pixel
coordinates (the file's 1-based MATLAB values - 0.5); visibility float32 ``[14]`` (1 - the
file's flag: LSP's flag 1 means occluded); labelled bool ``[14]`` (all joints are placed);
person_box float32 ``[4]`` from the joints' extent clipped to the image. Reading and splitting
live in ``datasets_tfds.lsp_common`` (shared with the lspet builder).
"""

from __future__ import annotations

import tensorflow_datasets as tfds
from etils import epath

from blazepose.topology import LSP_14
from datasets_tfds import lsp_common
from datasets_tfds.custom_pose.annotation_files import PersonRecord
from datasets_tfds.pose_builder import PoseBuilder

_MANUAL_DOWNLOAD_INSTRUCTIONS = """\
LSP cannot be downloaded automatically (see its terms on the page below). Download
lsp_dataset.zip from http://sam.johnson.io/research/lsp.html and extract it into the manual dir,
either directly or into a folder lsp_dataset/:

    MANUAL_DIR/joints.mat            (or MANUAL_DIR/lsp_dataset/joints.mat)
    MANUAL_DIR/images/im0001.jpg .. im2000.jpg   (beside joints.mat)

joints.mat holds the MATLAB array `joints`, 3 x 14 x 2000 (x, y, flag; flag 1 = occluded).

Config tf_blazepose_merged also needs LSP Extended: download lspet_dataset.zip from
http://sam.johnson.io/research/lspet.html and extract both archives into their folders:

    MANUAL_DIR/lsp_dataset/joints.mat     MANUAL_DIR/lsp_dataset/images/im0001.jpg ...
    MANUAL_DIR/lspet_dataset/joints.mat   MANUAL_DIR/lspet_dataset/images/im00001.jpg ...
"""

ORIGINAL = tfds.core.BuilderConfig(
    name="original",
    description="LSP's own split: im0001-im1000 train, im1001-im2000 test.",
)
# Not listed (Builder.UNLISTED_CONFIGS): `tfds build` without --config builds every listed config,
# and this one needs LSP Extended too; --config=tf_blazepose_merged finds it.
TF_BLAZEPOSE_MERGED = tfds.core.BuilderConfig(
    name="tf_blazepose_merged",
    description="LSP + LSP Extended as tf-blazepose's tools/split_lsp_lspet.py split them: "
                "train 1800 + 3739, validation 100 + 100, test 100 + 100.",
)


class Builder(PoseBuilder):
    """DatasetBuilder for Leeds Sports Pose in the manual dir (README.md, CITATIONS.bib)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "LSP's own split and tf-blazepose's merged LSP + LSPET split."}
    UNLISTED_CONFIGS = (TF_BLAZEPOSE_MERGED,)
    BUILDER_CONFIGS = [ORIGINAL]
    MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_DOWNLOAD_INSTRUCTIONS
    TOPOLOGY = LSP_14
    HOMEPAGE = lsp_common.LSP.homepage

    def _split_sources(self, manual_dir: epath.Path) -> dict[str, list[PersonRecord]]:
        if self.builder_config.name == TF_BLAZEPOSE_MERGED.name:
            plan = lsp_common.plan_tf_blazepose_merged(manual_dir, self.name)
        else:
            plan = lsp_common.plan_original(manual_dir, lsp_common.LSP, self.name)
        self.info.metadata["source"] = plan.summary
        return plan.splits
