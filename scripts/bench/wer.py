"""Text normalisation and word error rate: the same rules as server/tests/real_speech/wer.rs.

Lowercase; apostrophes joined ("party's" -> "partys"); every other non-alphanumeric character
splits words; "mr"/"mrs" spelled out; digit tokens 0-99 as words, longer ones digit by digit.
"""

ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen").split()
TENS = ["", ""] + "twenty thirty forty fifty sixty seventy eighty ninety".split()
TITLES = {"mr": "mister", "mrs": "missus"}


def spell_number(digits: str) -> list[str]:
    if len(digits) == 1 or (len(digits) == 2 and not digits.startswith("0")):
        n = int(digits)
        if n < 20:
            return [ONES[n]]
        return [TENS[n // 10]] + ([ONES[n % 10]] if n % 10 else [])
    return [ONES[int(d)] for d in digits]


def normalise(text: str) -> list[str]:
    cleaned = "".join(
        c if c.isalnum() else " " for c in text.lower() if c not in "'\u2019"
    )
    words: list[str] = []
    for token in cleaned.split():
        if token in TITLES:
            words.append(TITLES[token])
        elif token.isascii() and token.isdigit():
            words.extend(spell_number(token))
        else:
            words.append(token)
    return words


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level Levenshtein distance: substitutions + deletions + insertions."""
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference):
        current = [i + 1] * (len(hypothesis) + 1)
        for j, h in enumerate(hypothesis):
            current[j + 1] = min(previous[j] + (r != h), previous[j + 1] + 1, current[j] + 1)
        previous = current
    return previous[-1]


def corpus_wer(pairs: list[tuple[str, str]]) -> tuple[float, int, int]:
    """(WER, errors, reference words) over (reference, hypothesis) pairs."""
    errors = words = 0
    for reference, hypothesis in pairs:
        ref = normalise(reference)
        errors += word_errors(ref, normalise(hypothesis))
        words += len(ref)
    return errors / max(words, 1), errors, words
