"""Writes custom_pose's dummy data: a tiny tf-blazepose folder with a tiny COCO folder inside.

    python datasets_tfds/custom_pose/dummy_data/make_dummy_data.py [--out DIR]

Layout (DIR defaults to this script's folder)::

    images/             64x48 synthetic pictures (flat colours and boxes, no photos)
    train.json          3 records (7 points each -> topology pushup_7 by count): one with a
                        bbox, one with a [-1, -1] (not labelled) point, one on a PNG with an
                        extra field the format allows ("video")
    val.json            1 record
    test.json           2 records on the same image (two people)
    coco/images/        2 pictures
    coco/person_keypoints.json
                        COCO keypoints with COCO's 17 person names: 2 usable annotations, one
                        crowd, one without labelled points, one of a category without keypoints

Coordinates are pixels, x to the right and y down, with x in [0, 64) and y in [0, 48).
The output is deterministic, so re-running it leaves the committed files unchanged.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from datasets_tfds.dummy_data_tools import (
    COCO_PERSON_KEYPOINTS,
    COCO_PERSON_SKELETON,
    run_script,
    write_jpeg,
    write_png,
)

WIDTH, HEIGHT = 64, 48


def synthetic_picture(background: tuple[int, int, int], box: tuple[int, int, int, int],
                      colour: tuple[int, int, int]) -> np.ndarray:
    """uint8 ``[48, 64, 3]``: a flat background with one filled box (x0, y0, x1, y1)."""
    picture = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    picture[:] = background
    x0, y0, x1, y1 = box
    picture[y0:y1, x0:x1] = colour
    return picture


def write_json(path: pathlib.Path, document: object) -> None:
    """JSON with one list element per line (a record of tf-blazepose, a COCO list entry)."""
    if isinstance(document, list):
        text = "[\n" + ",\n".join(json.dumps(element) for element in document) + "\n]"
    else:
        text = "{\n" + ",\n".join(f"{json.dumps(key)}: " + json.dumps(value)
                                   for key, value in document.items()) + "\n}"
        text = text.replace("}, {", "},\n  {")
    path.write_text(text + "\n")


def pushup_points(dx: float, dy: float) -> list[list[float]]:
    """7 points (r_wrist, r_elbow, r_shoulder, head_top, l_shoulder, l_elbow, l_wrist)."""
    base = [[8, 40], [14, 30], [22, 20], [32, 8], [42, 20], [50, 30], [56, 40]]
    return [[x + dx, y + dy] for x, y in base]


def write_tf_blazepose_folder(folder: pathlib.Path) -> None:
    """The tf-blazepose layout: images/, train.json, val.json, test.json."""
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    for name, background, box, colour in [
        ("person_a.jpg", (200, 180, 150), (20, 6, 44, 46), (60, 40, 30)),
        ("person_b.jpg", (90, 140, 200), (10, 10, 50, 40), (230, 230, 230)),
        ("person_c.jpg", (40, 120, 60), (16, 4, 48, 44), (250, 200, 0)),
        ("two_people.jpg", (128, 128, 128), (4, 4, 30, 44), (0, 0, 0)),
        ("person_e.png", (255, 255, 255), (24, 8, 40, 40), (200, 0, 0)),
    ]:
        picture = synthetic_picture(background, box, colour)
        if name.endswith(".png"):
            write_png(images / name, picture)
        else:
            write_jpeg(images / name, picture, quality=50)

    unlabelled_head = pushup_points(0.5, 1.25)
    unlabelled_head[3] = [-1, -1]
    write_json(folder / "train.json", [
        {"image": "person_a.jpg", "points": pushup_points(0, 0),
         "visibility": [1, 1, 1, 1, 1, 0, 0], "bbox": [[4, 2], [60, 46]]},
        {"image": "person_b.jpg", "points": unlabelled_head,
         "visibility": [1, 0, 1, 0, 1, 1, 1]},
        {"video": 3, "image": "person_e.png", "points": pushup_points(-2, 2),
         "visibility": [0, 0, 1, 1, 1, 0, 0]},
    ])
    write_json(folder / "val.json", [
        {"image": "person_c.jpg", "points": pushup_points(1, -3),
         "visibility": [1, 1, 1, 1, 1, 1, 1], "bbox": [[0, 0], [64, 48]]},
    ])
    left_person = [[x / 2, y] for x, y in pushup_points(0, 0)]
    right_person = [[x / 2 + 32, y] for x, y in pushup_points(0, 0)]
    write_json(folder / "test.json", [
        {"image": "two_people.jpg", "points": left_person, "visibility": [1] * 7},
        {"image": "two_people.jpg", "points": right_person, "visibility": [0, 1, 1, 1, 1, 1, 0]},
    ])


def coco_keypoints(offset_x: float, flags: list[int]) -> list[float]:
    """``[x, y, v] * 17`` on a vertical stick figure; (0, 0) where ``v == 0``, as COCO does."""
    values: list[float] = []
    for index, flag in enumerate(flags):
        x, y = (offset_x + (index % 2) * 6.0, 4.0 + index * 2.5) if flag else (0.0, 0.0)
        values += [x, y, flag]
    return values


def write_coco_folder(folder: pathlib.Path) -> None:
    """coco/images/ and coco/person_keypoints.json."""
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    write_jpeg(images / "street.jpg",
               synthetic_picture((70, 70, 90), (10, 2, 30, 46), (220, 120, 80)), quality=50)
    write_jpeg(images / "park.jpg",
               synthetic_picture((30, 150, 50), (34, 2, 54, 46), (240, 240, 200)), quality=50)
    mixed_flags = [2, 2, 1, 0, 2] + [2] * 6 + [1, 1, 2, 2, 0, 0]
    write_json(folder / "person_keypoints.json", {
        "images": [
            {"id": 10, "file_name": "street.jpg", "width": WIDTH, "height": HEIGHT},
            {"id": 11, "file_name": "park.jpg", "width": WIDTH, "height": HEIGHT},
        ],
        "categories": [
            {"id": 1, "name": "person", "supercategory": "person",
             "keypoints": COCO_PERSON_KEYPOINTS, "skeleton": COCO_PERSON_SKELETON},
            {"id": 2, "name": "ball", "supercategory": "sports"},
        ],
        "annotations": [
            {"id": 100, "image_id": 10, "category_id": 1, "iscrowd": 0, "num_keypoints": 13,
             "keypoints": coco_keypoints(12.0, mixed_flags), "bbox": [8.0, 2.0, 24.5, 45.0]},
            {"id": 101, "image_id": 10, "category_id": 1, "iscrowd": 1, "num_keypoints": 0,
             "keypoints": [0] * 51, "bbox": [30.0, 0.0, 30.0, 40.0]},
            {"id": 102, "image_id": 11, "category_id": 1, "iscrowd": 0, "num_keypoints": 0,
             "keypoints": [0] * 51, "bbox": [1.0, 1.0, 5.0, 5.0]},
            {"id": 103, "image_id": 11, "category_id": 1, "iscrowd": 0, "num_keypoints": 17,
             "keypoints": coco_keypoints(36.0, [2] * 17)},
            {"id": 104, "image_id": 11, "category_id": 2, "iscrowd": 0,
             "bbox": [50.0, 40.0, 4.0, 4.0]},
        ],
    })


def write_folder(out: pathlib.Path) -> None:
    """The tf-blazepose layout in ``out`` and the COCO files in ``out/coco``."""
    write_tf_blazepose_folder(out)
    write_coco_folder(out / "coco")


if __name__ == "__main__":
    run_script(write_folder, __doc__, __file__)
