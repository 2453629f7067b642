//! The English words a translation of each held-set clip must contain, checked by hand against
//! both the clip's own transcript and the English prompt of the same name. Where the two differ
//! (the French "tt-allbusy" is a plain hold message, the English one a joke), the words follow
//! what the clip says. Each entry is a word stem with its alternatives, "beep|tone": a
//! translated word starting with any of them counts.

pub const KEY_WORDS: &[(&str, &[&str])] = &[
    ("es-agent-alreadyon", &["agent", "number"]),
    ("es-conf-getchannel", &["channel", "number"]),
    ("es-conf-leaderhasleft", &["leader", "conference"]),
    ("es-conf-now-unmuted", &["mute", "conference"]),
    ("es-conf-userswilljoin", &["user", "join", "conference"]),
    ("es-confbridge-dec-list-vol-in", &["volume", "participant"]),
    ("es-confbridge-inc-talk-vol-in", &["volume", "participant"]),
    ("es-confbridge-locked", &["conference", "lock|block"]),
    (
        "es-confbridge-only-participant",
        &["only", "participant", "conference"],
    ),
    (
        "es-confbridge-rest-list-vol-out",
        &["volume", "conference", "level|default"],
    ),
    (
        "es-demo-nogo",
        &["connection|connect", "server", "information", "console"],
    ),
    ("es-invalid", &["sorry", "extension"]),
    ("es-privacy-prompt", &["phone|telephone", "number"]),
    ("es-queue-youarenext", &["call", "first", "representative"]),
    ("es-vm-duration", &["duration|length|lasts", "message"]),
    ("es-vm-invalidpassword", &["password", "try"]),
    (
        "es-vm-newuser",
        &["welcome", "mail|voicemail", "configur|set"],
    ),
    ("es-vm-rec-unv", &["tone|beep", "record", "message"]),
    ("fr-agent-alreadyon", &["agent", "number"]),
    ("fr-call-fwd-no-ans", &["call", "answer|response|reply"]),
    (
        "fr-conf-invalid",
        &["conference", "number", "valid|invalid"],
    ),
    ("fr-conf-now-muted", &["conference", "mute|discre|silen"]),
    ("fr-conf-unlockednow", &["conference", "unlock"]),
    (
        "fr-confbridge-conf-end",
        &["conference", "end|finish|over|terminat|complete"],
    ),
    (
        "fr-confbridge-inc-talk-vol-out",
        &["volume", "voice", "participant"],
    ),
    ("fr-confbridge-mute-out", &["activat|enabl", "mode"]),
    (
        "fr-confbridge-rest-list-vol-in",
        &["volume", "conference", "level|default"],
    ),
    (
        "fr-demo-enterkeywords",
        &["key", "separat", "star", "press"],
    ),
    (
        "fr-dir-nomore",
        &["entr", "selection", "directory|repertoire|repertory"],
    ),
    (
        "fr-pbx-invalidpark",
        &["sorry", "call", "wait|hold|pending"],
    ),
    (
        "fr-privacy-incorrect",
        &["sorry", "number", "valid|invalid"],
    ),
    ("fr-queue-thereare", &["call", "number"]),
    (
        "fr-tt-allbusy",
        &["busy|occupied", "call", "important", "priority"],
    ),
    (
        "fr-vm-intro",
        &["message", "beep|tone|signal|sound", "hang", "press"],
    ),
    (
        "fr-vm-newuser",
        &["welcome", "configur|set", "mail|voice|box"],
    ),
    (
        "fr-vm-rec-temp",
        &["beep|tone|signal", "record", "temporar", "message", "press"],
    ),
];

/// The required words of the clip named `name`; a clip without an entry is a manifest this
/// table was not checked against.
pub fn for_clip(name: &str) -> &'static [&'static str] {
    KEY_WORDS
        .iter()
        .find(|(clip, _)| *clip == name)
        .map(|(_, words)| *words)
        .unwrap_or_else(|| {
            panic!("no key words for {name}: the held set changed; check its translations by hand")
        })
}

/// Whether the translation's words hold the required word: one of them starts with one of its
/// alternatives.
pub fn present(required: &str, translation: &[String]) -> bool {
    required
        .split('|')
        .any(|stem| translation.iter().any(|word| word.starts_with(stem)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_counts_when_any_alternative_starts_it() {
        let words = ["the", "conferences", "ended"].map(String::from);
        assert!(present("conference", &words));
        assert!(present("end|finish", &words));
        assert!(!present("volume", &words));
        assert!(!present("ending", &words));
    }
}
