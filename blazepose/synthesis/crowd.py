"""Rendered clips of two to four people with known identities, to measure multi-person tracking.

:func:`generate_clip` samples a clip: one shared background and camera, and per person a body,
an outfit and a standing exercise (squat, jumping jack, lunge) performed at a known rhythm
(:mod:`.exercise`) while the person stands in a lane or, in a crossing clip, glides sideways
across the picture so that pairs of people swap sides, one passing behind the other (the one
behind is drawn farther from the camera, smaller and hidden where the other covers it).
There is no walking gait: "walking" people slide, their legs doing the exercise.
:func:`render_frame` draws frame ``t`` with everyone (or one person alone, for the
single-person baseline of the same person). Everything is a pure function of the generator.

Ground truth per frame and person (:class:`CrowdClip`): the 33 landmarks in image pixels
(continuous, x right, y down), their visibility (hidden behind the person itself, another
person, or outside the picture: 0), and ``present`` (at least :data:`MIN_VISIBLE_LANDMARKS`
visible). Person ``p`` has identity ``p`` throughout.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from blazepose.synthesis import exercise as exercise_model
from blazepose.synthesis import render
from blazepose.synthesis.body_model import pose_body, sample_body_shape
from blazepose.synthesis.camera import CameraSolid, View, solids_to_camera, view_rotation
from blazepose.synthesis.scene import DEPTH_TOLERANCE

__all__ = ["CROWD_EXERCISES", "MIN_VISIBLE_LANDMARKS", "CrowdClip", "generate_clip",
           "render_frame"]

CROWD_EXERCISES = ("squat", "jumping_jack", "lunge")
MIN_VISIBLE_LANDMARKS = 10
_BEHIND_DEPTH = 2.0  # body heights between the front and back rows
_BEHIND_SCALE = 0.85  # the back row's size relative to the front row


@dataclasses.dataclass(frozen=True)
class CrowdClip:
    """A generated clip (its frames come from :func:`render_frame`).

    Attributes:
      width, height: frame size in pixels; fps: frames per second; num_frames: T.
      keypoints: float64 ``[T, P, 33, 3]`` camera-space landmarks (x, y image pixels, z depth
        in pixels, larger is farther).
      visibility: float32 ``[T, P, 33]`` 1 where the landmark can be seen in the full frame.
      alone_visibility: float32 ``[T, P, 33]`` the same with the person alone in the frame.
      present: bool ``[T, P]`` at least :data:`MIN_VISIBLE_LANDMARKS` visible landmarks.
      person_height: float64 ``[P]`` pixels per unit of body height.
      exercises: per person, the exercise performed.
      num_reps: int ``[P]`` complete repetitions started within the clip.
      crossings: how many pairs of people swap sides during the clip.
      solids: per person, camera-space solids with batch ``[T]``.
      outfits, light, background, seed: what :func:`render_frame` draws.
    """

    width: int
    height: int
    fps: float
    num_frames: int
    keypoints: np.ndarray
    visibility: np.ndarray
    alone_visibility: np.ndarray
    present: np.ndarray
    person_height: np.ndarray
    exercises: tuple[str, ...]
    num_reps: np.ndarray
    crossings: int
    solids: tuple[tuple[CameraSolid, ...], ...]
    outfits: tuple
    light: tuple
    background: np.ndarray
    seed: int

    @property
    def num_people(self) -> int:
        return len(self.exercises)


def _depth_profile(rng: np.random.Generator, exercise: str, fps: float, num_frames: int
                   ) -> tuple[np.ndarray, np.ndarray, int]:
    """Exercise depth and hop ``[T]`` and the number of repetitions that start in the clip."""
    timeline = exercise_model.sample_rep_timeline(rng, exercise, 12, fps)
    depth = np.zeros(num_frames)
    hop = np.zeros(num_frames)
    count = min(num_frames, len(timeline.depth))
    depth[:count] = timeline.depth[:count]
    hop[:count] = timeline.hop[:count]
    duration = num_frames / fps
    reps = int(np.sum(timeline.rep_intervals[:, 1] <= duration))
    return depth, hop, reps


def _slice_solid(solid: CameraSolid, index: int) -> CameraSolid:
    def take(array):
        return None if array is None else np.asarray(array)[index]

    return dataclasses.replace(
        solid, start=take(solid.start), end=take(solid.end),
        radii=None if solid.radii is None else (take(solid.radii[0]), take(solid.radii[1])),
        center=take(solid.center), axes=take(solid.axes),
        inverse_axes=take(solid.inverse_axes))


def generate_clip(rng: np.random.Generator, num_people: int = 2, crossing: bool = False,
                  num_frames: int = 60, width: int = 960, height: int = 540, fps: float = 30.0,
                  seed: int = 0) -> CrowdClip:
    """Samples a clip of ``num_people`` (2 to 4) people (see the module docstring).

    Args:
      rng: the only source of randomness of the clip's content.
      crossing: pairs (0, 1) and (2, 3) swap sides during the clip, the second of each pair
        passing behind the first; otherwise everyone keeps a lane of their own, with a gap to
        the next person.
      seed: recorded for :func:`render_frame`'s per-frame sensor noise.
    """
    if not 1 <= num_people <= 4:
        raise ValueError(f"num_people must be 1 to 4, got {num_people}")
    times = np.arange(num_frames) / fps
    lanes = (np.arange(num_people) + 0.5) / num_people
    person_scale = height * rng.uniform(0.55, 0.7) / (1.0 if num_people <= 3 else 1.1)
    keypoints, solids, radii, heights, exercises, reps = [], [], [], [], [], []
    behind = np.zeros(num_people, bool)
    if crossing:
        behind[1::2] = True
    for person in range(num_people):
        exercise = str(rng.choice(CROWD_EXERCISES))
        style = exercise_model.sample_exercise_style(rng, exercise)
        shape = sample_body_shape(rng)
        depth, hop, count = _depth_profile(rng, exercise, fps, num_frames)
        angles, root = exercise_model.exercise_angles(style, shape, depth, hop, None)
        body = pose_body(shape, angles, root)
        scale = person_scale * (_BEHIND_SCALE if behind[person] else 1.0)
        if crossing and person + 1 - 2 * (person % 2) < num_people:
            partner = person + 1 - 2 * (person % 2)
            start, end = lanes[person], lanes[partner]
            progress = np.clip((times / times[-1] - 0.1) / 0.8, 0.0, 1.0) if num_frames > 1 \
                else np.zeros(1)
            centre_x = (start + (end - start) * progress) * width
        else:
            centre_x = np.full(num_frames, lanes[person] * width)
        azimuth = rng.normal(0.0, 15.0)
        rotation = view_rotation(azimuth, rng.uniform(0.0, 10.0), 0.0)
        unit = View(rotation=rotation, scale=np.asarray(1.0), offset=np.zeros(3))
        standing = unit.points(body.landmarks[:1])[0]
        feet_y = standing[:, 1].max()
        offset = np.zeros((num_frames, 3))
        offset[:, 0] = centre_x
        floor = height * (0.93 if not behind[person] else 0.86)
        offset[:, 1] = floor - scale * feet_y
        offset[:, 2] = (_BEHIND_DEPTH if behind[person] else 0.0) * person_scale + \
            person * 1e-3 * person_scale
        view = View(rotation=np.broadcast_to(rotation, (num_frames, 3, 3)),
                    scale=np.full(num_frames, scale), offset=offset)
        keypoints.append(view.points(body.landmarks))
        solids.append(solids_to_camera(body.solids, view))
        radii.append(body.landmark_radius * scale)
        heights.append(scale)
        exercises.append(exercise)
        reps.append(count)
    keypoints = np.stack(keypoints, axis=1)  # [T, P, 33, 3]
    everyone = tuple(s.with_point_axis() for person_solids in solids for s in person_solids)
    visibility = np.zeros(keypoints.shape[:3], np.float32)
    alone = np.zeros_like(visibility)
    for person in range(num_people):
        tolerance = DEPTH_TOLERANCE * heights[person]
        visibility[:, person] = render.landmark_visibility(
            keypoints[:, person], radii[person], everyone, width, height, tolerance)
        alone[:, person] = render.landmark_visibility(
            keypoints[:, person], radii[person],
            tuple(s.with_point_axis() for s in solids[person]), width, height, tolerance)
    present = visibility.sum(axis=-1) >= MIN_VISIBLE_LANDMARKS
    background = render.random_background(rng, height, width)
    outfits = tuple(render.sample_outfit(rng) for _ in range(num_people))
    light = render.sample_light(rng)
    crossings = (num_people // 2) if crossing else 0
    return CrowdClip(width=width, height=height, fps=fps, num_frames=num_frames,
                     keypoints=keypoints, visibility=visibility, alone_visibility=alone,
                     present=present, person_height=np.asarray(heights),
                     exercises=tuple(exercises), num_reps=np.asarray(reps),
                     crossings=crossings, solids=tuple(solids), outfits=outfits, light=light,
                     background=background, seed=seed)


def render_frame(clip: CrowdClip, index: int, only: int | None = None) -> np.ndarray:
    """Frame ``index`` of ``clip`` as uint8 RGB ``[H, W, 3]``: everyone, or person ``only``
    alone on the same background (same sensor noise either way)."""
    canvas = clip.background.copy()
    depth = np.full((clip.height, clip.width), np.inf)
    parts = np.full((clip.height, clip.width), render.BACKGROUND_PART, np.int16)
    people = range(clip.num_people) if only is None else [only]
    for person in people:
        solids = tuple(_slice_solid(s, index) for s in clip.solids[person])
        render.draw_body(canvas, depth, parts, solids, clip.outfits[person], clip.light)
    rng = np.random.default_rng([clip.seed, index])
    return render.finish_image(rng, canvas)
