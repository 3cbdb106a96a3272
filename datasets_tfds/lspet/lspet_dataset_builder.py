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

from collections.abc import Iterator
from typing import Any

import tensorflow_datasets as tfds
from etils import epath

from blazepose.topology import LSP_14
from datasets_tfds import lsp_common
from datasets_tfds.common import pose_features, topology_metadata

_DESCRIPTION = """\
Leeds Sports Pose Extended (Johnson and Everingham, CVPR 2011): 10,000 parkour, gymnastics and
athletics images, each with one person whose visible joints (up to 14) were annotated on Amazon
Mechanical Turk, read from the manual dir in the project's shared pose layout (topology
lsp_14). A training set: every image is in `train`. See datasets_tfds/lspet/README.md.
"""

_CITATION = """\
@inproceedings{Johnson11,
  title = {Learning Effective Human Pose Estimation from Inaccurate Annotation},
  author = {Johnson, Sam and Everingham, Mark},
  year = {2011},
  booktitle = {Proceedings of Computer Vision and Pattern Recognition (CVPR) 2011},
}
"""

_MANUAL_DOWNLOAD_INSTRUCTIONS = """\
LSP Extended cannot be downloaded automatically (see its terms on the page below). Download
lspet_dataset.zip from http://sam.johnson.io/research/lspet.html and extract it into the manual
dir, either directly or into a folder lspet_dataset/:

    MANUAL_DIR/joints.mat          (or MANUAL_DIR/lspet_dataset/joints.mat)
    MANUAL_DIR/images/im00001.jpg .. im10000.jpg   (beside joints.mat)

joints.mat holds the MATLAB array `joints`, 14 x 3 x 10000 (x, y, flag; flag 1 = visible).
"""


class Builder(tfds.core.GeneratorBasedBuilder):
    """DatasetBuilder for Leeds Sports Pose Extended in the manual dir."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Every LSPET image in train; only flagged-visible joints labelled."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_DOWNLOAD_INSTRUCTIONS

    # TFDS 4.9.10 finds a packaged builder's file through `importlib_resources`, a package it
    # only requires on Python < 3.9; stating the file (what its fallback finds) avoids that.
    code_path = epath.Path(__file__)

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=_DESCRIPTION,
            features=pose_features(LSP_14.num_keypoints),
            homepage=lsp_common.LSPET.homepage,
            citation=_CITATION,
            metadata=topology_metadata(LSP_14),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager
                          ) -> dict[str, Iterator[tuple[str, dict[str, Any]]]]:
        plan = lsp_common.plan_original(epath.Path(dl_manager.manual_dir), lsp_common.LSPET,
                                        self.name)
        self.info.metadata["source"] = plan.summary
        return {split: self._generate_examples(records) for split, records in plan.splits.items()}

    def _generate_examples(self, records) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yields (image_id, example); ``records`` are ``PersonRecord`` of one split."""
        yield from lsp_common.generate_examples(records)
