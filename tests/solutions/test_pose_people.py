"""blazepose.solutions.pose.Pose(num_poses=N): every person, with ids, like MediaPipe Tasks."""

import numpy as np

from blazepose.solutions import pose as mp_pose
from blazepose.synthesis import crowd


def test_num_poses_reports_each_person_with_a_stable_id():
    clip = crowd.generate_clip(np.random.default_rng([0, 2, 1, 1]), 2, crossing=True,
                               num_frames=30, seed=1)
    with mp_pose.Pose(num_poses=3) as pose:
        ids = []
        for index in range(3):
            people = pose.process_people(crowd.render_frame(clip, index))
            ids.append([track_id for track_id, _ in people])
            noses = sorted(out.pose_landmarks.landmark[0].x * clip.width for _, out in people)
            np.testing.assert_allclose(noses, np.sort(clip.keypoints[index, :, 0, 0]), atol=20)
        assert ids == [[0, 1]] * 3
        # process() gives the person of the lowest id: the same one as on the frames before.
        id0_nose = people[0][1].pose_landmarks.landmark[0].x
        first = pose.process(crowd.render_frame(clip, 3))
        assert abs(first.pose_landmarks.landmark[0].x - id0_nose) < 0.02
    with mp_pose.Pose(static_image_mode=True) as single:
        people = single.process_people(crowd.render_frame(clip, 0))
        assert [track_id for track_id, _ in people] == [0]  # num_poses=1: the legacy person
        legacy = single.process(crowd.render_frame(clip, 0))
        np.testing.assert_array_equal(
            [[p.x, p.y] for p in people[0][1].pose_landmarks.landmark],
            [[p.x, p.y] for p in legacy.pose_landmarks.landmark])
