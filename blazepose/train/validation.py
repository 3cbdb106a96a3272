"""What validation gathers on the host: the accumulated keypoint metrics, COCO's OKS AP when
the data is in COCO's 17 keypoints, and pictures of predictions.

The predictions themselves come from the traced, distributed evaluation step
(:meth:`blazepose.train.runner.Runner.evaluate_step`); everything here is numpy.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from blazepose import drawing, metrics
from blazepose import topology as topology_lib
from blazepose.keypoints import from_blazepose_layout
from blazepose.train.task import PoseTask


@dataclasses.dataclass
class EvaluationRun:
    """What :meth:`blazepose.train.trainer.Trainer.run_evaluation` gathered.

    Attributes:
      evaluator: the accumulated keypoint metrics.
      num_examples: examples evaluated.
      oks: COCO OKS AP / AR (``oks_AP``, ...) when the data is COCO-17, else None.
      sample: the first replica batch's (images ``[B, S, S, 3]`` in [0, 1], true keypoints
        ``[B, K, 2]`` in crop pixels, labelled ``[B, K]`` bool, predicted keypoints
        ``[B, K, 2]``, predicted visibility ``[B, K]``), for pictures.
      heatmaps: the same batch's (target, predicted) heatmaps, each ``[B, H, W, 1]``: the
        maximum over the keypoints.
    """

    evaluator: metrics.PoseEvaluator
    num_examples: int = 0
    oks: dict | None = None
    sample: tuple | None = None
    heatmaps: tuple | None = None


def is_coco_evaluation(task: PoseTask) -> bool:
    """Whether ``task``'s evaluation data is all COCO-17 and its network predicts COCO's 17
    keypoints or BlazePose's 33 (then OKS AP is computed)."""
    try:
        sources = task.source_topologies(False)
    except Exception:  # not prepared / unknown: no OKS, the other metrics still run
        return False
    ours = task.topology.name
    return bool(sources) and all(t.name == "coco_17" for t in sources) and ours in (
        "coco_17", topology_lib.BLAZEPOSE_33.name)


def coco_oks(pred: np.ndarray, gt: np.ndarray, labelled: np.ndarray, area: np.ndarray,
             topology: topology_lib.Topology) -> dict:
    """COCO's OKS AP / AR (pycocotools) of one person per crop, with score 1.

    Args:
      pred, gt: ``[N, K, 2]`` predicted and true keypoints in crop pixels, in ``topology``
        (COCO-17, or BlazePose-33 whose 17 COCO points are picked out).
      labelled: ``[N, K]`` bool.
      area: ``[N]`` the data set's person areas in crop pixels; where <= 0, the box of the
        labelled points stands in (more lenient than COCO).

    Returns:
      ``{"oks_AP": ..., "oks_AP50": ..., "oks_AR": ..., ...}``.
    """
    coco = topology_lib.COCO_17
    if topology.name != coco.name:  # BlazePose 33 -> COCO 17 (all 17 map)
        pred, _ = from_blazepose_layout(pred, coco)
        gt, _ = from_blazepose_layout(gt, coco)
        labelled = from_blazepose_layout(labelled[..., None], coco)[0][..., 0]
    ids = np.arange(len(pred))
    low = np.where(labelled[..., None], gt, np.inf).min(axis=1)
    high = np.where(labelled[..., None], gt, -np.inf).max(axis=1)
    box_areas = np.nan_to_num(np.prod(np.maximum(high - low, 0.0), axis=-1))
    areas = np.where(area > 0, area, box_areas)
    results = metrics.coco_oks_ap(
        metrics.CocoKeypointPredictions(ids, pred, np.ones(len(pred))),
        metrics.CocoKeypointGroundTruth(ids, gt, labelled, areas=areas))
    return {f"oks_{name}": value for name, value in results.items()}


def draw_predictions(images: np.ndarray, truth: np.ndarray, labelled: np.ndarray,
                     predicted: np.ndarray, visibility: np.ndarray,
                     topology: topology_lib.Topology) -> np.ndarray:
    """Ground truth (thin, white) and predictions (coloured by visibility) per image.

    Args: as :attr:`EvaluationRun.sample`. Returns float32 ``[B, S, S, 3]`` pictures in
    [0, 255].
    """
    pictures = []
    for image, gt, mask, pred, vis in zip(images, truth, labelled, predicted, visibility):
        picture = (np.clip(image, 0, 1) * 255).astype(np.uint8)
        picture = drawing.draw_skeleton(picture, gt, topology,
                                        visibility=mask.astype(np.float32), radius=1.5)
        picture = drawing.draw_skeleton(picture, pred, topology, visibility=vis)
        pictures.append(picture)
    return np.stack(pictures).astype(np.float32)
