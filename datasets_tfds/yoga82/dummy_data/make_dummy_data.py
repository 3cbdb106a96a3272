"""Writes yoga82's dummy data: a tiny manual dir in exactly the Yoga-82 release's file format.

    python datasets_tfds/yoga82/dummy_data/make_dummy_data.py [--out DIR]

Layout (DIR defaults to this script's folder)::

    yoga_train.txt                 "<pose>/<file>.jpg,<label_6>,<label_20>,<label_82>" lines
    yoga_test.txt                  same format
    yoga_dataset_links/<pose>.txt  "<pose>/<file>.jpg,<url>" lines for the three poses used
    <pose>/<file>.jpg              the "downloaded" images: 48x64 synthetic pictures

Three poses with their labels in the release (Akarna_Dhanurasana 1,8,0; Tree_Pose_or_Vrksasana_
0,0,68; Cockerel_Pose 2,9,11). Folder names with spaces or brackets (the release has some, e.g.
"Sitting pose 1 (normal)") are left to the tests' temporary folders: Bazel's glob of this folder
would not take them.
What the builder meets, as with a real download:

    train: 5 lines -> 3 images written, 1 missing (dead link, never downloaded), 1 corrupt
           (an HTML error page saved under the .jpg name)
    test:  3 lines -> 2 images written (one is a PNG saved as .jpg, as some links serve PNG),
           1 missing

The URLs are placeholders under example.com. The output is deterministic.
"""

from __future__ import annotations

import pathlib

import numpy as np

from datasets_tfds.dummy_data_tools import run_script, write_jpeg, write_png

HEIGHT, WIDTH = 48, 64

POSES = {  # pose folder -> (label_6, label_20, label_82)
    "Akarna_Dhanurasana": (1, 8, 0),
    "Tree_Pose_or_Vrksasana_": (0, 0, 68),
    "Cockerel_Pose": (2, 9, 11),
}

# (split, pose, file, what is on disk: "jpeg", "png", "html" or None for missing)
RECORDS = [
    ("train", "Akarna_Dhanurasana", "16.jpg", "jpeg"),
    ("train", "Akarna_Dhanurasana", "0_18.jpg", "jpeg"),
    ("train", "Tree_Pose_or_Vrksasana_", "3.jpg", "jpeg"),
    ("train", "Tree_Pose_or_Vrksasana_", "7.jpg", None),
    ("train", "Cockerel_Pose", "12.jpg", "html"),
    ("test", "Akarna_Dhanurasana", "2.jpg", "png"),
    ("test", "Cockerel_Pose", "5.jpg", "jpeg"),
    ("test", "Tree_Pose_or_Vrksasana_", "0_40.jpg", None),
]

HTML_ERROR_PAGE = b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>\n"


def picture(seed: int) -> np.ndarray:
    """uint8 [48, 64, 3]: a flat background with a stick-figure-like bar, from a seed."""
    rng = np.random.default_rng(seed)
    image = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    image[:] = rng.integers(40, 216, 3)
    x = int(rng.integers(16, 48))
    image[8:40, x - 3:x + 3] = rng.integers(0, 256, 3)
    image[14:18, x - 14:x + 14] = rng.integers(0, 256, 3)
    return image


def write_folder(out: pathlib.Path) -> None:
    """The split files, link files and images (some missing or broken) in ``out``."""
    lines = {"train": [], "test": []}
    links: dict[str, list[str]] = {pose: [] for pose in POSES}
    for index, (split, pose, name, kind) in enumerate(RECORDS):
        relative = f"{pose}/{name}"
        label_6, label_20, label_82 = POSES[pose]
        lines[split].append(f"{relative},{label_6},{label_20},{label_82}")
        links[pose].append(f"{relative},https://example.com/yoga82-dummy/{index}.jpg")
        target = out / pose / name
        if kind is None:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if kind == "html":
            target.write_bytes(HTML_ERROR_PAGE)
        elif kind == "png":
            write_png(target, picture(index))
        else:
            write_jpeg(target, picture(index), quality=90)
    for split, name in (("train", "yoga_train.txt"), ("test", "yoga_test.txt")):
        (out / name).write_text("\n".join(lines[split]) + "\n")
    (out / "yoga_dataset_links").mkdir(exist_ok=True)
    for pose, pose_links in links.items():
        (out / "yoga_dataset_links" / f"{pose}.txt").write_text("\n".join(pose_links) + "\n")


if __name__ == "__main__":
    run_script(write_folder, __doc__, __file__)
