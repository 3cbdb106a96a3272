"""blazepose.synthesis.crowd: several rendered people with known identities, occlusion, truth."""

import numpy as np
import pytest

from blazepose.synthesis import crowd


@pytest.fixture(scope="module")
def crossing():
    return crowd.generate_clip(np.random.default_rng(3), 2, crossing=True, num_frames=40,
                               width=480, height=270, seed=3)


def test_people_keep_lanes_apart_and_swap_sides_when_crossing(crossing):
    apart = crowd.generate_clip(np.random.default_rng(3), 3, crossing=False, num_frames=20,
                                width=480, height=270)
    assert apart.keypoints.shape == (20, 3, 33, 3) and apart.crossings == 0
    hips = apart.keypoints[:, :, 23:25, 0].mean(axis=2)  # [T, P] mid-hip x
    assert (np.diff(hips, axis=1) > 0.15 * 480).all()  # left to right, with gaps, all along
    assert apart.present.all()
    hips = crossing.keypoints[:, :, 23:25, 0].mean(axis=2)
    assert hips[0, 0] < hips[0, 1] and hips[-1, 0] > hips[-1, 1]  # swapped
    assert crossing.crossings == 1


def test_the_person_behind_is_hidden_while_passing(crossing):
    behind = 1
    hidden = crossing.visibility[:, behind].sum(axis=-1) < crossing.alone_visibility[
        :, behind].sum(axis=-1)
    assert hidden.any() and not hidden[0] and not hidden[-1]
    assert not crossing.present[:, behind].all() and crossing.present[:, 0].all()
    assert crossing.person_height[behind] < crossing.person_height[0]  # farther away
    assert (crossing.keypoints[:, behind, :, 2].mean() > crossing.keypoints[:, 0, :, 2].mean())


def test_frames_are_deterministic_and_a_person_can_be_drawn_alone(crossing):
    frame = crowd.render_frame(crossing, 5)
    assert frame.shape == (270, 480, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(frame, crowd.render_frame(crossing, 5))
    alone = crowd.render_frame(crossing, 5, only=0)
    nose = np.round(crossing.keypoints[5, 1, 0, :2]).astype(int)  # person 1's nose
    x0, y0 = np.clip(nose - 3, 0, None)
    # Where person 1's face is, the full frame and person 0 alone differ; far away they agree.
    assert np.abs(frame[y0:y0 + 6, x0:x0 + 6].astype(int)
                  - alone[y0:y0 + 6, x0:x0 + 6]).mean() > 10
    np.testing.assert_array_equal(frame[:5, :5], alone[:5, :5])


def test_the_people_exercise_with_known_repetitions(crossing):
    assert all(e in crowd.CROWD_EXERCISES for e in crossing.exercises)
    assert crossing.num_reps.shape == (2,) and (crossing.num_reps >= 0).all()
    with pytest.raises(ValueError, match="num_people must be 1 to 4"):
        crowd.generate_clip(np.random.default_rng(0), 5)
