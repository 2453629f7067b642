//! Text normalisation and word error rate, the same rules as scripts/bench/wer.py.

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// Spells a token of digits: 0 to 99 as words ("25" → "twenty five"), anything else
/// (longer, or with a leading zero) digit by digit, as digit strings are read aloud.
fn spell_number(digits: &str, out: &mut Vec<String>) {
    let small = match digits.len() {
        1 => digits.parse::<usize>().ok(),
        2 if !digits.starts_with('0') => digits.parse::<usize>().ok(),
        _ => None,
    };
    match small {
        Some(n) if n < 20 => out.push(ONES[n].to_string()),
        Some(n) => {
            out.push(TENS[n / 10].to_string());
            if n % 10 != 0 {
                out.push(ONES[n % 10].to_string());
            }
        }
        None => out.extend(
            digits
                .bytes()
                .map(|d| ONES[usize::from(d - b'0')].to_string()),
        ),
    }
}

/// Lowercase words without punctuation; apostrophes joined ("party's" → "partys"), hyphens
/// split ("cold-hearted" → "cold hearted"), small numbers and titles spelled out.
pub fn normalise(text: &str) -> Vec<String> {
    let cleaned: String = text
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(c, '\'' | '’'))
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut words = Vec::new();
    for token in cleaned.split_whitespace() {
        match token {
            "mr" => words.push("mister".to_string()),
            "mrs" => words.push("missus".to_string()),
            t if t.bytes().all(|b| b.is_ascii_digit()) => spell_number(t, &mut words),
            t => words.push(t.to_string()),
        }
    }
    words
}

/// Word-level Levenshtein table: `table[i][j]` is the distance between the first `i`
/// reference words and the first `j` hypothesis words.
fn distance_table(reference: &[String], hypothesis: &[String]) -> Vec<Vec<usize>> {
    let mut table = vec![(0..=hypothesis.len()).collect::<Vec<usize>>()];
    for (i, r) in reference.iter().enumerate() {
        let previous = &table[i];
        let mut current = vec![i + 1; hypothesis.len() + 1];
        for (j, h) in hypothesis.iter().enumerate() {
            let substitution = previous[j] + usize::from(r != h);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        table.push(current);
    }
    table
}

/// Word-level Levenshtein distance: substitutions + deletions + insertions.
pub fn word_errors(reference: &[String], hypothesis: &[String]) -> usize {
    distance_table(reference, hypothesis)[reference.len()][hypothesis.len()]
}

/// The (reference index, hypothesis index) pairs a minimal edit script keeps unchanged, in
/// order: which spoken word each recognised word is.
pub fn matched_words(reference: &[String], hypothesis: &[String]) -> Vec<(usize, usize)> {
    let table = distance_table(reference, hypothesis);
    let (mut i, mut j) = (reference.len(), hypothesis.len());
    let mut pairs = Vec::new();
    // Among equally short edit scripts, take an insertion or deletion before a substitution:
    // it keeps more words matched ("on the mat" against "on mat today").
    while i > 0 && j > 0 {
        let here = table[i][j];
        if reference[i - 1] == hypothesis[j - 1] && here == table[i - 1][j - 1] {
            pairs.push((i - 1, j - 1));
            (i, j) = (i - 1, j - 1);
        } else if here == table[i][j - 1] + 1 {
            j -= 1;
        } else if here == table[i - 1][j] + 1 {
            i -= 1;
        } else {
            (i, j) = (i - 1, j - 1);
        }
    }
    pairs.reverse();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn normalise_strips_case_and_punctuation_and_joins_apostrophes() {
        assert_eq!(
            normalise("Welcome to the directory.  Your party's last-name, please!"),
            words("welcome to the directory your partys last name please")
        );
        assert_eq!(
            normalise("I’m sorry... Mr. Dashwood"),
            words("im sorry mister dashwood")
        );
    }

    #[test]
    fn normalise_spells_small_numbers_and_reads_long_ones_digit_by_digit() {
        assert_eq!(
            normalise("Press 1, then 25 or 90"),
            words("press one then twenty five or ninety")
        );
        assert_eq!(normalise("29340"), words("two nine three four zero"));
        assert_eq!(normalise("07"), words("zero seven"));
        assert_eq!(
            normalise("go forward 10 meters"),
            normalise("go forward ten meters")
        );
    }

    #[test]
    fn normalise_of_nothing_is_no_words() {
        assert!(normalise("").is_empty());
        assert!(normalise(" ... ?! ").is_empty());
    }

    #[test]
    fn word_errors_counts_substitutions_insertions_and_deletions() {
        let r = words("the cat sat on the mat");
        assert_eq!(word_errors(&r, &r), 0);
        assert_eq!(word_errors(&r, &words("the cat sat on a mat")), 1);
        assert_eq!(word_errors(&r, &words("the cat sat on the mat today")), 1);
        assert_eq!(word_errors(&r, &words("cat sat on the mat")), 1);
        assert_eq!(word_errors(&r, &words("a dog")), 6);
    }

    #[test]
    fn matched_words_pairs_the_unchanged_words_in_order() {
        let r = words("the cat sat on the mat");
        let h = words("a cat sat on mat today");
        assert_eq!(matched_words(&r, &h), [(1, 1), (2, 2), (3, 3), (5, 4)]);
        assert!(matched_words(&r, &[]).is_empty());
    }

    #[test]
    fn word_errors_against_empty_sides_is_the_other_length() {
        assert_eq!(word_errors(&words("one two three"), &[]), 3);
        assert_eq!(word_errors(&[], &words("hello there")), 2);
        assert_eq!(word_errors(&[], &[]), 0);
    }
}
