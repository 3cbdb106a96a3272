"""custom_pose: a TFDS builder for a user's own keypoint data (tf-blazepose layout or COCO).

The builder lives in ``custom_pose_dataset_builder`` (imported by ``tfds build``, not here, so
that reading the annotation helpers does not register the builder).
"""
