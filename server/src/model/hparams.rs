//! whisper.cpp's model hyper-parameters, derived from the CTranslate2 tensors themselves so that
//! every model size (tiny.en, base, ...) imports without a table of known shapes.

use super::convert;
use super::ct2::{Ct2Model, Variable};
use super::mapping::MappingError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: usize,
    pub n_audio_ctx: usize,
    pub n_audio_state: usize,
    pub n_audio_head: usize,
    pub n_audio_layer: usize,
    pub n_text_ctx: usize,
    pub n_text_state: usize,
    pub n_text_head: usize,
    pub n_text_layer: usize,
    pub n_mels: usize,
}

impl Hparams {
    /// The header's order; ggml's trailing `ftype` field is written by the writer.
    pub fn to_array(&self) -> [usize; 10] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
        ]
    }
}

pub fn derive(model: &Ct2Model) -> Result<Hparams, MappingError> {
    let [n_vocab, n_text_state] = dims(model, "decoder/embeddings/weight")?;
    let [n_audio_ctx, _] = dims(model, "encoder/position_encodings/encodings")?;
    let [n_text_ctx, _] = dims(model, "decoder/position_encodings/encodings")?;
    let conv1 = dims(model, CONV1)?;
    check_mel_bands(conv1)?;
    let [n_audio_state, n_mels, _] = conv1;
    Ok(Hparams {
        n_vocab,
        n_audio_ctx,
        n_audio_state,
        n_audio_head: scalar(model, "encoder/num_heads")?,
        n_audio_layer: layer_count(model, "encoder/")?,
        n_text_ctx,
        n_text_state,
        n_text_head: scalar(model, "decoder/num_heads")?,
        n_text_layer: layer_count(model, "decoder/")?,
        n_mels,
    })
}

/// The first convolution, `[n_audio_state, n_mels, kernel]`: where the mel band count is read.
const CONV1: &str = "encoder/conv1/weight";

/// Whisper models have 80 or 128 mel bands; the importer computes `n_mels` x 201 filter weights,
/// so a count from an empty (zero-width) tensor must not decide that allocation.
pub const MAX_MEL_BANDS: usize = 512;

fn check_mel_bands(conv1: [usize; 3]) -> Result<(), MappingError> {
    if (1..=MAX_MEL_BANDS).contains(&conv1[1]) {
        return Ok(());
    }
    Err(MappingError::BadShape {
        name: CONV1.into(),
        shape: conv1.to_vec(),
        expected: format!("between 1 and {MAX_MEL_BANDS} mel bands in its second dimension"),
    })
}

pub fn variable<'m, 'a>(
    model: &'m Ct2Model<'a>,
    name: &str,
) -> Result<&'m Variable<'a>, MappingError> {
    model
        .variables
        .get(name)
        .ok_or_else(|| MappingError::MissingTensor { name: name.into() })
}

fn dims<const N: usize>(model: &Ct2Model, name: &str) -> Result<[usize; N], MappingError> {
    let var = variable(model, name)?;
    var.shape
        .as_slice()
        .try_into()
        .map_err(|_| MappingError::BadShape {
            name: name.into(),
            shape: var.shape.clone(),
            expected: format!("{N} dimensions"),
        })
}

fn scalar(model: &Ct2Model, name: &str) -> Result<usize, MappingError> {
    let var = variable(model, name)?;
    convert::to_integer(var.dtype, var.data)
        .and_then(|v| usize::try_from(v).ok())
        .filter(|&v| v > 0)
        .ok_or_else(|| MappingError::BadShape {
            name: name.into(),
            shape: var.shape.clone(),
            expected: "a positive integer scalar".into(),
        })
}

/// One more than the highest `layer_N` under `prefix`; gaps surface later as missing tensors.
fn layer_count(model: &Ct2Model, prefix: &str) -> Result<usize, MappingError> {
    model
        .variables
        .keys()
        .filter_map(|name| name.strip_prefix(prefix)?.strip_prefix("layer_"))
        .filter_map(|rest| rest.split('/').next()?.parse::<usize>().ok())
        // Saturating: `layer_<usize::MAX>` is a (missing) layer gap, not an overflow.
        .map(|i| i.saturating_add(1))
        .max()
        .ok_or_else(|| MappingError::MissingTensor {
            name: format!("{prefix}layer_0"),
        })
}
