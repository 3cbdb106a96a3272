"""Low-pass and one-euro filters against their formulas (Casiez et al. 2012, MediaPipe's form)."""

import math

import numpy as np
import pytest

from blazepose.inference import filters


def _alpha(cutoff, rate):
    """The paper's smoothing factor: 1 / (1 + tau / Te), tau = 1 / (2 pi fc), Te = 1 / rate."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau * rate)


def _reference_one_euro(values, times, min_cutoff, beta, d_cutoff, scale=1.0, rate=30.0):
    """A scalar one-euro filter written from the paper's equations, for comparison."""
    out, x_prev, raw_prev, dx_prev, t_prev = [], None, None, 0.0, None
    for value, t in zip(values, times):
        if t_prev is not None:
            rate = 1.0 / (t - t_prev)
        t_prev = t
        dx = 0.0 if raw_prev is None else (value - raw_prev) * scale * rate
        a_d = _alpha(d_cutoff, rate)
        dx_hat = dx if raw_prev is None else a_d * dx + (1 - a_d) * dx_prev
        cutoff = min_cutoff + beta * abs(dx_hat)
        a = _alpha(cutoff, rate)
        x_hat = value if x_prev is None else a * value + (1 - a) * x_prev
        out.append(x_hat)
        x_prev, raw_prev, dx_prev = x_hat, value, dx_hat
    return np.array(out)


def test_low_pass_passes_the_first_value_then_mixes_with_alpha():
    low_pass = filters.LowPassFilter(0.1)
    assert low_pass.apply([4.0, -2.0]).tolist() == [4.0, -2.0]
    np.testing.assert_allclose(low_pass.apply([14.0, 8.0]), [0.1 * 14 + 0.9 * 4,
                                                             0.1 * 8 + 0.9 * -2])
    low_pass.reset()
    assert low_pass.apply([1.0, 1.0]).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="alpha"):
        filters.LowPassFilter(1.5)


def test_constant_signal_passes_unchanged():
    one_euro = filters.OneEuroFilter(filters.LANDMARKS_FILTER)
    value = np.array([[120.5, 80.25, -3.0]] * 4)
    for step in range(10):
        np.testing.assert_allclose(one_euro.apply(value, step / 30, object_scale=200.0), value,
                                   rtol=1e-13)


def test_matches_the_formula_on_a_noisy_signal_with_irregular_timestamps():
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.uniform(0.02, 0.05, 40))
    values = np.cumsum(rng.normal(0, 2.0, (40, 3)), axis=0)
    config = filters.OneEuroConfig(min_cutoff=0.05, beta=80.0, derivative_cutoff=1.0)
    one_euro = filters.OneEuroFilter(config)
    ours = np.array([one_euro.apply(v, t, object_scale=150.0) for v, t in zip(values, times)])
    for axis in range(3):
        expected = _reference_one_euro(values[:, axis], times, 0.05, 80.0, 1.0, scale=1 / 150)
        np.testing.assert_allclose(ours[:, axis], expected, rtol=1e-12, atol=1e-12)
    assert one_euro.frequency == pytest.approx(1.0 / (times[-1] - times[-2]))


def test_a_step_is_smoothed_and_a_larger_beta_follows_it_faster():
    times = np.arange(12) / 30.0
    step = np.where(np.arange(12) >= 2, 1.0, 0.0)
    outputs = {}
    for beta in (0.0, 5.0):
        one_euro = filters.OneEuroFilter(filters.OneEuroConfig(1.0, beta, 1.0))
        outputs[beta] = np.array([float(one_euro.apply([s], t)[0]) for s, t in zip(step, times)])
    slow, fast = outputs[0.0], outputs[5.0]
    assert slow[2] == pytest.approx(_alpha(1.0, 30.0))  # plain exponential smoothing, fc = 1
    assert 0 < slow[2] < fast[2] < 1  # the speed raises the cutoff: less lag
    assert np.all(np.diff(fast[2:]) > 0) and np.all(fast[2:] < 1)


def test_derivative_cutoff_sets_how_fast_the_speed_estimate_reacts():
    """At the step the smoothed speed is alpha(d_cutoff) * raw speed, so the cutoff (hence the
    output) grows with the derivative cutoff exactly as the formula says."""
    for d_cutoff in (0.5, 1.0, 4.0):
        one_euro = filters.OneEuroFilter(filters.OneEuroConfig(0.5, 2.0, d_cutoff))
        one_euro.apply([0.0], 0.0)
        out = float(one_euro.apply([1.0], 1 / 30)[0])
        speed = _alpha(d_cutoff, 30.0) * 1.0 * 30.0
        assert out == pytest.approx(_alpha(0.5 + 2.0 * speed, 30.0), rel=1e-12)


def test_value_scale_makes_the_filter_independent_of_the_object_size():
    rng = np.random.default_rng(3)
    values = np.cumsum(rng.normal(0, 1, (20, 2)), axis=0)
    times = np.arange(20) / 30.0
    small = filters.OneEuroFilter(filters.LANDMARKS_FILTER)
    large = filters.OneEuroFilter(filters.LANDMARKS_FILTER)
    for value, t in zip(values, times):
        a = small.apply(value, t, object_scale=50.0)
        b = large.apply(value * 4, t, object_scale=200.0)
        np.testing.assert_allclose(b, 4 * a, rtol=1e-9)


def test_stale_timestamps_and_tiny_objects_pass_values_through():
    one_euro = filters.OneEuroFilter(filters.LANDMARKS_FILTER)
    one_euro.apply([0.0], 1.0, object_scale=100.0)
    assert one_euro.apply([5.0], 1.0, object_scale=100.0).tolist() == [5.0]  # same time
    assert one_euro.apply([7.0], 2.0, object_scale=1e-9).tolist() == [7.0]  # no scale
    filtered = one_euro.apply([5.0], 2.0, object_scale=100.0)  # state unchanged by the above
    assert 0.0 < filtered[0] < 5.0
    with pytest.raises(ValueError, match="min_cutoff"):
        filters.OneEuroConfig(min_cutoff=0.0, beta=1.0)
