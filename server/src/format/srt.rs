//! SubRip subtitles.

use super::clock;
use crate::engine::transcript::Transcript;

fn timestamp(seconds: f64) -> String {
    let (h, m, s, ms) = clock(seconds);
    format!("{h:02}:{m:02}:{s:02},{ms:03}")
}

pub fn render(transcript: &Transcript) -> String {
    transcript
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "{}\n{} --> {}\n{}\n\n",
                i + 1,
                timestamp(s.start),
                timestamp(s.end),
                s.text.trim()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::fixture;

    #[test]
    fn numbers_cues_from_one_with_comma_millis() {
        let srt = render(&fixture::transcript());
        assert!(srt.starts_with("1\n00:00:00,000 --> 00:00:01,500\nHello world.\n\n2\n"));
        assert!(srt.contains("01:02:05,000 --> 01:02:06,500\nBye."));
    }
}
