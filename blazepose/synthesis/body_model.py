"""An articulated 3-D body in BlazePose's 33-landmark layout, posed by joint angles.

Body (world) frame, in units of the person's standing height (1.0):

* +x is the person's own left, +y is up, +z is the direction the unposed body faces.
* The root is the pelvis centre, midway between the two hip landmarks.

A person facing the camera therefore has their left side on the image's right, as in MediaPipe
(see ``blazepose.topology``); the camera (:mod:`.camera`) may look from any direction, so back
and side views swap or stack the two sides in the image as a real camera would.

Joint angles are in degrees, in a dict keyed by :data:`JOINT_NAMES` (left and right limbs have
the same anatomical meaning: the right arm is posed as the mirror image of the left one). Every
value broadcasts to a common batch shape ``B`` (``()`` for one pose, ``(T,)`` for a sequence).
:func:`pose_body` turns shape + angles into the 33 landmarks and the solids (capsules and
ellipsoids) that :mod:`.render` draws and that decide which landmarks are occluded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blazepose.synthesis.geometry import rotation_x, rotation_y, rotation_z
from blazepose.topology import BLAZEPOSE_33

__all__ = [
    "BODY_PARTS",
    "FACE_POINT_ANGLES",
    "JOINT_LIMITS",
    "JOINT_NAMES",
    "LANDMARK_INDEX",
    "BodyShape",
    "PosedBody",
    "Solid",
    "clip_to_limits",
    "face_direction",
    "neutral_angles",
    "pose_body",
    "sample_body_shape",
]

LANDMARK_INDEX: dict[str, int] = {name: i for i, name in enumerate(BLAZEPOSE_33.keypoint_names)}
"""Index of each BlazePose landmark name (``"LEFT_WRIST"`` -> 15)."""

_SIDES = ("left", "right")

# Joint angle limits in degrees (hand_closure is a fraction in [0, 1]).
_GLOBAL_LIMITS = {
    # Whole-body tilt about the body's own left axis: 90 lies face down (head towards +z),
    # -90 lies on the back (head towards -z).
    "body_pitch": (-100.0, 100.0),
    # Whole-body tilt about the forward axis: positive leans to the person's right.
    "body_roll": (-100.0, 100.0),
    "spine_flex": (-25.0, 75.0),  # forward bend of the chest over the pelvis
    "spine_side_bend": (-35.0, 35.0),  # towards the person's left
    "spine_twist": (-45.0, 45.0),  # chest turns towards the person's left
    "neck_flex": (-45.0, 60.0),  # chin down
    "neck_side_bend": (-35.0, 35.0),  # ear towards the left shoulder
    "neck_twist": (-75.0, 75.0),  # face turns towards the person's left
}
_LIMB_LIMITS = {
    # Swing of the upper arm: elevation from hanging (0) to overhead (180), in a plane rotated
    # from the frontal plane (0, arm out to the side) towards the front (90, arm forward);
    # negative planes swing the arm behind the body.
    "shoulder_elevation": (0.0, 180.0),
    "shoulder_plane": (-60.0, 135.0),
    "shoulder_twist": (-70.0, 90.0),  # internal rotation of the upper arm
    "elbow_flex": (0.0, 150.0),
    "forearm_pronation": (-30.0, 190.0),  # 0: palm forward with the arm hanging; 90: palm in
    "wrist_flex": (-90.0, 80.0),  # towards the palm
    "wrist_deviation": (-30.0, 25.0),  # towards the thumb
    "hand_closure": (0.0, 1.0),  # 0 open hand, 1 fist
    "hip_flex": (-35.0, 135.0),  # thigh forward
    "hip_abduct": (-25.0, 65.0),  # thigh out to the side
    "hip_twist": (-45.0, 45.0),  # internal rotation (toes in)
    "knee_flex": (0.0, 160.0),
    "ankle_flex": (-55.0, 35.0),  # dorsiflexion (toes up)
}
JOINT_LIMITS: dict[str, tuple[float, float]] = {
    **_GLOBAL_LIMITS,
    **{f"{side}_{name}": limits for side in _SIDES for name, limits in _LIMB_LIMITS.items()},
}
"""(low, high) of every joint angle, degrees (``*_hand_closure``: fraction)."""

JOINT_NAMES: tuple[str, ...] = tuple(JOINT_LIMITS)
"""Keys of a joint-angle dict."""

_NEUTRAL_LIMB = {
    "shoulder_elevation": 8.0, "shoulder_plane": 10.0, "shoulder_twist": 0.0, "elbow_flex": 10.0,
    "forearm_pronation": 80.0, "wrist_flex": 5.0, "wrist_deviation": 0.0, "hand_closure": 0.3,
    "hip_flex": 0.0, "hip_abduct": 3.0, "hip_twist": 0.0, "knee_flex": 3.0, "ankle_flex": 0.0,
}  # fmt: skip


def neutral_angles() -> dict[str, float]:
    """A relaxed upright stance: arms hanging, palms in, legs straight."""
    angles = {name: 0.0 for name in _GLOBAL_LIMITS}
    for side in _SIDES:
        angles.update({f"{side}_{name}": value for name, value in _NEUTRAL_LIMB.items()})
    return angles


def clip_to_limits(angles: dict[str, np.ndarray | float]) -> dict[str, np.ndarray]:
    """The angles clipped to :data:`JOINT_LIMITS` (float64 arrays); missing joints are neutral."""
    neutral = neutral_angles()
    return {name: np.clip(np.asarray(angles.get(name, neutral[name]), np.float64), low, high)
            for name, (low, high) in JOINT_LIMITS.items()}


@dataclass(frozen=True)
class BodyShape:
    """Body proportions, in units of standing height; radii are the solids' thickness.

    Defaults are an average adult (segment lengths after Drillis and Contini's fractions).
    """

    hip_half_width: float = 0.068
    waist_height: float = 0.10  # root -> waist (spine bending point)
    chest_length: float = 0.19  # waist -> neck base
    shoulder_half_width: float = 0.118
    shoulder_drop: float = 0.025  # shoulder joints below the neck base
    neck_length: float = 0.05
    head_axes: tuple[float, float, float] = (0.049, 0.064, 0.057)  # half width, height, depth
    upper_arm_length: float = 0.186
    forearm_length: float = 0.146
    hand_length: float = 0.108
    thigh_length: float = 0.245
    shin_length: float = 0.246
    ankle_height: float = 0.042
    foot_forward: float = 0.118  # ankle -> toe tip, along the foot
    heel_back: float = 0.032
    upper_arm_radii: tuple[float, float] = (0.043, 0.034)
    forearm_radii: tuple[float, float] = (0.033, 0.024)
    thigh_radii: tuple[float, float] = (0.072, 0.048)
    shin_radii: tuple[float, float] = (0.047, 0.031)
    neck_radius: float = 0.029
    hand_half_width: float = 0.026
    hand_half_thickness: float = 0.012
    foot_half_width: float = 0.033
    pelvis_axes: tuple[float, float, float] = (0.112, 0.078, 0.076)
    abdomen_axes: tuple[float, float, float] = (0.105, 0.095, 0.075)
    chest_axes: tuple[float, float, float] = (0.128, 0.12, 0.085)


def sample_body_shape(rng: np.random.Generator) -> BodyShape:
    """Random but plausible proportions: limb lengths +-6%, build (girth) 0.8x to 1.3x."""
    base = BodyShape()

    def vary(value, spread):
        return float(value * (1.0 + rng.uniform(-spread, spread)))

    build = float(np.clip(rng.normal(1.0, 0.12), 0.8, 1.3))
    shoulders = vary(1.0, 0.08)
    head = vary(1.0, 0.08)

    def girth(values, spread=0.05):
        return tuple(float(v * build * (1.0 + rng.uniform(-spread, spread))) for v in values)

    return BodyShape(
        hip_half_width=vary(base.hip_half_width, 0.1) * (0.7 + 0.3 * build),
        waist_height=vary(base.waist_height, 0.06),
        chest_length=vary(base.chest_length, 0.06),
        shoulder_half_width=base.shoulder_half_width * shoulders,
        shoulder_drop=vary(base.shoulder_drop, 0.2),
        neck_length=vary(base.neck_length, 0.15),
        head_axes=tuple(float(a * head) for a in base.head_axes),
        upper_arm_length=vary(base.upper_arm_length, 0.05),
        forearm_length=vary(base.forearm_length, 0.05),
        hand_length=vary(base.hand_length, 0.06),
        thigh_length=vary(base.thigh_length, 0.05),
        shin_length=vary(base.shin_length, 0.05),
        ankle_height=vary(base.ankle_height, 0.08),
        foot_forward=vary(base.foot_forward, 0.06),
        heel_back=vary(base.heel_back, 0.1),
        upper_arm_radii=girth(base.upper_arm_radii),
        forearm_radii=girth(base.forearm_radii),
        thigh_radii=girth(base.thigh_radii),
        shin_radii=girth(base.shin_radii),
        neck_radius=float(base.neck_radius * (0.85 + 0.15 * build)),
        hand_half_width=vary(base.hand_half_width, 0.08),
        hand_half_thickness=vary(base.hand_half_thickness, 0.08),
        foot_half_width=vary(base.foot_half_width, 0.08),
        pelvis_axes=girth(base.pelvis_axes),
        abdomen_axes=girth(base.abdomen_axes, 0.12),
        chest_axes=(base.chest_axes[0] * shoulders * (0.8 + 0.2 * build),
                    *girth(base.chest_axes[1:])),
    )


# Body parts, one solid each; the index is the part id of the renderer's part buffer.
BODY_PARTS: tuple[str, ...] = (
    "pelvis", "abdomen", "chest", "neck", "head", "nose", "left_ear", "right_ear",
    "left_upper_arm", "left_forearm", "left_hand", "left_thumb",
    "right_upper_arm", "right_forearm", "right_hand", "right_thumb",
    "left_thigh", "left_shin", "left_foot", "right_thigh", "right_shin", "right_foot",
)  # fmt: skip
"""Names of the solids of a body, in drawing/part-id order."""

_PART_ID = {name: i for i, name in enumerate(BODY_PARTS)}


@dataclass(frozen=True)
class Solid:
    """One solid of a body, in whatever frame its arrays are in (body frame or camera space).

    A capsule uses ``start``, ``end`` (``B + [3]``) and ``radii`` (two arrays broadcastable to
    ``B``); an ellipsoid uses ``center`` (``B + [3]``) and ``axes`` (``B + [3, 3]``, columns are
    its semi-axis vectors).
    """

    part: str
    kind: str  # "capsule" or "ellipsoid"
    start: np.ndarray | None = None
    end: np.ndarray | None = None
    radii: tuple[np.ndarray, np.ndarray] | None = None
    center: np.ndarray | None = None
    axes: np.ndarray | None = None

    @property
    def part_id(self) -> int:
        return _PART_ID[self.part]


@dataclass(frozen=True)
class PosedBody:
    """A posed body in the body frame (units of height).

    Attributes:
      landmarks: float64 ``B + [33, 3]``, BlazePose landmarks in BLAZEPOSE_33 order.
      landmark_radius: float64 ``[33]``: how deep inside the body each landmark lies (the radius
        of the limb at a joint, 0 for points on the skin such as the eyes); a landmark is hidden
        when something is in front of ``depth - landmark_radius``.
      solids: the body's solids, in :data:`BODY_PARTS` order.
      head_frame: float64 ``B + [3, 3]``, columns: the head's left, up and forward axes (used to
        paint hair and the face).
      head_center: float64 ``B + [3]``.
      chest_frame: float64 ``B + [3, 3]``.
      pelvis_frame: float64 ``B + [3, 3]``.
    """

    landmarks: np.ndarray
    landmark_radius: np.ndarray
    solids: tuple[Solid, ...]
    head_frame: np.ndarray
    head_center: np.ndarray
    chest_frame: np.ndarray
    pelvis_frame: np.ndarray


def _apply(rotation: np.ndarray, vector) -> np.ndarray:
    """``rotation [..., 3, 3] @ vector [..., 3]``."""
    return np.einsum("...ij,...j->...i", rotation, np.asarray(vector, np.float64))


_MIRROR = {"left": np.diag([1.0, 1.0, 1.0]), "right": np.diag([-1.0, 1.0, 1.0])}


def _diag_axes(rotation: np.ndarray, semi_axes) -> np.ndarray:
    """``B + [3, 3]`` ellipsoid axes: the frame's columns scaled by the semi-axes."""
    return rotation * np.asarray(semi_axes, np.float64)


def face_direction(yaw_degrees: float, pitch_degrees: float) -> np.ndarray:
    """Unit-sphere direction in the head frame: yaw towards the person's left, pitch up."""
    yaw, pitch = np.deg2rad(yaw_degrees), np.deg2rad(pitch_degrees)
    return np.array([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)])


FACE_POINT_ANGLES = {
    "EYE_INNER": (10.0, 13.0),
    "EYE": (21.0, 13.0),
    "EYE_OUTER": (33.0, 13.0),
    "EAR": (94.0, 2.0),
    "MOUTH": (17.0, -31.0),
}
"""Face landmarks as (yaw, pitch) degrees on the head ellipsoid for the person's left side
(+yaw, see :func:`face_direction`); the right side mirrors the yaw. MOUTH is MOUTH_LEFT."""
NOSE_ANGLES = (0.0, -8.0)


def _limb_arm(shape: BodyShape, angle, side: str):
    """Arm points and frames relative to the shoulder joint, in the chest frame.

    Computed for the left arm and mirrored (x -> -x) for the right one.
    """
    elevation, plane = angle("shoulder_elevation"), angle("shoulder_plane")
    upper_rotation = (rotation_y(-plane) @ rotation_z(elevation) @ rotation_y(plane)
                      @ rotation_y(-angle("shoulder_twist")))
    elbow = _apply(upper_rotation, [0.0, -shape.upper_arm_length, 0.0])
    forearm_rotation = upper_rotation @ rotation_x(-angle("elbow_flex"))
    wrist = elbow + _apply(forearm_rotation, [0.0, -shape.forearm_length, 0.0])
    hand_rotation = (forearm_rotation @ rotation_y(-angle("forearm_pronation"))
                     @ rotation_x(-angle("wrist_flex")) @ rotation_z(angle("wrist_deviation")))
    closure = angle("hand_closure")
    reach = shape.hand_length * 0.92 * (1.0 - 0.35 * closure)  # wrist -> end of the closed hand
    zero = np.zeros_like(reach)

    def in_hand(x, y, z):
        return wrist + _apply(hand_rotation, np.stack(np.broadcast_arrays(x, y, z), axis=-1))

    width, thickness = shape.hand_half_width, shape.hand_half_thickness
    points = {
        "ELBOW": elbow,
        "WRIST": wrist,
        "INDEX": in_hand(zero + 0.65 * width, -0.8 * reach, zero + 0.3 * thickness),
        "PINKY": in_hand(zero - 0.72 * width, -0.7 * reach, zero + 0.3 * thickness),
        "THUMB": in_hand(zero + 1.15 * width, -0.46 * reach, zero + 1.4 * thickness),
    }
    hand_center = in_hand(zero - 0.05 * width, -0.5 * reach, zero)
    hand_semi_axes = np.stack(np.broadcast_arrays(zero + width, 0.5 * reach + 0.006,
                                                  zero + thickness), axis=-1)
    thumb_base = in_hand(zero + 0.6 * width, -0.12 * reach, zero + 0.4 * thickness)
    thumb_tip = in_hand(zero + 1.22 * width, -0.5 * reach, zero + 1.5 * thickness)
    mirror = _MIRROR[side]
    mirrored = {name: _apply(mirror, p) for name, p in points.items()}
    geometry = {
        "elbow": _apply(mirror, elbow),
        "wrist": _apply(mirror, wrist),
        "hand_center": _apply(mirror, hand_center),
        "hand_axes": mirror @ hand_rotation * hand_semi_axes[..., None, :],
        "thumb_base": _apply(mirror, thumb_base),
        "thumb_tip": _apply(mirror, thumb_tip),
    }
    return mirrored, geometry


def _limb_leg(shape: BodyShape, angle, side: str):
    """Leg points and frames relative to the hip joint, in the pelvis frame (left, mirrored)."""
    thigh_rotation = (rotation_z(angle("hip_abduct")) @ rotation_x(-angle("hip_flex"))
                      @ rotation_y(-angle("hip_twist")))
    knee = _apply(thigh_rotation, [0.0, -shape.thigh_length, 0.0])
    shin_rotation = thigh_rotation @ rotation_x(angle("knee_flex"))
    ankle = knee + _apply(shin_rotation, [0.0, -shape.shin_length, 0.0])
    foot_rotation = shin_rotation @ rotation_x(-angle("ankle_flex"))
    height = shape.ankle_height
    heel = ankle + _apply(foot_rotation, [0.0, -0.8 * height, -0.95 * shape.heel_back])
    toe = ankle + _apply(foot_rotation, [0.0, -0.85 * height, 0.97 * shape.foot_forward])
    foot_center = ankle + _apply(foot_rotation, [0.0, -0.5 * height,
                                                 0.5 * (shape.foot_forward - shape.heel_back)])
    foot_axes = foot_rotation * np.array(
        [shape.foot_half_width, 0.72 * height,
         0.5 * (shape.foot_forward + shape.heel_back) + 0.012])
    mirror = _MIRROR[side]
    points = {"KNEE": knee, "ANKLE": ankle, "HEEL": heel, "FOOT_INDEX": toe}
    mirrored = {name: _apply(mirror, p) for name, p in points.items()}
    geometry = {
        "knee": _apply(mirror, knee),
        "ankle": _apply(mirror, ankle),
        "foot_center": _apply(mirror, foot_center),
        "foot_axes": mirror @ foot_axes,
    }
    return mirrored, geometry


def _landmark_radius(shape: BodyShape) -> np.ndarray:
    radius = np.zeros(33, np.float64)
    for side in ("LEFT", "RIGHT"):
        radius[LANDMARK_INDEX[f"{side}_SHOULDER"]] = shape.upper_arm_radii[0]
        radius[LANDMARK_INDEX[f"{side}_ELBOW"]] = shape.upper_arm_radii[1]
        radius[LANDMARK_INDEX[f"{side}_WRIST"]] = shape.forearm_radii[1]
        for finger in ("PINKY", "INDEX", "THUMB"):
            radius[LANDMARK_INDEX[f"{side}_{finger}"]] = shape.hand_half_thickness
        radius[LANDMARK_INDEX[f"{side}_HIP"]] = shape.thigh_radii[0]
        radius[LANDMARK_INDEX[f"{side}_KNEE"]] = shape.thigh_radii[1]
        radius[LANDMARK_INDEX[f"{side}_ANKLE"]] = shape.shin_radii[1]
        radius[LANDMARK_INDEX[f"{side}_HEEL"]] = 0.012
        radius[LANDMARK_INDEX[f"{side}_FOOT_INDEX"]] = 0.012
    return radius


def _place_limb(side: str, base_name: str, base: np.ndarray, frame: np.ndarray,
                landmark_points: dict, limb: dict, segments: tuple, end: str,
                set_landmark, solids: dict) -> None:
    """Places one arm or leg: its base joint (``base_name``, e.g. ``"shoulder"``, at ``base``
    metres) and the limb's landmarks (``landmark_points``, offsets from the base in ``frame``)
    via ``set_landmark``; into ``solids`` a capsule per ``segments`` entry
    ``(part, from_joint, to_joint, radii)`` between joints of ``limb`` (offsets in ``frame``),
    then the ellipsoid ``end`` (hand or foot) from ``limb[end + "_center" | "_axes"]``."""
    upper = side.upper()
    set_landmark(f"{upper}_{base_name.upper()}", base)
    for name, point in landmark_points.items():
        set_landmark(f"{upper}_{name}", base + _apply(frame, point))
    joints = {base_name: base}
    for part, first, second, radii in segments:
        for joint in (first, second):
            if joint not in joints:
                joints[joint] = base + _apply(frame, limb[joint])
        solids[f"{side}_{part}"] = Solid(f"{side}_{part}", "capsule", start=joints[first],
                                         end=joints[second], radii=radii)
    solids[f"{side}_{end}"] = Solid(f"{side}_{end}", "ellipsoid",
                                    center=base + _apply(frame, limb[f"{end}_center"]),
                                    axes=frame @ limb[f"{end}_axes"])


def pose_body(shape: BodyShape, angles: dict[str, np.ndarray | float],
              root_position: np.ndarray | None = None) -> PosedBody:
    """Forward kinematics: the landmarks and solids of ``shape`` posed by ``angles``.

    Args:
      shape: proportions.
      angles: joint angles (degrees) keyed by :data:`JOINT_NAMES`, each broadcastable to the
        batch shape B; missing joints are neutral. They are clipped to :data:`JOINT_LIMITS`.
      root_position: float ``B + [3]`` position of the pelvis centre; the origin by default.

    Returns:
      The posed body in the body frame (see the module docstring).
    """
    clipped = clip_to_limits(angles)
    batch_shape = np.broadcast_shapes(*(np.shape(v) for v in clipped.values()))
    clipped = {name: np.broadcast_to(value, batch_shape) for name, value in clipped.items()}
    root = np.zeros(batch_shape + (3,)) if root_position is None else np.broadcast_to(
        np.asarray(root_position, np.float64), batch_shape + (3,))

    def global_angle(name):
        return clipped[name]

    pelvis_frame = rotation_x(global_angle("body_pitch")) @ rotation_z(global_angle("body_roll"))
    flex, side_bend, twist = (global_angle("spine_flex"), global_angle("spine_side_bend"),
                              global_angle("spine_twist"))
    chest_frame = pelvis_frame @ rotation_y(twist) @ rotation_z(-side_bend) @ rotation_x(flex)
    waist_frame = (pelvis_frame @ rotation_y(0.5 * twist) @ rotation_z(-0.5 * side_bend)
                   @ rotation_x(0.5 * flex))
    waist = root + _apply(pelvis_frame, [0.0, shape.waist_height, 0.0])
    neck_base = waist + _apply(chest_frame, [0.0, shape.chest_length, 0.0])
    neck_flex, neck_side, neck_twist = (global_angle("neck_flex"), global_angle("neck_side_bend"),
                                        global_angle("neck_twist"))
    neck_frame = (chest_frame @ rotation_y(0.5 * neck_twist) @ rotation_z(-0.5 * neck_side)
                  @ rotation_x(0.5 * neck_flex))
    head_frame = (chest_frame @ rotation_y(neck_twist) @ rotation_z(-neck_side)
                  @ rotation_x(neck_flex))
    neck_top = neck_base + _apply(neck_frame, [0.0, shape.neck_length, 0.008])
    head_axes = np.asarray(shape.head_axes)
    head_center = neck_top + _apply(head_frame, [0.0, 0.7 * head_axes[1], 0.15 * head_axes[2]])

    landmarks = np.zeros(batch_shape + (33, 3))

    def set_landmark(name, value):
        landmarks[..., LANDMARK_INDEX[name], :] = value

    def on_head(direction, lift=1.0):
        return head_center + _apply(head_frame, head_axes * np.asarray(direction) * lift)

    nose_direction = face_direction(*NOSE_ANGLES)
    set_landmark("NOSE", on_head(nose_direction, 1.0) + _apply(head_frame, nose_direction) * 0.012)
    for side, sign in (("LEFT", 1.0), ("RIGHT", -1.0)):
        for point, (yaw, pitch) in FACE_POINT_ANGLES.items():
            direction = face_direction(sign * yaw, pitch)
            name = f"MOUTH_{side}" if point == "MOUTH" else f"{side}_{point}"
            set_landmark(name, on_head(direction, 1.0))

    solids: dict[str, Solid] = {}
    for side in ("left", "right"):
        def angle(name, side=side):
            return clipped[f"{side}_{name}"]

        sign = 1.0 if side == "left" else -1.0
        shoulder = neck_base + _apply(chest_frame, [sign * shape.shoulder_half_width,
                                                    -shape.shoulder_drop, 0.0])
        arm_points, arm = _limb_arm(shape, angle, side)
        _place_limb(side, "shoulder", shoulder, chest_frame, arm_points, arm,
                    (("upper_arm", "shoulder", "elbow", shape.upper_arm_radii),
                     ("forearm", "elbow", "wrist", shape.forearm_radii)), "hand",
                    set_landmark, solids)
        thumb_radius = 0.75 * shape.hand_half_thickness
        solids[f"{side}_thumb"] = Solid(
            f"{side}_thumb", "capsule", start=shoulder + _apply(chest_frame, arm["thumb_base"]),
            end=shoulder + _apply(chest_frame, arm["thumb_tip"]),
            radii=(1.2 * thumb_radius, thumb_radius))

        hip = root + _apply(pelvis_frame, [sign * shape.hip_half_width, 0.0, 0.0])
        leg_points, leg = _limb_leg(shape, angle, side)
        _place_limb(side, "hip", hip, pelvis_frame, leg_points, leg,
                    (("thigh", "hip", "knee", shape.thigh_radii),
                     ("shin", "knee", "ankle", shape.shin_radii)), "foot",
                    set_landmark, solids)
        ear_center = on_head(face_direction(sign * FACE_POINT_ANGLES["EAR"][0], 0.0), 1.0)
        solids[f"{side}_ear"] = Solid(
            f"{side}_ear", "ellipsoid", center=ear_center,
            axes=_diag_axes(head_frame, [0.006, 0.017, 0.011]))

    pelvis_center = root + _apply(pelvis_frame, [0.0, 0.03, -0.004])
    solids["pelvis"] = Solid("pelvis", "ellipsoid", center=pelvis_center,
                             axes=_diag_axes(pelvis_frame, shape.pelvis_axes))
    solids["abdomen"] = Solid("abdomen", "ellipsoid",
                              center=waist + _apply(waist_frame, [0.0, 0.01, 0.0]),
                              axes=_diag_axes(waist_frame, shape.abdomen_axes))
    solids["chest"] = Solid("chest", "ellipsoid",
                            center=neck_base + _apply(chest_frame, [0.0, -0.1, 0.004]),
                            axes=_diag_axes(chest_frame, shape.chest_axes))
    solids["neck"] = Solid("neck", "capsule",
                           start=neck_base + _apply(chest_frame, [0.0, -0.02, -0.01]),
                           end=neck_top, radii=(shape.neck_radius * 1.1, shape.neck_radius))
    solids["head"] = Solid("head", "ellipsoid", center=head_center,
                           axes=_diag_axes(head_frame, head_axes))
    solids["nose"] = Solid(
        "nose", "ellipsoid",
        center=on_head(nose_direction, 1.0) + _apply(head_frame, nose_direction) * 0.005,
        axes=_diag_axes(head_frame, [0.009, 0.014, 0.012]))

    return PosedBody(
        landmarks=landmarks,
        landmark_radius=_landmark_radius(shape),
        solids=tuple(solids[name] for name in BODY_PARTS),
        head_frame=head_frame,
        head_center=head_center,
        chest_frame=chest_frame,
        pelvis_frame=pelvis_frame,
    )
