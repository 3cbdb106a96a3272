"""TFDS dataset builders, one folder per data set (TFDS layout)."""
