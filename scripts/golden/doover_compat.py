#!/usr/bin/env python3
"""Records Doover's reference behaviour for channel diffs and payload keys by running pydoover.

The inputs are ours: a hand-picked set of edge cases plus a seeded random corpus. Every expected
output is whatever pydoover's own functions return for those inputs; nothing here computes or
types an expected value.

    python3 scripts/golden/doover_compat.py /path/to/pydoover-checkout [out-dir]

pydoover is imported from the checkout given on the command line (it is not vendored here):
`pydoover/utils/diff.py` is loaded as a file, and `validate_payload` is taken from
`pydoover/docker/device_agent/device_agent.py` by compiling that function and the two module
constants it reads, because the module itself imports grpc at load time.
"""

import ast
import importlib.util
import json
import os
import random
import subprocess
import sys
from pathlib import Path

SEED = 20261205

# Python orders `old.keys() - new.keys()` by string hash; a fixed hash seed keeps the order of
# deleted keys in generated diffs, and so the files, byte-stable between runs.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *sys.argv])


def load_diff(root: Path):
    spec = importlib.util.spec_from_file_location("pydoover_diff", root / "pydoover/utils/diff.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.apply_diff, mod.generate_diff


def load_validate_payload(root: Path):
    path = root / "pydoover/docker/device_agent/device_agent.py"
    tree = ast.parse(path.read_text(), str(path))
    wanted = {"_VALID_KEY_RE", "_SCALAR_TYPES", "validate_payload"}
    body = [ast.Import(names=[ast.alias(name="re")])]
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in wanted:
            body.append(node)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id in wanted for t in node.targets
        ):
            body.append(node)
    module = ast.Module(body=body, type_ignores=[])
    ast.fix_missing_locations(module)
    scope: dict = {}
    exec(compile(module, str(path), "exec"), scope)
    return scope["validate_payload"]


# ---------------------------------------------------------------------------------------------
# Inputs

SCALARS = [0, 1, 1.0, -1, 2, 1.5, -0.25, 1e300, 2**40, True, False, "", "str", "1", "ü", None]
KEYS = ["a", "b", "c", "x", "key_1", "k-2", "ü", "名前", "😀", "a.b", "with space"]


def handpicked():
    """(old, new) pairs aimed at the documented semantics and at pydoover's quirks."""
    pairs = [
        ({}, {}),
        ({}, {"a": 1}),
        ({"a": 1}, {}),
        ({"a": 1}, {"a": 1}),
        ({"a": 1}, {"a": 1.0}),
        ({"a": 1.0}, {"a": 1}),
        ({"a": 1}, {"a": True}),
        ({"a": True}, {"a": 1}),
        ({"a": 0}, {"a": False}),
        ({"a": False}, {"a": 0.0}),
        ({"a": 2}, {"a": True}),
        ({"a": True}, {"a": "true"}),
        ({"a": 1}, {"a": "1"}),
        ({"a": 1}, {"a": None}),
        ({"a": None}, {"a": 1}),
        ({"a": None}, {"a": None}),
        ({"a": None}, {}),
        ({}, {"a": None}),
        ({"a": 1}, {"a": {}}),
        ({"a": {}}, {"a": 1}),
        ({"a": {}}, {"a": {}}),
        ({}, {"a": {}}),
        ({}, {"a": {"b": {}}}),
        ({"a": {}}, {}),
        ({"a": {"b": 1}}, {"a": {}}),
        ({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}}),
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1}}),
        ({"a": {"b": {"c": {"d": 1}}}}, {"a": {"b": {"c": {"d": 2}}}}),
        ({"a": {"b": {"c": {"d": 1}}}}, {"a": {"b": {"c": {}}}}),
        ({"a": [1, 2]}, {"a": [1, 2]}),
        ({"a": [1, 2]}, {"a": [2, 1]}),
        ({"a": [1, 2]}, {"a": [1, 2, 3]}),
        ({"a": [1]}, {"a": [1.0]}),
        ({"a": [1]}, {"a": [True]}),
        ({"a": [{"x": 1}]}, {"a": [{"x": 1, "y": None}]}),
        ({"a": [1, 2]}, {"a": {"0": 1}}),
        ({"a": {"0": 1}}, {"a": [1]}),
        ({"a": "s"}, {"a": ["s"]}),
        ({"a": ""}, {"a": None}),
        ({"a": 0}, {"a": None}),
        ({"a": False}, {"a": None}),
        ({"a": []}, {"a": None}),
        ({"a": {"b": None}}, {"a": {"b": None}}),
        ({"a": {"b": None}}, {"a": {}}),
        ({"ü": 1, "名前": "x"}, {"ü": 2, "😀": True}),
        ({"a.b": 1}, {"a.b": {"c": 1}}),
        ({"with space": 1}, {}),
        (1, 2),
        (1, {"a": 1}),
        ({"a": 1}, 1),
        ([1], [1, 2]),
        ("s", "s"),
        (None, {"a": 1}),
        ({"a": 1}, None),
        ({"a": 1}, [{"a": 1}]),
        (True, 1),
        ({"a": 2**40}, {"a": 2**40 + 1}),
        ({"a": 2**53}, {"a": float(2**53)}),
        ({"a": 1e300}, {"a": -1e300}),
        ({"a": -0.0}, {"a": 0}),
    ]
    # pydoover's generate_diff recomputes each nested sub-diff once more (time 2^depth), so the
    # deep case stays at a depth it finishes in well under a second.
    deep = {}
    node = deep
    for i in range(14):
        node["n"] = {}
        node = node["n"]
    node["leaf"] = 1
    deeper = json.loads(json.dumps(deep).replace('"leaf": 1', '"leaf": 2, "more": {"z": null}'))
    pairs += [({}, deep), (deep, deeper), (deeper, deep), (deep, {}), (deeper, {"n": 1})]
    return pairs


def handpicked_apply():
    """(data, diff) pairs for apply_diff alone: diffs no generate_diff would produce."""
    return [
        ({}, {"a": None}),
        ({"a": 1}, {"a": None}),
        ({"a": 1}, {"b": None}),
        ({"a": 1}, {"a": {"b": None}}),
        ({"a": 1}, {"a": {"b": None, "c": 1}}),
        ({"a": None}, {"a": {"b": None}}),
        ({}, {"a": {"b": None}}),
        ({}, {"a": {"b": {"c": None}}}),
        ({"a": [1]}, {"a": {"0": 2}}),
        ({"a": {"b": 1}}, {"a": {}}),
        ({"a": {"b": 1}}, {"a": []}),
        ({"a": {"b": 1}}, {"a": {"b": {"c": None}}}),
        ({"a": 1}, 5),
        ({"a": 1}, None),
        ({"a": 1}, [1, 2]),
        ({"a": 1}, "s"),
        ({"a": 1}, True),
        (5, {"a": 1}),
        (None, {"a": None}),
        ([1, 2], {"a": 1}),
        ("s", {"a": {"b": None}}),
        ({"a": 1}, {}),
        ({}, {}),
        ({"a": {"b": {"c": 1}}}, {"a": {"b": {"c": None, "d": None}}}),
        ({"a": 1}, {"a": True}),
        ({"a": True}, {"a": 1.0}),
        ({"ü": 1}, {"ü": None, "😀": {"x": None}}),
    ]


def random_value(rng: random.Random, depth: int):
    r = rng.random()
    if depth <= 0 or r < 0.45:
        return rng.choice(SCALARS)
    if r < 0.6:
        return [random_value(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    return random_doc(rng, depth - 1)


def random_doc(rng: random.Random, depth: int):
    return {rng.choice(KEYS): random_value(rng, depth) for _ in range(rng.randint(0, 4))}


def mutate(rng: random.Random, doc):
    """A neighbour of `doc`: some keys kept, some changed, removed, retyped or added."""
    if not isinstance(doc, dict) or rng.random() < 0.05:
        return random_value(rng, 3)
    out = {}
    for k, v in doc.items():
        r = rng.random()
        if r < 0.45:
            out[k] = v
        elif r < 0.6:
            continue
        elif r < 0.8 and isinstance(v, dict):
            out[k] = mutate(rng, v)
        else:
            out[k] = random_value(rng, 2)
    for _ in range(rng.randint(0, 2)):
        out[rng.choice(KEYS)] = random_value(rng, 2)
    return out


def random_diff(rng: random.Random, depth: int):
    """A diff as a client might send one: nulls anywhere, nested objects, sometimes a non-object."""
    if rng.random() < 0.08:
        return random_value(rng, 1)
    out = {}
    for _ in range(rng.randint(0, 4)):
        r = rng.random()
        k = rng.choice(KEYS)
        if r < 0.3:
            out[k] = None
        elif r < 0.6 and depth > 0:
            out[k] = random_diff(rng, depth - 1)
        else:
            out[k] = random_value(rng, 1)
    return out


PAYLOADS = [
    {"ok": 1},
    {},
    {"a-b_1": {"nested": [1, "s", True, None]}},
    {"A": {"Z": {"0": {"_": {"-": 1}}}}},
    {"bad key": 1},
    {"dots.bad": 1},
    {"": 1},
    {"a": {"bad key": 1}},
    {"a": [{"bad key": 1}]},
    {"a": [[{"ok": [{"bad/key": 1}]}]]},
    {"a": [[{"ok": [{"fine": 1}]}]]},
    {"ü": 1},
    {"名前": 1},
    {"😀": 1},
    {"tab\t": 1},
    {"trailing\n": 1},
    {"\nleading": 1},
    {"a\nb": 1},
    {"a$": 1},
    {"$tag": 1},
    {"a:b": 1},
    {"a/b": 1},
    {"a+b": 1},
    {"1": {"2": {"3": None}}},
    {"x": "any string value, even with spaces. and dots"},
    {"x": {"": None}},
    {"x": 1.5, "y": -3, "z": 1e300, "w": 2**40},
    [1, 2],
    [],
    [{"ok": 1}],
    "string",
    1,
    1.5,
    True,
    None,
]


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: doover_compat.py <pydoover-checkout> [out-dir]")
    root = Path(sys.argv[1]).resolve()
    out_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parents[2] / "test/fixtures/doover-compat"
    apply_diff, generate_diff = load_diff(root)
    validate_payload = load_validate_payload(root)
    rng = random.Random(SEED)

    pairs = handpicked()
    for _ in range(700):
        old = random_doc(rng, 4)
        pairs.append((old, mutate(rng, old)))
    round_trips = []
    for old, new in pairs:
        for do_delete in (True, False):
            diff = generate_diff(old, new, do_delete=do_delete)
            applied = apply_diff(old, diff, do_delete=do_delete)
            round_trips.append({"old": old, "new": new, "do_delete": do_delete, "diff": diff, "applied": applied})

    apply_pairs = handpicked_apply()
    for _ in range(300):
        apply_pairs.append((random_doc(rng, 3), random_diff(rng, 3)))
    applies = []
    for data, diff in apply_pairs:
        for do_delete in (True, False):
            result = apply_diff(data, diff, do_delete=do_delete)
            applies.append({"op": "apply", "data": data, "diff": diff, "do_delete": do_delete, "result": result})

    payloads = []
    for payload in PAYLOADS:
        try:
            validate_payload(payload)
            valid = True
        except ValueError:
            valid = False
        payloads.append({"payload": payload, "valid": valid})

    out_dir.mkdir(parents=True, exist_ok=True)
    # allow_nan=False: every input is plain JSON, so a NaN here would be a corpus bug.
    dump = lambda v: json.dumps(v, ensure_ascii=False, indent=1, allow_nan=False) + "\n"
    (out_dir / "diffs.json").write_text(dump(round_trips + applies), encoding="utf8")
    (out_dir / "payload_validation.json").write_text(dump(payloads), encoding="utf8")
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"pydoover {commit}: {len(round_trips)} round-trip, {len(applies)} apply, {len(payloads)} payload cases (seed {SEED})")


if __name__ == "__main__":
    main()
