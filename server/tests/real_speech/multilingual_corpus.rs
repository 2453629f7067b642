//! The multilingual held set scripts/fetch-multilingual-corpus.sh builds: Spanish and French
//! telephone prompts, each with its transcript and the English prompt of the same name.

use std::path::PathBuf;

use super::corpus;

/// The held set's languages: ISO-639-1 code and the name verbose_json reports.
pub const LANGUAGES: [(&str, &str); 2] = [("es", "spanish"), ("fr", "french")];

pub struct Clip {
    pub wav: PathBuf,
    /// ISO-639-1 code of the spoken language.
    pub language: String,
    /// What is said, in that language.
    pub reference: String,
    /// The English catalogue's prompt of the same name: usually, not always, the same message.
    pub english: String,
}

impl Clip {
    /// The file name without `.wav`: the language and the prompt's name ("fr-vm-intro").
    pub fn name(&self) -> String {
        self.wav
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    }

    pub fn read(&self) -> Vec<u8> {
        std::fs::read(&self.wav)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", self.wav.display()))
    }
}

fn manifest() -> PathBuf {
    corpus::find_file(
        "WHISPER_MULTILINGUAL_MANIFEST",
        &[corpus::home().join(".cache/whisper-operator/multilingual-corpus-v1/manifest.tsv")],
        "no multilingual corpus: run scripts/fetch-multilingual-corpus.sh",
    )
}

/// Every clip of the held set, in manifest order.
pub fn clips() -> Vec<Clip> {
    let path = manifest();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let clips: Vec<Clip> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            let [wav, language, reference, english] = columns[..] else {
                panic!("manifest line without four columns: {line:?}");
            };
            Clip {
                wav: PathBuf::from(wav),
                language: language.to_string(),
                reference: reference.to_string(),
                english: english.to_string(),
            }
        })
        .collect();
    for (code, _) in LANGUAGES {
        let count = clips.iter().filter(|c| c.language == code).count();
        assert!(
            count >= 15,
            "{} holds {count} '{code}' clips; rebuild it with scripts/fetch-multilingual-corpus.sh",
            path.display()
        );
    }
    clips
}
