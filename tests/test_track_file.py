"""blazepose.track_file: run_video's track JSON written and read back, old files, bad files."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest

from blazepose import track_file


def _track(frames=6, seed=0) -> track_file.PoseTrack:
    rng = np.random.default_rng(seed)
    landmarks = np.concatenate([rng.uniform(0, 640, (frames, 33, 3)),
                                rng.uniform(0, 1, (frames, 33, 2))], axis=-1)
    world = rng.normal(0, 0.4, (frames, 33, 3))
    landmarks[2] = np.nan  # a frame without a pose
    world[2] = np.nan
    return track_file.PoseTrack(fps=30.0, times=np.arange(frames) / 30.0, landmarks=landmarks,
                                world_landmarks=world, width=640, height=480, source="made")


def test_a_track_written_and_read_back_is_the_track_rounded_once(tmp_path):
    track = _track()
    path = tmp_path / "track.json"
    track_file.write_track(path, track_file.track_to_json(track))
    assert not list(tmp_path.glob(".*partial"))
    document = json.loads(path.read_text())
    assert document["schema"] == track_file.SCHEMA
    assert document["frames"][2]["landmarks"] is None
    assert document["frames"][2]["world_landmarks"] is None
    loaded = track_file.load_track(path)
    assert (loaded.fps, loaded.width, loaded.height, loaded.source) == (30.0, 640, 480, str(path))
    np.testing.assert_array_equal(loaded.has_pose, track.has_pose)
    np.testing.assert_allclose(loaded.times, track.times, atol=0.5e-6)
    pose = track.has_pose
    error = np.abs(loaded.landmarks[pose] - track.landmarks[pose]).max(axis=(0, 1))
    assert (error[:3] <= 0.5e-3 + 1e-12).all() and (error[3:] <= 0.5e-5 + 1e-12).all()
    assert (error[:3] > 1e-5).any(), "pixels are rounded to 3 decimals"
    np.testing.assert_allclose(loaded.world_landmarks[pose], track.world_landmarks[pose],
                               atol=0.5e-5 + 1e-12)
    # Writing what was read gives the same document: the rounding is stable.
    assert track_file.track_to_json(loaded) == document


def test_a_pipeline_result_and_no_pose_make_frame_records():
    landmarks = np.full((33, 5), 1.23456789, np.float32)
    world = np.full((33, 3), -0.123456789, np.float32)
    result = types.SimpleNamespace(landmarks=landmarks, world_landmarks=world)
    record = track_file.result_record(4, 0.1333333333, result)
    assert (record["index"], record["time_s"]) == (4, 0.133333)
    assert record["landmarks"][0] == [1.235, 1.235, 1.235, 1.23457, 1.23457]
    assert record["world_landmarks"][0] == [-0.12346] * 3
    assert track_file.result_record(5, 0.2, None) == {
        "index": 5, "time_s": 0.2, "landmarks": None, "world_landmarks": None}
    with pytest.raises(ValueError, match=r"landmarks must have shape \(33, 5\)"):
        track_file.frame_record(0, 0.0, np.zeros((39, 5)))


def test_files_without_a_schema_field_are_still_read():
    """The layout run_video and counting wrote before the schema field."""
    old = {"fps": 10, "width": 320, "height": 240,
           "frames": [{"index": 0, "time_s": 0.0, "landmarks": [[1, 2, 3, 0.9, 0.8]] * 33,
                       "world_landmarks": None},
                      {"index": 1, "landmarks": None}]}
    track = track_file.track_from_json(old, source="old.json")
    np.testing.assert_array_equal(track.times, [0.0, 0.1])
    np.testing.assert_array_equal(track.has_pose, [True, False])
    assert track.world_landmarks is None


def test_an_unknown_schema_is_refused_naming_the_file():
    with pytest.raises(ValueError, match="new.json: unknown track schema 'blazepose-track/99'"):
        track_file.track_from_json({"schema": "blazepose-track/99", "fps": 30,
                                    "frames": [{"landmarks": None}]}, source="new.json")


def test_missing_and_malformed_files_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.json"):
        track_file.load_track(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ValueError, match="broken.json: not valid JSON"):
        track_file.load_track(broken)
