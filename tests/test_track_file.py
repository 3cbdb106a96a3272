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


class _Person:
    """What people_record needs of a pipeline result."""

    def __init__(self, track_id, x):
        self.track_id = track_id
        self.landmarks = np.full((33, 5), 0.5)
        self.landmarks[:, 0] = x
        self.world_landmarks = np.zeros((33, 3))


def test_people_are_written_and_read_back_by_track_id(tmp_path):
    frames = [track_file.people_record(0, 0.0, [_Person(3, 30.0), _Person(1, 10.0)]),
              track_file.people_record(1, 0.1, [_Person(3, 31.0)]),
              track_file.people_record(2, 0.2, [])]
    document = track_file.track_document(10.0, 64, 48, frames)
    assert document["schema"] == "blazepose-track/2"
    # The frame's own landmarks are its lowest track id: a one-person reader still works.
    assert [p["track_id"] for p in frames[0]["people"]] == [1, 3]
    assert frames[0]["landmarks"][0][0] == 10.0 and frames[2]["landmarks"] is None
    path = tmp_path / "people.json"
    track_file.write_track(path, document)
    first = track_file.load_track(path)
    np.testing.assert_array_equal(first.landmarks[:, 0, 0][:2], [10.0, 31.0])
    assert track_file.track_ids(document) == [1, 3]
    three = track_file.load_track(path, track_id=3)
    np.testing.assert_array_equal(three.has_pose, [True, True, False])
    np.testing.assert_array_equal(three.landmarks[:2, 0, 0], [30.0, 31.0])
    one = track_file.load_track(path, track_id=1)
    np.testing.assert_array_equal(one.has_pose, [True, False, False])
    tracks = track_file.load_tracks(path)
    assert list(tracks) == [1, 3] and tracks[3].num_frames == 3
    with pytest.raises(ValueError, match=r"people.json: no person with track_id 2; the file "
                                         r"holds track ids \[1, 3\]"):
        track_file.load_track(path, track_id=2)


def test_a_version_1_file_is_one_person_without_ids(tmp_path):
    old = {"schema": "blazepose-track/1", "fps": 10, "frames": [
        {"index": 0, "time_s": 0.0, "landmarks": [[1, 2, 3, 0.9, 0.8]] * 33}]}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    assert list(track_file.load_tracks(path)) == [None]
    assert track_file.load_track(path).has_pose.tolist() == [True]
    with pytest.raises(ValueError, match="old.json: no person with track_id 0.*without --max_"):
        track_file.load_track(path, track_id=0)


def test_a_malformed_people_list_names_the_frame():
    document = {"schema": "blazepose-track/2", "fps": 10, "frames": [
        {"landmarks": None, "people": [{"track_id": "a", "landmarks": None}]}]}
    with pytest.raises(ValueError, match="bad.json: frame 0: 'people' must be a list"):
        track_file.track_ids(document, "bad.json")
