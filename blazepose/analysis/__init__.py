"""What to do with landmarks once you have them (numpy, no TensorFlow): repetition counting
(``counting``) and pose classification (``classification``)."""
