//! Word normalisation for Spanish and French: the English rules of wer.rs on text whose accents
//! are folded away. The prompts' own transcripts drop accents inconsistently ("numero" beside
//! "número"), so an accent is no evidence either way.

use super::wer;

/// The letter without its accent; ligatures and letters outside Latin-1 stay as they are.
fn fold(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        'ñ' => 'n',
        'ç' => 'c',
        other => other,
    }
}

/// Lowercase words without punctuation or accents, by the rules of `wer::normalise`.
pub fn normalise(text: &str) -> Vec<String> {
    let folded: String = text.to_lowercase().chars().map(fold).collect();
    wer::normalise(&folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_fold_so_both_spellings_are_one_word() {
        assert_eq!(normalise("número"), normalise("numero"));
        assert_eq!(normalise("Contraseña"), ["contrasena"]);
        assert_eq!(
            normalise("Désolé, ce numéro n'est pas valide."),
            ["desole", "ce", "numero", "nest", "pas", "valide"]
        );
        assert_eq!(normalise("¿Está ahí? Ça va."), ["esta", "ahi", "ca", "va"]);
    }
}
