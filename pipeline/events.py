"""Carry and lead-away events from pairs of track histories.

Both rest on the geometry of two people over time, not on how they look:

carry — a smaller person held by a bigger one: at the same instants the small box overlaps the
big one (``containment``: share of the small box inside the big one), its bottom is well above
the big person's feet (``off_ground``, in big-person heights: a carried child's feet hang at
hip or chest level), its height is a fraction of the big one's (``size_ratio``), and the two
move together (``relative_speed``: how fast the small box moves relative to the big one, in
big-person heights per second), and — where the scene's perspective is known — the small box is
too small to be a grown-up standing at its own foot position (``scene_ratio``: its height over a
standing adult's there; a person farther away behind the carrier overlaps them with feet
"above" theirs just as a held child does, but is adult-sized for where they stand) or folded
(``aspect``, width over height: a held child sits with knees and hips bent, a person behind
stands upright; this is what tells them apart at eye level, where a held child is nearly
adult-sized for where its feet are).

Qualifying instants closer than ``carry_max_gap_s`` join, so a short occlusion, or a put-down
and pick-up within a few seconds, gives one event. Either track may break meanwhile: the
carrier's box changes shape around a child being picked up, and the tracker often starts a new
track there, so one 2-4 s carry arrives as several short pairs, each under
``carry_min_duration_s``. Pairs are therefore joined into a chain when they share one track and
the other track continues the same person (at the handover the new box is where the old one
was, in the picture and relative to the shared person: see ``_continuous``), and the chain's
qualifying time, each moment counted once however many pairs cover it, is what must reach
``carry_min_duration_s``. A second adult beside the carrier, or a second small box inside the
same adult at the same instants (a body part, a bag), is not a continuation, so their
fragments do not add up. The event's ``adult_track`` is the adult with the most qualifying
time; ``adult_tracks`` and ``child_track`` list every track the chain joined.

carry, one box — a child on the shoulders or held high is often boxed together with the
carrier (no detector here boxes a carried toddler on its own). Two traces of the second
person, each over a sliding second and for ``carry_merged_min_duration_s``: the box stands
taller than an adult can at its foot position (``merged_height_ratio``, the box height over
the scene's adult height there, at least ``carry_merged_min_height_ratio``), or a weak second
person box sits in its upper part in most observations (``inner_share``, pipeline.inner) while
the box is adult-sized. A weaker cue than two boxes: it scores 0.5–0.75; the event's
``child_track`` is empty and its evidence says ``cue: merged_box``. Off unless
``carry_merged_box`` (it fires on ordinary walkers seen up close at eye level, where YOLOX boxes
body parts inside most people).

lead_away — an adult and a child (by the track's age group) on the ground side by side (feet at
the same depth, close together), both walking with the same velocity for at least
``lead_min_duration_s``. It scores below carry.

Each event keeps its evidence: per instant, the cue values that made it qualify.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.attributes import Perspective
from pipeline.boxes import box_iou
from pipeline.config import EventsConfig
from pipeline.types import Event, Track


@dataclass
class _Pair:
    """Two tracks at their common instants: times (T,), boxes (T, 4) each."""

    big: Track
    small: Track
    t: np.ndarray
    a: np.ndarray
    c: np.ndarray


def _same_times(big: np.ndarray, small: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices (ia, ic) of the instants of ``small`` (times in order) also in ``big``, in the
    order of ``small``; a time repeated in ``big`` pairs with its last occurrence."""
    ia = np.searchsorted(big, small, side="right") - 1
    ok = ia >= 0
    ok[ok] = big[ia[ok]] == small[ok]
    return ia[ok], np.flatnonzero(ok)


class _Spans:
    """The time spans of a list of tracks, to find the ones that overlap a track's (pairs of
    tracks that share no instant are never looked at: a busy hour has ~1,800 tracks)."""

    def __init__(self, tracks: Sequence[Track]) -> None:
        self.tracks = list(tracks)
        self.start = np.array([t.start_s if len(t) else np.inf for t in self.tracks], np.float64)
        self.end = np.array([t.end_s if len(t) else -np.inf for t in self.tracks], np.float64)

    def overlapping(self, track: Track) -> list[Track]:
        """The tracks whose span overlaps ``track``'s, in their order."""
        if not len(track):
            return []
        hit = (self.start <= track.end_s) & (self.end >= track.start_s)
        return [self.tracks[k] for k in np.flatnonzero(hit)]


def _common(big: Track, small: Track) -> _Pair | None:
    if len(big) < 2 or len(small) < 2 or big.end_s < small.start_s or small.end_s < big.start_s:
        return None
    ia, ic = _same_times(big.pts_s, small.pts_s)
    if len(ia) < 2:
        return None
    return _Pair(big, small, big.pts_s[ia], big.boxes()[ia], small.boxes()[ic])


def _relative_speed(p: _Pair, h: np.ndarray) -> np.ndarray:
    """|d(centre_small - centre_big)/dt| per instant, in big-person heights per second."""
    ca = (p.a[:, :2] + p.a[:, 2:]) / 2
    cc = (p.c[:, :2] + p.c[:, 2:]) / 2
    rel = cc - ca
    if len(p.t) < 2:
        return np.zeros(len(p.t))
    d = np.gradient(rel, p.t, axis=0)
    return np.linalg.norm(d, axis=1) / np.maximum(h, 1.0)


def _segments(t: np.ndarray, on: np.ndarray, max_gap: float) -> list[tuple[int, int]]:
    """Runs of ``on`` instants, joined across gaps of at most ``max_gap`` seconds."""
    segs: list[tuple[int, int]] = []
    start = last = None
    for i in np.flatnonzero(on):
        if start is None:
            start = last = i
        elif t[i] - t[last] <= max_gap:
            last = i
        else:
            segs.append((start, last))
            start = last = i
    if start is not None:
        segs.append((start, last))
    return segs


def _carry_features(p: _Pair, persp: Perspective | None = None) -> dict[str, np.ndarray]:
    a, c = p.a, p.c
    ha = a[:, 3] - a[:, 1]
    hc = c[:, 3] - c[:, 1]
    lt = np.maximum(a[:, :2], c[:, :2])
    rb = np.minimum(a[:, 2:], c[:, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=1)
    area_c = np.maximum((c[:, 2] - c[:, 0]) * hc, 1.0)
    f = {
        "containment": inter / area_c,
        "off_ground": (a[:, 3] - c[:, 3]) / np.maximum(ha, 1.0),
        "size_ratio": hc / np.maximum(ha, 1.0),
        "relative_speed": _relative_speed(p, ha),
    }
    if persp is not None:
        f["scene_ratio"] = hc / persp.adult_height(c[:, 3])
        f["aspect"] = (c[:, 2] - c[:, 0]) / np.maximum(hc, 1.0)
    return f


def _cue_tests(f: dict[str, np.ndarray], cfg: EventsConfig) -> dict[str, np.ndarray]:
    """Per cue, which instants pass it; an instant qualifies when it passes them all."""
    lo, hi = cfg.carry_size_ratio
    tests = {
        "containment": f["containment"] >= cfg.carry_min_containment,
        "off_ground": f["off_ground"] >= cfg.carry_min_off_ground,
        "size_ratio": (f["size_ratio"] >= lo) & (f["size_ratio"] <= hi),
        "relative_speed": f["relative_speed"] <= cfg.carry_max_relative_speed,
    }
    if "scene_ratio" in f:
        # Not a grown-up standing behind: too small for where its feet are, or folded (a held
        # child sits, knees bent, on the arm or hip: a box about as wide as tall), which a
        # person standing or walking behind the carrier is not.
        tests["not_standing_behind"] = (f["scene_ratio"] <= cfg.carry_max_scene_ratio) | (
            f["aspect"] >= cfg.carry_min_held_aspect)
    return tests


def _carry_instants(f: dict[str, np.ndarray], cfg: EventsConfig) -> tuple[np.ndarray, np.ndarray]:
    on = np.logical_and.reduce(list(_cue_tests(f, cfg).values()))
    # Strength per instant: how clearly each cue clears its threshold (0..1 each, averaged).
    strength = np.mean(
        [
            np.clip(f["containment"], 0, 1),
            np.clip(f["off_ground"] / 0.5, 0, 1),
            np.clip(1 - f["relative_speed"] / cfg.carry_max_relative_speed, 0, 1),
        ],
        axis=0,
    )
    return on, strength


def _evidence(t: np.ndarray, f: dict[str, np.ndarray], sel: np.ndarray, n: int = 12) -> list[dict]:
    pick = sel if len(sel) <= n else sel[np.linspace(0, len(sel) - 1, n).round().astype(int)]
    return [
        {"t_s": round(float(t[i]), 3), **{k: round(float(v[i]), 3) for k, v in f.items()}}
        for i in pick
    ]


@dataclass
class _Piece:
    """One segment of one (big, small) pair: its qualifying instants ``q`` (indices into the
    pair's common instants) and the seconds each stands for (``dt``)."""

    pair: _Pair
    q: np.ndarray
    dt: np.ndarray
    strength: np.ndarray
    evidence: list[dict]

    @property
    def start(self) -> float:
        return float(self.pair.t[self.q[0]])

    @property
    def end(self) -> float:
        return float(self.pair.t[self.q[-1]])


def _instant_seconds(t: np.ndarray, step: float | None = None) -> np.ndarray:
    """Seconds each instant stands for: up to the next one, at most twice the usual step (a gap
    in the track is not qualifying time); the last instant counts 0.

    ``step`` is the source's usual step between observations (:func:`_frame_step`). Without it
    the step is this series' own median, which is right for a dense track but not for one
    seen three times in five seconds (a weak box found, lost and found again): there the
    median step is the gap itself, and one instant followed by a 3 s gap counted 3 s."""
    if len(t) < 2:
        return np.zeros(len(t))
    dt = np.append(np.diff(t), 0.0)
    med = step if step else float(np.median(np.diff(t)))
    return np.minimum(dt, 2 * med) if med > 0 else dt


def _frame_step(tracks: Sequence[Track]) -> float | None:
    """The usual seconds between a track's observations in this source: the median step over
    all tracks (the analysis rate; gaps the tracker filled are observations too)."""
    diffs = [np.diff(np.asarray(tr.pts_s, np.float64)) for tr in tracks if len(tr.pts_s) > 1]
    d = np.concatenate(diffs) if diffs else np.zeros(0)
    d = d[d > 0]
    return float(np.median(d)) if len(d) else None


def _union_seconds(pieces: Sequence[_Piece]) -> float:
    """Seconds covered by the qualifying instants of ``pieces``, each moment counted once (two
    adults boxed around the same child, or one adult around two child boxes, at the same
    instants give that time once, not twice)."""
    spans = sorted((float(p.pair.t[i]), float(p.pair.t[i]) + float(d))
                   for p in pieces for i, d in zip(p.q, p.dt))
    total, end = 0.0, -np.inf
    for s, e in spans:
        if e > end:
            total += e - max(s, end)
            end = e
    return total


# Two pieces that share one track are one carry when the other track is a break of the same
# person: at the handover the new box sits where the old one was (its centre within a quarter
# adult height, plus an adult height per second of gap for walking) and where it was relative
# to the shared track's box (relative-box IoU). A second adult walking beside the carrier, or
# a second small box (a body part, a bag) inside the same adult at the same instants, sits
# elsewhere relative to the shared person; a track that jumped to someone far away fails the
# first test. Without this, brief fragments of unrelated small boxes inside one adult add up.
_HANDOVER_MIN_IOU = 0.5


def _continuous(p: _Piece, q: _Piece, other: str) -> bool:
    """Whether ``q`` (starting no earlier than ``p``) continues ``p``'s ``other`` person
    (``"a"``: the adult's track broke, ``"c"``: the child's) around the shared one (see above)."""
    shared = "c" if other == "a" else "a"
    i = q.q[0]
    j = int(np.argmin(np.abs(p.pair.t - q.pair.t[i])))  # p's common instant nearest the handover
    bp, sp = getattr(p.pair, other)[j], getattr(p.pair, shared)[j]
    bq, sq = getattr(q.pair, other)[i], getattr(q.pair, shared)[i]
    h = max(float(p.pair.a[j, 3] - p.pair.a[j, 1]), 1.0)
    moved = np.linalg.norm((bp[:2] + bp[2:]) / 2 - (bq[:2] + bq[2:]) / 2)
    if moved > h * (0.25 + abs(float(q.pair.t[i] - p.pair.t[j]))):
        return False
    rel_p = bp - np.tile((sp[:2] + sp[2:]) / 2, 2)
    rel_q = bq - np.tile((sq[:2] + sq[2:]) / 2, 2)
    return float(box_iou(rel_p, rel_q)[0, 0]) >= _HANDOVER_MIN_IOU


def _chains(pieces: list[_Piece], max_gap: float) -> list[list[_Piece]]:
    """Pieces closer than ``max_gap`` joined when they share the adult track or the child track
    and the other track is the same person's or continues it (:func:`_continuous`)."""
    parent = list(range(len(pieces)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    order = sorted(range(len(pieces)), key=lambda k: pieces[k].start)
    for n, i in enumerate(order):
        p = pieces[i]
        for k in order[n + 1:]:
            q = pieces[k]
            if q.start - p.end > max_gap:
                break  # sorted by start: every later piece starts later still
            same_adult = p.pair.big is q.pair.big
            same_child = p.pair.small is q.pair.small
            if (same_adult and (same_child or _continuous(p, q, "c"))) or (
                    same_child and _continuous(p, q, "a")):
                parent[root(k)] = root(i)
    groups: dict[int, list[_Piece]] = {}
    for k in order:
        groups.setdefault(root(k), []).append(pieces[k])
    return list(groups.values())


def _chain_event(chain: list[_Piece], kind: str = "carry") -> Event:
    """One event (``carry`` or ``lead_away``) from a chain of pieces: its span, the adult with
    the most qualifying time, every adult and child track, the mean strength over the
    instants, the evidence per instant."""
    by_adult: dict[int, list[_Piece]] = {}
    for p in chain:
        by_adult.setdefault(p.pair.big.track_id, []).append(p)
    adult = max(by_adult, key=lambda a: (_union_seconds(by_adult[a]), -a))
    first = chain[0].pair
    strength = np.concatenate([p.strength for p in chain])
    evidence = sorted((e for p in chain for e in p.evidence), key=lambda e: e["t_s"])
    return Event(
        type=kind,
        source_id=first.big.source_id,
        start_s=min(p.start for p in chain),
        end_s=max(p.end for p in chain),
        adult_track=adult,
        child_track=sorted({p.pair.small.track_id for p in chain}),
        score=float(np.mean(strength)),
        evidence=evidence,
        adult_tracks=sorted(by_adult),
    )


def _usable(perspective: Perspective | None, cfg: EventsConfig) -> Perspective | None:
    """The perspective, if fitted on enough tracks for the carry cues that use it."""
    if perspective is not None and perspective.n_tracks < cfg.carry_perspective_min_tracks:
        return None
    return perspective


@dataclass
class PairCues:
    """One (big, small) pair as :func:`carry_events` sees it: the common instants ``t`` (T,),
    each cue's value there (``features``), and per test which instants pass it (``tests``)."""

    t: np.ndarray
    features: dict[str, np.ndarray]
    tests: dict[str, np.ndarray]
    step: float | None = None  # the usual seconds between observations (_frame_step)

    @property
    def qualifying(self) -> np.ndarray:
        """Instants passing every test."""
        return np.logical_and.reduce(list(self.tests.values()))

    @property
    def qualifying_s(self) -> float:
        """Seconds the qualifying instants stand for (what ``carry_min_duration_s`` is held to
        for a pair on its own)."""
        return float(_instant_seconds(self.t, self.step)[self.qualifying].sum())


def carry_cues(
    big: Track, small: Track, cfg: EventsConfig, perspective: Perspective | None = None,
) -> PairCues | None:
    """One pair's cues, for a reviewer or a benchmark asking why a carry did or did not fire
    (bench/carry_funnel.py); None when the tracks share fewer than two instants."""
    p = _common(big, small)
    if p is None:
        return None
    f = _carry_features(p, _usable(perspective, cfg))
    return PairCues(p.t, f, _cue_tests(f, cfg), _frame_step([big, small]))


def carry_events(
    tracks: Sequence[Track], cfg: EventsConfig, perspective: Perspective | None = None,
    frame_height: int | None = None,
) -> list[Event]:
    """Every carry: chains of (big, small) pairs whose qualifying instants add up, each moment
    once, to ``carry_min_duration_s``.

    ``perspective`` (from :func:`pipeline.attributes.classify_tracks`) adds the ``scene_ratio``
    cue; without it that cue is not used.
    """
    perspective = _usable(perspective, cfg)
    step = _frame_step(tracks)
    pieces: list[_Piece] = []
    spans = _Spans(tracks)
    for big in tracks:
        for small in spans.overlapping(big):
            if small is big:
                continue
            p = _common(big, small)
            if p is None:
                continue
            f = _carry_features(p, perspective)
            on, strength = _carry_instants(f, cfg)
            dt = _instant_seconds(p.t, step)
            for s, e in _segments(p.t, on, cfg.carry_max_gap_s):
                sel = np.arange(s, e + 1)[on[s : e + 1]]
                # which pair each instant comes from (a chain joins several)
                ev = [dict(x, tracks=f"adult #{big.track_id}, child #{small.track_id}")
                      for x in _evidence(p.t, f, sel)]
                pieces.append(_Piece(p, sel, dt[sel], strength[sel], ev))
    raw = [_chain_event(c) for c in _chains(pieces, cfg.carry_max_gap_s)
           if _union_seconds(c) >= cfg.carry_min_duration_s]
    if cfg.carry_merged_box:
        raw += merged_box_events(tracks, cfg, perspective, frame_height)
    return _link(raw, cfg.carry_max_gap_s, cfg.carry_min_duration_s, carry=True)


def _rolling_median(t: np.ndarray, v: np.ndarray, window_s: float) -> np.ndarray:
    out = np.empty_like(v)
    for i in range(len(v)):
        sel = np.abs(t - t[i]) <= window_s / 2
        out[i] = np.median(v[sel])
    return out


def merged_box_events(
    tracks: Sequence[Track], cfg: EventsConfig, perspective: Perspective | None,
    frame_height: int | None = None, edge_margin_px: float = 3.0,
) -> list[Event]:
    """Carries seen as one box holding two people (see the module doc)."""
    raw: list[Event] = []
    step = _frame_step(tracks)
    for tr in tracks:
        b = tr.boxes()
        if len(b) < 3:
            continue
        t = np.asarray(tr.pts_s, np.float64)
        ok = b[:, 1] > edge_margin_px
        if frame_height:
            ok &= b[:, 3] < frame_height - edge_margin_px
        if ok.sum() < 3:
            continue
        b, t = b[ok], t[ok]
        f: dict[str, np.ndarray] = {}
        on = np.zeros(len(t), bool)
        strength = np.zeros(len(t))
        ratio_ok = np.ones(len(t), bool)
        if perspective is not None:
            h = b[:, 3] - b[:, 1]
            ratio = _rolling_median(t, h / perspective.adult_height(b[:, 3]), 1.0)
            f["merged_height_ratio"] = ratio
            tall = ratio >= cfg.carry_merged_min_height_ratio
            on |= tall
            strength = np.where(tall, np.clip((ratio - cfg.carry_merged_min_height_ratio) / 0.2, 0, 1), strength)
            ratio_ok = ratio >= cfg.carry_inner_min_height_ratio
        inner = tr.extras.get("inner_confidence")
        if inner is not None:
            present = (np.nan_to_num(np.asarray(inner, np.float64)[ok]) > 0).astype(np.float64)
            share = _rolling_mean(t, present, 1.0)
            f["inner_share"] = share
            held = (share >= cfg.carry_inner_min_share) & ratio_ok
            on |= held
            strength = np.where(held, np.maximum(strength, share), strength)
        for s0, e0 in _segments(t, on, cfg.carry_max_gap_s):
            if _on_duration(t, on, s0, e0, step) < cfg.carry_merged_min_duration_s:
                continue
            sel = np.arange(s0, e0 + 1)[on[s0 : e0 + 1]]
            raw.append(Event(
                type="carry", source_id=tr.source_id, start_s=float(t[s0]), end_s=float(t[e0]),
                adult_track=tr.track_id, child_track=[],
                # half the strength range of a two-box carry: a weaker cue, scored so
                score=0.5 * float(np.mean(strength[sel])),
                evidence=[dict(x, cue="merged_box") for x in _evidence(t, f, sel)],
            ))
    return raw


def _rolling_mean(t: np.ndarray, v: np.ndarray, window_s: float) -> np.ndarray:
    return np.asarray([v[np.abs(t - ti) <= window_s / 2].mean() for ti in t])


def _on_duration(t: np.ndarray, on: np.ndarray, s: int, e: int, step: float | None = None) -> float:
    """Seconds covered by qualifying instants in [s, e] (see :func:`_instant_seconds`)."""
    return float(_instant_seconds(t, step)[s : e + 1][on[s : e + 1]].sum())


def _link(events: list[Event], max_gap: float, min_duration: float, carry: bool) -> list[Event]:
    """Join events of the same adult closer than ``max_gap`` (the child's track may differ)."""
    events.sort(key=lambda ev: (ev.adult_track, ev.start_s))
    out: list[Event] = []
    for ev in events:
        prev = out[-1] if out else None
        if prev is not None and prev.adult_track == ev.adult_track and ev.start_s - prev.end_s <= max_gap:
            span_prev = prev.end_s - prev.start_s
            span_ev = ev.end_s - ev.start_s
            prev.score = (prev.score * span_prev + ev.score * span_ev) / max(span_prev + span_ev, 1e-6)
            prev.end_s = max(prev.end_s, ev.end_s)
            prev.child_track = sorted(set(prev.child_track) | set(ev.child_track))
            prev.adult_tracks = sorted(set(prev.adult_tracks) | set(ev.adult_tracks))
            prev.evidence = prev.evidence + ev.evidence
            continue
        out.append(ev)
    for ev in out:
        # Carry scores 0.5–1.0 by strength; lead-away 0.2–0.45 (always below a carry).
        base, span = (0.5, 0.5) if carry else (0.2, 0.25)
        ev.score = round(base + span * float(np.clip(ev.score, 0, 1)), 3)
        kids = ", ".join(f"#{k}" for k in ev.child_track) or "a child in the same box"
        also = ", ".join(f"#{a}" for a in ev.adult_tracks if a != ev.adult_track)
        ev.summary = (
            f"{ev.type}: track #{ev.adult_track}{f' (also {also})' if also else ''} with {kids} "
            f"for {ev.end_s - ev.start_s:.1f} s"
        )
    return out


def lead_away_events(tracks: Sequence[Track], cfg: EventsConfig, carried: Sequence[Event] = ()) -> list[Event]:
    """Adult and child walking together on the ground for ``lead_min_duration_s``.

    As for carry, the time is counted over a chain of pairs (:func:`_chains`): when the
    adult's or the child's track breaks (an occlusion, the pair crossing someone), the pieces
    on either side add up if the new track is where the old one was beside the shared person.
    """
    pieces: list[_Piece] = []
    step = _frame_step(tracks)
    adults = [t for t in tracks if t.attributes.get("age_group") == "adult"]
    children = [t for t in tracks if t.attributes.get("age_group") == "child"]
    spans = _Spans(children)
    for a in adults:
        for c in spans.overlapping(a):
            p = _common(a, c)
            if p is None:
                continue
            ha = p.a[:, 3] - p.a[:, 1]
            ca = (p.a[:, :2] + p.a[:, 2:]) / 2
            cc = (p.c[:, :2] + p.c[:, 2:]) / 2
            va = np.gradient(ca, p.t, axis=0)
            vc = np.gradient(cc, p.t, axis=0)
            speed = np.linalg.norm(va, axis=1) / np.maximum(ha, 1)
            gap_x = np.maximum(0, np.maximum(p.a[:, 0], p.c[:, 0]) - np.minimum(p.a[:, 2], p.c[:, 2]))
            f = {
                "distance": gap_x / np.maximum(ha, 1),
                "depth_difference": np.abs(p.a[:, 3] - p.c[:, 3]) / np.maximum(ha, 1),
                "speed": speed,
                "relative_speed": np.linalg.norm(va - vc, axis=1) / np.maximum(ha, 1),
            }
            on = (
                (f["distance"] <= cfg.lead_max_distance)
                & (f["depth_difference"] <= 0.15)
                & (f["speed"] >= cfg.lead_min_speed)
                & (f["relative_speed"] <= cfg.lead_max_relative_speed)
            )
            for ev in carried:
                if a.track_id in ev.adult_tracks and c.track_id in ev.child_track:
                    on &= ~((p.t >= ev.start_s) & (p.t <= ev.end_s))
            strength = np.clip(1 - f["relative_speed"] / cfg.lead_max_relative_speed, 0, 1)
            dt = _instant_seconds(p.t, step)
            for s, e in _segments(p.t, on, cfg.lead_max_gap_s):
                sel = np.arange(s, e + 1)[on[s : e + 1]]
                ev = [dict(x, tracks=f"adult #{a.track_id}, child #{c.track_id}")
                      for x in _evidence(p.t, f, sel)]
                pieces.append(_Piece(p, sel, dt[sel], strength[sel], ev))
    raw = [_chain_event(ch, "lead_away") for ch in _chains(pieces, cfg.lead_max_gap_s)
           if _union_seconds(ch) >= cfg.lead_min_duration_s]
    return _link(raw, cfg.lead_max_gap_s, cfg.lead_min_duration_s, carry=False)


def find_events(
    tracks: Sequence[Track], cfg: EventsConfig, perspective: Perspective | None = None,
    frame_height: int | None = None,
) -> list[Event]:
    """Carry events, then lead-away events outside them; sorted by start time.

    Tracks need ``attributes['age_group']`` (see pipeline.attributes) for lead-away. A track
    carried by another becomes ``child`` with cue ``carried`` (a person held at 0.2–0.8 of the
    carrier's height) unless the height cues already made it one. They may have said
    ``adult``: both compare a person's height with standing adults at the row of their feet,
    and a held child's box ends at the carrier's hip, not on the ground. At eye level that
    makes a held child look adult-sized (the pasted boy on openpose's street: 0.85 of an adult
    "there"), and the event's child would be labelled an adult in every output.
    """
    carry = carry_events(tracks, cfg, perspective, frame_height)
    by_id = {t.track_id: t for t in tracks}
    for ev in carry:
        for cid in ev.child_track:
            attrs = by_id[cid].attributes
            if attrs.get("age_group", "unknown") != "child":
                attrs.update(age_group="child", age_cue="carried", child_score=0.5 + 0.5 * ev.score)
    lead = lead_away_events(tracks, cfg, carry)
    events = [e for e in carry + lead if e.score >= cfg.min_score]
    return sorted(events, key=lambda e: (e.start_s, e.type, e.adult_track))
