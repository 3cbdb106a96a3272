"""Keypoint topologies for user data: registered names, topology files, COCO categories, counts.

A topology file is a small JSON object (conventionally ``topology.json`` in the data folder)::

    {
      "name": "hand_5",                          # optional, default "custom_<K>"
      "keypoints": ["wrist", "left_tip", ...],   # K unique names, in the annotations' order
      "edges": [[0, 1], ["wrist", "left_tip"]],  # optional: 0-based indices or names
      "to_blazepose": [15, null, ...],           # optional: BlazePose index (0..32) or null
      "flip_pairs": [[1, 2]]                     # optional: checked against the names
    }

``{"name": "coco_17"}`` alone selects a topology of :mod:`blazepose.topology` by name.

Left/right partners for horizontal flips are never taken from a list: they follow from the
names by the rule of :class:`blazepose.topology.Topology` (``left_x``/``right_x``, ``l_x``/``r_x``,
``lx``/``rx``, ...). ``flip_pairs``, when present, is only compared with what the names imply, so
that a file whose names do not say what its author meant fails loudly instead of training
with wrong flips. Without ``to_blazepose``, a keypoint maps to the BlazePose landmark that a
keypoint of the same name (ignoring case) maps to in any registered topology, else to None.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from etils import epath

from blazepose.topology import TOPOLOGIES, Topology, get_topology

__all__ = [
    "TOPOLOGY_FILE_KEYS",
    "TOPOLOGY_FILE_NAME",
    "TopologySpecError",
    "describe_topology",
    "read_topology_file",
    "registered_topology",
    "topology_for_keypoint_count",
    "topology_from_coco_category",
    "topology_from_spec",
]

TOPOLOGY_FILE_NAME = "topology.json"
"""File name of a topology file found in the data folder without being asked for."""

TOPOLOGY_FILE_KEYS = ("name", "keypoints", "edges", "to_blazepose", "flip_pairs")
"""Keys a topology file (or an inline topology in a builder config) may hold."""


class TopologySpecError(ValueError):
    """A topology file, inline topology or COCO category that cannot describe a topology."""


def describe_topology(topology: Topology) -> str:
    """One line for logs: name, keypoint count and flip pairs by name."""
    names = topology.keypoint_names
    pairs = ", ".join(f"{names[i]}<->{names[j]}" for i, j in topology.flip_pairs) or "none"
    return f"{topology.name} ({topology.num_keypoints} keypoints; flip pairs: {pairs})"


def _registered_topology_with_names(keypoint_names: Sequence[str]) -> Topology | None:
    """The registered topology whose keypoint names are exactly ``keypoint_names``, if any."""
    for topology in TOPOLOGIES.values():
        if topology.keypoint_names == tuple(keypoint_names):
            return topology
    return None


def topology_for_keypoint_count(count: int, source: str) -> Topology:
    """The registered topology with ``count`` keypoints, when exactly one has that many.

    Args:
      count: keypoints per record in the user's annotations.
      source: what the count was read from, for the error message.

    Raises:
      TopologySpecError: no registered topology, or several, have ``count`` keypoints.
    """
    matches = [t for t in TOPOLOGIES.values() if t.num_keypoints == count]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(f"{t.name} ({t.num_keypoints})" for t in TOPOLOGIES.values())
    if not matches:
        reason = f"no known topology has {count} keypoints"
    else:
        reason = f"{count} keypoints fit several topologies ({', '.join(t.name for t in matches)})"
    raise TopologySpecError(
        f"{source}: {reason}. Name the keypoints in a {TOPOLOGY_FILE_NAME} in the data folder "
        f"(see the custom_pose README) or choose a topology with the builder config "
        f"(known: {known})."
    )


def _blazepose_index_by_name() -> dict[str, int]:
    """Lower-case keypoint name -> BlazePose index, over every registered topology.

    Names that different topologies map to different landmarks are left out.
    """
    targets_by_name: dict[str, set[int]] = {}
    for topology in TOPOLOGIES.values():
        for name, target in zip(topology.keypoint_names, topology.to_blazepose, strict=True):
            if target is not None:
                targets_by_name.setdefault(name.lower(), set()).add(target)
    return {name: next(iter(t)) for name, t in targets_by_name.items() if len(t) == 1}


def _index_of(value: Any, keypoint_names: Sequence[str], index_base: int, what: str) -> int:
    """A keypoint index from an index (``index_base``-based) or a keypoint name."""
    if isinstance(value, str):
        if value not in keypoint_names:
            raise TopologySpecError(f"{what}: {value!r} is not one of the keypoint names")
        return keypoint_names.index(value)
    if isinstance(value, int) and not isinstance(value, bool):
        index = value - index_base
        if not 0 <= index < len(keypoint_names):
            last = len(keypoint_names) - 1 + index_base
            raise TopologySpecError(f"{what}: index {value} is outside {index_base}..{last}")
        return index
    raise TopologySpecError(f"{what}: expected a keypoint index or name, got {value!r}")


def _index_pairs(
    pairs: Any, keypoint_names: Sequence[str], index_base: int, what: str
) -> list[tuple[int, int]]:
    """``[[a, b], ...]`` of indices or names -> 0-based index pairs."""
    if not isinstance(pairs, list):
        raise TopologySpecError(f"{what} must be a list of [a, b] pairs, got {pairs!r}")
    result = []
    for position, pair in enumerate(pairs):
        if not isinstance(pair, list) or len(pair) != 2:
            raise TopologySpecError(f"{what}[{position}] must be a pair [a, b], got {pair!r}")
        label = f"{what}[{position}]"
        result.append(
            (
                _index_of(pair[0], keypoint_names, index_base, label),
                _index_of(pair[1], keypoint_names, index_base, label),
            )
        )
    return result


def _build_topology(
    name: str,
    keypoint_names: Sequence[str],
    edges: Sequence[tuple[int, int]],
    to_blazepose: Sequence[int | None] | None,
    source: str,
) -> Topology:
    """A Topology, with ``to_blazepose`` derived from the names when not given."""
    if to_blazepose is None:
        index_by_name = _blazepose_index_by_name()
        to_blazepose = [index_by_name.get(name.lower()) for name in keypoint_names]
    try:
        return Topology(
            name=name,
            keypoint_names=tuple(keypoint_names),
            edges=tuple(edges),
            to_blazepose=tuple(to_blazepose),
        )
    except ValueError as error:
        raise TopologySpecError(f"{source}: {error}") from None


def _check_flip_pairs(topology: Topology, flip_pairs: list[tuple[int, int]], source: str) -> None:
    """Raises unless ``flip_pairs`` is exactly the pairing the keypoint names imply."""
    wanted = {tuple(sorted(pair)) for pair in flip_pairs}
    derived = set(topology.flip_pairs)
    if wanted == derived:
        return
    names = topology.keypoint_names

    def spell(pairs: set[tuple[int, int]]) -> str:
        return ", ".join(f"{names[i]}<->{names[j]}" for i, j in sorted(pairs)) or "none"

    raise TopologySpecError(
        f"{source}: flip_pairs ({spell(wanted)}) differ from the pairs the keypoint names imply "
        f"({spell(derived)}). Left/right partners come from the names: give each one a side "
        "word (left/right, l/r) and the same remaining words, e.g. 'left_tip'/'right_tip'."
    )


def topology_from_spec(spec: Any, source: str) -> Topology:
    """A Topology from a parsed topology file or an inline topology of a builder config.

    Args:
      spec: the JSON object (see the module docstring).
      source: the file path or config field it came from, named in error messages.

    Raises:
      TopologySpecError: the object is malformed, names an unknown topology without keypoints,
        reuses a registered name for different keypoints, or its flip_pairs disagree with the
        names.
    """
    if not isinstance(spec, Mapping):
        raise TopologySpecError(f"{source}: a topology must be a JSON object, got {spec!r}")
    unknown = sorted(set(spec) - set(TOPOLOGY_FILE_KEYS))
    if unknown:
        raise TopologySpecError(
            f"{source}: unknown keys {unknown}; allowed: {', '.join(TOPOLOGY_FILE_KEYS)}"
        )
    name = spec.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise TopologySpecError(f"{source}: 'name' must be a non-empty string, got {name!r}")
    registered = TOPOLOGIES.get(name.lower()) if name else None

    if "keypoints" not in spec:
        if registered is None:
            raise TopologySpecError(
                f"{source}: needs 'keypoints' (a list of names), or a 'name' among the known "
                f"topologies ({', '.join(TOPOLOGIES)})"
            )
        topology = registered
    else:
        keypoint_names = spec["keypoints"]
        if (not isinstance(keypoint_names, list) or not keypoint_names
                or not all(isinstance(n, str) and n for n in keypoint_names)):
            raise TopologySpecError(
                f"{source}: 'keypoints' must be a non-empty list of non-empty strings"
            )
        if registered is not None and registered.keypoint_names != tuple(keypoint_names):
            raise TopologySpecError(
                f"{source}: name {name!r} belongs to a known topology with other keypoints "
                f"({', '.join(registered.keypoint_names)}); choose another name"
            )
        edges = _index_pairs(spec.get("edges", []), keypoint_names, 0, f"{source}: edges")
        to_blazepose = spec.get("to_blazepose")
        if to_blazepose is not None and not isinstance(to_blazepose, list):
            raise TopologySpecError(f"{source}: 'to_blazepose' must be a list of indices or null")
        topology = registered or _build_topology(
            name or f"custom_{len(keypoint_names)}", keypoint_names, edges, to_blazepose, source
        )
    if "flip_pairs" in spec:
        pairs = _index_pairs(
            spec["flip_pairs"], topology.keypoint_names, 0, f"{source}: flip_pairs"
        )
        _check_flip_pairs(topology, pairs, source)
    return topology


def read_topology_file(path: epath.Path) -> Topology:
    """The topology a topology file describes (see the module docstring).

    Raises:
      FileNotFoundError: no file at ``path``.
      TopologySpecError: the file is not JSON or does not describe a topology.
    """
    if not path.exists():
        raise FileNotFoundError(f"topology file not found: {path}")
    try:
        spec = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TopologySpecError(f"{path}: not a valid JSON file ({error})") from None
    return topology_from_spec(spec, str(path))


def topology_from_coco_category(category: Mapping[str, Any], source: str) -> Topology:
    """The topology a COCO category's ``keypoints`` names and ``skeleton`` describe.

    The registered topology with the same names in the same order is returned when there is
    one (COCO's own person category gives ``coco_17``); otherwise a new topology named
    ``<category name>_<K>``. COCO's ``skeleton`` is 1-based.

    Raises:
      TopologySpecError: the names or the skeleton are malformed.
    """
    keypoint_names = category.get("keypoints")
    if (not isinstance(keypoint_names, list) or not keypoint_names
            or not all(isinstance(n, str) and n for n in keypoint_names)):
        raise TopologySpecError(
            f"{source}: category {category.get('name')!r} has no list of keypoint names"
        )
    registered = _registered_topology_with_names(keypoint_names)
    if registered is not None:
        return registered
    edges = _index_pairs(category.get("skeleton", []), keypoint_names, 1, f"{source}: skeleton")
    base_name = str(category.get("name") or "coco_category").strip().replace(" ", "_")
    name = f"{base_name}_{len(keypoint_names)}"
    if name.lower() in TOPOLOGIES:
        name = f"custom_{name}"
    return _build_topology(name, keypoint_names, edges, None, source)


def registered_topology(name: str) -> Topology:
    """:func:`blazepose.topology.get_topology`, raising :class:`TopologySpecError`."""
    try:
        return get_topology(name)
    except ValueError as error:
        raise TopologySpecError(str(error)) from None
