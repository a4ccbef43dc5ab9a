"""Unit tests of the seconds-driven Kalman filter."""

from __future__ import annotations

import numpy as np
import pytest

from tracking.kalman import KalmanBoxFilter, xyah_to_xyxy, xyxy_to_xyah


def test_box_conversions_round_trip() -> None:
    xyxy = np.array([[10.0, 20.0, 50.0, 120.0], [0.0, 0.0, 30.0, 60.0]])
    xyah = xyxy_to_xyah(xyxy)
    np.testing.assert_allclose(xyah[0], [30.0, 70.0, 0.4, 100.0])
    np.testing.assert_allclose(xyah_to_xyxy(xyah), xyxy)


def test_negative_height_becomes_an_empty_box() -> None:
    out = xyah_to_xyxy(np.array([[100.0, 100.0, 0.5, -10.0]]))
    np.testing.assert_allclose(out, [[100.0, 100.0, 100.0, 100.0]])


def test_predict_moves_by_velocity_times_seconds() -> None:
    kf = KalmanBoxFilter()
    mean, cov = kf.initiate(np.array([[100.0, 50.0, 0.5, 80.0]]))
    mean[0, 4:] = [300.0, -60.0, 0.0, 10.0]  # px/s
    pred, _ = kf.predict(mean, cov, 0.5)
    np.testing.assert_allclose(pred[0, :4], [250.0, 20.0, 0.5, 85.0])
    np.testing.assert_allclose(pred[0, 4:], mean[0, 4:])


def test_two_half_steps_equal_one_step() -> None:
    kf = KalmanBoxFilter()
    mean, cov = kf.initiate(np.array([[100.0, 50.0, 0.5, 80.0]]))
    mean[0, 4] = 120.0
    m1, c1 = kf.predict(mean, cov, 0.4)
    m2, c2 = kf.predict(*kf.predict(mean, cov, 0.2), 0.2)
    np.testing.assert_allclose(m1, m2)
    # Random-walk process noise: same variance however the interval is cut (h is constant here).
    np.testing.assert_allclose(c1, c2, rtol=1e-9)


def test_uncertainty_grows_with_elapsed_time() -> None:
    kf = KalmanBoxFilter()
    mean, cov = kf.initiate(np.array([[0.0, 0.0, 0.5, 100.0]]))
    short = kf.predict(mean, cov, 1 / 30)[1][0, 0, 0]
    long = kf.predict(mean, cov, 1.0)[1][0, 0, 0]
    assert long > 5 * short


def test_predict_rejects_negative_dt() -> None:
    kf = KalmanBoxFilter()
    mean, cov = kf.initiate(np.zeros((1, 4)) + [0, 0, 0.5, 10])
    with pytest.raises(ValueError, match="dt_s"):
        kf.predict(mean, cov, -0.1)


@pytest.mark.parametrize("dts", [[1 / 30], [0.1], [0.033, 0.2]], ids=["30fps", "10fps", "vfr"])
def test_velocity_converges_in_pixels_per_second(dts: list[float]) -> None:
    """The same motion sampled at any spacing gives the same velocity estimate (px/s)."""
    kf = KalmanBoxFilter()
    v = np.array([250.0, -40.0])  # px/s
    t = 0.0
    mean, cov = kf.initiate(np.array([[100.0, 300.0, 0.4, 100.0]]))
    for i in range(40):
        dt = dts[i % len(dts)]
        t += dt
        mean, cov = kf.predict(mean, cov, dt)
        z = np.array([[100.0 + v[0] * t, 300.0 + v[1] * t, 0.4, 100.0]])
        mean, cov = kf.update(mean, cov, z)
    np.testing.assert_allclose(mean[0, 4:6], v, rtol=0.05)


def test_batch_equals_one_by_one() -> None:
    kf = KalmanBoxFilter()
    z = np.array([[10.0, 20.0, 0.5, 50.0], [200.0, 100.0, 0.3, 150.0]])
    mean, cov = kf.initiate(z)
    mean, cov = kf.predict(mean, cov, 0.1)
    mb, cb = kf.update(mean, cov, z + 3.0)
    for i in range(2):
        mi, ci = kf.update(mean[i : i + 1], cov[i : i + 1], z[i : i + 1] + 3.0)
        np.testing.assert_allclose(mb[i], mi[0])
        np.testing.assert_allclose(cb[i], ci[0])
