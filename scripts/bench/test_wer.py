"""Unit tests of wer.py (run: venv-py1/bin/python -m pytest scripts/bench)."""

from wer import corpus_wer, normalise, word_errors


def test_normalise_matches_the_rust_rules():
    assert normalise("Welcome to the directory.  Your party's last-name, please!") == \
        "welcome to the directory your partys last name please".split()
    assert normalise("I\u2019m sorry... Mr. Dashwood") == "im sorry mister dashwood".split()
    assert normalise("Press 1, then 25 or 90") == "press one then twenty five or ninety".split()
    assert normalise("29340") == "two nine three four zero".split()
    assert normalise("07") == ["zero", "seven"]
    assert normalise(" ... ?! ") == []


def test_word_errors_counts_edits():
    r = "the cat sat on the mat".split()
    assert word_errors(r, r) == 0
    assert word_errors(r, "the cat sat on a mat".split()) == 1
    assert word_errors(r, "cat sat on the mat today".split()) == 2
    assert word_errors(r, []) == 6
    assert word_errors([], ["x"]) == 1


def test_corpus_wer_pools_errors_over_words():
    rate, errors, words = corpus_wer([("one two", "one two"), ("three four", "three")])
    assert (errors, words) == (1, 4)
    assert rate == 0.25
