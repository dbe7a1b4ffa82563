"""The demo world's SUGAR knowledge, written by its own generator instead of a teacher LLM.

Every procedural class (:mod:`skeletonllm.synth`) is a movement x body part x side; the
generator knows them, so it can write what a teacher would: a one-sentence summary, a
sentence for each of the six body parts (head, hands, arms, hips, legs, feet) and three
visual descriptions, in the format of :mod:`skeletonllm.sugar.knowledge`. The sentences are
composed from the same pieces as the classes ("the left leg", "kicks forward"), so an
unseen class's knowledge shares words with the seen classes it is composed of, but the file
is only used for the classes a split trains on.

The shipped file ``sugar_knowledge.json`` (beside this module) is what :func:`write_demo_knowledge`
writes; a test checks they are equal. Regenerate it after changing the generator or the
class list::

    python -m skeletonllm.demo.sugar_knowledge
"""
from __future__ import annotations

from pathlib import Path

from ..sugar.knowledge import PARTS, ClassKnowledge, Knowledge

SHIPPED = Path(__file__).with_name("sugar_knowledge.json")

_STILL = {"head": "The head stays upright and faces forward.", "hands": "The hands stay relaxed.",
          "arms": "The arms hang loosely at the sides.", "hips": "The hips stay level and still.",
          "legs": "The legs stand straight and still.", "feet": "The feet stay flat on the floor."}
_PLURAL = {"arm": "arms", "hand": "hands", "leg": "legs", "foot": "feet"}


def _the(side: str, noun: str) -> str:
    """``("left", "arm")`` -> ``"the left arm"``; ``("both", "arm")`` -> ``"both arms"``."""
    return f"both {_PLURAL[noun]}" if side == "both" else f"the {side} {noun}"


def _other(side: str) -> str:
    return {"left": "right", "right": "left"}.get(side, side)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _arm_action(verb: str, detail: str, side: str, hand: str, visual: tuple[str, str, str]):
    arm, hand_np = _the(side, "arm"), _the(side, "hand")
    still = "" if side == "both" else f", while {_the(_other(side), 'arm')} stays down"
    return {"arms": _cap(f"{arm} {verb} {detail}{still}."), "hands": _cap(f"{hand_np} {hand}."),
            "head": "The head stays upright and follows the moving arm." if side != "both" else _STILL["head"]}, visual


def _leg_action(verb: str, detail: str, side: str, foot: str, visual: tuple[str, str, str]):
    leg = _the(side, "leg")
    support = "" if side == "both" else f" while {_the(_other(side), 'leg')} supports the body"
    hips = (f"The hips shift the weight onto {_the(_other(side), 'leg')}." if side in ("left", "right")
            else "The hips lower and rise again.")
    return {"legs": _cap(f"{leg} {verb} {detail}{support}."), "feet": _cap(f"{_the(side, 'foot')} {foot}."),
            "hips": hips, "arms": "The arms move out a little for balance."}, visual


# Movements of one limb: (limb, what the limb does, the rest of that sentence, what the hand / foot
# does, three visual descriptions). ``{arm}`` / ``{leg}`` / ``{hand}`` / ``{foot}`` name the moving
# side ("the left arm", "both arms"), ``{s}`` / ``{o}`` the side and the other side, ``{person}``
# "a person" or "two people".
_LIMB_MOVES = {
    ("raise", "arm"): ("arm", "rises", "from the side up above the head and comes back down",
                       "opens upward at the top of the movement",
                       ("{person} standing alone lifts {arm} high above the head",
                        "{arm} points straight up at the ceiling, then lowers", "a single person raises {arm} overhead")),
    ("raise", "leg"): ("leg", "lifts forward with the knee bent", "and is held up, then lowered",
                       "leaves the floor and comes back down",
                       ("{person} standing on one foot lifts {leg} with a bent knee",
                        "the knee of {leg} comes up in front of the body",
                        "a single person balances on the {o} foot with {leg} raised")),
    ("wave", "hand"): ("arm", "is raised beside the head, bent at the elbow,", "and rocks from side to side",
                       "waves from side to side several times, palm forward",
                       ("{person} waves {hand} in greeting", "{hand} swings left and right beside the head",
                        "a single person waves hello with {hand}")),
    ("punch", "arm"): ("arm", "drives straight forward", "fast from the chest and pulls back", "is closed into a fist",
                       ("{person} throws a punch with {arm}", "a fist shoots forward at shoulder height from {arm}",
                        "a single person punches the air with {hand}")),
    ("swing", "arm"): ("arm", "swings", "forward and backward like a pendulum",
                       "stays loose at the end of the swinging arm",
                       ("{person} swings {arm} back and forth", "{arm} moves like a pendulum beside the body",
                        "a single person loosens up by swinging {arm}")),
    ("swing", "leg"): ("leg", "swings", "forward and backward like a pendulum",
                       "brushes past the floor at the bottom of each swing",
                       ("{person} swings {leg} back and forth", "{leg} moves like a pendulum under the hips",
                        "a single person stands on the {o} foot and swings {leg}")),
    ("lift sideways", "arm"): ("arm", "lifts out to the side", "to shoulder height and lowers again",
                               "stays open with the palm down",
                               ("{person} lifts {arm} sideways to shoulder height", "{arm} sticks straight out to the side",
                                "a single person spreads {arm} out sideways")),
    ("lift sideways", "leg"): ("leg", "lifts out to the side", "and lowers again",
                               "moves away from the other foot and returns",
                               ("{person} lifts {leg} out to the side", "{leg} opens sideways away from the body",
                                "a single person balances on the {o} foot with {leg} out to the side")),
    ("touch head", "hand"): ("arm", "bends up", "so that the hand reaches the top of the head",
                             "rests on the head for a moment",
                             ("{person} puts {hand} on the head", "{hand} touches the top of the head",
                              "a single person reaches up and pats the head with {hand}")),
    ("reach", "arm"): ("arm", "stretches straight forward", "at chest height and returns",
                       "opens as if to take something in front",
                       ("{person} reaches forward with {arm}", "{arm} extends straight out in front of the chest",
                        "a single person stretches {hand} towards something ahead")),
    ("clap", "hand"): ("arm", "come together in front of the chest", "and part again several times",
                       "meet palm to palm and clap",
                       ("{person} claps both hands in front of the chest", "the palms strike together repeatedly",
                        "a single person applauds")),
    ("cross", "arm"): ("arm", "fold across the chest", "and stay crossed", "tuck against the opposite upper arms",
                       ("{person} crosses both arms over the chest", "the forearms lie folded across the body",
                        "a single person stands with folded arms")),
    ("kick", "leg"): ("leg", "kicks forward", "fast, straightening at the knee, and returns",
                      "swings up off the floor in front of the body and lands again",
                      ("{person} kicks forward with {leg}", "the {s} foot snaps out in front while the {o} foot stays planted",
                       "a single person performs a quick kick with {leg}")),
    ("stretch forward", "arm"): ("arm", "swings straight forward", "to chest height, held straight at the elbow, and lowers",
                                 "stays open with the palm facing in",
                                 ("{person} stretches {arm} straight forward", "{arm} points forward in front of the body",
                                  "a single person holds {arm} out in front, straight")),
    ("stretch backward", "arm"): ("arm", "swings straight backward", "behind the body, held straight at the elbow, "
                                  "and lowers", "stays open with the palm facing in",
                                  ("{person} stretches {arm} straight backward", "{arm} reaches back behind the body",
                                   "a single person holds {arm} out behind the back, straight")),
    ("step forward", "leg"): ("leg", "swings forward", "and the body steps onto it", "lands ahead of the other foot",
                              ("{person} takes a step forward with {leg}", "the body moves forward onto the {s} foot",
                               "a single person steps ahead, leading with the {s} foot")),
    ("step back", "leg"): ("leg", "swings backward", "and the body steps back onto it", "lands behind the other foot",
                           ("{person} takes a step back with {leg}", "the body moves backward onto the {s} foot",
                            "a single person steps back, leading with the {s} foot")),
    ("wave slowly", "hand"): ("arm", "is raised beside the head, bent at the elbow,", "and sweeps slowly from side to side",
                              "waves slowly in one or two long sweeps, palm forward",
                              ("{person} slowly waves {hand}", "{hand} sweeps slowly left and right beside the head",
                               "a single person waves {hand} in long, unhurried sweeps")),
    ("hop", "leg"): ("leg", "bends and pushes off", "again and again, the body hopping up and down",
                     "takes off and lands each hop while the other foot stays off the floor",
                     ("{person} hops on {leg}", "the body bounces up and down on the {s} foot alone",
                      "a single person jumps repeatedly on one leg, the {s} one")),
}


def _limb_move(movement: str, part: str, side: str, person: str):
    """The part sentences and visual descriptions of a one-limb movement (:data:`_LIMB_MOVES`)."""
    limb, verb, detail, end, visual = _LIMB_MOVES[(movement, part)]
    side = "both" if movement in ("clap", "cross") else side
    words = {"person": person, "s": side, "o": _other(side), "arm": _the(side, "arm"), "hand": _the(side, "hand"),
             "leg": _the(side, "leg"), "foot": _the(side, "foot")}
    visual = tuple(v.format(**words) for v in visual)
    if limb == "arm":
        return _arm_action(verb, detail, side, end, visual)
    return _leg_action(verb, detail, side, end, visual)


def describe(name: str, movement: str, part: str, side: str, actors: int) -> ClassKnowledge:
    """One class's knowledge from its composition."""
    s, o = side, _other(side)
    person = "a person" if actors == 1 else "two people"
    if (movement, part) in _LIMB_MOVES:
        motion, vis = _limb_move(movement, part, side, person)
        if movement == "touch head":
            motion["head"] = "The head stays still while the hand touches it."
        elif movement == "reach":
            motion["hips"] = "The hips stay still while the upper body leans slightly forward."
        elif movement in ("step forward", "step back"):
            where = "forward" if movement == "step forward" else "backward"
            motion["hips"] = f"The hips move {where} with the whole body and the weight shifts onto {_the(s, 'leg')}."
        elif movement == "hop":
            motion["legs"] = _cap(f"{_the(s, 'leg')} bends and pushes off repeatedly while {_the(o, 'leg')} is held up.")
            motion["hips"] = "The hips bob up and down with every hop."
    elif movement == "cross over":
        limb, where = ("forearms", "in front of the chest") if part == "arm" else ("wrists", "in front of the face")
        motion = {"arms": f"Both arms bend and the {limb} cross {where}, the {s} one in front of the {o} one.",
                  "hands": f"The {s} hand passes in front of the {o} one and the hands stay open.",
                  "head": "The head stays upright behind the crossed arms."}
        vis = (f"{person} crosses both {limb} {where} with the {s} one in front",
               f"the {s} {limb[:-1]} lies over the {o} one {where}",
               f"a single person makes a cross sign {where}, {s} over {o}")
    elif movement == "lean":
        motion = {"hips": f"The hips push a little to the {o} as the upper body bends to the {s}.",
                  "head": f"The head tilts to the {s} with the torso.",
                  "arms": f"The arms hang and sway to the {s} with the upper body."}
        vis = (f"{person} leans the upper body to the {s}", f"the torso bends sideways towards the {s}",
               f"a single person stretches by bending to the {s} side")
    elif movement == "twist":
        motion = {"hips": "The hips stay facing forward while the chest turns.",
                  "head": f"The head turns to the {s} with the chest.",
                  "arms": f"The arms swing round to the {s} with the turning chest."}
        vis = (f"{person} twists the upper body to the {s}", f"the chest rotates towards the {s} and back",
               f"a single person turns the torso to the {s} with the feet planted")
    elif movement == "turn" and part == "head":
        motion = {"head": f"The head turns to the {s} to look sideways and turns back."}
        vis = (f"{person} turns the head to look {s}", f"the face turns towards the {s} shoulder",
               f"a single person glances to the {s}")
    elif movement == "squat":
        motion = {"legs": "Both legs bend deeply at the knees and straighten again.",
                  "hips": "The hips drop down towards the floor and rise again.",
                  "arms": "The arms reach forward for balance.",
                  "feet": "The feet stay flat on the floor."}
        vis = (f"{person} squats down and stands back up", "the knees bend deeply, the hips go low",
               "a single person does a squat")
    elif movement == "jump":
        motion = {"legs": "Both legs bend and push off together, then bend again on landing.",
                  "feet": "Both feet leave the floor at once and land together.",
                  "hips": "The hips dip, shoot up and come down again.",
                  "arms": "The arms swing up to help the jump."}
        vis = (f"{person} jumps straight up", "both feet leave the floor together",
               "a single person hops up on the spot with both feet")
    elif movement == "bow":
        motion = {"hips": "The hips stay in place while the upper body bends forward at the waist.",
                  "head": "The head lowers forward with the torso and comes back up.",
                  "arms": "The arms hang down in front as the body bends."}
        vis = (f"{person} bows forward", "the upper body bends down at the waist and straightens",
               "a single person bows politely")
    elif movement == "turn around":
        motion = {"feet": "The feet step round on the spot.", "legs": "The legs step round to turn the body.",
                  "hips": "The hips rotate half a turn with the whole body.",
                  "head": "The head turns with the body to face the other way."}
        vis = (f"{person} turns around on the spot", "the body rotates to face away from the start",
               "a single person turns to face backward")
    elif movement == "sit down":
        motion = {"legs": "Both knees bend until the thighs are level.",
                  "hips": "The hips move back and down onto a seat.",
                  "arms": "The arms come forward and rest on the thighs."}
        vis = (f"{person} sits down on a chair", "the body lowers onto a seat behind it",
               "a single person goes from standing to sitting")
    elif movement == "stand up":
        motion = {"legs": "Both knees straighten from bent to upright.",
                  "hips": "The hips rise up and forward off the seat.",
                  "arms": "The arms push forward to help the body rise."}
        vis = (f"{person} stands up from a chair", "the body rises from a seat to standing",
               "a single person gets up from sitting")
    elif movement == "nod":
        motion = {"head": "The head tips down and up again several times."}
        vis = (f"{person} nods the head", "the chin dips down and comes back up repeatedly",
               "a single person nods yes")
    elif movement == "shake" and part == "head":
        motion = {"head": "The head turns left and right again and again."}
        vis = (f"{person} shakes the head", "the face turns from side to side repeatedly",
               "a single person shakes the head no")
    elif movement == "shake hands":
        motion = {"arms": "Each person reaches the right arm forward to the other.",
                  "hands": "The two right hands clasp and pump up and down.",
                  "head": "The heads face each other."}
        vis = ("two people shake right hands", "two people face each other with joined right hands",
               "two persons greet each other with a handshake")
    elif movement == "push":
        motion = {"arms": "The first person thrusts both arms forward against the other person.",
                  "hands": "Both hands press flat on the other person's chest.",
                  "legs": "The second person steps backward.", "feet": "The pushed person's feet step back."}
        vis = ("one person pushes another person away with both hands",
               "two people face each other and one shoves the other backward",
               "a person pushes someone standing in front of them")
    elif movement == "hug":
        motion = {"arms": "Both people wrap both arms around each other.",
                  "hands": "The hands rest on the other person's back.",
                  "head": "The heads come close, over each other's shoulders.",
                  "feet": "The feet step closer together."}
        vis = ("two people hug each other", "two people embrace with arms around each other",
               "two persons step together into a hug")
    elif movement == "pass":
        motion = {"arms": "One person holds out the right arm, the other reaches to meet it.",
                  "hands": "An object passes from one right hand to the other.",
                  "head": "Both heads look at the hands."}
        vis = ("one person hands an object to another", "two people exchange an object with their right hands",
               "a person gives something to someone standing in front")
    else:
        raise ValueError(f"no knowledge template for movement '{movement}' of part '{part}' ({name})")
    # A part that does not move is still described in the action's context, as a teacher would
    # ("the feet stay flat on the floor as a person waves the left hand"): every sentence of a class
    # then says something about that class.
    full = {p: motion.get(p, f"{_STILL[p][:-1]} as {vis[0]}.") for p in PARTS}
    summary = f"{_cap(vis[0])}."
    return ClassKnowledge(summary, full, [f"{_cap(v)}." for v in vis])


def demo_knowledge() -> Knowledge:
    """Knowledge for every procedural class, in the class list's order."""
    from ..synth import ACTION_CLASSES

    classes = {name: describe(name, a.movement, a.part, a.side, a.actors) for name, a in ACTION_CLASSES.items()}
    return Knowledge(classes, {"generator": "skeletonllm.demo.sugar_knowledge",
                               "note": "written from each class's movement, body part and side; no teacher"})


def write_demo_knowledge(path: str | Path = SHIPPED) -> Path:
    return demo_knowledge().save(path)


if __name__ == "__main__":
    print(write_demo_knowledge())
