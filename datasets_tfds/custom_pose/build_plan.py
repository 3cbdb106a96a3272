"""From a data folder and the builder's options to a topology and checked records per split.

Everything here runs before any image is read: locating the annotation files (and saying which
are missing, and where they were looked for), telling their formats apart, choosing the
keypoint topology, and checking every record against it.

Topology, first that applies:

1. ``topology`` option: a registered name (``"coco_17"``) or an inline topology object.
2. ``topology_file`` option: a topology file, relative to the data folder or absolute.
3. ``topology.json`` in the data folder.
4. The keypoint names of the COCO files' keypoint category (``coco_17`` for COCO's person).
5. The keypoint count of the records, when exactly one registered topology has that count.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from absl import logging
from etils import epath

from blazepose.topology import Topology
from datasets_tfds.custom_pose.annotation_files import (
    DEFAULT_IMAGE_DIR,
    DEFAULT_SPLIT_FILES,
    AnnotationFile,
    InvalidRecordError,
    SplitRecords,
    assign_image_ids,
    coco_keypoint_categories,
    image_dir_for_split,
    keypoint_counts,
    parse_records,
    read_annotation_file,
)
from datasets_tfds.custom_pose.user_topology import (
    TOPOLOGY_FILE_NAME,
    TopologySpecError,
    describe_topology,
    read_topology_file,
    registered_topology,
    topology_for_keypoint_count,
    topology_from_coco_category,
    topology_from_spec,
)

__all__ = [
    "BuildPlan",
    "InvalidAnnotationsError",
    "changed_sources",
    "path_fingerprint",
    "source_fingerprint",
    "Overlaps",
    "SourceOptions",
    "config_topology",
    "find_overlaps",
    "locate_annotation_files",
    "plan_build",
    "resolve_topology",
]

_SPLIT_NAME = re.compile(r"\w+")
_MAX_LISTED_ERRORS = 20


@dataclasses.dataclass(frozen=True)
class SourceOptions:
    """What the user chose; every path is relative to the data folder unless absolute.

    Attributes:
      topology: a registered topology name, an inline topology object (the topology-file
        schema of ``user_topology``), or None to look further (see the module docstring).
      topology_file: a topology file, or None for ``topology.json`` in the folder if present.
      split_files: split name -> annotation JSON file; None for the tf-blazepose layout's
        ``train.json``, ``val.json``, ``test.json``, whichever exist.
      image_dir: folder that image names are relative to, or split name -> folder.
      skip_invalid: skip invalid records (counted and reported) instead of failing.
      strict: refuse (rather than warn about) images shared between splits and duplicate
        records (:func:`find_overlaps`).
    """

    topology: str | Mapping[str, Any] | None = None
    topology_file: str | None = None
    split_files: Mapping[str, str] | None = None
    image_dir: str | Mapping[str, str] = DEFAULT_IMAGE_DIR
    skip_invalid: bool = False
    strict: bool = False


_MAX_EXAMPLES = 5


@dataclasses.dataclass
class Overlaps:
    """Images used by more than one split (leakage between training and evaluation) and
    records repeated with the same image and the same points (duplicates).

    Attributes:
      shared_images: image path -> the splits that use it, for images in two or more splits.
      duplicates: groups of records with the same image and the same labelled points (to
        0.01 pixel), each ``["train record 0", "validation record 1", ...]``.
    """

    shared_images: dict[str, list[str]]
    duplicates: list[list[str]]

    def __bool__(self) -> bool:
        return bool(self.shared_images or self.duplicates)

    def describe(self) -> str:
        """One paragraph with counts and up to five examples of each."""
        parts = []
        if self.shared_images:
            examples = "; ".join(f"{path} ({', '.join(splits)})" for path, splits in
                                 list(self.shared_images.items())[:_MAX_EXAMPLES])
            parts.append(f"{len(self.shared_images)} image(s) used by more than one split "
                         f"(evaluation would measure memorised images), e.g. {examples}")
        if self.duplicates:
            extra = sum(len(group) - 1 for group in self.duplicates)
            examples = "; ".join(" = ".join(group) for group in self.duplicates[:_MAX_EXAMPLES])
            parts.append(f"{extra} duplicate record(s) in {len(self.duplicates)} group(s) of "
                         f"the same image with the same points, e.g. {examples}")
        return "custom_pose: " + ". ".join(parts)


def find_overlaps(splits: list[SplitRecords]) -> Overlaps:
    """Images shared between splits and duplicated records (same image file, same labelled
    points), before any image is read. Images are compared by path: the same picture under two
    names is not found."""
    uses: dict[str, list[str]] = {}
    groups: dict[tuple, list[str]] = {}
    for split in splits:
        name = split.source.split
        for record in split.records:
            path = str(record.image_path)
            if name not in uses.setdefault(path, []):
                uses[path].append(name)
            points = np.round(np.where(record.labelled[:, None], record.keypoints, -1.0), 2)
            key = (path, record.labelled.tobytes(), points.tobytes())
            groups.setdefault(key, []).append(f"{name} record {record.record_index}")
    shared = {path: names for path, names in uses.items() if len(names) > 1}
    return Overlaps(shared, [group for group in groups.values() if len(group) > 1])


def path_fingerprint(path: epath.PathLike) -> str:
    """What a source file or image folder looks like now, to tell later whether it changed:
    a file's SHA-256; a folder's file count, total bytes and newest modification time;
    ``missing`` when it is gone."""
    path = epath.Path(path)
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    if path.is_dir():
        stats = [entry.stat() for entry in path.iterdir() if entry.is_file()]
        newest = max((stat.mtime for stat in stats), default=0)
        return (f"{len(stats)} files, {sum(stat.length for stat in stats)} bytes, newest "
                f"{newest}")
    return "missing"


def source_fingerprint(plan: BuildPlan) -> dict[str, Any]:
    """``{"folder": the data folder, "files": {path: path_fingerprint}}`` of the annotation
    files, the topology file and the image folders a build read (DatasetInfo metadata, so a
    later build into the same data_dir can tell that the folder changed)."""
    paths = set()
    for split_records in (*plan.splits.values(), *plan.left_out.values()):
        paths.add(str(split_records.source.path))
        paths.add(str(split_records.source.image_dir))
    if plan.topology_origin.endswith(".json"):
        paths.add(plan.topology_origin)
    return {"folder": str(plan.folder),
            "files": {path: path_fingerprint(path) for path in sorted(paths)}}


def changed_sources(recorded: Mapping[str, Any]) -> list[str]:
    """The paths of a :func:`source_fingerprint` that differ from what is on disk now."""
    return [path for path, fingerprint in dict(recorded.get("files") or {}).items()
            if path_fingerprint(path) != fingerprint]


class InvalidAnnotationsError(ValueError):
    """Records that cannot become examples, found before generation; lists the first ones.

    Attributes:
      errors: every :class:`InvalidRecordError` found.
    """

    def __init__(self, errors: list[InvalidRecordError]):
        self.errors = list(errors)
        by_file = collections.Counter(error.annotation_file for error in self.errors)
        files = ", ".join(f"{name} ({count})" for name, count in by_file.items())
        lines = [f"{len(self.errors)} invalid record(s) in {files}:"]
        lines += [f"  {error}" for error in self.errors[:_MAX_LISTED_ERRORS]]
        if len(self.errors) > _MAX_LISTED_ERRORS:
            lines.append(f"  ... and {len(self.errors) - _MAX_LISTED_ERRORS} more")
        lines.append("Fix them, or build with skip_invalid=True to skip and count them "
                     "(see the custom_pose README).")
        super().__init__("\n".join(lines))


@dataclasses.dataclass
class BuildPlan:
    """What to generate.

    Attributes:
      folder: the data folder.
      topology: the keypoint topology of every example.
      topology_origin: where the topology came from, for logs.
      splits: split name -> its records, for splits with at least one usable record.
      skip_invalid: whether invalid records are skipped rather than raised.
      left_out: splits whose file has no usable record (every record invalid or ignored);
        they are not generated but are reported.
    """

    folder: epath.Path
    topology: Topology
    topology_origin: str
    splits: dict[str, SplitRecords]
    skip_invalid: bool
    left_out: dict[str, SplitRecords] = dataclasses.field(default_factory=dict)


def config_topology(options: SourceOptions) -> Topology | None:
    """The topology the ``topology`` option fixes without looking at the data, or None.

    Raises:
      TopologySpecError: an unknown name or a malformed inline topology.
    """
    if options.topology is None:
        return None
    if isinstance(options.topology, str):
        return registered_topology(options.topology)
    return topology_from_spec(options.topology, "builder config option 'topology'")


def _resolve_path(folder: epath.Path, relative_or_absolute: str) -> epath.Path:
    return folder / relative_or_absolute  # an absolute right-hand side replaces the folder


def locate_annotation_files(folder: epath.Path, options: SourceOptions
                            ) -> list[tuple[str, epath.Path, str, epath.Path]]:
    """(split, annotation file, name as given, image folder) for each split to build.

    Raises:
      FileNotFoundError: files or folders are missing; the message lists each with the full
        path where it was looked for.
      ValueError: a split name TFDS cannot use.
    """
    explicit = options.split_files is not None
    split_files = dict(options.split_files) if explicit else dict(DEFAULT_SPLIT_FILES)
    for split in split_files:
        if not isinstance(split, str) or not _SPLIT_NAME.fullmatch(split) or split == "all":
            raise ValueError(f"split name {split!r} is not usable: use letters, digits and "
                             "underscores, and not 'all'")
    present = {split: name for split, name in split_files.items()
               if _resolve_path(folder, name).is_file()}
    missing = []
    if explicit:
        missing += [f"{_resolve_path(folder, name)} (annotations of split {split!r})"
                    for split, name in split_files.items() if split not in present]
    elif not present:
        missing += [f"{_resolve_path(folder, name)} (annotations of split {split!r})"
                    for split, name in split_files.items()]
        missing[-1] += " -- at least one of these is needed"
    image_dirs = {split: _resolve_path(folder, image_dir_for_split(options.image_dir, split))
                  for split in (present or split_files)}
    splits_by_image_dir: dict[str, list[str]] = {}
    for split, path in image_dirs.items():
        if not path.is_dir():
            splits_by_image_dir.setdefault(str(path), []).append(repr(split))
    missing += [f"{path} (image folder of split {', '.join(splits)})"
                for path, splits in splits_by_image_dir.items()]
    if missing:
        raise FileNotFoundError(
            f"custom_pose: missing in the data folder {folder}:\n  " + "\n  ".join(missing)
            + "\nExpected the tf-blazepose layout (images/, train.json, val.json, test.json) or "
              "the files named by the split_files and image_dir options."
        )
    return [(split, _resolve_path(folder, name), name, image_dirs[split])
            for split, name in present.items()]


def _most_common_count(files: list[AnnotationFile]) -> int:
    counts: collections.Counter[int] = collections.Counter()
    for annotation_file in files:
        counts.update(keypoint_counts(annotation_file))
    names = ", ".join(str(f.path) for f in files)
    if not counts:
        raise TopologySpecError(
            f"{names}: no record to count keypoints from; name a topology with the builder "
            f"config or a {TOPOLOGY_FILE_NAME} in the data folder"
        )
    ranked = counts.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        raise TopologySpecError(
            f"{names}: records have {ranked[0][0]} and {ranked[1][0]} keypoints equally often; "
            "name the topology with the builder config or a topology file"
        )
    return ranked[0][0]


def _coco_topology(files: list[AnnotationFile]) -> tuple[Topology, str] | None:
    """The topology the COCO files' keypoint categories describe, if any; they must agree."""
    named = [(f, c) for f in files for c in coco_keypoint_categories(f)]
    if not named:
        return None
    distinct = {tuple(category["keypoints"]) for _, category in named}
    if len(distinct) > 1:
        raise TopologySpecError(
            "COCO keypoint categories disagree on the keypoint names ("
            + "; ".join(f"{f.path}: {c.get('name')!r}" for f, c in named)
            + "); build them separately or name one topology with the builder config"
        )
    first_file, category = named[0]
    return topology_from_coco_category(category, str(first_file.path)), str(first_file.path)


def resolve_topology(folder: epath.Path, options: SourceOptions, files: list[AnnotationFile]
                     ) -> tuple[Topology, str]:
    """(topology, where it came from), by the order of the module docstring.

    Raises:
      TopologySpecError: no rule gives a topology, or one gives a malformed one, or a COCO
        category lists a different number of keypoints than the topology.
      FileNotFoundError: the ``topology_file`` option names a missing file.
    """
    topology = config_topology(options)
    origin = "builder config option 'topology'"
    folder_topology_file = folder / TOPOLOGY_FILE_NAME
    if topology is None and options.topology_file is not None:
        path = _resolve_path(folder, options.topology_file)
        topology, origin = read_topology_file(path), str(path)
    elif topology is None and folder_topology_file.is_file():
        topology, origin = read_topology_file(folder_topology_file), str(folder_topology_file)
    elif topology is None:
        from_coco = _coco_topology(files)
        if from_coco is not None:
            topology, origin = from_coco[0], f"COCO category keypoints of {from_coco[1]}"
        else:
            count = _most_common_count(files)
            topology = topology_for_keypoint_count(
                count, ", ".join(str(f.path) for f in files) + f" ({count} keypoints per record)")
            origin = f"keypoint count {count}"
    for annotation_file in files:
        for category in coco_keypoint_categories(annotation_file):
            names = tuple(category["keypoints"])
            if len(names) != topology.num_keypoints:
                raise TopologySpecError(
                    f"{annotation_file.path}: category {category.get('name')!r} has "
                    f"{len(names)} keypoints but topology {topology.name} (from {origin}) has "
                    f"{topology.num_keypoints}"
                )
            if [n.lower() for n in names] != [n.lower() for n in topology.keypoint_names]:
                logging.warning(
                    "custom_pose: %s names its keypoints %s; using topology %s from %s, whose "
                    "names are %s", annotation_file.path, list(names), topology.name, origin,
                    list(topology.keypoint_names))
    return topology, origin


def plan_build(folder: epath.PathLike, options: SourceOptions) -> BuildPlan:
    """Locates, reads and checks everything that can be checked without images.

    Raises:
      FileNotFoundError: missing annotation files, image folders or topology file.
      ValueError: an annotation file is not JSON or in neither format; a bad split name.
      TopologySpecError: no usable topology (see :func:`resolve_topology`).
      InvalidAnnotationsError: invalid records and ``skip_invalid`` is False.
      ValueError: with ``strict``, images shared between splits or duplicate records.
    """
    folder = epath.Path(folder).expanduser().resolve()
    files = [read_annotation_file(split, path, name, image_dir)
             for split, path, name, image_dir in locate_annotation_files(folder, options)]
    topology, origin = resolve_topology(folder, options, files)
    logging.info("custom_pose: topology %s, from %s", describe_topology(topology), origin)
    parsed = [parse_records(annotation_file, topology) for annotation_file in files]
    assign_image_ids(parsed)
    overlaps = find_overlaps(parsed)
    if overlaps and options.strict:
        raise ValueError(overlaps.describe() + ". Refused (strict=True): give each image to "
                         "one split and remove the repeated records.")
    if overlaps:
        logging.warning("%s. Build with strict=True to refuse such data.", overlaps.describe())
    invalid = [error for split in parsed for error in split.invalid]
    if invalid and not options.skip_invalid:
        raise InvalidAnnotationsError(invalid)
    plan = BuildPlan(folder, topology, origin, {}, options.skip_invalid)
    for split_records in parsed:
        if split_records.records:
            plan.splits[split_records.source.split] = split_records
        else:
            plan.left_out[split_records.source.split] = split_records
            logging.warning("custom_pose: split %r (%s) has no usable record; it is left out",
                            split_records.source.split, split_records.source.path)
    if not plan.splits:
        names = ", ".join(str(f.path) for f in files)
        raise ValueError(f"custom_pose: no usable record in {names}")
    return plan
