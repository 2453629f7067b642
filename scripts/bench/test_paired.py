"""The paired check's summary: the median of per-pair ratios and the pairs the candidate won."""

from paired import summarise


def test_summary_gives_the_median_ratio_and_the_pairs_won():
    line = summarise([0.90, 1.10, 0.80, 0.95])
    assert line.startswith("0.925 (IQR ")
    assert line.endswith("faster in 3/4")


def test_a_tie_is_not_a_win():
    assert summarise([1.0, 1.0, 1.0, 1.0]).endswith("faster in 0/4")
