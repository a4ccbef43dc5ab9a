"""Face verification and identification: our pipeline against plain deepface, same model.

    .venv/bin/python bench/eval_faces.py [--data ../shared/data/faces] [--backends opencv,dlib]

1. Calibration on every labelled face outside the test pairs (dlib face chips: 5 identities ×
   11; 14 single-face photos of 5 people from face_recognition's examples; 2,346 pairs): the
   middle of the gap between the largest same-person and the smallest different-person
   distance — the threshold ``detectors/faces.py`` ships as ``CALIBRATED_THRESHOLDS``; the FAR
   1% and best-accuracy thresholds are printed for reference.
2. Verification on deepface's master.csv (300 labelled pairs, a different set of people): our
   pipeline (dlib HOG + 5-point alignment + deepface Dlib on the chip and its mirror image, at
   the calibrated threshold) and
   plain ``DeepFace.verify(model_name="Dlib", detector_backend=B)`` at deepface's threshold,
   side by side: accuracy, and TAR at FAR 1% (threshold from each method's own negatives).
   Plain deepface represents each photo once with ``DeepFace.represent`` and the pair decision
   is ``DeepFace.verify`` called on those embeddings (min distance over the faces found, which
   is what verify does with photos) — the same result as verify on the files, 25 detections
   instead of 600.
3. Identification on the dlib chips: leave-one-out, each chip against the templates (mean
   embedding) of the 5 identities built from the other chips; rank-1 accuracy.

A photo where no face is found counts against the method (its pairs are "different").
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.faces import CALIBRATED_THRESHOLDS, DEEPFACE_THRESHOLDS, build_face_models  # noqa: E402
from detectors.models import FACE_REGISTRY, resolve  # noqa: E402
from pipeline.config import FacesConfig, ModelsConfig  # noqa: E402
from pipeline.watchlist import faces_in_photo  # noqa: E402

MODEL = "Dlib"
# Single-face photos of face_recognition's examples (none of these people is in master.csv).
CALIBRATION_PHOTOS = {
    "knn_train/alex_lacamoire__img1.jpg": "alex", "knn_test/alex_lacamoire1.jpg": "alex",
    "knn_train/biden__biden.jpg": "biden", "knn_train/biden__biden2.jpg": "biden",
    "knn_train/kit_harington__john1.jpeg": "kit", "knn_train/kit_harington__john2.jpeg": "kit",
    "knn_test/johnsnow_test1.jpg": "kit", "knn_train/obama__obama.jpg": "obama",
    "knn_train/obama__obama2.jpg": "obama", "knn_test/obama1.jpg": "obama",
    "obama3.jpg": "obama", "obama-1080p.jpg": "obama",
    "knn_train/rose_leslie__img1.jpg": "rose", "knn_train/rose_leslie__img2.jpg": "rose",
}


def ours(models, path: Path) -> list[np.ndarray]:
    image = cv2.imread(str(path))
    faces = faces_in_photo(models, image)
    return [models.embedder.embed([faces[0].chip])[0]] if faces else []


def plain(path: Path, backend: str) -> list[np.ndarray]:
    from deepface import DeepFace

    try:
        reps = DeepFace.represent(str(path), model_name=MODEL, detector_backend=backend,
                                  enforce_detection=True, align=True)
    except ValueError:  # deepface: "Face could not be detected"
        return []
    return [np.asarray(r["embedding"], np.float64) for r in reps]


def pair_distance_ours(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    if not a or not b:
        return float("inf")
    return float(1.0 - a[0] @ b[0])


def pair_distance_plain(a: list[np.ndarray], b: list[np.ndarray]) -> tuple[float, bool]:
    from deepface import DeepFace

    if not a or not b:
        return float("inf"), False
    best = None
    for x, y in itertools.product(a, b):
        r = DeepFace.verify(x.tolist(), y.tolist(), model_name=MODEL, distance_metric="cosine",
                            silent=True)
        if best is None or r["distance"] < best["distance"]:
            best = r
    return float(best["distance"]), bool(best["verified"])


def tar_at_far(d: np.ndarray, same: np.ndarray, far: float = 0.01) -> tuple[float, float]:
    """TAR at the largest threshold whose FAR on the negatives is <= far; (tar, threshold)."""
    neg = np.sort(d[~same])
    neg = neg[np.isfinite(neg)]
    k = int(np.floor(far * (~same).sum()))  # number of negatives allowed to pass
    thr = (neg[k] - 1e-9) if k < len(neg) else np.inf
    return float(np.mean(d[same] <= thr)), float(thr)


def best_threshold(d: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    cands = np.unique(d[np.isfinite(d)])
    accs = [(np.mean((d <= t) == same), t) for t in cands]
    acc, t = max(accs)
    return float(acc), float(t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/faces"))
    ap.add_argument("--backends", default="opencv,dlib",
                    help="deepface detector backends for the plain runs (comma separated)")
    args = ap.parse_args()
    data = Path(args.data)
    models = build_face_models(FacesConfig(), ModelsConfig())
    # deepface's own dlib detector backend wants the 5-point file in its weights folder.
    lm = resolve("dlib_landmarks_5", None, ModelsConfig().cache_dir, False, FACE_REGISTRY)
    link = Path(os.environ["DEEPFACE_HOME"]) / ".deepface" / "weights" / lm.spec.filename
    if not link.exists():
        link.symlink_to(lm.path.resolve())

    # 1. calibration on every labelled face outside the test pairs: dlib chips + face_recognition
    chips = sorted((data / "dlib_johns").glob("*/*.jpg"))
    labels = np.array([p.parent.name for p in chips])
    t = time.perf_counter()
    emb = [ours(models, p) for p in chips]
    found = np.array([bool(e) for e in emb])
    print(f"dlib chips: {len(chips)} chips, faces found by our detector in {found.sum()} "
          f"({time.perf_counter() - t:.1f} s)")
    ii, jj = np.triu_indices(len(chips), 1)
    d = np.array([pair_distance_ours(emb[i], emb[j]) for i, j in zip(ii, jj)])
    same = labels[ii] == labels[jj]
    print(f"chips alone: same-person distances up to {d[same].max():.4f}, different-person from "
          f"{d[~same].min():.4f}")
    cal = [data / "face_recognition" / p for p in CALIBRATION_PHOTOS]
    cal_emb = emb + [ours(models, p) for p in cal]
    cal_lab = np.concatenate([labels, [CALIBRATION_PHOTOS[p] for p in CALIBRATION_PHOTOS]])
    ii, jj = np.triu_indices(len(cal_emb), 1)
    d = np.array([pair_distance_ours(cal_emb[i], cal_emb[j]) for i, j in zip(ii, jj)])
    same = cal_lab[ii] == cal_lab[jj]
    tar, thr = tar_at_far(d, same)
    acc_b, thr_b = best_threshold(d, same)
    lo, hi = float(d[same].max()), float(d[~same].min())
    print(f"calibration: same-person distances up to {lo:.4f}, different-person from {hi:.4f}; "
          f"middle of the gap {(lo + hi) / 2:.4f}")
    print(f"calibration ({len(cal_emb)} faces, {same.sum()} same / {(~same).sum()} different pairs): "
          f"threshold at FAR 1% = {thr:.4f} (TAR {tar:.3f}); best-accuracy threshold "
          f"{thr_b:.4f} (acc {acc_b:.3f}); shipped: {CALIBRATED_THRESHOLDS[MODEL]}")

    # 3. identification on the chips (leave-one-out against identity templates)
    names = sorted(set(labels))
    correct = 0
    for i, e in enumerate(emb):
        if not e:
            continue
        temps = []
        for n in names:
            vs = [emb[k][0] for k in range(len(chips)) if k != i and labels[k] == n and emb[k]]
            m = np.mean(vs, axis=0)
            temps.append(m / np.linalg.norm(m))
        pred = names[int(np.argmax(np.stack(temps) @ e[0]))]
        correct += pred == labels[i]
    print(f"identification (chips, leave-one-out, rank-1 vs 5 templates): "
          f"{correct}/{len(chips)} = {correct / len(chips):.3f}")

    # 2. verification on deepface's pairs
    rows = list(csv.DictReader(open(data / "deepface" / "master.csv")))
    files = sorted({r["file_x"] for r in rows} | {r["file_y"] for r in rows})
    same = np.array([r["Decision"] == "Yes" for r in rows])
    thr_ours = CALIBRATED_THRESHOLDS[MODEL]
    t = time.perf_counter()
    e_ours = {f: ours(models, data / "deepface" / f) for f in files}
    t_ours = time.perf_counter() - t
    d_ours = np.array([pair_distance_ours(e_ours[r["file_x"]], e_ours[r["file_y"]]) for r in rows])
    results = [("reunite (dlib HOG, 5-pt chip, Dlib+flip)", d_ours, d_ours <= thr_ours, thr_ours, t_ours,
                sum(bool(v) for v in e_ours.values()))]
    for th in (thr, thr_b, (lo + hi) / 2):
        results.append((f"reunite at calibration thr {th:.4f}", d_ours, d_ours <= th, th, t_ours,
                        sum(bool(v) for v in e_ours.values())))
    for b in [x for x in args.backends.split(",") if x]:
        t = time.perf_counter()
        e_pl = {f: plain(data / "deepface" / f, b) for f in files}
        tp = time.perf_counter() - t
        dv = [pair_distance_plain(e_pl[r["file_x"]], e_pl[r["file_y"]]) for r in rows]
        results.append((f"DeepFace.verify Dlib/{b}", np.array([x[0] for x in dv]),
                        np.array([x[1] for x in dv]), DEEPFACE_THRESHOLDS[MODEL], tp,
                        sum(bool(v) for v in e_pl.values())))
    print(f"\nverification on deepface master.csv: {len(rows)} pairs ({same.sum()} same), "
          f"{len(files)} photos")
    print(f"{'method':40s} {'photos w/ face':>14s} {'threshold':>9s} {'accuracy':>8s} "
          f"{'best-thr acc':>12s} {'TAR@FAR1%':>9s} {'s/photo':>7s}")
    for name, dist, pred, th, secs, nf in results:
        acc = float(np.mean(pred == same))
        tar, _ = tar_at_far(dist, same)
        acc_b, _ = best_threshold(dist, same)
        print(f"{name:40s} {nf:>8d}/{len(files):<5d} {th:9.4f} {acc:8.3f} {acc_b:12.3f} "
              f"{tar:9.3f} {secs / len(files):7.2f}")


if __name__ == "__main__":
    main()
