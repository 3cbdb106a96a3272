"""launch.classify_poses from a landmark cache: training, accuracy report, counted misses.

The extraction step (the pose pipeline over a TFDS split) is not run here; the cache holds
landmarks of generated poses of three classes (label levels 6 and 82 as in Yoga-82's cache
layout), with some images marked as "no person found".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from blazepose.analysis.classification import (
    evaluate_landmark_cache,
    read_landmark_cache,
    write_landmark_cache,
)
from blazepose.synthesis.body_model import sample_body_shape
from blazepose.synthesis.poses import sample_posed_body

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARCHETYPES = ("arms_up", "squatting", "lying")


def _split(seed: int, per_class: int, missing: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    landmarks, labels = [], []
    for label, archetype in enumerate(ARCHETYPES):
        for _ in range(per_class):
            body, _ = sample_posed_body(rng, sample_body_shape(rng), archetype)
            points = body.landmarks * np.array([1.0, -1.0, -1.0]) * rng.uniform(100, 400)
            landmarks.append(np.concatenate([points, np.ones((33, 2))], axis=-1))
            labels.append(label)
    landmarks = np.stack(landmarks).astype(np.float32)
    landmarks[rng.choice(len(landmarks), missing, replace=False)] = np.nan
    labels = np.asarray(labels)
    return {"landmarks": landmarks, "image_ids": np.array([f"{i}.jpg" for i in labels]),
            "label_6": labels // 2, "label_82": labels}


def _cache(path) -> None:
    arrays = {}
    for split, seed, per_class, missing in (("train", 1, 30, 4), ("test", 2, 12, 6)):
        arrays.update({f"{split}_{k}": v for k, v in _split(seed, per_class, missing).items()})
    write_landmark_cache(os.fspath(path), arrays, {"dataset": "yoga82",
                                          "class_names": {"6": ["a", "b"],
                                                          "82": list(ARCHETYPES)}})


def test_evaluate_cache_counts_missing_people_and_learns(tmp_path):
    path = tmp_path / "cache.npz"
    _cache(path)
    arrays, meta = read_landmark_cache(os.fspath(path))
    report = evaluate_landmark_cache(arrays, meta, "train", "test", ["82"], ["knn"])
    assert report["splits"]["test"] == {"images": 36, "with_person": 30, "without_person": 6}
    knn = report["accuracy"]["label_82"]["knn"]
    assert knn["detected"] >= 0.9
    assert abs(knn["all"] - knn["detected"] * 30 / 36) < 1e-9


def test_program_reports_a_table_and_a_json_line(tmp_path):
    path = tmp_path / "cache.npz"
    _cache(path)
    result = subprocess.run(
        [sys.executable, "-m", "launch.classify_poses", f"--cache={path}", "--levels=6,82",
         "--mlp_epochs=30"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    assert set(report["accuracy"]) == {"label_6", "label_82"}
    for level in ("label_6", "label_82"):
        for classifier in ("knn", "mlp"):
            assert report["accuracy"][level][classifier]["detected"] >= 0.85, (level, classifier)
    assert report["splits"]["train"]["without_person"] == 4
    assert any(line.startswith("label_82") and "mlp" in line for line in lines)


def test_bad_flags_and_foreign_cache(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "launch.classify_poses", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)

    result = run(f"--cache={tmp_path / 'c.npz'}", "--levels=7")
    assert result.returncode != 0 and "--levels" in result.stderr
    result = run(f"--cache={tmp_path / 'c.json'}")
    assert result.returncode != 0 and ".npz" in result.stderr
    result = run(f"--cache={tmp_path / 'nowhere' / 'c.npz'}")
    assert result.returncode != 0 and "does not exist" in result.stderr
    path = tmp_path / "cache.npz"
    _cache(path)
    result = run(f"--cache={path}", "--dataset=other")
    assert result.returncode != 0 and "holds 'yoga82'" in result.stderr


def test_landmarks_are_extracted_from_a_built_yoga82_split(tmp_path):
    """The extraction step for real: a Yoga-82-format folder of a photo of a person (and a
    blank picture), built with the builder, run through the pretrained TFLite pipeline."""
    import shutil

    import tensorflow as tf
    import tensorflow_datasets as tfds

    import datasets_tfds
    from blazepose import samples
    from blazepose.analysis.classification import extract_split_landmarks

    manual = tmp_path / "yoga"
    for pose in ("Akarna_Dhanurasana", "Cockerel_Pose"):
        (manual / pose).mkdir(parents=True)
    photo = tf.io.decode_png(tf.io.read_file(str(samples.fetch_sample("astronaut"))), 3)
    tf.io.write_file(str(manual / "Akarna_Dhanurasana" / "16.jpg"), tf.io.encode_jpeg(photo))
    shutil.copy(manual / "Akarna_Dhanurasana" / "16.jpg", manual / "Cockerel_Pose" / "1.jpg")
    blank = tf.fill([300, 200, 3], tf.constant(128, tf.uint8))
    tf.io.write_file(str(manual / "Cockerel_Pose" / "2.jpg"), tf.io.encode_jpeg(blank))
    (manual / "yoga_train.txt").write_text("Akarna_Dhanurasana/16.jpg,1,8,0\n")
    (manual / "yoga_test.txt").write_text(
        "Cockerel_Pose/1.jpg,2,9,11\nCockerel_Pose/2.jpg,2,9,11\n")
    datasets_tfds.register_builders()
    data_dir = str(tmp_path / "tfds")
    tfds.builder("yoga82", data_dir=data_dir).download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    messages = []
    arrays, names = extract_split_landmarks("yoga82", "test", data_dir, "tflite", None,
                                            messages.append)
    landmarks = arrays["test_landmarks"]
    by_id = dict(zip(arrays["test_image_ids"], landmarks))
    person = next(v for k, v in by_id.items() if k.endswith("1.jpg"))
    nobody = next(v for k, v in by_id.items() if k.endswith("2.jpg"))
    assert np.isfinite(person).all() and np.isnan(nobody).all()
    nose, left_hip = person[0], person[23]
    assert 0 <= nose[0] <= 512 and nose[1] < left_hip[1], "nose above the hips, inside the photo"
    assert list(arrays["test_label_82"]) == [11, 11]
    assert names["82"][11] == "Cockerel_Pose"
    assert "1 with a person, 1 without" in messages[-1]
