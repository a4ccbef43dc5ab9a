"""Constant-velocity Kalman filter over boxes, driven by time in seconds.

The state of one box is the 8-vector ``cx, cy, a, h, vcx, vcy, va, vh``: centre and height in
pixels, aspect ratio ``a = w / h`` (unitless), and their velocities **per second** (pixels/s,
1/s). The measurement is ``cx, cy, a, h``.

Noise follows DeepSORT/ByteTrack (standard deviations proportional to the box height), but the
process noise is continuous in time: positions and velocities take random walks whose variance
grows linearly with ``dt`` seconds, scaled so that one step of ``noise_ref_dt_s`` (1/30 s)
reproduces DeepSORT's per-frame noise (up to the tiny velocity-to-position term of the exact
discretisation). Predicting by 0.4 s at once or in two 0.2 s steps gives the same result, so
frames can come at any spacing (variable frame rate, dropped frames, a 10 fps analysis rate)
without re-tuning.

Every method works on a batch of N boxes: means are (N, 8), covariances (N, 8, 8).
"""

from __future__ import annotations

import numpy as np

_MIN_HEIGHT_PX = 1.0  # floor for the height used in noise terms and aspect ratios
_STD_ASPECT = 1e-2  # aspect-ratio process noise per reference step (DeepSORT)
_STD_ASPECT_VEL = 1e-5 * 30  # DeepSORT's 1e-5 per frame, in 1/s at 30 fps


def xyxy_to_xyah(xyxy: np.ndarray) -> np.ndarray:
    """Convert corner boxes to measurements.

    Args:
        xyxy: (N, 4) ``x1, y1, x2, y2`` absolute pixels.

    Returns:
        (N, 4) float64 ``cx, cy, a, h``; heights below 1 px are raised to 1 px so that the
        aspect ratio stays finite.
    """
    b = np.asarray(xyxy, np.float64).reshape(-1, 4)
    w = b[:, 2] - b[:, 0]
    h = np.maximum(b[:, 3] - b[:, 1], _MIN_HEIGHT_PX)
    return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, w / h, h], axis=1)


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """Convert ``cx, cy, a, h`` (N, >=4) to (N, 4) float64 ``x1, y1, x2, y2`` pixels.

    Negative widths or heights (a long extrapolation can produce them) are clamped to zero, so
    such a box has no overlap with anything.
    """
    s = np.asarray(xyah, np.float64).reshape(len(xyah), -1)
    h = np.maximum(s[:, 3], 0.0)
    w = np.maximum(s[:, 2] * h, 0.0)
    return np.stack([s[:, 0] - w / 2, s[:, 1] - h / 2, s[:, 0] + w / 2, s[:, 1] + h / 2], axis=1)


class KalmanBoxFilter:
    """Batched constant-velocity Kalman filter with time steps in seconds.

    Args:
        std_weight_position: position noise std as a fraction of the box height (DeepSORT 1/20).
        std_weight_velocity: velocity noise std as a fraction of the box height per second
            (DeepSORT's 1/160 per frame at 30 fps = 0.1875 per second).
        noise_ref_dt_s: the step, in seconds, at which the process noise equals DeepSORT's
            per-frame noise; a step of ``dt`` gets ``dt / noise_ref_dt_s`` times that variance.
    """

    def __init__(
        self,
        std_weight_position: float = 1.0 / 20.0,
        std_weight_velocity: float = 30.0 / 160.0,
        noise_ref_dt_s: float = 1.0 / 30.0,
    ) -> None:
        if std_weight_position <= 0 or std_weight_velocity <= 0:
            raise ValueError(
                "KalmanBoxFilter: noise weights must be > 0, got "
                f"position={std_weight_position}, velocity={std_weight_velocity}"
            )
        if noise_ref_dt_s <= 0:
            raise ValueError(f"KalmanBoxFilter: noise_ref_dt_s must be > 0 s, got {noise_ref_dt_s}")
        self.std_weight_position = float(std_weight_position)
        self.std_weight_velocity = float(std_weight_velocity)
        self.noise_ref_dt_s = float(noise_ref_dt_s)

    def initiate(self, measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start tracks from measurements, with zero velocity.

        Args:
            measurement: (N, 4) ``cx, cy, a, h`` (pixels, unitless, pixels).

        Returns:
            mean (N, 8) and covariance (N, 8, 8), float64.
        """
        z = np.asarray(measurement, np.float64).reshape(-1, 4)
        n = len(z)
        mean = np.concatenate([z, np.zeros((n, 4))], axis=1)
        std = _state_std(z[:, 3], 2 * self.std_weight_position, 10 * self.std_weight_velocity)
        return mean, _diag(std**2)

    def predict(
        self, mean: np.ndarray, covariance: np.ndarray, dt_s: float | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Move the states forward by ``dt_s`` seconds.

        Args:
            mean: (N, 8) states.
            covariance: (N, 8, 8) covariances.
            dt_s: step in seconds, a scalar or (N,); must be >= 0.

        Returns:
            predicted mean (N, 8) and covariance (N, 8, 8), new arrays.
        """
        mean = np.asarray(mean, np.float64)
        n = len(mean)
        dt = np.broadcast_to(np.asarray(dt_s, np.float64), (n,))
        if np.any(dt < 0) or not np.all(np.isfinite(dt)):
            raise ValueError(f"KalmanBoxFilter.predict: dt_s must be finite and >= 0 s, got {dt_s}")
        motion = np.tile(np.eye(8), (n, 1, 1))
        motion[:, range(4), range(4, 8)] = dt[:, None]
        new_mean = mean.copy()
        new_mean[:, :4] += dt[:, None] * mean[:, 4:]
        std = _state_std(mean[:, 3], self.std_weight_position, self.std_weight_velocity)
        rate = std**2 / self.noise_ref_dt_s  # variance per second of each component
        new_cov = motion @ covariance @ motion.transpose(0, 2, 1) + _process_noise(rate, dt)
        return new_mean, new_cov

    def project(self, mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Measurement-space mean (N, 4) and innovation covariance (N, 4, 4)."""
        mean = np.asarray(mean, np.float64)
        h = np.maximum(mean[:, 3], _MIN_HEIGHT_PX)
        wp = self.std_weight_position * h
        std = np.stack([wp, wp, np.full(len(mean), 1e-1), wp], axis=1)
        return mean[:, :4].copy(), covariance[:, :4, :4] + _diag(std**2)

    def update(
        self, mean: np.ndarray, covariance: np.ndarray, measurement: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct the states with one measurement each.

        Args:
            mean: (N, 8) predicted states.
            covariance: (N, 8, 8) predicted covariances.
            measurement: (N, 4) ``cx, cy, a, h``.

        Returns:
            corrected mean (N, 8) and covariance (N, 8, 8), new arrays.
        """
        z = np.asarray(measurement, np.float64).reshape(-1, 4)
        projected, s = self.project(mean, covariance)
        # K = P Hᵀ S⁻¹; with P and S symmetric, Kᵀ = S⁻¹ (H P).
        gain = np.linalg.solve(s, covariance[:, :4, :]).transpose(0, 2, 1)
        innovation = z - projected
        new_mean = mean + (gain @ innovation[:, :, None])[:, :, 0]
        new_cov = covariance - gain @ s @ gain.transpose(0, 2, 1)
        new_cov = (new_cov + new_cov.transpose(0, 2, 1)) / 2
        return new_mean, new_cov


def _state_std(height: np.ndarray, weight_position: float, weight_velocity: float) -> np.ndarray:
    """(N,) box heights in pixels → (N, 8) standard deviations of the state components."""
    h = np.maximum(height, _MIN_HEIGHT_PX)
    wp, wv = weight_position * h, weight_velocity * h
    a, va = np.full(len(h), _STD_ASPECT), np.full(len(h), _STD_ASPECT_VEL)
    return np.stack([wp, wp, a, wp, wv, wv, va, wv], axis=1)


def _process_noise(rate: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """Process noise (N, 8, 8) accumulated over ``dt`` (N,) seconds.

    Exact discretisation of independent random walks on positions and velocities with
    variance rates ``rate`` (N, 8): velocity noise injected during the step also moves the
    position, so predicting by ``dt`` once or in pieces gives the same covariance.
    """
    q_pos, q_vel = rate[:, :4], rate[:, 4:]
    d = dt[:, None]
    noise = np.zeros((len(rate), 8, 8))
    pos, vel = range(4), range(4, 8)
    noise[:, pos, pos] = q_pos * d + q_vel * d**3 / 3
    noise[:, pos, vel] = noise[:, vel, pos] = q_vel * d**2 / 2
    noise[:, vel, vel] = q_vel * d
    return noise


def _diag(values: np.ndarray) -> np.ndarray:
    """(N, D) → (N, D, D) diagonal matrices."""
    n, d = values.shape
    out = np.zeros((n, d, d))
    out[:, range(d), range(d)] = values
    return out
