from baseweight_assets.data.windows import Document, covering_window, window_starts


def test_windows_cover_every_word():
    for n in (10, 750, 751, 1350, 1351, 7351, 20000):
        starts = window_starts(n, 750, 600)
        covered = set()
        for s in starts:
            covered.update(range(s, min(s + 750, n)))
        assert covered == set(range(n)), n
        assert starts[0] == 0 and all(b - a <= 600 for a, b in zip(starts, starts[1:]))


def test_locate_verbatim_and_normalised_and_missing():
    text = "Header\n\nThis  Agreement shall be governed by\tthe laws of Ohio. End."
    c = Document("t", text)
    span = "governed by\tthe laws of Ohio."
    first, end = c.locate(span, text.find(span))
    assert c.text(first, end) == "governed by the laws of Ohio."
    first, end = c.locate("This Agreement shall", -1)
    assert c.text(first, end) == "This Agreement shall"
    assert c.locate("not in the contract", -1) is None


def test_covering_window_contains_clause_or_snaps():
    starts = window_starts(3000, 750, 600)
    s = covering_window(starts, 750, 1300, 1400, 3000, 0)
    assert s <= 1300 and 1400 <= s + 750
    s = covering_window(starts, 750, 100, 1000, 3000, 0)  # longer than a window: snapped before it
    assert s == max(0, 100 - 750 // 8)
