"""custom_pose: a user's own keypoint data, in the tf-blazepose layout or COCO format, no code.

Build (the data folder is the manual dir; see README.md for every option)::

    tfds build datasets_tfds/custom_pose --manual_dir=/path/to/folder --data_dir=/path/to/out

Each example follows ``datasets_tfds.common`` (``pose_features(K)``): one person in one image,
keypoints float32 ``[K, 2]`` in image pixels as written in the annotations, visibility float32
``[K]`` (1 visible, 0 not), labelled bool ``[K]``, person_box float32 ``[4]`` (x_min, y_min,
x_max, y_max in pixels; the file's box, else the labelled keypoints' extent clipped to the
image). The DatasetInfo metadata carries ``topology_metadata`` and, under ``skipped``, what was
left out per split.

K is known before the data is read when the config names a topology (config ``coco_17``, or
``topology`` in a JSON config); otherwise it is found in the data folder when the build starts,
and the features are declared then (a prepared data set always has them, in features.json).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from typing import Any

import tensorflow_datasets as tfds
from absl import logging
from etils import epath

from blazepose.topology import TOPOLOGIES, Topology
from datasets_tfds.common import pose_features, topology_metadata
from datasets_tfds.custom_pose.annotation_files import (
    DEFAULT_IMAGE_DIR,
    IGNORED_KINDS,
    InvalidRecordError,
    SplitRecords,
    examples_by_image,
)
from datasets_tfds.custom_pose.build_plan import (
    BuildPlan,
    SourceOptions,
    changed_sources,
    config_topology,
    plan_build,
    source_fingerprint,
)
from datasets_tfds.pose_builder import PoseBuilder

MAX_LISTED_INVALID_RECORDS = 1000
"""Invalid records listed by name per split in the ``skipped`` metadata (all are counted)."""

_MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Pass your data folder as the manual dir (`tfds build datasets_tfds/custom_pose
--manual_dir=FOLDER`). By default it must hold the tf-blazepose layout:

    FOLDER/images/      the images; records name files relative to this folder
    FOLDER/train.json   split 'train'      (each file is optional, at least one must exist)
    FOLDER/val.json     split 'validation'
    FOLDER/test.json    split 'test'
    FOLDER/topology.json   optional: keypoint names (else chosen by keypoint count)

Each JSON file is a list of {"image": "a.jpg", "points": [[x, y], ...] (K points, [-1, -1] =
not labelled), "visibility": [1, 0, ...] (K values), "bbox": [[x1, y1], [x2, y2]] (optional)},
or a COCO keypoint file (images, annotations with keypoints [x, y, v]*K, categories). Other file
names, COCO files and image folders are chosen with a JSON config: --config='{"name": "mine",
"split_files": {"train": "annotations/train.json"}, "image_dir": "train2017"}'.
"""


@dataclasses.dataclass(eq=False)
class CustomPoseConfig(tfds.core.BuilderConfig):
    """Options of the custom_pose builder; paths are relative to the manual dir or absolute.

    Attributes:
      topology: a registered topology name (``"coco_17"``; see ``blazepose.topology``), an
        inline topology object (``{"name": ..., "keypoints": [...], "edges": [...]}``, the
        schema of ``user_topology``), or None to take ``topology_file``, then
        ``topology.json`` in the folder, then COCO category names, then the keypoint count.
      topology_file: path of a topology JSON file.
      split_files: split name -> annotation JSON file; None for ``train.json`` (train),
        ``val.json`` (validation) and ``test.json`` (test), whichever exist.
      image_dir: folder image names are relative to, or split name -> folder.
      skip_invalid: skip records with bad values or unreadable images, count them and report
        them (log and ``skipped`` metadata) instead of stopping with an error.
      strict: refuse images shared between splits and duplicate records (by default they are
        counted and named in a warning).
    """

    topology: str | dict[str, Any] | None = None
    topology_file: str | None = None
    split_files: dict[str, str] | None = None
    image_dir: str | dict[str, str] = DEFAULT_IMAGE_DIR
    skip_invalid: bool = False
    strict: bool = False

    def source_options(self) -> SourceOptions:
        """The options as the build plan takes them."""
        return SourceOptions(
            topology=self.topology,
            topology_file=self.topology_file,
            split_files=self.split_files,
            image_dir=self.image_dir,
            skip_invalid=self.skip_invalid,
            strict=self.strict,
        )


AUTO_CONFIG = CustomPoseConfig(
    name="auto",
    description="Topology from topology.json, COCO category names or the keypoint count.",
)


@functools.cache
def topology_config(name: str) -> CustomPoseConfig | None:
    """The config that fixes the registered topology ``name`` (one object per name), or None.

    These configs are not in ``BUILDER_CONFIGS``, so that ``tfds build`` without ``--config``
    builds only ``auto``; ``--config=coco_17`` and ``tfds.builder("custom_pose/coco_17")`` find
    them through :meth:`Builder.get_builder_config`.
    """
    if name not in TOPOLOGIES:
        return None
    return CustomPoseConfig(
        name=name,
        topology=name,
        description=f"Keypoints of the registered topology {name}.",
    )


class Builder(PoseBuilder):
    """DatasetBuilder for a user's keypoint data in the manual dir."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {
        "1.0.0": "tf-blazepose layout and COCO keypoint files, any topology.",
        "1.1.0": "COCO keypoints + 0.5 (pixel index -> continuous pixel), as coco_keypoints.",
    }
    BUILDER_CONFIGS = [AUTO_CONFIG]
    MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_DOWNLOAD_INSTRUCTIONS
    CONFIG_CLASS = CustomPoseConfig

    _plan: BuildPlan | None = None

    @classmethod
    def get_builder_config(cls, name: str, version: Any = None) -> tfds.core.BuilderConfig | None:
        """A config of ``BUILDER_CONFIGS``, else the config of a registered topology name."""
        return super().get_builder_config(name, version) or topology_config(name)

    def _topology(self) -> Topology | None:
        """The config's topology, or None when only the data folder tells (see the module)."""
        return config_topology(self.typed_config.source_options())

    def _declare_topology(self, topology: Topology) -> None:
        """Puts the features and topology metadata of ``topology`` into the DatasetInfo.

        When the config fixed the topology they are already there (checked to agree). Else the
        DatasetInfo was created without features, because K is only known from the data
        folder; TFDS offers no setter, so the features are set on its private attribute here,
        before any split writer reads them.
        """
        features = self.info.features
        if features is None:
            self.info._features = pose_features(topology.num_keypoints)
            self.info.metadata.update(topology_metadata(topology))
            return
        declared = self.info.metadata.get("topology")
        if declared != topology.name or features["keypoints"].shape[0] != topology.num_keypoints:
            raise ValueError(f"custom_pose: the DatasetInfo declares topology {declared!r}, the "
                             f"data resolved to {topology.name!r}")

    def download_and_prepare(self, *, download_config: tfds.download.DownloadConfig | None = None,
                             **kwargs) -> None:
        """TFDS's, plus a warning when a prepared data set is reused although the data folder
        it was built from (or the one given now) changed since (:meth:`stale_source`)."""
        config = download_config or tfds.download.DownloadConfig()
        if self.data_path.exists() and not config.download_mode.overwrite_dataset:
            stale = self.stale_source(config.manual_dir)
            if stale:
                logging.warning("%s", stale)
        super().download_and_prepare(download_config=download_config, **kwargs)

    def stale_source(self, manual_dir: epath.PathLike | None = None) -> str | None:
        """Why the prepared data set may not reflect its data folder, or None: files it was
        built from changed (``source`` metadata), or ``manual_dir`` is another folder."""
        recorded = self.info.metadata.get("source") if self.info.metadata else None
        if not recorded:
            return None
        folder = recorded.get("folder")
        problems = []
        if manual_dir is not None and folder and (
                epath.Path(manual_dir).expanduser().resolve() != epath.Path(folder)):
            problems.append(f"it was built from {folder}, not {manual_dir}")
        changed = changed_sources(recorded)
        if changed:
            problems.append(f"{len(changed)} of its source files/folders changed since: "
                            + ", ".join(changed[:5]))
        if not problems:
            return None
        return (f"custom_pose: reusing the data set prepared in {self.data_path}, but "
                + "; ".join(problems) + ". It does not reflect those changes: delete "
                f"{self.data_path} (or tfds build --overwrite) to rebuild it.")

    def _download_and_prepare(self, dl_manager: tfds.download.DownloadManager,
                              download_config: tfds.download.DownloadConfig) -> None:
        folder = epath.Path(dl_manager.manual_dir)
        self._plan = plan_build(folder, self.typed_config.source_options())
        self._declare_topology(self._plan.topology)
        self.info.metadata["source"] = source_fingerprint(self._plan)
        super()._download_and_prepare(dl_manager, download_config)
        self._report_skipped(self._plan)
        self._plan = None  # The records are written; let them go.

    def _split_sources(self, manual_dir: epath.Path) -> dict[str, SplitRecords]:
        del manual_dir  # The plan, made from the manual dir, already knows every file.
        assert self._plan is not None, "_download_and_prepare makes the plan first"
        return self._plan.splits

    def _generate_examples(self, split_records: SplitRecords
                           ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yields (record index, example); images are read and decoded once, here.

        Raises:
          InvalidRecordError: a record's image is missing or undecodable (not skipping).
          ValueError: every record of the split was skipped; TFDS cannot write an empty split.
        """
        assert self._plan is not None
        topology = self._plan.topology
        written = 0
        for record, example_or_error in examples_by_image(split_records.records, topology):
            if isinstance(example_or_error, InvalidRecordError):
                if not self._plan.skip_invalid:
                    raise example_or_error
                split_records.invalid.append(example_or_error)
                continue
            written += 1
            yield record.record_index, example_or_error
        if not written:
            raise ValueError(
                f"custom_pose: every record of split {split_records.source.split!r} "
                f"({split_records.source.path}) is invalid, and TFDS cannot write an empty split; "
                f"first: {split_records.invalid[0]}. Fix the records or leave the file out."
            )

    def _report_skipped(self, plan: BuildPlan) -> None:
        """Logs what each split left out and stores it in the ``skipped`` metadata."""
        summaries = {}
        for split, split_records in {**plan.splits, **plan.left_out}.items():
            summary = split_records.skip_summary(MAX_LISTED_INVALID_RECORDS)
            summaries[split] = summary
            ignored = ", ".join(f"{summary[kind]} {kind}" for kind in IGNORED_KINDS
                                if summary[kind])
            message = (f"custom_pose: split {split!r} ({summary['annotation_file']}, "
                       f"{summary['format']}): {summary['invalid']} invalid record(s) skipped"
                       + (f"; ignored: {ignored}" if ignored else ""))
            if split_records.invalid:
                logging.warning("%s; first: %s", message, split_records.invalid[0])
            else:
                logging.info("%s", message)
        self.info.metadata["skipped"] = summaries
