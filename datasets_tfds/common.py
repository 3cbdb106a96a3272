"""The feature layout every pose builder shares, and the topology metadata it carries.

One example is one person in one image:

``image``       uint8 ``[H, W, 3]``, stored as JPEG.
``image_id``    string, unique within the data set (e.g. the image's relative path, plus the
                person's index when an image holds several people).
``keypoints``   float32 ``[K, 2]``: x, y in image pixels, continuous (pixel column ``i`` spans
                ``[i, i + 1)``). Unlabelled points hold 0.
``visibility``  float32 ``[K]``: 1 visible, 0 occluded or outside the image (only meaningful
                where labelled).
``labelled``    bool ``[K]``: whether the annotator placed the point at all.
``person_box``  float32 ``[4]``: x_min, y_min, x_max, y_max in image pixels; from the data set's
                own box when it has one, else the labelled keypoints' extent.
``topology``    string: the name of the keypoint topology (``blazepose.topology.get_topology``).

K and the topology are fixed per builder config; the DatasetInfo metadata repeats the topology's
keypoint names, flip permutation and skeleton, so a data set is self-describing.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from blazepose.topology import Topology


def pose_features(num_keypoints: int) -> tfds.features.FeaturesDict:
    """The shared ``FeaturesDict`` for K keypoints."""
    return tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"),
        "image_id": tfds.features.Text(),
        "keypoints": tfds.features.Tensor(shape=(num_keypoints, 2), dtype=np.float32),
        "visibility": tfds.features.Tensor(shape=(num_keypoints,), dtype=np.float32),
        "labelled": tfds.features.Tensor(shape=(num_keypoints,), dtype=np.bool_),
        "person_box": tfds.features.Tensor(shape=(4,), dtype=np.float32),
        "topology": tfds.features.Text(),
    })


def topology_metadata(topology: Topology) -> tfds.core.MetadataDict:
    """DatasetInfo metadata describing the keypoints of a data set (``Topology.to_dict``)."""
    return tfds.core.MetadataDict(topology.to_dict())


def pose_example(image, image_id: str, keypoints, visibility, labelled, person_box,
                 topology: Topology) -> dict:
    """An example dict in the shared layout, with dtypes and shapes checked.

    ``image`` may be a path, encoded bytes or a uint8 array, as ``tfds.features.Image`` accepts.
    """
    keypoints = np.asarray(keypoints, np.float32).reshape(topology.num_keypoints, 2)
    visibility = np.asarray(visibility, np.float32).reshape(topology.num_keypoints)
    labelled = np.asarray(labelled, bool).reshape(topology.num_keypoints)
    keypoints = np.where(labelled[:, None], keypoints, 0.0).astype(np.float32)
    visibility = np.where(labelled, visibility, 0.0).astype(np.float32)
    return {
        "image": image,
        "image_id": image_id,
        "keypoints": keypoints,
        "visibility": visibility,
        "labelled": labelled,
        "person_box": np.asarray(person_box, np.float32).reshape(4),
        "topology": topology.name,
    }


def check_images_exist(builder: str, image_dir, names, max_listed: int = 20) -> None:
    """Raises FileNotFoundError listing the images of ``names`` (file names relative to
    ``image_dir``, an ``epath.Path``) that are missing, the first ``max_listed`` by path."""
    present = {path.name for path in image_dir.iterdir()}
    missing = sorted({name for name in names
                      if name not in present and not (image_dir / name).is_file()})
    if missing:
        listed = "\n  ".join(str(image_dir / name) for name in missing[:max_listed])
        more = f"\n  ... and {len(missing) - max_listed} more" if len(missing) > max_listed else ""
        raise FileNotFoundError(f"{builder}: {len(missing)} image file(s) named in the "
                                f"annotations are missing from {image_dir}:\n  {listed}{more}")


def read_topology(info: tfds.core.DatasetInfo) -> Topology:
    """The topology a prepared data set declares (``Topology.from_dict`` of its metadata)."""
    return Topology.from_dict(info.metadata or {}, source=f"data set {info.full_name}")


__all__ = ["check_images_exist", "pose_example",
           "pose_features", "read_topology", "topology_metadata"]
