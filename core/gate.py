"""Full-shot gate: MediaPipe Pose decides whether one person stands head to toe in frame.

The pose comes from MediaPipe's own models, run by `core.blazepose` under OpenVINO (the default,
`LOOKBOT_GATE_RUNTIME=openvino`) or by MediaPipe's graph (`mediapipe`, and the fallback).

Feet are the hard part: MediaPipe is unsure of feet under wide trousers, a maxi dress or a long
skirt, while it places them where they are. When the only doubt is the feet and their landmarks lie
inside the frame, below the knees, on legs as long as a standing person's, `judge` answers
"feet_unsure" and the caller gathers the detector's footwear boxes (core.pipeline.Engine.check_gate):
a shoe at the bottom of the person, or legs that end well above the bottom edge, settle it.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .records import Box, GateVerdict

log = logging.getLogger(__name__)

# MediaPipe Pose landmark indices used by the gate and the region finder.
NOSE, L_EYE, R_EYE = 0, 1, 4
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 11, 12, 13, 14, 15, 16
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 23, 24, 25, 26, 27, 28
L_HEEL, R_HEEL, L_TOE, R_TOE = 29, 30, 31, 32

MESSAGES: dict[str, str] = {
    "ok": "Full-body shot: looking for the outfit.",
    "no_person": "I can't find a person in this photo. Please send a photo of one person, "
                 "standing, head to toe.",
    "head_out_of_frame": "I can't see the head: please send a photo that shows the whole body, "
                         "head to toe.",
    "feet_out_of_frame": "I can't see the feet: please send a photo that shows the whole body, "
                         "head to toe.",
    "feet_unsure": "I'm not sure the feet are in this photo: please send a photo that shows the "
                   "whole body, head to toe.",
    "not_upright": "The person doesn't seem to be standing up. Please send a photo of someone "
                   "standing, head to toe.",
    "person_too_small": "The person is too small in this photo. Please send a photo where they "
                        "fill most of the frame, head to toe.",
    "several_people": "I can see several people in this photo. Please send a photo of one "
                      "person, head to toe.",
}


@dataclass
class GateThresholds:
    """Tunable limits of the gate, all relative to the image size."""

    visibility: float = 0.5  # minimum MediaPipe visibility of the eyes
    foot_visibility: float = 0.4  # minimum mean visibility of heel and toe, per foot
    min_height: float = 0.40  # mean eye-to-heel vertical distance / image height
    margin: float = 0.0  # eyes and heels must lie this far inside the frame
    feet_slack: float = 0.08  # heels may lie this far (of the height) below the bottom edge
    min_body_to_torso: float = 2.3  # eye-to-heel height / shoulder-to-hip height when standing
    # Feet MediaPipe is unsure of (covered by a hem) count when the legs are those of a standing
    # person, hip to heel at least this many torsos: cut at the shins they are shorter.
    min_leg_to_torso: float = 1.2
    # Unsure feet with no shoe box must end this far (of the height) above the bottom edge.
    covered_feet_margin: float = 0.03
    # A shoe box counts as the feet when its centre lies this close to a foot, in torso heights.
    shoe_reach: float = 0.35
    min_detection_confidence: float = 0.5
    # Another person the pose detector finds counts (count_people) when their eye-to-heel
    # height is at least this much of the gate's person's (passers-by behind reach 0.72 in
    # CCP street photos, people side by side 0.94) and their shoulders lie this many of the
    # person's torsos away from those of everyone counted (two reads of one person lie closer).
    people_min_height: float = 0.8
    people_min_apart: float = 0.5


def verdict(reason: str, landmarks=None, people: int = 1) -> GateVerdict:
    return GateVerdict(full_shot=reason == "ok", reason=reason, message=MESSAGES[reason],
                       landmarks=landmarks, people=people)


class PoseGate:
    """Runs MediaPipe Pose (model_complexity=1, bundled in the wheel) and applies the rules.

    `runtime` "openvino" runs the pose models under OpenVINO (core.blazepose: the same landmarks
    at about three quarters of MediaPipe's CPU time), "mediapipe" runs MediaPipe's graph; openvino
    falls back to mediapipe when it cannot load."""

    def __init__(self, thresholds: Optional[GateThresholds] = None, runtime: str = "openvino"):
        self.thresholds = thresholds or GateThresholds()
        self._local = threading.local()  # MediaPipe graphs are not safe to share across threads
        self.runtime = "mediapipe"
        self._blazepose = None
        if runtime == "openvino":
            try:
                from .blazepose import BlazePose

                self._blazepose = BlazePose(self.thresholds.min_detection_confidence)
                self.runtime = "openvino"
            except (ImportError, RuntimeError, OSError) as exc:
                log.warning("gate: OpenVINO pose unavailable (%s): MediaPipe runs it", exc)

    def _pose(self):
        pose = getattr(self._local, "pose", None)
        if pose is None:
            import mediapipe as mp

            pose = mp.solutions.pose.Pose(
                static_image_mode=True, model_complexity=1, enable_segmentation=False,
                min_detection_confidence=self.thresholds.min_detection_confidence)
            self._local.pose = pose
        return pose

    def landmarks(self, rgb: np.ndarray) -> Optional[list[tuple[float, float, float]]]:
        """33 landmarks as (x, y, visibility) in pixels of `rgb`, or None when nobody is found."""
        if self._blazepose is not None:
            return self._blazepose.landmarks(np.ascontiguousarray(rgb))
        result = self._pose().process(np.ascontiguousarray(rgb))
        if result.pose_landmarks is None:
            return None
        h, w = rgb.shape[:2]
        return [(lm.x * w, lm.y * h, lm.visibility) for lm in result.pose_landmarks.landmark]

    def check(self, rgb: np.ndarray) -> GateVerdict:
        """The verdict on a photo. Under OpenVINO it counts the people too (`count_people`);
        MediaPipe's graph finds one person only, and its verdicts say 1."""
        if self._blazepose is None:
            return self.judge(self.landmarks(rgb), rgb.shape[1], rgb.shape[0])
        people = self._blazepose.people_landmarks(np.ascontiguousarray(rgb))
        return self.judge(people[0] if people else None, rgb.shape[1], rgb.shape[0],
                          people=count_people(people, self.thresholds))

    def judge(self, lms: Optional[list[tuple[float, float, float]]], width: int, height: int,
              shoes: Optional[Sequence[Box]] = None, people: int = 1) -> GateVerdict:
        """The gate's rules on given landmarks; separate from MediaPipe so they can be tested.

        `shoes`: the detector's footwear boxes (pixels of the same image), or None when the
        detector has not run. Feet MediaPipe is unsure of give "feet_unsure" without them.
        `people`: how many people the photo shows (`count_people`); 2 or more refuse it.
        """
        out = self._judge(lms, width, height, shoes)
        out.people = people if lms is not None else 0
        if people >= 2 and out.reason != "no_person":
            return verdict("several_people", lms, people)
        return out

    def _judge(self, lms: Optional[list[tuple[float, float, float]]], width: int, height: int,
               shoes: Optional[Sequence[Box]]) -> GateVerdict:
        """`judge`'s rules on one person."""
        t = self.thresholds
        if lms is None:
            return verdict("no_person")

        def seen(i: int) -> bool:
            x, y, vis = lms[i]
            mx, my = t.margin * width, t.margin * height
            return vis >= t.visibility and mx <= x <= width - mx and my <= y <= height - my

        def foot_seen(heel: int, toe: int) -> bool:
            # MediaPipe is often unsure of a heel under a trouser hem while sure of the toes,
            # so heel and toe visibility count together. Photos cropped through the shoes are
            # still full shots to people: the heel may fall a little below the bottom edge.
            x, y, _ = lms[heel]
            mx, my = t.margin * width, t.margin * height
            in_frame = mx <= x <= width - mx and my <= y <= height * (1 + t.feet_slack) - my
            return in_frame and (lms[heel][2] + lms[toe][2]) / 2 >= t.foot_visibility

        body_vis = np.mean([lms[i][2] for i in (L_SHOULDER, R_SHOULDER, L_HIP, R_HIP)])
        if body_vis < 0.3 and not (seen(L_EYE) or seen(R_EYE)):
            return verdict("no_person", lms)
        if not (seen(L_EYE) and seen(R_EYE)):
            return verdict("head_out_of_frame", lms)
        feet_seen = foot_seen(L_HEEL, L_TOE) and foot_seen(R_HEEL, R_TOE)
        if not feet_seen and not legs_reach_frame(lms, width, height, t):
            return verdict("feet_out_of_frame", lms)
        drops = [lms[L_HEEL][1] - lms[L_EYE][1], lms[R_HEEL][1] - lms[R_EYE][1]]
        spans = [abs(lms[L_HEEL][0] - lms[L_EYE][0]), abs(lms[R_HEEL][0] - lms[R_EYE][0])]
        if min(drops) <= 0 or any(s > d for s, d in zip(spans, drops)):
            return verdict("not_upright", lms)
        shoulder_y = (lms[L_SHOULDER][1] + lms[R_SHOULDER][1]) / 2
        hip_y = (lms[L_HIP][1] + lms[R_HIP][1]) / 2
        torso = hip_y - shoulder_y
        if torso <= 0 or min(drops) < t.min_body_to_torso * torso:
            return verdict("not_upright", lms)
        if _height(lms) < t.min_height * height:
            return verdict("person_too_small", lms)
        # Feet placed below the bottom edge are seen in photos cut through the shoes, and in
        # photos cut at the ankles or shins: only a shoe box at the feet tells them apart.
        if not feet_seen or lowest_foot(lms) > height:
            if shoes is None:
                return verdict("feet_unsure", lms)
            hidden = not feet_seen and feet_clear_of_edge(lms, height, t)
            if not (hidden or shoes_at_feet(lms, shoes, t)):
                return verdict("feet_out_of_frame", lms)
        return verdict("ok", lms)


FEET = ((L_ANKLE, L_HEEL, L_TOE), (R_ANKLE, R_HEEL, R_TOE))


def count_people(people: Sequence[list[tuple[float, float, float]]], t: GateThresholds) -> int:
    """How many clearly separate people these landmark sets show (the gate's person first, as
    core.blazepose's `people_landmarks` gives them): another counts when their eye-to-heel
    height is at least `people_min_height` of the first's (a passer-by behind is smaller) and
    their shoulders lie `people_min_apart` torsos away from everyone counted (a second read of
    one person lands on the same shoulders)."""
    if not people:
        return 0
    first = people[0]
    size = _height(first)
    torso = float(np.hypot(*(_mid(first, L_HIP, R_HIP) - _mid(first, L_SHOULDER, R_SHOULDER))))
    counted = [first]
    for lms in people[1:]:
        if size <= 0 or _height(lms) < t.people_min_height * size:
            continue
        apart = [np.hypot(*(_mid(lms, L_SHOULDER, R_SHOULDER) - _mid(q, L_SHOULDER, R_SHOULDER)))
                 for q in counted]
        if min(apart) >= t.people_min_apart * torso:
            counted.append(lms)
    return len(counted)


def _mid(lms, a: int, b: int) -> np.ndarray:
    return (np.array(lms[a][:2]) + np.array(lms[b][:2])) / 2


def _height(lms) -> float:
    """The mean eye-to-heel drop, in pixels."""
    return (lms[L_HEEL][1] - lms[L_EYE][1] + lms[R_HEEL][1] - lms[R_EYE][1]) / 2


def _torso(lms) -> float:
    return (lms[L_HIP][1] + lms[R_HIP][1]) / 2 - (lms[L_SHOULDER][1] + lms[R_SHOULDER][1]) / 2


def legs_reach_frame(lms, width: int, height: int, t: GateThresholds) -> bool:
    """Feet placed inside the frame, below the knees, on legs of a standing person's length.

    Cut at the knees or shins, MediaPipe places the feet below the bottom edge or squashes the
    legs; these are the photos whose feet are only hidden, which other evidence may settle.
    """
    torso = _torso(lms)
    if torso <= 0:
        return False
    hip_y = (lms[L_HIP][1] + lms[R_HIP][1]) / 2
    for (ankle, heel, toe), knee in zip(FEET, (L_KNEE, R_KNEE)):
        for i in (ankle, heel, toe):
            x, y, _ = lms[i]
            if not (0 <= x <= width and lms[knee][1] < y <= height):
                return False
        if lms[knee][1] <= hip_y or lms[heel][1] - hip_y < t.min_leg_to_torso * torso:
            return False
    return True


def shoes_at_feet(lms, shoes: Sequence[Box], t: GateThresholds) -> bool:
    """A footwear box centred near either foot (ankle, heel or toe), below the knees."""
    reach = t.shoe_reach * _torso(lms)
    knee_y = max(lms[L_KNEE][1], lms[R_KNEE][1])
    for x1, y1, x2, y2 in shoes:
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        if cy <= knee_y:
            continue
        if any(np.hypot(cx - lms[i][0], cy - lms[i][1]) <= reach for foot in FEET for i in foot):
            return True
    return False


def lowest_foot(lms) -> float:
    """The y of the lowest ankle, heel or toe landmark."""
    return max(lms[i][1] for foot in FEET for i in foot)


def feet_clear_of_edge(lms, height: int, t: GateThresholds) -> bool:
    """Both feet end above the bottom edge by a margin: a hem covers them, the frame does not."""
    return lowest_foot(lms) <= height * (1 - t.covered_feet_margin)
