"""Writes the mpii builder's dummy data: a tiny MPII Human Pose folder in the original format.

    python datasets_tfds/mpii/dummy_data/make_dummy_data.py [--out DIR]

Layout (DIR defaults to this script's folder), as the MPII archives extract::

    mpii_human_pose_v1_u12_1.mat   the RELEASE struct (MATLAB v5, written with scipy.io.savemat)
    images/*.jpg                   6 synthetic 96x72 pictures (flat colours, no photos)

The struct has the real file's nesting (MPII README; pose-hg-train ``src/misc/mpii.py`` and the
TFDS MPII draft index it the same way): ``RELEASE`` 1x1 with ``annolist`` 1xN (``image`` 1x1
struct with ``name``; ``annorect`` 1xR struct with ``x1 y1 x2 y2 scale objpos annopoints``, or
[] when the image has no person; ``frame_sec``; ``vididx``), ``img_train`` 1xN double,
``single_person`` Nx1 cell of kx1 double columns of 1-based annorect indices, ``act`` Nx1 struct
(``cat_name act_name act_id``) and ``video_list`` 1xV cell of YouTube ids. ``annopoints`` is a
1x1 struct with ``point`` 1xP (``id x y is_visible``). Numbers are doubles, coordinates
1-based MATLAB pixels. (The real file also has a ``version`` field; its value is not needed and
not reproduced.)

Images and what they exercise (N = 6):

    1 015601864.jpg  train, video A: one person (annorect and single_person squeezed to
                     scalars by scipy), 16 joints, numeric is_visible
    2 015599452.jpg  train, video A: two people, none in single_person; person 1 with string
                     is_visible ('1'/'0') and empty ones; person 2 with a single point
    3 005808361.jpg  train, video B: person 1 with 12 joints (knees and ankles unlabelled),
                     person 2 whose points have no is_visible field and no scale/objpos,
                     person 3 with a head rectangle but no annopoints; single_person = [1; 3]
    4 060111501.jpg  test image (img_train 0): annorect with only scale and objpos
    5 000001163.jpg  train, no annorect, no video
    6 099946068.jpg  train, video C (the video_hash rule puts it in validation): two people,
                     single_person = 1

Video ids are chosen so that the ``video_hash`` rule (splits.py) sends video C, and only it, to
validation. The output is deterministic (the .mat header text is fixed), so re-running the
script reproduces the committed files.
"""

from __future__ import annotations

import hashlib
import pathlib

import numpy as np

from datasets_tfds.dummy_data_tools import boxes_picture, mat_file_bytes, run_script, write_jpeg

WIDTH, HEIGHT = 96, 72
ANNOTATION_FILE = "mpii_human_pose_v1_u12_1.mat"
VIDEO_IDS = ("dummyVidA01", "dummyVidB01", "dummyVidC09", "dummyVidD01")
VALIDATION_VIDEO = "dummyVidC09"
MAT_HEADER = b"MATLAB 5.0 MAT-file, written by datasets_tfds/mpii/dummy_data/make_dummy_data.py"

# A standing person facing the camera, as offsets from objpos in units of the person height,
# in MPII joint-id order (0 r ankle, 1 r knee, 2 r hip, 3 l hip, 4 l knee, 5 l ankle, 6 pelvis,
# 7 thorax, 8 upper neck, 9 head top, 10 r wrist, 11 r elbow, 12 r shoulder, 13 l shoulder,
# 14 l elbow, 15 l wrist). The person's right is on the image's left.
STICK_FIGURE = np.array([
    [-0.08, 0.48], [-0.07, 0.25], [-0.06, 0.02], [0.06, 0.02], [0.07, 0.25], [0.08, 0.48],
    [0.0, 0.02], [0.0, -0.28], [0.0, -0.33], [0.0, -0.48],
    [-0.20, 0.0], [-0.17, -0.14], [-0.10, -0.28], [0.10, -0.28], [0.17, -0.14], [0.20, 0.0],
])  # fmt: skip

EMPTY = np.zeros((0, 0))  # MATLAB's [] (a 0x0 double)


def struct_array(rows: list[dict], fields: list[str], shape: tuple[int, int] | None = None
                 ) -> np.ndarray:
    """A MATLAB struct array (numpy record array of objects); absent fields become []."""
    shape = shape or (1, len(rows))
    array = np.empty(shape, dtype=[(field, object) for field in fields])
    flat = array.reshape(-1)
    for index, row in enumerate(rows):
        unknown = set(row) - set(fields)
        assert not unknown, f"fields {unknown} not declared"
        for field in fields:
            flat[index][field] = row.get(field, EMPTY)
    return array


def cell_array(values: list, shape: tuple[int, int]) -> np.ndarray:
    array = np.empty(shape, dtype=object)
    for index, value in enumerate(values):
        array.reshape(-1)[index] = value
    return array


def column(values: list[float]) -> np.ndarray:
    """A kx1 double column, or [] when empty (single_person's cells)."""
    return np.asarray(values, np.float64).reshape(-1, 1) if values else EMPTY


def joints(center: tuple[float, float], height: float) -> np.ndarray:
    """[16, 2] integer pixel positions (as doubles) of the stick figure."""
    return np.round(np.asarray(center) + STICK_FIGURE * height)


def person(center: tuple[float, float], height: float, visible: list, ids: list[int] | None = None,
           with_box: bool = True, with_position: bool = True, with_visibility: bool = True
           ) -> dict:
    """One annorect with head rectangle, scale, objpos and the points ``ids`` (default all)."""
    ids = list(range(16)) if ids is None else ids
    points = joints(center, height)
    fields = ["id", "x", "y"] + (["is_visible"] if with_visibility else [])
    rows = []
    for number, joint in enumerate(ids):
        row = {"id": float(joint), "x": float(points[joint, 0]), "y": float(points[joint, 1])}
        if with_visibility:
            row["is_visible"] = visible[number]
        rows.append(row)
    annorect = {"annopoints": struct_array([{"point": struct_array(rows, fields)}], ["point"])}
    if with_box:
        cx, cy = center
        annorect.update(x1=float(round(cx - 0.07 * height)), y1=float(round(cy - 0.49 * height)),
                        x2=float(round(cx + 0.07 * height)), y2=float(round(cy - 0.33 * height)))
    if with_position:
        annorect.update(scale=height / 200.0,
                        objpos=struct_array([{"x": float(center[0]), "y": float(center[1])}],
                                            ["x", "y"]))
    return annorect


RECT_FIELDS = ["x1", "y1", "x2", "y2", "annopoints", "scale", "objpos"]


def annolist_entries() -> list[dict]:
    """The six images: name, img_train, annorect, single_person, video index, activity."""
    numeric = [1.0] * 10 + [0.0, 0.0, 1.0, 1.0, 1.0, 1.0]  # right wrist and elbow occluded
    strings = ["1"] * 12 + ["0", EMPTY, "0", EMPTY]        # '0' strings and empty values
    no_legs = [2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]     # knees and ankles unlabelled
    return [
        {"name": "015601864.jpg", "train": 1.0, "video": 1, "single": [1],
         "rects": [person((48, 38), 56, numeric)], "act": ("sports", "running", 11.0)},
        {"name": "015599452.jpg", "train": 1.0, "video": 1, "single": [],
         "rects": [person((28, 36), 50, strings), person((70, 40), 44, [1.0], ids=[9])],
         "act": ("sports", "running", 11.0)},
        {"name": "005808361.jpg", "train": 1.0, "video": 2, "single": [1, 3],
         "rects": [person((20, 36), 48, [1.0] * 12, ids=no_legs),
                   person((48, 36), 40, None, with_position=False, with_visibility=False),
                   {"x1": 76.0, "y1": 10.0, "x2": 86.0, "y2": 20.0, "scale": 0.25,
                    "objpos": struct_array([{"x": 80.0, "y": 36.0}], ["x", "y"])}],
         "act": ("occupation", "cleaning", 42.0)},
        {"name": "060111501.jpg", "train": 0.0, "video": 4, "single": [1],
         "rects": "test", "act": (EMPTY, EMPTY, -1.0)},
        {"name": "000001163.jpg", "train": 1.0, "video": None, "single": [],
         "rects": [], "act": (EMPTY, EMPTY, -1.0)},
        {"name": "099946068.jpg", "train": 1.0, "video": 3, "single": [1],
         "rects": [person((30, 37), 52, [1.0] * 16), person((70, 36), 46, [0.0] * 4 + [1.0] * 12)],
         "act": ("dancing", "ballet", 7.0)},
    ]


def release_struct() -> np.ndarray:
    entries = annolist_entries()
    annolist = []
    for entry in entries:
        if entry["rects"] == "test":  # test annorects carry only scale and objpos
            annorect = struct_array(
                [{"scale": 0.3, "objpos": struct_array([{"x": 50.0, "y": 40.0}], ["x", "y"])}],
                ["scale", "objpos"])
        elif entry["rects"]:
            annorect = struct_array(entry["rects"], RECT_FIELDS)
        else:
            annorect = EMPTY
        video = entry["video"]
        annolist.append({
            "image": struct_array([{"name": entry["name"]}], ["name"]),
            "annorect": annorect,
            "frame_sec": EMPTY if video is None else 10.0 * video,
            "vididx": EMPTY if video is None else float(video),
        })
    count = len(entries)
    return struct_array([{
        "annolist": struct_array(annolist, ["image", "annorect", "frame_sec", "vididx"]),
        "img_train": np.array([[entry["train"] for entry in entries]]),
        "single_person": cell_array([column(entry["single"]) for entry in entries], (count, 1)),
        "act": struct_array(
            [{"cat_name": cat, "act_name": act, "act_id": act_id}
             for cat, act, act_id in (entry["act"] for entry in entries)],
            ["cat_name", "act_name", "act_id"], (count, 1)),
        "video_list": cell_array(list(VIDEO_IDS), (1, len(VIDEO_IDS))),
    }], ["annolist", "img_train", "single_person", "act", "video_list"], (1, 1))


def write_folder(out: pathlib.Path) -> None:
    for video in VIDEO_IDS:  # the split the tests expect
        bucket = int(hashlib.sha256(video.encode("utf-8")).hexdigest(), 16) % 10
        assert (bucket == 0) == (video == VALIDATION_VIDEO), video
    out.mkdir(parents=True, exist_ok=True)
    (out / ANNOTATION_FILE).write_bytes(
        mat_file_bytes({"RELEASE": release_struct()}, MAT_HEADER, compress=True))
    images = out / "images"
    images.mkdir(exist_ok=True)
    for seed, entry in enumerate(annolist_entries()):
        boxes = []
        if isinstance(entry["rects"], list):
            for rect in entry["rects"]:
                if "objpos" in rect:
                    objpos = rect["objpos"].reshape(-1)[0]
                    half = int(rect["scale"] * 100)
                    x, y = int(objpos["x"]), int(objpos["y"])
                    boxes.append((x - half // 3, y - half, x + half // 3, y + half))
        # uint8 [72, 96, 3]: a flat background with one filled box per person.
        write_jpeg(images / entry["name"], boxes_picture(seed, HEIGHT, WIDTH, boxes), quality=50)


if __name__ == "__main__":
    run_script(write_folder, __doc__, __file__)
