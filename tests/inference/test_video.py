"""Inputs of the video program in-process: image folders, single images, bad inputs."""

import json
import re

import cv2
import numpy as np
import pytest

from blazepose.inference import PosePipeline, video


@pytest.fixture(scope="module")
def pipeline(tflite_detector, tflite_landmarks):
    return PosePipeline(tflite_detector, tflite_landmarks)


def _portrait(astronaut, shift):
    canvas = np.full((240, 320, 3), 90, np.uint8)
    small = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)
    canvas[112:, 20 + shift:148 + shift] = small
    return cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR)


def test_a_folder_of_images_is_a_video_at_the_given_rate(pipeline, astronaut, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for index in range(3):
        cv2.imwrite(str(folder / f"frame_{index:03d}.png"), _portrait(astronaut, 8 * index))
    (folder / "notes.txt").write_text("not an image, ignored")
    source = video.open_source(str(folder), images_fps=5.0)
    assert (source.kind, source.fps, source.frame_count) == ("folder", 5.0, 3)
    output_json = tmp_path / "poses.json"
    summary = video.process_video(source, pipeline, output=str(tmp_path / "out.mp4"),
                                  output_json=str(output_json), progress=False)
    assert (summary.frames, summary.frames_with_pose, summary.detector_runs) == (3, 3, 1)
    record = json.loads(output_json.read_text())
    assert [f["time_s"] for f in record["frames"]] == [0.0, 0.2, 0.4]
    capture = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3


def test_a_single_image_runs_the_detector_and_can_be_written_as_an_image(pipeline, astronaut,
                                                                         tmp_path):
    path = tmp_path / "photo.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    source = video.open_source(str(path))
    assert (source.kind, source.width, source.height) == ("image", 512, 512)
    progress = tmp_path / "progress.txt"
    with open(progress, "w") as stream:
        summary = video.process_video(source, pipeline, output=str(tmp_path / "annotated.png"),
                                      progress=True, progress_stream=stream)
    assert summary.frames_with_pose == 1
    landmarks = np.array(summary.record["frames"][0]["landmarks"])
    assert landmarks.shape == (33, 5) and 170 < landmarks[0, 0] < 290  # the nose, in pixels
    annotated = cv2.imread(str(tmp_path / "annotated.png"))
    assert annotated.shape == (512, 512, 3)
    assert np.abs(annotated.astype(int) - cv2.imread(str(path)).astype(int)).mean() > 0.5
    final = progress.read_text().splitlines()[-1]  # tqdm redraws its line after a "\r"
    assert re.search(r"video: 100%.* 1/1 .*[\d.]+(frame/s|s/frame)", final), final


def test_unreadable_inputs_name_the_file(tmp_path):
    with pytest.raises(video.InputError, match="missing.mp4: no such file"):
        video.open_source(str(tmp_path / "missing.mp4"))
    bad_video = tmp_path / "bad.mp4"
    bad_video.write_bytes(b"not a video")
    with pytest.raises(video.InputError, match="bad.mp4: not a readable video"):
        video.open_source(str(bad_video))
    bad_image = tmp_path / "bad.png"
    bad_image.write_bytes(b"\x89PNG but not really")
    with pytest.raises(video.InputError, match="bad.png: not a readable image"):
        video.open_source(str(bad_image))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(video.InputError, match="folder has no images"):
        video.open_source(str(empty))
    with pytest.raises(video.InputError, match="camera index"):
        video.open_source("webcam:front")
    folder = tmp_path / "mixed"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((32, 32, 3), np.uint8))
    (folder / "b.png").write_bytes(b"broken")
    source = video.open_source(str(folder))
    with pytest.raises(video.InputError, match="b.png: not a readable image"):
        list(source.frames)


# --- frames lost or times doubtful (issue 21) -------------------------------------------------


class _NoPosePipeline:
    """Stands in for the networks: no pose in any frame (decoding is what is tested)."""

    last_timings: dict = {}

    def reset(self):
        pass

    def process_frame(self, rgb, time_s):
        return None


def _write_clip(path, frames=30, fps=10.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (64, 48))
    for index in range(frames):
        image = np.full((48, 64, 3), (index * 8) % 255, np.uint8)
        cv2.putText(image, str(index), (5, 40), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
        writer.write(image)
    writer.release()


def test_an_intact_video_has_no_warnings(tmp_path):
    _write_clip(tmp_path / "clip.mp4")
    summary = video.process_video(video.open_source(str(tmp_path / "clip.mp4")),
                                  _NoPosePipeline(), output_json=str(tmp_path / "t.json"),
                                  progress=False)
    assert summary.frames == 30 and summary.warnings == []
    assert json.loads((tmp_path / "t.json").read_text())["warnings"] == []


def test_frames_lost_in_a_damaged_video_are_reported_in_the_json(tmp_path):
    path = tmp_path / "damaged.mp4"
    _write_clip(path)
    content = bytearray(path.read_bytes())
    start, length = len(content) // 3, len(content) // 4
    content[start:start + length] = (bytes(range(7, 256, 3)) * length)[:length]
    path.write_bytes(bytes(content))
    summary = video.process_video(video.open_source(str(path)), _NoPosePipeline(),
                                  output_json=str(tmp_path / "t.json"), progress=False)
    assert summary.frames < 30
    lost = 30 - summary.frames
    assert any(f"decoded {summary.frames} frames but the container declares 30: {lost} frame(s) "
               "lost" in warning for warning in summary.warnings), summary.warnings
    assert json.loads((tmp_path / "t.json").read_text())["warnings"] == summary.warnings


class _Capture:
    """A capture whose demuxer timestamps say 10 fps (100 ms apart), whatever the header says."""

    def __init__(self, frames):
        self.frames, self.position = frames, 1

    def read(self):
        if self.position >= self.frames:
            return False, None
        self.position += 1
        return True, np.zeros((4, 4, 3), np.uint8)

    def get(self, prop):
        assert prop == cv2.CAP_PROP_POS_MSEC
        return (self.position - 1) * 100.0


def test_a_frame_rate_that_the_timestamps_contradict_is_reported():
    report = video.DecodeReport(declared_frames=30, declared_fps=25.0)
    frames = list(video._video_frames(_Capture(30), np.zeros((4, 4, 3), np.uint8), 25.0, report))
    assert len(frames) == 30 and report.exhausted
    (warning,) = video.decode_warnings(report)
    assert "the container says 25 fps but the frames' timestamps advance at 10 fps" in warning
    assert "factor 2.5" in warning
