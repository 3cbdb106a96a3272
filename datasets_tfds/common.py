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


OUT_OF_IMAGE_TOLERANCE = 1.0
"""How far outside the image a labelled point or a box corner may lie, as a fraction of the
image's longer side, before the record is refused. Real data places some points outside the
frame (LSPET: up to 0.60 of the longer side; LSP 0.002; COCO none); a point a whole image away
is an annotation error (a wrong unit, a swapped file) that would poison the regression loss."""


def out_of_image_problem(keypoints, labelled, person_box, width: int, height: int,
                         tolerance: float = OUT_OF_IMAGE_TOLERANCE) -> str | None:
    """Why a person's coordinates cannot belong to a ``width`` x ``height`` image, or None.

    Args:
      keypoints: float ``[K, 2]``, x, y in image pixels (continuous).
      labelled: bool ``[K]``; only labelled points are checked.
      person_box: float ``[4]`` x_min, y_min, x_max, y_max in pixels, or None.
      width, height: the image size in pixels.
      tolerance: the margin allowed outside the image, times ``max(width, height)``.

    Returns:
      A one-line reason naming the first offending point (or the box) and the allowed range.
    """
    margin = tolerance * max(width, height)
    low = np.array([-margin, -margin])
    high = np.array([width + margin, height + margin])
    allowed = (f"the {width}x{height} image allows x in [{low[0]:g}, {high[0]:g}], "
               f"y in [{low[1]:g}, {high[1]:g}] (tolerance {tolerance:g} x the longer side)")
    points = np.asarray(keypoints, np.float64).reshape(-1, 2)
    outside = np.asarray(labelled, bool) & np.any((points < low) | (points > high), axis=1)
    if outside.any():
        index = int(np.flatnonzero(outside)[0])
        x, y = points[index]
        return (f"{int(outside.sum())} labelled point(s) far outside the image; point {index} "
                f"is at ({x:g}, {y:g}) but {allowed}")
    if person_box is not None:
        box = np.asarray(person_box, np.float64).reshape(4)
        corners = box.reshape(2, 2)
        if np.any((corners < low) | (corners > high)):
            return (f"person box ({', '.join(f'{v:g}' for v in box)}) lies far outside the "
                    f"image: {allowed}")
    return None


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


__all__ = ["OUT_OF_IMAGE_TOLERANCE", "check_images_exist", "out_of_image_problem", "pose_example",
           "pose_features", "read_topology", "topology_metadata"]
