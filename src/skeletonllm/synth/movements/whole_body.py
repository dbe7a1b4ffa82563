"""Whole-body, torso and head movements: squat, jump, bow, turn around, lean and twist the torso,
sit down, stand up, nod, shake and turn the head."""
from __future__ import annotations

from ..program import ProgramBuilder, _arm, _leg, count_word, side_words


def squat(b: ProgramBuilder, side: str = "none"):
    t = b.timeline(3.0, 1.5, 3.0)
    b.move(t[0], t[1], {**_leg("both", plane=10, elev=92 * b.amp, knee=112 * b.amp, ankle=20),
                        "torso_bend": 28.0, **_arm("both", plane=0, elev=75, elbow=8)})
    b.move(t[2], t[3], {**b.neutral("leg:both", "arm:both"), "torso_bend": 0.0})
    b.phase(t[0], t[1], "bends both knees and lowers the hips toward the floor", "bending both knees",
            "both knees", "bend deeply", "to lower the body into a squat", key=True)
    b.phase(t[0], t[1], "stretches both arms forward", "stretching the arms forward", "both arms",
            "reach forward", "to keep balance while squatting", main=False)
    b.phase(t[1], t[2], "stays low in the squat", "staying low", "the hips", "stay low",
            "to hold the squat", kind="hold")
    b.phase(t[2], t[3], "straightens both legs and stands back up", "standing back up", "both legs",
            "straighten", "to return to standing")
    b.summary = "squats down by bending both knees and stands back up"


def jump(b: ProgramBuilder, side: str = "none"):
    h = float(b.rng.uniform(0.18, 0.35)) * b.amp
    b.params["height"] = round(h, 4)
    t = b.timeline(2.0, 0.8, 1.4, 0.8, 2.0)
    crouch = {**_leg("both", plane=0, elev=50, knee=65, ankle=15), "torso_bend": 25.0,
              **_arm("both", plane=0, elev=-35, elbow=10)}
    b.move(t[0], t[1], crouch)
    b.move(t[1], t[2], {**_leg("both", plane=0, elev=3, knee=2, ankle=-25), "torso_bend": 0.0,
                        **_arm("both", elev=150, elbow=10)})
    b.move(t[1], t[2], {"root_up": 0.0})
    b.move(t[2], t[3], {"root_up": h})
    b.move(t[3], t[4], {"root_up": 0.0, **_leg("both", elev=40, knee=50, ankle=10), "torso_bend": 18.0,
                        **_arm("both", elev=40)})
    b.move(t[4], t[5], {**b.neutral("leg:both", "arm:both"), "torso_bend": 0.0})
    b.phase(t[0], t[1], "bends the knees and swings both arms back", "crouching", "both knees", "bend",
            "to gather force for the jump")
    b.phase(t[1], t[3], "pushes off with both legs and springs up into the air", "jumping up", "both feet",
            "leave the floor", "to lift the whole body off the ground", key=True)
    b.phase(t[1], t[2], "swings both arms up", "swinging the arms up", "both arms", "swing up",
            "to add momentum to the jump", main=False)
    b.phase(t[3], t[4], "lands and bends the knees", "landing", "both knees", "bend on landing",
            "to absorb the impact of the landing")
    b.phase(t[4], t[5], "stands up straight again", "standing up straight", "both legs", "straighten",
            "to recover a normal stance")
    b.summary = "jumps up into the air with both feet and lands"


def bow(b: ProgramBuilder, side: str = "none"):
    t = b.timeline(2.5, 1.5, 2.5)
    bend = 55.0 * b.amp
    b.move(t[0], t[1], {"torso_bend": bend, "neck_nod": 15.0, **_arm("both", plane=0, elev=bend * 0.8, elbow=10)})
    b.move(t[2], t[3], {"torso_bend": 0.0, "neck_nod": 0.0, **b.neutral("arm:both")})
    b.phase(t[0], t[1], "bends the upper body forward from the hips", "bending forward", "the torso",
            "lean forward", "to bow as a sign of respect", key=True)
    b.phase(t[1], t[2], "holds the bow briefly", "holding the bow", "the torso", "stay bent",
            "to show courtesy", kind="hold")
    b.phase(t[2], t[3], "straightens the upper body again", "straightening up", "the torso", "come back up",
            "to finish the greeting")
    b.summary = "bows by bending the upper body forward and straightens up"


def turn_around(b: ProgramBuilder, side: str = "none"):
    direction = "left" if b.rng.random() < 0.5 else "right"
    b.params["direction"] = direction
    yaw = 180.0 if direction == "left" else -180.0
    t = b.timeline(0.8, 4.0, 1.5)
    b.move(t[0], t[1], _arm("both", elev=15, elbow=25))
    b.move(t[1], t[2], {"root_yaw": yaw})
    b.walk(t[1], t[2], 0.0, steps=2)
    b.move(t[2], t[3], b.neutral("arm:both"))
    b.phase(t[0], t[1], "shifts the weight and starts to turn", "starting to turn", "the body", "start to turn",
            "to prepare the turn")
    b.phase(t[1], t[2], f"turns the whole body around toward the {direction}, stepping in place",
            "turning around", "the whole body", "rotate", "to face the opposite direction", key=True)
    b.phase(t[2], t[3], "stands still facing away from the starting direction", "standing still", "the body",
            "stop turning", "to stay facing the other way", kind="hold")
    b.summary = f"turns around toward the {direction}"


def lean_torso(b: ProgramBuilder, side: str):
    w = side_words(side)
    lean = (25.0 if side == "left" else -25.0) * b.amp
    t = b.timeline(2.5, 1.5, 2.5)
    b.move(t[0], t[1], {"torso_lean": lean})
    b.move(t[2], t[3], {"torso_lean": 0.0})
    b.phase(t[0], t[1], "leans the upper body to the {side}", "leaning to the {side}", "the torso",
            "tilt to the {side}", "to stretch the {other} side of the body", **w, key=True)
    b.phase(t[1], t[2], "holds the lean", "holding the lean", "the torso", "stay tilted", "to hold the stretch",
            kind="hold", **w)
    b.phase(t[2], t[3], "straightens up again", "straightening up", "the torso", "come back upright",
            "to return to an upright stance", **w)
    b.summary = "leans the upper body to the {side} and back".format(**w)


def twist_torso(b: ProgramBuilder, side: str):
    w = side_words(side)
    tw = (45.0 if side == "left" else -45.0) * b.amp
    t = b.timeline(2.5, 1.5, 2.5)
    b.move(t[0], t[1], {"torso_twist": tw, **_arm("both", plane=0, elev=35, elbow=95)})
    b.move(t[2], t[3], {"torso_twist": 0.0, **b.neutral("arm:both")})
    b.phase(t[0], t[1], "twists the upper body to the {side}", "twisting to the {side}", "the torso",
            "turn to the {side}", "to rotate the spine", **w, key=True)
    b.phase(t[0], t[1], "bends both elbows in front of the chest", "bending the elbows", "both arms",
            "bend", "to carry the arms with the chest", main=False, **w)
    b.phase(t[1], t[2], "holds the twist", "holding the twist", "the torso", "stay turned",
            "to stretch the waist", kind="hold", **w)
    b.phase(t[2], t[3], "turns the chest back to the front", "turning back to the front", "the torso",
            "turn back", "to face forward again", **w)
    b.summary = "twists the upper body to the {side} and back".format(**w)


_SEATED = {**_leg("both", plane=5, elev=85, knee=90), "torso_bend": 5.0, **_arm("both", plane=0, elev=30, elbow=40),
           "root_forward": -0.15}


def sit_down(b: ProgramBuilder, side: str = "none"):
    t = b.timeline(3.5, 2.0)
    b.move(t[0], t[1], {**_SEATED, "torso_bend": 22.0})
    b.move(t[1], t[2], {"torso_bend": 5.0})
    b.phase(t[0], t[1], "bends the knees and lowers the hips backward", "lowering the hips", "the hips",
            "go down and back", "to sit down on a chair", key=True)
    b.phase(t[0], t[1], "leans the upper body forward", "leaning forward", "the torso", "lean forward",
            "to keep balance while sitting down", main=False)
    b.phase(t[1], t[2], "settles on the seat with the back upright", "settling on the seat", "the torso",
            "straighten on the seat", "to rest in a seated position", kind="hold")
    b.summary = "sits down on a chair"


def stand_up(b: ProgramBuilder, side: str = "none"):
    t = b.timeline(1.5, 1.5, 2.5)
    b.start_pose(_SEATED)
    b.move(t[0], t[1], {"torso_bend": 35.0})
    b.move(t[1], t[2], {**b.neutral("leg:both", "arm:both"), "torso_bend": 10.0, "root_forward": 0.0})
    b.move(t[2], t[3], {"torso_bend": 0.0})
    b.phase(t[0], t[1], "leans the upper body forward while seated", "leaning forward", "the torso",
            "lean forward", "to shift the weight over the feet")
    b.phase(t[1], t[2], "pushes up with both legs and rises from the seat", "rising from the seat", "both legs",
            "straighten", "to lift the body off the seat", key=True)
    b.phase(t[2], t[3], "straightens the back and stands upright", "straightening the back", "the torso",
            "come upright", "to finish standing up")
    b.summary = "stands up from a seated position"


def nod_head(b: ProgramBuilder, side: str = "none"):
    n = b.reps(2, 3)
    t = b.timeline(1.0, 1.2 * n, 1.0)
    b.move(t[0], t[1], {"neck_nod": 5.0})
    b.oscillate(t[1], t[2], {"neck_nod": 5.0}, {"neck_nod": 28.0 * b.amp}, n)
    b.move(t[2], t[3], {"neck_nod": 0.0})
    b.phase(t[0], t[1], "looks straight ahead", "looking ahead", "the head", "stay level",
            "to face the other person", kind="hold")
    b.phase(t[1], t[2], "nods the head up and down " + count_word(n), "nodding", "the head", "move up and down",
            "to show agreement", kind="repeat", reps=n, key=True)
    b.phase(t[2], t[3], "holds the head still again", "holding the head still", "the head", "stop moving",
            "to end the gesture", kind="hold")
    b.summary = "nods the head " + count_word(n)


def shake_head(b: ProgramBuilder, side: str = "none"):
    n = b.reps(2, 3)
    t = b.timeline(1.0, 1.2 * n, 1.0)
    a = 32.0 * b.amp
    b.move(t[0], t[1], {"neck_turn": a})
    b.oscillate(t[1], t[2], {"neck_turn": a}, {"neck_turn": -a}, n)
    b.move(t[2], t[3], {"neck_turn": 0.0})
    b.phase(t[0], t[1], "turns the head to one side", "turning the head", "the head", "turn",
            "to begin the gesture", key=True)
    b.phase(t[1], t[2], "shakes the head from side to side " + count_word(n), "shaking the head", "the head",
            "turn from side to side", "to say no", kind="repeat", reps=n)
    b.phase(t[2], t[3], "faces forward again", "facing forward", "the head", "come back to the front",
            "to end the gesture")
    b.summary = "shakes the head from side to side " + count_word(n)


def turn_head(b: ProgramBuilder, side: str):
    w = side_words(side)
    a = (60.0 if side == "left" else -60.0) * b.amp
    t = b.timeline(2.0, 2.0, 2.0)
    b.move(t[0], t[1], {"neck_turn": a})
    b.move(t[2], t[3], {"neck_turn": 0.0})
    b.phase(t[0], t[1], "turns the head to the {side}", "turning the head to the {side}", "the head",
            "turn to the {side}", "to look at something on the {side}", **w, key=True)
    b.phase(t[1], t[2], "keeps looking to the {side}", "looking to the {side}", "the head", "stay turned",
            "to keep watching it", kind="hold", **w)
    b.phase(t[2], t[3], "turns the head back to the front", "turning the head back", "the head", "turn back",
            "to face forward again", **w)
    b.summary = "turns the head to the {side} and back".format(**w)
