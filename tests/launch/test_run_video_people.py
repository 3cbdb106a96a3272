"""launch.run_video --max_people: every person in the JSON's people list with a stable id."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np

from blazepose.synthesis import crowd

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAMES = 4


def _run(*args):
    return subprocess.run([sys.executable, "-m", "launch.run_video", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_two_people_get_two_stable_ids_in_json_and_video(tmp_path):
    clip = crowd.generate_clip(np.random.default_rng([0, 2, 1, 1]), 2, crossing=True,
                               num_frames=30, seed=1)
    folder = tmp_path / "frames"
    folder.mkdir()
    for index in range(FRAMES):
        frame = cv2.cvtColor(crowd.render_frame(clip, index), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(folder / f"{index:03d}.png"), frame)
    output, output_json = tmp_path / "out.mp4", tmp_path / "out.json"
    result = _run(f"--input={folder}", "--max_people=3", f"--output={output}",
                  f"--output_json={output_json}", "--noprogress")
    assert result.returncode == 0, result.stderr[-3000:]
    assert output.stat().st_size > 0
    record = json.loads(output_json.read_text())
    assert record["schema"] == "blazepose-track/2"
    ids = []
    for frame in record["frames"]:
        people = frame["people"]
        ids.append([p["track_id"] for p in people])
        for person in people:
            assert np.array(person["landmarks"]).shape == (33, 5)
            assert np.array(person["world_landmarks"]).shape == (33, 3)
        assert frame["landmarks"] == people[0]["landmarks"]  # the one-person view: lowest id
        noses = sorted(p["landmarks"][0][0] for p in people)
        np.testing.assert_allclose(noses, np.sort(clip.keypoints[frame["index"], :, 0, 0]),
                                   atol=20)
    assert ids == [[0, 1]] * FRAMES


def test_max_people_must_be_positive(tmp_path):
    image = tmp_path / "grey.png"
    cv2.imwrite(str(image), np.full((32, 32, 3), 90, np.uint8))
    result = _run(f"--input={image}", "--max_people=0")
    assert result.returncode != 0 and "max_people" in result.stderr
