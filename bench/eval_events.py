"""Event precision and recall against ground truth (temporal IoU >= 0.3), per clip and overall.

    REUNITE_MODELS=../shared/models .venv/bin/python bench/eval_events.py CLIPS_DIR... \\
        [--negatives ../shared/data/pedestrians] [--config configs/high_recall.yaml]
        [--set events.carry_min_duration_s=0.8 ...] [--split tune] [--store runs/eval.sqlite]

Each CLIPS_DIR holds clips and a ``ground_truth.json`` (see bench/make_event_clips.py for the
format and how each clip was made). Every clip is scanned with the given config; a predicted
event matches an unmatched ground-truth event of the same type when their time spans overlap
with IoU >= 0.3. Printed: per clip TP/FP/FN, then precision and recall per split (tune, test)
and overall. With ``--negatives``, every video there (real footage with no carry) is scanned
too and false carry events per 10 minutes are printed per file.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors import build_person_detector  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.scan import run_scan  # noqa: E402


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n: with 7 clips, 2/7 is anything from
    0.08 to 0.64, and the figure should say so."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def poisson_upper(k: int, conf: float = 0.95) -> float:
    """One-sided upper confidence bound on the mean of a Poisson count k (0 → 3.0 at 95%): no
    false event in 4 minutes bounds the rate at 3 per 4 minutes, not at zero."""
    from scipy.stats import chi2

    return float(chi2.ppf(conf, 2 * k + 2) / 2)


def tiou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def match(pred: list[dict], gt: list[dict], kind: str) -> tuple[int, int, int]:
    p = [(e["start_s"], e["end_s"]) for e in pred if e["type"] == kind]
    g = [(e["start_s"], e["end_s"]) for e in gt if e["type"] == kind]
    used, tp = set(), 0
    for span in sorted(p):
        best = max(((tiou(span, gs), j) for j, gs in enumerate(g) if j not in used), default=(0, -1))
        if best[0] >= 0.3:
            used.add(best[1])
            tp += 1
    return tp, len(p) - tp, len(g) - tp


def scan(paths: list[str], cfg, detector, store: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory() as td:
        manifest, _ = run_scan(paths, Path(td) / "out", cfg, lambda: detector,
                               report_line=lambda s: None, store_path=store)
        return {Path(i["path"]).name: i for i in manifest["inputs"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clips", type=Path, nargs="+", help="folders with ground_truth.json")
    ap.add_argument("--negatives", type=Path, default=None)
    ap.add_argument("--config", type=Path, default=None, help="a config file, e.g. a preset")
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--type", default="carry", choices=["carry", "lead_away"])
    ap.add_argument("--split", default="all", choices=["tune", "test", "all"],
                    help="scan only this split's clips (tune while choosing thresholds: the "
                         "test clips are then never scanned)")
    ap.add_argument("--store", type=Path, default=None,
                    help="a case store kept between runs: re-runs with other events settings "
                         "reuse the detection and tracking (pipeline/store.py)")
    args = ap.parse_args()
    cfg = load_config(args.config, args.sets + ["output.annotated_video=false"])
    detector = build_person_detector(cfg.detector, cfg.models)
    gt = [dict(c, path=str(d / c["file"]))
          for d in args.clips for c in json.loads((d / "ground_truth.json").read_text())["clips"]
          if args.split == "all" or c["split"] == args.split]
    results = scan([c["path"] for c in gt], cfg, detector, args.store)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    print(f"{'clip':62s} {'split':5s} {'TP':>3s} {'FP':>3s} {'FN':>3s}  predicted spans")
    for c in gt:
        r = results[c["file"]]
        tp, fp, fn = match(r["events"], c["events"], args.type)
        for key in (c["split"], "all"):
            t = totals[key]
            t[0], t[1], t[2] = t[0] + tp, t[1] + fp, t[2] + fn
        spans = [f"{e['start_s']:.1f}-{e['end_s']:.1f}" for e in r["events"] if e["type"] == args.type]
        print(f"{c['file'][:62]:62s} {c['split']:5s} {tp:3d} {fp:3d} {fn:3d}  {spans}")
    for key in (("tune", "test", "all") if args.split == "all" else (args.split,)):
        tp, fp, fn = totals[key]
        prec = tp / (tp + fp) if tp + fp else float("nan")
        rec = tp / (tp + fn) if tp + fn else float("nan")
        (rl, rh), (pl, ph) = wilson(tp, tp + fn), wilson(tp, tp + fp)
        print(f"{args.type} {key:4s}: precision {prec:.2f} [95% {pl:.2f}-{ph:.2f}] "
              f"recall {rec:.2f} [95% {rl:.2f}-{rh:.2f}] (TP {tp}, FP {fp}, FN {fn})")
    if args.negatives:
        res = scan([str(args.negatives)], cfg, detector, args.store)
        total_fp = total_min = 0.0
        for name, r in sorted(res.items()):
            if r.get("status") == "failed":
                # an unreadable file is no footage: it adds no minutes and no rate
                print(f"negative {name[:50]:50s} not scanned: {r.get('error')}")
                continue
            dur = (r.get("decode") or {}).get("last_pts_s") or 0.0
            n = sum(e["type"] == args.type for e in r["events"])
            total_fp += n
            total_min += dur / 60
            rate = n / (dur / 600) if dur else float("nan")
            print(f"negative {name[:50]:50s} {dur:7.1f} s  {n} false {args.type}  ({rate:.2f} per 10 min)")
        print(f"negatives overall: {int(total_fp)} false {args.type} in {total_min:.1f} min "
              f"({total_fp / (total_min / 10) if total_min else float('nan'):.2f} per 10 min; "
              f"95% upper bound {poisson_upper(int(total_fp)) / (total_min / 10) if total_min else float('nan'):.1f} "
              f"per 10 min)")
    print(f"config: {args.config or 'defaults'}; overrides: {args.sets or 'none'}")


if __name__ == "__main__":
    main()
