import random

from baseweight_assets.data.contamination import find_overlaps


def _brute(queries, targets, t):
    def sh(text):
        w = text.lower().split()
        return {tuple(w[i:i + 3]) for i in range(len(w) - 2)} or {tuple(w)}
    out = set()
    for qid, q in queries:
        for tid, x in targets:
            a, b = sh(q), sh(x)
            if " ".join(q.lower().split()) == " ".join(x.lower().split()) or len(a & b) / len(a | b) >= t:
                out.add((qid, tid))
    return out


def test_exact_after_normalising_and_near_duplicates():
    base = " ".join(f"w{i}" for i in range(60))
    near = base.replace("w30", "changed")  # 3 of 58 shingles differ -> J ~ 0.9
    far = " ".join(f"x{i}" for i in range(60))
    hits = find_overlaps([("q1", "  " + base.upper() + " "), ("q2", near), ("q3", far)], [("t1", base)], 0.9)
    kinds = {(h["id"], h["kind"]) for h in hits}
    assert ("q1", "exact") in kinds
    assert ("q3", "exact") not in kinds and all(h["id"] != "q3" for h in hits)
    j = [h for h in hits if h["id"] == "q2"]
    expected = 55 / 61  # 58 shingles each, 3 replaced
    assert (expected >= 0.9) == bool(j)


def test_matches_brute_force_on_random_texts():
    rng = random.Random(0)
    vocab = [f"v{i}" for i in range(30)]
    targets = [(f"t{i}", " ".join(rng.choice(vocab) for _ in range(rng.randint(2, 40)))) for i in range(60)]
    queries = []
    for i in range(60):
        words = rng.choice(targets)[1].split()
        if words and rng.random() < 0.7:
            words[rng.randrange(len(words))] = rng.choice(vocab)
        queries.append((f"q{i}", " ".join(words)))
    for t in (0.5, 0.9):
        got = {(h["id"], h["test_id"]) for h in find_overlaps(queries, targets, t)}
        assert got == _brute(queries, targets, t)
