"""Fixtures shared by the training tests."""

import pytest
import tensorflow_datasets as tfds

import datasets_tfds


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """A TFDS data directory with ``synthetic_pose/tiny`` prepared (built once per session)."""
    datasets_tfds.register_builders()
    directory = tmp_path_factory.mktemp("tfds")
    tfds.builder("synthetic_pose/tiny", data_dir=str(directory)).download_and_prepare()
    return str(directory)
