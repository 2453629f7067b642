//! Writer for whisper.cpp's legacy ggml model file (the format `whisper_model_load` reads).
//!
//! Layout, all little-endian: magic, 11 i32 hyper-parameters (the last is the ftype, `Weights`),
//! the mel filter bank, the vocabulary, then each tensor as a header followed by its data.

use std::io::{self, Write};

use super::hparams::Hparams;
use super::mapping::Tensor;
use super::mel::MelFilters;
use super::quantize::Weights;

pub(super) const MAGIC: u32 = 0x6767_6d6c;
/// Byte offset of the ftype: after the magic and the other 10 hyper-parameters.
pub(super) const FTYPE_OFFSET: usize = 4 + 10 * 4;

/// Writes a complete model; returns the number of bytes written.
pub fn write<W: Write + ?Sized>(
    out: &mut W,
    hp: &Hparams,
    mel: &MelFilters,
    vocab: &[Vec<u8>],
    weights: Weights,
    tensors: &[Tensor],
) -> io::Result<u64> {
    let mut w = Counting { out, written: 0 };
    w.bytes(&MAGIC.to_le_bytes())?;
    for value in hp.to_array().into_iter().chain([weights.ftype()]) {
        w.i32(value)?;
    }

    w.i32(mel.n_mels)?;
    w.i32(mel.n_bins)?;
    let mel_bytes: Vec<u8> = mel.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    w.bytes(&mel_bytes)?;

    w.i32(vocab.len())?;
    for token in vocab {
        w.i32(token.len())?;
        w.bytes(token)?;
    }

    for tensor in tensors {
        write_tensor(&mut w, tensor)?;
    }
    Ok(w.written)
}

/// whisper.cpp's name for the one VAD model it runs.
const VAD_MODEL_TYPE: &str = "silero-16k";
/// Silero's 16 kHz hyper-parameters as whisper.cpp's VAD file states them: window and context
/// samples, then each of the four encoder convolutions (in, out, kernel), then the LSTM's input
/// and hidden sizes and the final convolution's in and out. whisper.cpp's graph assumes these.
const SILERO_16K_HPARAMS: [usize; 19] = [
    512, 64, 4, 129, 128, 3, 128, 64, 3, 64, 64, 3, 64, 128, 3, 128, 128, 128, 1,
];

/// Writes a VAD model (`whisper_vad_init_from_file_with_params` reads it): magic, model type,
/// Silero's version, the hyper-parameters, then `tensors`; returns the bytes written.
pub fn write_vad<W: Write + ?Sized>(
    out: &mut W,
    version: [usize; 3],
    tensors: &[Tensor],
) -> io::Result<u64> {
    let mut w = Counting { out, written: 0 };
    w.bytes(&MAGIC.to_le_bytes())?;
    w.i32(VAD_MODEL_TYPE.len())?;
    w.bytes(VAD_MODEL_TYPE.as_bytes())?;
    for value in version.into_iter().chain(SILERO_16K_HPARAMS) {
        w.i32(value)?;
    }
    for tensor in tensors {
        write_tensor(&mut w, tensor)?;
    }
    Ok(w.written)
}

/// Writes one tensor record: its header, then its data.
fn write_tensor<W: Write + ?Sized>(w: &mut Counting<'_, W>, tensor: &Tensor) -> io::Result<()> {
    w.i32(tensor.shape.len())?;
    w.i32(tensor.name.len())?;
    w.i32(tensor.element.ggml_type())?;
    // ggml lists dimensions innermost first.
    for &dim in tensor.shape.iter().rev() {
        w.i32(dim)?;
    }
    w.bytes(tensor.name.as_bytes())?;
    w.bytes(&tensor.data)
}

/// Writes `header` (a model file's bytes before its first tensor) with its ftype set to
/// `weights`, then `tensors`: an existing model re-encoded (`requantize`).
pub fn rewrite<W: Write + ?Sized>(
    out: &mut W,
    header: &[u8],
    weights: Weights,
    tensors: &[Tensor],
) -> io::Result<u64> {
    let mut w = Counting { out, written: 0 };
    w.bytes(&header[..FTYPE_OFFSET])?;
    w.i32(weights.ftype())?;
    w.bytes(&header[FTYPE_OFFSET + 4..])?;
    for tensor in tensors {
        write_tensor(&mut w, tensor)?;
    }
    Ok(w.written)
}

struct Counting<'w, W: ?Sized> {
    out: &'w mut W,
    written: u64,
}

impl<W: Write + ?Sized> Counting<'_, W> {
    fn bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn i32(&mut self, value: usize) -> io::Result<()> {
        let value = i32::try_from(value).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{value} does not fit the ggml header's i32"),
            )
        })?;
        self.bytes(&value.to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::super::mapping::Element;
    use super::*;

    #[test]
    fn writes_header_mel_vocab_and_tensor_in_order() {
        let hp = Hparams {
            n_vocab: 3,
            n_audio_ctx: 4,
            n_audio_state: 5,
            n_audio_head: 6,
            n_audio_layer: 7,
            n_text_ctx: 8,
            n_text_state: 9,
            n_text_head: 10,
            n_text_layer: 11,
            n_mels: 1,
        };
        let mel = MelFilters {
            n_mels: 1,
            n_bins: 2,
            data: vec![0.5, 1.0],
        };
        let tensor = Tensor {
            name: "t".into(),
            shape: vec![2, 1],
            element: Element::F16,
            data: Cow::Borrowed(&[1, 2, 3, 4]),
        };
        let mut out = Vec::new();
        let n = write(
            &mut out,
            &hp,
            &mel,
            &[b"hi".to_vec()],
            Weights::F16,
            &[tensor],
        )
        .expect("in memory");
        assert_eq!(n, out.len() as u64);

        let words: Vec<i32> = out[..4 * 16]
            .chunks(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(words[0] as u32, MAGIC);
        assert_eq!(&words[1..12], &[3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 1]);
        assert_eq!(&words[12..14], &[1, 2]);
        assert_eq!(f32::from_bits(words[14] as u32), 0.5);
        let rest = &out[4 * 16..];
        let mut want = Vec::new();
        for v in [1i32, 2] {
            want.extend_from_slice(&v.to_le_bytes()); // vocab count, token length
        }
        want.extend_from_slice(b"hi");
        for v in [2i32, 1, 1, 1, 2] {
            want.extend_from_slice(&v.to_le_bytes()); // n_dims, name len, f16, dims reversed
        }
        want.extend_from_slice(b"t");
        want.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(rest, &want[..]);
    }

    #[test]
    fn a_vad_file_has_whisper_cpps_106_byte_header_then_its_tensors() {
        let scalar = Tensor {
            name: "b".into(),
            shape: vec![],
            element: Element::F32,
            data: Cow::Borrowed(&[0, 0, 128, 63]),
        };
        let mut out = Vec::new();
        let n = write_vad(&mut out, [6, 2, 0], &[scalar]).expect("in memory");
        assert_eq!(n, out.len() as u64);
        assert_eq!(&out[..4], &MAGIC.to_le_bytes());
        assert_eq!(&out[4..8], &10i32.to_le_bytes());
        assert_eq!(&out[8..18], b"silero-16k");
        let words: Vec<i32> = out[18..106]
            .chunks(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(&words[..5], &[6, 2, 0, 512, 64]);
        assert_eq!(&words[18..], &[128, 128, 128, 1]);
        // A 0-d tensor: no dimensions, then its name and one f32.
        let tensor: Vec<i32> = out[106..118]
            .chunks(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(tensor, [0, 1, 0]);
        assert_eq!(&out[118..], b"b\0\0\x80?");
    }
}
