"""Fixtures of the inference tests: the real sample photo and Google's files (fetched once)."""

import cv2
import pytest


@pytest.fixture(scope="session")
def astronaut():
    """uint8 RGB [512, 512, 3]: a real photo of a person (head and upper body)."""
    from blazepose import samples

    image = cv2.imread(str(samples.fetch_sample("astronaut")), cv2.IMREAD_COLOR)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="session")
def tflite_detector():
    from blazepose.inference import TFLiteBackend
    from blazepose.pretrained import files

    return TFLiteBackend(files.fetch_model_file("detector"), num_threads=2)


@pytest.fixture(scope="session")
def tflite_landmarks():
    from blazepose.inference import TFLiteBackend
    from blazepose.pretrained import files

    return TFLiteBackend(files.fetch_model_file("full"), num_threads=2)
