"""Training: typed configs, the pose task, losses and the distributed training loop."""
