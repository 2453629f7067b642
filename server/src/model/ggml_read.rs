//! Reader for whisper.cpp's legacy ggml model file, the counterpart of `ggml::write`: it splits
//! a file into the header (kept as bytes) and its tensors (borrowed), so that `requantize` can
//! re-encode the weight matrices of a model it did not import itself.

use std::borrow::Cow;

use super::ggml::{FTYPE_OFFSET, MAGIC};
use super::mapping::{Element, Tensor};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GgmlReadError {
    #[error("not a ggml Whisper model file (its first 4 bytes are {0:#010x})")]
    Magic(u32),
    #[error("the file ends inside {0}")]
    Truncated(&'static str),
    #[error("{what} is {value}, which a model file cannot hold")]
    BadCount { what: &'static str, value: i32 },
    #[error("tensor {name:?} has ggml type {ttype}; only f32 and f16 files are read")]
    UnsupportedType { name: String, ttype: i32 },
}

/// A model file split into its parts.
#[derive(Debug)]
pub struct GgmlFile<'a> {
    /// Everything before the first tensor: magic, hyper-parameters, mel filters, vocabulary.
    pub header: &'a [u8],
    pub tensors: Vec<Tensor<'a>>,
}

/// The ftype of a model file, read from its header alone: 1 for f16 weights, 0 for f32,
/// above 1000 for quantised files.
pub fn ftype(file: &[u8]) -> Result<i32, GgmlReadError> {
    let mut cursor = Cursor { buf: file, pos: 0 };
    let magic = cursor.i32("the magic")? as u32;
    if magic != MAGIC {
        return Err(GgmlReadError::Magic(magic));
    }
    cursor.pos = FTYPE_OFFSET;
    cursor.i32("the hyper-parameters")
}

/// Splits a model file whose tensors are f32 or f16 (whisper.cpp's converter writes those).
pub fn read(file: &[u8]) -> Result<GgmlFile<'_>, GgmlReadError> {
    ftype(file)?;
    let mut cursor = Cursor {
        buf: file,
        pos: FTYPE_OFFSET + 4,
    };
    let n_mels = cursor.count("the mel filter count")?;
    let n_fft = cursor.count("the mel filter width")?;
    cursor.skip(4 * n_mels * n_fft, "the mel filters")?;
    let n_vocab = cursor.count("the vocabulary size")?;
    for _ in 0..n_vocab {
        let len = cursor.count("a token length")?;
        cursor.skip(len, "the vocabulary")?;
    }
    let header = &file[..cursor.pos];
    let mut tensors = Vec::new();
    while cursor.pos < file.len() {
        tensors.push(cursor.tensor()?);
    }
    Ok(GgmlFile { header, tensors })
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], GgmlReadError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.buf.len())
            .ok_or(GgmlReadError::Truncated(what))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn skip(&mut self, len: usize, what: &'static str) -> Result<(), GgmlReadError> {
        self.take(len, what).map(|_| ())
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, GgmlReadError> {
        let bytes = self.take(4, what)?;
        Ok(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// A non-negative i32, as every count and dimension of the format is.
    fn count(&mut self, what: &'static str) -> Result<usize, GgmlReadError> {
        let value = self.i32(what)?;
        usize::try_from(value).map_err(|_| GgmlReadError::BadCount { what, value })
    }

    fn tensor(&mut self) -> Result<Tensor<'a>, GgmlReadError> {
        let n_dims = self.count("a tensor header")?;
        if !(1..=4).contains(&n_dims) {
            return Err(GgmlReadError::BadCount {
                what: "a tensor's dimension count",
                value: n_dims as i32,
            });
        }
        let name_len = self.count("a tensor header")?;
        let ttype = self.i32("a tensor header")?;
        // ggml lists dimensions innermost first; `Tensor` keeps the outermost first.
        let mut shape = (0..n_dims)
            .map(|_| self.count("a tensor's dimensions"))
            .collect::<Result<Vec<_>, _>>()?;
        shape.reverse();
        let name = String::from_utf8_lossy(self.take(name_len, "a tensor name")?).into_owned();
        let element = match ttype {
            0 => Element::F32,
            1 => Element::F16,
            _ => return Err(GgmlReadError::UnsupportedType { name, ttype }),
        };
        let elements = shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or(GgmlReadError::Truncated("a tensor's data"))?;
        let data = self.take(element.bytes_for(elements), "a tensor's data")?;
        Ok(Tensor {
            name,
            shape,
            element,
            data: Cow::Borrowed(data),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::ggml;
    use super::super::hparams::Hparams;
    use super::super::mel::MelFilters;
    use super::super::quantize::Weights;
    use super::*;

    fn tensor(name: &str, shape: Vec<usize>, element: Element) -> Tensor<'static> {
        let elements: usize = shape.iter().product();
        let data = (0..element.bytes_for(elements)).map(|i| i as u8).collect();
        Tensor {
            name: name.into(),
            shape,
            element,
            data: Cow::Owned(data),
        }
    }

    /// A small model file written by `ggml::write`: the reader must give back what it wrote.
    fn model_file(tensors: &[Tensor]) -> Vec<u8> {
        let hp = Hparams {
            n_vocab: 2,
            n_audio_ctx: 4,
            n_audio_state: 8,
            n_audio_head: 1,
            n_audio_layer: 1,
            n_text_ctx: 4,
            n_text_state: 8,
            n_text_head: 1,
            n_text_layer: 1,
            n_mels: 2,
        };
        let mel = MelFilters {
            n_mels: 2,
            n_bins: 3,
            data: vec![0.25; 6],
        };
        let vocab = [b"a".to_vec(), b"bc".to_vec()];
        let mut out = Vec::new();
        ggml::write(&mut out, &hp, &mel, &vocab, Weights::F16, tensors).expect("in memory");
        out
    }

    #[test]
    fn reads_back_what_the_writer_wrote() {
        let written = [
            tensor("encoder.conv1.weight", vec![8, 2, 3], Element::F16),
            tensor("encoder.conv1.bias", vec![8], Element::F32),
            tensor("decoder.token_embedding.weight", vec![2, 8], Element::F16),
        ];
        let file = model_file(&written);
        assert_eq!(ftype(&file), Ok(1));
        let parsed = read(&file).expect("a valid file");
        assert_eq!(parsed.tensors.len(), written.len());
        for (got, want) in parsed.tensors.iter().zip(&written) {
            assert_eq!(
                (&got.name, &got.shape, got.element, &got.data),
                (&want.name, &want.shape, want.element, &want.data)
            );
        }
        // Header plus the same tensors is the same file.
        let mut again = Vec::new();
        ggml::rewrite(&mut again, parsed.header, Weights::F16, &parsed.tensors).expect("memory");
        assert_eq!(again, file);
    }

    #[test]
    fn a_file_that_is_not_a_model_is_refused_by_its_magic() {
        assert_eq!(
            ftype(b"GGUF\x03\0\0\0 and more bytes than a header needs............"),
            Err(GgmlReadError::Magic(u32::from_le_bytes(*b"GGUF")))
        );
        assert_eq!(ftype(b"gg"), Err(GgmlReadError::Truncated("the magic")));
    }

    #[test]
    fn a_cut_file_is_refused_and_says_where_it_ends() {
        let file = model_file(&[tensor("w", vec![2, 8], Element::F16)]);
        assert_eq!(
            read(&file[..file.len() - 1]).map(|f| f.tensors.len()),
            Err(GgmlReadError::Truncated("a tensor's data"))
        );
        assert_eq!(
            read(&file[..60]).map(|f| f.tensors.len()),
            Err(GgmlReadError::Truncated("the mel filters"))
        );
    }

    #[test]
    fn quantised_tensors_are_not_read() {
        let file = model_file(&[tensor("w", vec![1, 32], Element::Q8_0)]);
        assert_eq!(
            read(&file).map(|f| f.tensors.len()),
            Err(GgmlReadError::UnsupportedType {
                name: "w".into(),
                ttype: 8
            })
        );
    }
}
