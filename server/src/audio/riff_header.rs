//! The sample rate and channel count a WAV file's header declares, read before the decoder
//! sees the file: symphonia refuses a WAV with more channels than it has positions for (27 and
//! up without a channel mask) as "invalid channel count", without the number, and the client
//! should hear which value is wrong.

/// `(sample_rate, channels)` from the `fmt ` chunk of a RIFF/WAVE file; `None` for anything
/// else or a header too short to say.
pub fn declared_shape(bytes: &[u8]) -> Option<(u32, usize)> {
    if bytes.get(0..4)? != b"RIFF" || bytes.get(8..12)? != b"WAVE" {
        return None;
    }
    let mut at = 12;
    loop {
        let id = bytes.get(at..at + 4)?;
        let len = u32::from_le_bytes(bytes.get(at + 4..at + 8)?.try_into().ok()?);
        let body = at + 8;
        if id == b"fmt " {
            let field = |from: usize, width: usize| bytes.get(body + from..body + from + width);
            let channels = u16::from_le_bytes(field(2, 2)?.try_into().ok()?);
            let rate = u32::from_le_bytes(field(4, 4)?.try_into().ok()?);
            return Some((rate, usize::from(channels)));
        }
        // Chunks are padded to an even length.
        at = body.checked_add(usize::try_from(len).ok()?.next_multiple_of(2))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_head(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
        let mut out = b"RIFF\0\0\0\0WAVE".to_vec();
        for (id, body) in chunks {
            out.extend_from_slice(*id);
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(body);
            if body.len() % 2 == 1 {
                out.push(0);
            }
        }
        out
    }

    fn fmt(channels: u16, rate: u32) -> Vec<u8> {
        let mut body = 1u16.to_le_bytes().to_vec();
        body.extend_from_slice(&channels.to_le_bytes());
        body.extend_from_slice(&rate.to_le_bytes());
        body.extend_from_slice(&[0; 8]);
        body
    }

    #[test]
    fn reads_the_fmt_chunk_after_other_chunks() {
        let file = wav_head(&[(b"LIST", vec![1, 2, 3]), (b"fmt ", fmt(40, 44_100))]);
        assert_eq!(declared_shape(&file), Some((44_100, 40)));
    }

    #[test]
    fn other_files_and_short_headers_say_nothing() {
        assert_eq!(declared_shape(b"fLaC\0\0\0\x22"), None);
        assert_eq!(declared_shape(b"RIFF\0\0\0\0WAVEfmt "), None);
        assert_eq!(declared_shape(&wav_head(&[(b"LIST", vec![0; 5])])), None);
        assert_eq!(declared_shape(&[]), None);
    }
}
