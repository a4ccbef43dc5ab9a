"""Identities across clips: group the tracks of every source of a scan into people.

Face first: track templates are clustered by complete linkage at the face threshold (every
pair inside an identity is within it, so one look-alike cannot chain two people together).
Tracks with no usable face then join the identity whose tracks' clothing colour is nearest,
only when the distance to each of its tracks is within ``faces.appearance_threshold`` (strict: colour is a weak cue,
and across cameras light changes it), or start an identity of their own. Two tracks of one
source that overlap in time are never the same person. Each identity says which cue linked it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.appearance import appearance_distance
from pipeline.watchlist import cosine_distance

FAR = 9.0  # a distance no threshold reaches: marks pairs that cannot be one person


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["source"] == b["source"] and a["start_s"] <= b["end_s"] and b["start_s"] <= a["end_s"]


def _face_clusters(tracks: list[dict[str, Any]], threshold: float) -> list[list[int]]:
    n = len(tracks)
    if n == 0:
        return []
    if n == 1:
        return [[0]]
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    t = np.stack([np.asarray(x["template"], np.float32) for x in tracks])
    d = np.clip(cosine_distance(t, t).astype(np.float64), 0.0, None)
    for i in range(n):
        for j in range(i + 1, n):
            if _overlap(tracks[i], tracks[j]):
                d[i, j] = d[j, i] = FAR
    np.fill_diagonal(d, 0.0)
    labels = fcluster(linkage(squareform(d, checks=False), method="complete"), threshold,
                      criterion="distance")
    groups: dict[int, list[int]] = {}
    for i, lab in enumerate(labels):
        groups.setdefault(int(lab), []).append(i)
    return list(groups.values())


def cluster_identities(tracks: list[dict[str, Any]], face_threshold: float,
                       appearance_threshold: float) -> list[dict[str, Any]]:
    """Group track records into identities.

    Args:
        tracks: per-track records with ``source``, ``source_sha256``, ``track``, ``start_s``,
            ``end_s``, ``template`` (unit vector or None), ``appearance`` (colour signature or
            None), ``thumbnail`` / ``person_thumbnail`` (paths relative to the scan folder).
        face_threshold: cosine distance at or below which two templates are one person.
        appearance_threshold: colour distance (0-1) at or below which a faceless track joins.

    Returns:
        ``[{"id", "linked_by", "sightings": [...]}]``, most sightings first; ``linked_by`` is
        ``face``, ``appearance``, ``face+appearance`` or ``single`` (one sighting). Each
        sighting has ``source``, ``source_sha256``, ``track``, ``start_s``, ``end_s``,
        ``thumbnail`` and ``cue`` (what put it in the identity).
    """
    faced = [t for t in tracks if t.get("template") is not None]
    members: list[list[tuple[dict[str, Any], str]]] = [
        [(faced[i], "face") for i in g] for g in _face_clusters(faced, face_threshold)
    ]
    for t in tracks:
        if t.get("template") is not None:
            continue
        sig = t.get("appearance")
        best, best_d = None, appearance_threshold
        if sig is not None:
            a = np.asarray(sig, np.float32)[None]
            for k, group in enumerate(members):
                if any(_overlap(t, m) for m, _ in group):
                    continue
                sigs = [m["appearance"] for m, _ in group if m.get("appearance") is not None]
                if not sigs:
                    continue
                # complete linkage here too: within the threshold of every member, so that
                # colour cannot chain different people together
                d = float(appearance_distance(a, np.asarray(sigs, np.float32)).max())
                if d <= best_d:
                    best, best_d = k, d
        if best is None:
            members.append([(t, "appearance")])
        else:
            members[best].append((t, "appearance"))
    out = []
    for group in sorted(members, key=lambda g: (-len(g), g[0][0]["source"], g[0][0]["start_s"])):
        cues = {c for _, c in group}
        if len(group) == 1:
            linked = "single"
        elif cues == {"face"}:
            linked = "face"
        elif "face" in cues and sum(c == "face" for _, c in group) > 1:
            linked = "face+appearance"
        else:
            linked = "appearance"
        sightings = [{
            "source": m["source"], "source_sha256": m["source_sha256"], "track": m["track"],
            "start_s": m["start_s"], "end_s": m["end_s"],
            "thumbnail": m.get("thumbnail") or m.get("person_thumbnail"),
            "cue": "face" if m.get("template") is not None else "appearance",
        } for m, _ in sorted(group, key=lambda p: (p[0]["source"], p[0]["start_s"]))]
        out.append({"id": f"I{len(out) + 1}", "linked_by": linked, "sightings": sightings})
    return out
