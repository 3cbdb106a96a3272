"""Writes the coco_keypoints builder's dummy data: a tiny COCO 2017 folder in the original format.

    python datasets_tfds/coco_keypoints/dummy_data/make_dummy_data.py [--out DIR]

Layout (DIR defaults to this script's folder), as COCO's zips extract::

    annotations/person_keypoints_train2017.json
    annotations/person_keypoints_val2017.json
    train2017/000000000009.jpg, 000000000025.jpg
    val2017/000000000139.jpg, 000000000632.jpg, 000000000785.jpg

The JSON files have the structure of ``person_keypoints_val2017.json`` (format:
https://cocodataset.org/#format-data): ``info``, ``licenses``, ``images`` (license, file_name,
coco_url, height, width, date_captured, flickr_url, id), ``annotations`` (segmentation,
num_keypoints, area, iscrowd, keypoints, image_id, bbox, category_id, id) and ``categories``
(the person category with COCO's 17 keypoint names and 1-based skeleton), in that key order, on
one line. Keypoints are integer pixel indices with x = y = 0 where v = 0; non-crowd people have
a polygon segmentation and its area; the crowd region has an uncompressed RLE (column-major
runs starting with background) and the mask's area.

Pictures are synthetic 96x72 JPEGs (flat colours, no photos). What the annotations exercise:

    val 139: two people (ids 1001, 1002; 1001's left wrist is v = 1, its eyes and ears v = 0)
             and a crowd region (1003, iscrowd 1, num_keypoints 0)
    val 785: one person with every point labelled (1004) and one without keypoints (1005,
             num_keypoints 0, iscrowd 0)
    val 632: no person (the file lists every image)
    train 9: one person (2001) and one without keypoints (2002)
    train 25: one person (2003)

So the builder makes 3 validation and 2 train examples. The output is deterministic.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from datasets_tfds.dummy_data_tools import (
    COCO_PERSON_KEYPOINTS,
    COCO_PERSON_SKELETON,
    boxes_picture,
    run_script,
    write_jpeg,
)

WIDTH, HEIGHT = 96, 72


# A person facing the camera, offsets from the centre in units of the person height, in COCO's
# keypoint order; the person's left is on the image's right (positive x).
FIGURE = np.array([
    [0.0, -0.42], [0.03, -0.45], [-0.03, -0.45], [0.06, -0.43], [-0.06, -0.43],
    [0.10, -0.30], [-0.10, -0.30], [0.16, -0.14], [-0.16, -0.14], [0.20, 0.0], [-0.20, 0.0],
    [0.07, 0.02], [-0.07, 0.02], [0.08, 0.25], [-0.08, 0.25], [0.08, 0.47], [-0.08, 0.47],
])  # fmt: skip

INFO = {"description": "COCO 2017 Dataset (dummy)", "url": "http://cocodataset.org",
        "version": "1.0", "year": 2017, "contributor": "COCO Consortium",
        "date_created": "2017/09/01"}
LICENSES = [{"url": "http://creativecommons.org/licenses/by-nc-sa/2.0/", "id": 1,
             "name": "Attribution-NonCommercial-ShareAlike License"}]
CATEGORIES = [{"supercategory": "person", "id": 1, "name": "person",
               "keypoints": COCO_PERSON_KEYPOINTS, "skeleton": COCO_PERSON_SKELETON}]


def image_entry(image_id: int, folder: str) -> dict:
    name = f"{image_id:012d}.jpg"
    return {"license": 1, "file_name": name,
            "coco_url": f"http://images.cocodataset.org/{folder}/{name}",
            "height": HEIGHT, "width": WIDTH, "date_captured": "2013-11-14 17:02:52",
            "flickr_url": f"http://farm1.staticflickr.com/1/{image_id}_dummy_z.jpg",
            "id": image_id}


def polygon_area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def person(annotation_id: int, image_id: int, center: tuple[float, float], height: float,
           flags: list[int]) -> dict:
    """A non-crowd person: hexagon segmentation, its area and box, and 17 keypoints."""
    cx, cy = center
    half_w, half_h = 0.22 * height, 0.5 * height
    hexagon = np.array([[cx - half_w, cy - half_h], [cx + half_w, cy - half_h],
                        [cx + half_w * 1.1, cy], [cx + half_w, cy + half_h],
                        [cx - half_w, cy + half_h], [cx - half_w * 1.1, cy]]).round(2)
    points = np.round(np.asarray(center) + FIGURE * height).astype(int)
    keypoints = []
    for (x, y), flag in zip(points.tolist(), flags):
        keypoints += [x, y, flag] if flag else [0, 0, 0]
    low, high = hexagon.min(axis=0), hexagon.max(axis=0)
    return {"segmentation": [hexagon.ravel().tolist()],
            "num_keypoints": sum(1 for flag in flags if flag),
            "area": round(polygon_area(hexagon), 5), "iscrowd": 0, "keypoints": keypoints,
            "image_id": image_id, "bbox": [round(float(v), 2) for v in (*low, *(high - low))],
            "category_id": 1, "id": annotation_id}


def unlabelled_person(annotation_id: int, image_id: int, box: tuple[float, float, float, float]
                      ) -> dict:
    """A person without keypoints (num_keypoints 0): rectangle segmentation."""
    x, y, w, h = box
    return {"segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]], "num_keypoints": 0,
            "area": float(w * h), "iscrowd": 0, "keypoints": [0] * 51, "image_id": image_id,
            "bbox": [x, y, w, h], "category_id": 1, "id": annotation_id}


def crowd(annotation_id: int, image_id: int, x0: int, y0: int, x1: int, y1: int) -> dict:
    """A crowd region: uncompressed RLE of a rectangle mask (column-major runs)."""
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[y0:y1, x0:x1] = 1
    flat = mask.ravel(order="F")
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0] + counts
    return {"segmentation": {"counts": counts, "size": [HEIGHT, WIDTH]}, "num_keypoints": 0,
            "area": int(mask.sum()), "iscrowd": 1, "keypoints": [0] * 51, "image_id": image_id,
            "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)], "category_id": 1,
            "id": annotation_id}


ALL = [2] * 17
NO_FACE_LEFT_WRIST_HIDDEN = [2, 0, 0, 0, 0, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 1, 1]
LOWER_BODY_HIDDEN = [2] * 11 + [1, 1, 0, 0, 0, 0]


def val_document() -> dict:
    return {
        "info": INFO, "licenses": LICENSES,
        "images": [image_entry(i, "val2017") for i in (139, 632, 785)],
        "annotations": [
            person(1001, 139, (30, 36), 56, NO_FACE_LEFT_WRIST_HIDDEN),
            person(1002, 139, (64, 38), 50, LOWER_BODY_HIDDEN),
            crowd(1003, 139, 80, 20, 96, 60),
            person(1004, 785, (48, 36), 60, ALL),
            unlabelled_person(1005, 785, (78.0, 50.0, 12.0, 20.0)),
        ],
        "categories": CATEGORIES,
    }


def train_document() -> dict:
    return {
        "info": INFO, "licenses": LICENSES,
        "images": [image_entry(i, "train2017") for i in (9, 25)],
        "annotations": [
            person(2001, 9, (40, 36), 58, ALL),
            unlabelled_person(2002, 9, (4.0, 4.0, 14.0, 24.0)),
            person(2003, 25, (52, 35), 54, LOWER_BODY_HIDDEN),
        ],
        "categories": CATEGORIES,
    }


def picture(document: dict, image: dict) -> np.ndarray:
    """uint8 [72, 96, 3]: a flat background with each annotation's box filled."""
    boxes = []
    for annotation in document["annotations"]:
        if annotation["image_id"] == image["id"]:
            x, y, w, h = (int(round(v)) for v in annotation["bbox"])
            boxes.append((x, y, x + w, y + h))
    return boxes_picture(image["id"], HEIGHT, WIDTH, boxes)


def write_split(out: pathlib.Path, document: dict, json_name: str, folder: str) -> None:
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, separators=(",", ": "))
    (out / "annotations" / json_name).write_text(text)
    (out / folder).mkdir(exist_ok=True)
    for image in document["images"]:
        write_jpeg(out / folder / image["file_name"], picture(document, image), quality=50)


def write_folder(out: pathlib.Path) -> None:
    write_split(out, train_document(), "person_keypoints_train2017.json", "train2017")
    write_split(out, val_document(), "person_keypoints_val2017.json", "val2017")


if __name__ == "__main__":
    run_script(write_folder, __doc__, __file__)
