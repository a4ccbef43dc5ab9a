"""Carry and lead-away on synthetic track histories (640x480 scene, 10 fps, pts in seconds).

People are boxes: an adult 200 px tall with feet at y=400 walking at 160 px/s (≈1.4 m/s for
1.75 m); a child 90–120 px. Each test builds what a camera would show and asks for the events.
"""

from __future__ import annotations

import numpy as np

from pipeline.attributes import classify_tracks
from pipeline.config import AttributesConfig, EventsConfig
from pipeline.events import carry_cues, find_events
from pipeline.types import Track

FPS = 10
H = 480


def track(tid: int, times, box_at) -> Track:
    t = Track(tid, "cam.mp4")
    for s in times:
        t.add(float(s), int(round(s * FPS)), np.asarray(box_at(s), np.float32), 0.8)
    return t


def secs(a: float, b: float) -> np.ndarray:
    return np.round(np.arange(a, b, 1 / FPS), 3)


def adult(x: float, feet: float = 400, h: float = 200):
    return (x - 30, feet - h, x + 30, feet)


def carried(x: float):  # on the hip: feet at chest-hip level, 90 px tall
    return (x - 5, 215, x + 40, 305)


def standing_child(x: float, feet: float = 400, h: float = 110):
    return (x - 18, feet - h, x + 18, feet)


def run(tracks, **events):
    persp = classify_tracks(tracks, H, AttributesConfig())
    return find_events(tracks, EventsConfig(**events), persp, H)


def test_carry():
    a = track(1, secs(0, 6), lambda s: adult(100 + 160 * s / 2))
    c = track(2, secs(0, 6), lambda s: carried(100 + 160 * s / 2))
    ev = run([a, c])
    assert [e.type for e in ev] == ["carry"]
    e = ev[0]
    assert (e.adult_track, e.child_track) == (1, [2])
    assert e.start_s <= 0.1 and e.end_s >= 5.8
    assert 0.5 <= e.score <= 1.0
    assert e.evidence and {"containment", "off_ground", "size_ratio", "relative_speed"} <= set(e.evidence[0])
    assert e.to_dict()["child_track"] == 2
    assert c.attributes["age_group"] == "child"  # from the pair or from being carried


def test_put_down_then_pick_up_is_one_event_even_with_a_new_child_track():
    def adult_x(s):
        return 100 + 80 * min(s, 4) + 80 * max(0, s - 6.5)  # walks, stops 4–6.5 s, walks on

    a = track(1, secs(0, 11), lambda s: adult(adult_x(s)))
    c1 = track(2, secs(0, 4), lambda s: carried(adult_x(s)))
    c_ground = track(3, secs(4.1, 6.5), lambda s: standing_child(adult_x(s) + 55))
    c2 = track(4, secs(6.5, 11), lambda s: carried(adult_x(s)))
    ev = run([a, c1, c_ground, c2])
    carries = [e for e in ev if e.type == "carry"]
    assert len(carries) == 1, [e.to_dict() for e in ev]
    assert carries[0].start_s <= 0.1 and carries[0].end_s >= 10.8
    assert set(carries[0].child_track) >= {2, 4}


def test_long_put_down_gives_two_events():
    def adult_x(s):
        return 100 + 80 * min(s, 3) + 80 * max(0, s - 12)

    a = track(1, secs(0, 15), lambda s: adult(adult_x(s)))
    c1 = track(2, secs(0, 3), lambda s: carried(adult_x(s)))
    c2 = track(3, secs(12, 15), lambda s: carried(adult_x(s)))
    assert len([e for e in run([a, c1, c2]) if e.type == "carry"]) == 2


def test_walking_side_by_side_is_lead_away_not_carry():
    a = track(1, secs(0, 6), lambda s: adult(100 + 100 * s))
    c = track(2, secs(0, 6), lambda s: standing_child(160 + 100 * s))
    ev = run([a, c])
    assert c.attributes["age_group"] == "child" and a.attributes["age_group"] == "adult"
    assert c.attributes["age_cue"] == "pair_height"
    assert [e.type for e in ev] == ["lead_away"]
    assert ev[0].score < 0.5  # always below a carry


def passers_by() -> list[Track]:
    """Three adults walking the other way across the scene's upper half: with two child
    tracks among four, the scene's adult height comes from these (perspective fit)."""
    return [track(10 + k, secs(0, 5), lambda s, k=k: adult(600 - 90 * s, feet=300 + 40 * k,
                                                           h=150 + 20 * k)) for k in range(3)]


def test_lead_away_counts_across_a_break_in_the_child_track():
    # 2.2 s + 2.2 s of walking together, the child's track broken at 2.3 s (an occlusion):
    # neither piece reaches lead_min_duration_s (3 s) on its own; the chain does.
    a = track(1, secs(0, 5), lambda s: adult(100 + 100 * s))
    c1 = track(2, secs(0, 2.3), lambda s: standing_child(160 + 100 * s))
    c2 = track(3, secs(2.6, 5), lambda s: standing_child(160 + 100 * s))
    ev = run([a, c1, c2] + passers_by())
    assert [e.type for e in ev] == ["lead_away"], [e.to_dict() for e in ev]
    assert ev[0].child_track == [2, 3] and ev[0].start_s <= 0.1 and ev[0].end_s >= 4.8
    assert {x["tracks"] for x in ev[0].evidence} == {"adult #1, child #2", "adult #1, child #3"}


def test_lead_away_pieces_of_two_children_in_different_places_do_not_add_up():
    # a child beside the adult for 2 s, then another on his other side for 2 s: not one
    # person continuing, so nothing reaches 3 s
    a = track(1, secs(0, 5), lambda s: adult(100 + 100 * s))
    c1 = track(2, secs(0, 2.2), lambda s: standing_child(160 + 100 * s))
    c2 = track(3, secs(2.5, 4.7), lambda s: standing_child(40 + 100 * s))
    assert run([a, c1, c2] + passers_by()) == []
    assert c1.attributes["age_group"] == c2.attributes["age_group"] == "child"


def test_two_adults_walking_together_nothing():
    a = track(1, secs(0, 6), lambda s: adult(100 + 100 * s))
    b = track(2, secs(0, 6), lambda s: adult(170 + 100 * s, h=190))
    assert run([a, b]) == []
    assert a.attributes["age_group"] == b.attributes["age_group"] == "adult"


def test_child_alone_nothing():
    c = track(1, secs(0, 8), lambda s: standing_child(50 + 60 * s))
    assert run([c]) == []


def test_child_passing_in_front_of_and_behind_an_adult_nothing():
    a = track(1, secs(0, 4), lambda s: adult(100 + 160 * s))
    front = track(2, secs(0, 4), lambda s: standing_child(740 - 160 * s, feet=440))
    behind = track(3, secs(0, 4), lambda s: (700 - 160 * s - 15, 250, 700 - 160 * s + 15, 335))
    assert run([a, front, behind]) == []


def test_child_standing_still_beside_a_standing_adult_is_not_lead_away():
    a = track(1, secs(0, 8), lambda s: adult(300))
    c = track(2, secs(0, 8), lambda s: standing_child(360))
    assert run([a, c]) == []


def test_perspective_fit_separates_a_child_among_adults():
    tracks = []
    for i, feet in enumerate([250, 300, 350, 400, 450, 470]):
        h = 0.5 * feet - 20
        tracks.append(track(i + 1, secs(0, 3), lambda s, f=feet, hh=h: (100 + 50 * s, f - hh, 140 + 50 * s, f)))
    feet = 380
    tracks.append(track(9, secs(0, 3), lambda s: (400, feet - 0.65 * (0.5 * feet - 20), 430, feet)))
    persp = classify_tracks(tracks, H, AttributesConfig())
    assert persp is not None and abs(persp.slope - 0.5) < 0.05
    assert tracks[-1].attributes["age_group"] == "child"
    assert tracks[-1].attributes["age_cue"] == "perspective_height"
    assert all(t.attributes["age_group"] == "adult" for t in tracks[:-1])


def test_empty_and_single_frame_tracks():
    assert find_events([], EventsConfig()) == []
    t = track(1, [0.0], lambda s: adult(100))
    classify_tracks([t], H, AttributesConfig())
    assert t.attributes["age_group"] == "unknown" and run([t]) == []


def test_single_short_glimpse_is_not_a_carry():
    a = track(1, secs(0, 6), lambda s: adult(100 + 80 * s))
    c = track(2, secs(2.0, 2.5), lambda s: carried(100 + 80 * s))
    assert [e for e in run([a, c]) if e.type == "carry"] == []


def scene(n: int = 6) -> list[Track]:
    """Adults walking at several depths: height = 0.5·feet − 20 (the scene's perspective)."""
    out = []
    for i, feet in enumerate(np.linspace(250, 470, n)):
        hh = 0.5 * feet - 20
        out.append(track(i + 1, secs(0, 6), lambda s, f=feet, h=hh: (100 + 40 * s, f - h, 140 + 40 * s, f)))
    return out


def test_one_box_holding_two_people_is_a_carry():
    # A child on the shoulders boxed with the carrier: 1.3x an adult's height where they stand.
    tracks = scene()
    tracks.append(track(20, secs(0, 6), lambda s: (400 + 30 * s, 380 - 1.3 * 170, 440 + 30 * s, 380)))
    assert run(tracks) == []  # the one-box cue is off by default (configs/high_recall.yaml)
    ev = [e for e in run(tracks, carry_merged_box=True) if e.type == "carry"]
    assert [(e.adult_track, e.child_track) for e in ev] == [(20, [])]
    assert ev[0].evidence[0]["cue"] == "merged_box"
    assert 0.5 <= ev[0].score <= 0.75  # a weaker cue than two boxes scores lower
    assert "same box" in ev[0].summary


def test_one_tall_glimpse_before_a_long_gap_is_not_a_carry():
    # A track found, lost and found again (observations at 0, 3.0 and 5.4 s), tall only at the
    # first: that instant stands for one analysis step, not for the 3 s gap after it. (It once
    # stood for the gap, and high_recall reported "a child in the same box for 0.0 s".)
    tracks = scene()
    sparse = Track(20, "cam.mp4")
    for s, ratio in ((0.0, 1.3), (3.0, 1.0), (5.4, 1.0)):
        sparse.add(s, int(s * FPS), np.asarray((400, 380 - ratio * 170, 440, 380), np.float32), 0.8)
    tracks.append(sparse)
    assert [e for e in run(tracks, carry_merged_box=True) if e.type == "carry"] == []
    # the same box tall over 2.5 s of dense observations is one
    tracks[-1] = track(20, secs(0, 2.5), lambda s: (400, 380 - 1.3 * 170, 440, 380))
    assert [e.adult_track for e in run(tracks, carry_merged_box=True) if e.type == "carry"] == [20]


def test_three_glimpses_of_a_held_child_seconds_apart_are_not_a_carry():
    a = track(1, secs(0, 6), lambda s: adult(100 + 80 * s))
    c = track(2, [0.0, 2.0, 4.0], lambda s: carried(100 + 80 * s))
    assert [e for e in run([a, c]) if e.type == "carry"] == []
    # each glimpse stands for at most two analysis steps (0.2 s), not for the 2 s gap after it
    assert carry_cues(a, c, EventsConfig()).qualifying_s <= 0.4 + 1e-6


def test_a_tall_adult_is_not_a_carry():
    tracks = scene()
    tracks.append(track(20, secs(0, 6), lambda s: (400 + 30 * s, 380 - 1.08 * 170, 440 + 30 * s, 380)))
    assert run(tracks, carry_merged_box=True) == []


def test_adult_farther_away_behind_a_near_one_is_not_carried():
    # The camera pans, so everyone co-moves; a far adult (feet at 300, adult-sized there) overlaps
    # the near adult with feet "above" theirs, like a held child. Perspective says: a grown-up.
    tracks = scene()
    near = track(30, secs(0, 6), lambda s: adult(300 + 20 * s, feet=460, h=210))
    far = track(31, secs(0, 6), lambda s: (290 + 20 * s, 300 - 130, 330 + 20 * s, 300))
    assert [e for e in run(tracks + [near, far]) if e.type == "carry"] == []
    # the same box, child-sized for where it stands, is a carry
    kid = track(32, secs(0, 6), lambda s: (295 + 20 * s, 300 - 75, 330 + 20 * s, 300))
    assert [(e.adult_track, e.child_track) for e in run(tracks + [near, kid]) if e.type == "carry"] == [(30, [32])]


def eye_level_scene(n: int = 6) -> list[Track]:
    """A camera at head height: every adult's head on the horizon (y=150), height = feet - 150."""
    return [track(i + 1, secs(0, 6), lambda s, f=feet: (100 + 40 * s, 150, 130 + 40 * s, f))
            for i, feet in enumerate(np.linspace(260, 470, n))]


def test_eye_level_folded_child_is_carried_upright_person_behind_is_not():
    # At eye level a held child is nearly adult-sized for where its bottom is (scene_ratio =
    # size_ratio / (1 - z·b), b ~ 1 here): a carrier 310 px tall, a child on the hip 125 px
    # tall with its bottom at y=300 is 0.40 of the carrier but 125 / (300 - 150) = 0.83 of a
    # standing adult there, over carry_max_scene_ratio (the pasted boy on openpose's street
    # measured 0.83-0.87). A grown-up standing behind at that depth has the same box height.
    tracks = eye_level_scene()
    near = track(30, secs(0, 6), lambda s: (300 + 20 * s, 150, 380 + 20 * s, 460))
    # folded: sitting on the hip, knees bent, about as wide as tall (0.75)
    kid = track(31, secs(0, 6), lambda s: (330 + 20 * s, 175, 420 + 20 * s, 300))
    ev = [e for e in run(tracks + [near, kid]) if e.type == "carry"]
    assert [(e.adult_track, e.child_track) for e in ev] == [(30, [31])]
    assert ev[0].evidence[0]["scene_ratio"] > 0.8 and ev[0].evidence[0]["aspect"] >= 0.5
    # by height at its bottom row the held child looks like an adult (0.83 > 0.78); being
    # carried decides, so the event and the track's label agree
    assert kid.attributes["height_ratio"] > 0.78
    assert (kid.attributes["age_group"], kid.attributes["age_cue"]) == ("child", "carried")
    # the same place and height, upright (0.35 wide per height): a grown-up standing behind
    behind = track(32, secs(0, 6), lambda s: (345 + 20 * s, 175, 389 + 20 * s, 300))
    assert [e for e in run(tracks + [near, behind]) if e.type == "carry"] == []
    # without the posture cue the folded child is missed as well
    assert [e for e in run(tracks + [near, kid], carry_min_held_aspect=5.0) if e.type == "carry"] == []


def with_inner(t: Track, present) -> Track:
    """Give each observation an ``inner_confidence`` (a weak second box inside it) or 0."""
    t.set_extra("inner_confidence", [0.07 if present(s) else 0.0 for s in t.pts_s])
    return t


def test_weak_second_person_inside_an_adult_box_is_a_carry():
    tracks = scene()
    held = with_inner(track(20, secs(0, 6), lambda s: (400 + 30 * s, 380 - 170, 440 + 30 * s, 380)),
                      lambda s: 1.0 <= s <= 5.0)
    ev = [e for e in run(tracks + [held], carry_merged_box=True) if e.type == "carry"]
    assert [(e.adult_track, e.child_track) for e in ev] == [(20, [])]
    assert 0.6 <= ev[0].start_s <= 1.5 and 4.5 <= ev[0].end_s <= 5.4
    assert ev[0].evidence[0]["inner_share"] >= 0.5


def test_a_flickering_inner_box_or_a_child_sized_holder_is_not_a_carry():
    tracks = scene()
    flicker = with_inner(track(20, secs(0, 6), lambda s: (400 + 30 * s, 380 - 170, 440 + 30 * s, 380)),
                         lambda s: int(round(s * FPS)) % 4 == 0)  # a limb boxed now and then
    small = with_inner(track(21, secs(0, 6), lambda s: (200 + 30 * s, 380 - 110, 230 + 30 * s, 380)),
                       lambda s: True)  # a child holding a toy: child-sized for where it stands
    assert [e for e in run(tracks + [flicker, small], carry_merged_box=True) if e.type == "carry"] == []


# -- carry evidence linked across track breaks -----------------------------------------------

def carries(tracks, **events):
    return [e for e in run(tracks, **events) if e.type == "carry"]


def test_carrier_track_break_mid_carry_is_one_event_listing_both_adults():
    # The tracker starts a new track for the carrier when the box changes around the child:
    # A1 0-0.8 s, A2 1.2-2.0 s at the same place, one child track. Each pair is under the
    # 1 s minimum on its own; together they are one 2 s carry.
    def x(s):
        return 100 + 80 * s

    a1 = track(1, secs(0, 0.9), lambda s: adult(x(s)))
    a2 = track(3, secs(1.2, 2.1), lambda s: (x(s) - 36, 196, x(s) + 34, 402))  # a wider box
    c = track(2, secs(0, 2.1), lambda s: carried(x(s)))
    ev = carries([a1, a2, c])
    assert len(ev) == 1, [e.to_dict() for e in ev]
    e = ev[0]
    assert e.start_s <= 0.1 and e.end_s >= 1.9
    assert e.adult_tracks == [1, 3] and e.adult_track in (1, 3) and e.child_track == [2]
    assert e.to_dict()["adult_tracks"] == [1, 3] and "also #" in e.summary
    assert {x["tracks"] for x in e.evidence} == {"adult #1, child #2", "adult #3, child #2"}
    # either half alone is too short
    assert carries([a1, c]) == [] and carries([a2, c]) == []


def test_short_fragments_far_apart_do_not_link():
    # two unrelated 0.8 s fragments 1 s apart in time, 400 px apart in space
    a1 = track(1, secs(0, 0.9), lambda s: adult(100))
    c1 = track(2, secs(0, 0.9), lambda s: carried(100))
    a2 = track(3, secs(1.0, 1.9), lambda s: adult(500))
    c2 = track(4, secs(1.0, 1.9), lambda s: carried(500))
    assert carries([a1, c1, a2, c2]) == []
    # ... nor when the small box's track jumped from one to the other (an identity switch)
    c = track(2, secs(0, 1.9), lambda s: carried(100 if s < 0.95 else 500))
    assert carries([a1, a2, c]) == []


def test_a_small_box_passing_between_two_adults_walking_together_does_not_add_up():
    # Two adults side by side; a child-sized box sits in the first one's box for 0.8 s, then
    # in the second one's for 0.8 s. Both adults are there throughout: two people, not one
    # track broken, so neither has a 1 s carry.
    def x(s):
        return 100 + 80 * s

    a = track(1, secs(0, 2), lambda s: adult(x(s)))
    b = track(3, secs(0, 2), lambda s: adult(x(s) + 70))
    c = track(2, secs(0, 1.7), lambda s: carried(x(s) + (0 if s < 0.85 else 70)))
    assert carries([a, b, c]) == []


def test_duplicate_adult_tracks_around_one_child_count_each_moment_once():
    # Two tracks on the same adult (a duplicate box) and a child held 0.7 s: 0.7 s of carry,
    # not 1.4 s.
    a1 = track(1, secs(0, 2), lambda s: adult(200))
    a2 = track(3, secs(0, 2), lambda s: (168, 198, 232, 401))
    c = track(2, secs(0.5, 1.3), lambda s: carried(200))
    assert carries([a1, a2, c]) == []
    assert len(carries([a1, a2, track(2, secs(0.5, 1.7), lambda s: carried(200))])) == 1


def test_carry_cues_name_the_cue_that_fails():
    # what bench/carry_funnel.py prints: per cue, which instants pass
    tracks = eye_level_scene()
    near = track(30, secs(0, 6), lambda s: (300 + 20 * s, 150, 380 + 20 * s, 460))
    behind = track(32, secs(0, 6), lambda s: (345 + 20 * s, 175, 389 + 20 * s, 300))
    persp = classify_tracks(tracks + [near, behind], H, AttributesConfig())
    cues = carry_cues(near, behind, EventsConfig(), persp)
    assert len(cues.t) == len(cues.features["aspect"]) == 60
    failing = [k for k, v in cues.tests.items() if not v.any()]
    assert failing == ["not_standing_behind"] and cues.qualifying_s == 0.0
    kid = track(31, secs(0, 6), lambda s: (330 + 20 * s, 175, 420 + 20 * s, 300))
    assert 5.5 <= carry_cues(near, kid, EventsConfig(), persp).qualifying_s <= 6.0
    assert carry_cues(near, track(33, [9.0, 9.1], lambda s: (0, 0, 5, 5)), EventsConfig()) is None
