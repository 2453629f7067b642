//! WebVTT subtitles.

use super::clock;
use crate::engine::transcript::Transcript;

fn timestamp(seconds: f64) -> String {
    let (h, m, s, ms) = clock(seconds);
    format!("{h:02}:{m:02}:{s:02}.{ms:03}")
}

pub fn render(transcript: &Transcript) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for s in &transcript.segments {
        out.push_str(&format!(
            "{} --> {}\n{}\n\n",
            timestamp(s.start),
            timestamp(s.end),
            s.text.trim()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::fixture;

    #[test]
    fn starts_with_header_and_uses_dot_millis() {
        let vtt = render(&fixture::transcript());
        assert!(vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello world.\n"));
    }
}
