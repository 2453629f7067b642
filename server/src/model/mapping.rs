//! CTranslate2 variable names → whisper.cpp tensor names, in the order OpenAI's checkpoints list
//! them (so the output is byte-identical to the reference converter's).
//!
//! CTranslate2 fuses attention projections: self-attention `linear_0` is Q|K|V and cross-attention
//! `linear_1` is K|V, split here along the outer dimension. Whisper has no key bias: CTranslate2
//! stores zeros there, and anything else would be silently lost, so it is an error.

use std::borrow::Cow;

use super::convert;
use super::ct2::{Ct2Model, DType, Variable};
use super::hparams::{Hparams, variable};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MappingError {
    #[error("missing tensor {name:?}")]
    MissingTensor { name: String },
    #[error("tensor {name:?} has shape {shape:?}, expected {expected}")]
    BadShape {
        name: String,
        shape: Vec<usize>,
        expected: String,
    },
    #[error("tensor {name:?} has dtype {dtype:?}; only f32, f16 and bf16 weights can be imported")]
    UnsupportedDtype { name: String, dtype: DType },
    #[error("key bias {name:?} is not zero; whisper.cpp has no key bias")]
    NonZeroKeyBias { name: String },
    #[error(
        "decoder/projection/weight is not tied to decoder/embeddings/weight, as whisper.cpp requires"
    )]
    UntiedProjection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Element {
    F32,
    F16,
    /// ggml's q8_0 blocks (`quantize`).
    Q8_0,
    /// ggml's q4_0 blocks: 32 weights in 4 bits and an f16 scale.
    Q4_0,
}

/// Weights per block of ggml's q8_0 and q4_0 alike.
pub(super) const QUANT_BLOCK: usize = 32;
/// Bytes per q8_0 block: an f16 scale and 32 i8.
pub(super) const Q8_0_BLOCK_BYTES: usize = 2 + QUANT_BLOCK;
/// Bytes per q4_0 block: an f16 scale and 32 nibbles.
pub(super) const Q4_0_BLOCK_BYTES: usize = 2 + QUANT_BLOCK / 2;

impl Element {
    /// The `ggml_type` number a model file stores for this element type.
    pub fn ggml_type(self) -> usize {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q8_0 => 8,
            Self::Q4_0 => 2,
        }
    }

    /// Bytes of `elements` values of this type (quantised types: whole blocks of 32).
    pub fn bytes_for(self, elements: usize) -> usize {
        match self {
            Self::F32 => elements.saturating_mul(4),
            Self::F16 => elements.saturating_mul(2),
            Self::Q8_0 => elements
                .div_ceil(QUANT_BLOCK)
                .saturating_mul(Q8_0_BLOCK_BYTES),
            Self::Q4_0 => elements
                .div_ceil(QUANT_BLOCK)
                .saturating_mul(Q4_0_BLOCK_BYTES),
        }
    }
}

#[derive(Debug)]
pub struct Tensor<'a> {
    pub name: String,
    /// Outermost dimension first.
    pub shape: Vec<usize>,
    pub element: Element,
    /// Little-endian elements of `element`'s type.
    pub data: Cow<'a, [u8]>,
}

/// Every tensor whisper.cpp loads, converted to the element type it expects.
pub fn ggml_tensors<'a>(
    model: &Ct2Model<'a>,
    hp: &Hparams,
) -> Result<Vec<Tensor<'a>>, MappingError> {
    check_tied_projection(model)?;
    let mut b = Builder {
        model,
        out: Vec::new(),
    };
    b.f32(
        "encoder.positional_embedding",
        "encoder/position_encodings/encodings",
    )?;
    for conv in ["conv1", "conv2"] {
        b.f16(
            &format!("encoder.{conv}.weight"),
            &format!("encoder/{conv}/weight"),
        )?;
        b.column(
            &format!("encoder.{conv}.bias"),
            &format!("encoder/{conv}/bias"),
        )?;
    }
    for i in 0..hp.n_audio_layer {
        let (ct2, ggml) = (
            format!("encoder/layer_{i}/"),
            format!("encoder.blocks.{i}."),
        );
        b.self_attention(&ct2, &ggml)?;
        b.mlp(&ct2, &ggml)?;
    }
    b.norm("encoder.ln_post", "encoder/layer_norm")?;
    b.f32(
        "decoder.positional_embedding",
        "decoder/position_encodings/encodings",
    )?;
    b.f16(
        "decoder.token_embedding.weight",
        "decoder/embeddings/weight",
    )?;
    for i in 0..hp.n_text_layer {
        let (ct2, ggml) = (
            format!("decoder/layer_{i}/"),
            format!("decoder.blocks.{i}."),
        );
        b.self_attention(&ct2, &ggml)?;
        b.cross_attention(&ct2, &ggml)?;
        b.mlp(&ct2, &ggml)?;
    }
    b.norm("decoder.ln", "decoder/layer_norm")?;
    Ok(b.out)
}

/// whisper.cpp computes logits with the token embedding, so the projection must be that tensor.
fn check_tied_projection(model: &Ct2Model) -> Result<(), MappingError> {
    let tied = model
        .aliases
        .get("decoder/projection/weight")
        .map(String::as_str)
        == Some("decoder/embeddings/weight");
    if tied && !model.variables.contains_key("decoder/projection/bias") {
        Ok(())
    } else {
        Err(MappingError::UntiedProjection)
    }
}

struct Builder<'m, 'a> {
    model: &'m Ct2Model<'a>,
    out: Vec<Tensor<'a>>,
}

impl<'a> Builder<'_, 'a> {
    fn var(&self, name: &str) -> Result<Variable<'a>, MappingError> {
        variable(self.model, name).cloned()
    }

    fn self_attention(&mut self, ct2: &str, ggml: &str) -> Result<(), MappingError> {
        self.norm(
            &format!("{ggml}attn_ln"),
            &format!("{ct2}self_attention/layer_norm"),
        )?;
        let w = self.var(&format!("{ct2}self_attention/linear_0/weight"))?;
        let bias_name = format!("{ct2}self_attention/linear_0/bias");
        let bias = self.var(&bias_name)?;
        let [q_w, k_w, v_w] = split(&w, &format!("{ct2}self_attention/linear_0/weight"))?;
        let [q_b, k_b, v_b] = split(&bias, &bias_name)?;
        check_zero(&k_b, &bias_name)?;
        self.push_f16(format!("{ggml}attn.query.weight"), q_w)?;
        self.push_f32(format!("{ggml}attn.query.bias"), q_b)?;
        self.push_f16(format!("{ggml}attn.key.weight"), k_w)?;
        self.push_f16(format!("{ggml}attn.value.weight"), v_w)?;
        self.push_f32(format!("{ggml}attn.value.bias"), v_b)?;
        self.linear(
            &format!("{ggml}attn.out"),
            &format!("{ct2}self_attention/linear_1"),
        )
    }

    fn cross_attention(&mut self, ct2: &str, ggml: &str) -> Result<(), MappingError> {
        let (ct2, ggml) = (format!("{ct2}attention/"), format!("{ggml}cross_attn"));
        self.norm(&format!("{ggml}_ln"), &format!("{ct2}layer_norm"))?;
        self.linear(&format!("{ggml}.query"), &format!("{ct2}linear_0"))?;
        let w = self.var(&format!("{ct2}linear_1/weight"))?;
        let bias_name = format!("{ct2}linear_1/bias");
        let bias = self.var(&bias_name)?;
        let [k_w, v_w] = split(&w, &format!("{ct2}linear_1/weight"))?;
        let [k_b, v_b] = split(&bias, &bias_name)?;
        check_zero(&k_b, &bias_name)?;
        self.push_f16(format!("{ggml}.key.weight"), k_w)?;
        self.push_f16(format!("{ggml}.value.weight"), v_w)?;
        self.push_f32(format!("{ggml}.value.bias"), v_b)?;
        self.linear(&format!("{ggml}.out"), &format!("{ct2}linear_2"))
    }

    fn mlp(&mut self, ct2: &str, ggml: &str) -> Result<(), MappingError> {
        self.norm(&format!("{ggml}mlp_ln"), &format!("{ct2}ffn/layer_norm"))?;
        self.linear(&format!("{ggml}mlp.0"), &format!("{ct2}ffn/linear_0"))?;
        self.linear(&format!("{ggml}mlp.2"), &format!("{ct2}ffn/linear_1"))
    }

    fn linear(&mut self, ggml: &str, ct2: &str) -> Result<(), MappingError> {
        self.f16(&format!("{ggml}.weight"), &format!("{ct2}/weight"))?;
        self.f32(&format!("{ggml}.bias"), &format!("{ct2}/bias"))
    }

    fn norm(&mut self, ggml: &str, ct2: &str) -> Result<(), MappingError> {
        self.f32(&format!("{ggml}.weight"), &format!("{ct2}/gamma"))?;
        self.f32(&format!("{ggml}.bias"), &format!("{ct2}/beta"))
    }

    fn f16(&mut self, ggml: &str, ct2: &str) -> Result<(), MappingError> {
        let var = self.var(ct2)?;
        self.push_f16(ggml.into(), var)
    }

    fn f32(&mut self, ggml: &str, ct2: &str) -> Result<(), MappingError> {
        let var = self.var(ct2)?;
        self.push_f32(ggml.into(), var)
    }

    /// Conv biases become [n, 1] so that ggml broadcasts them over time.
    fn column(&mut self, ggml: &str, ct2: &str) -> Result<(), MappingError> {
        let mut var = self.var(ct2)?;
        var.shape.push(1);
        self.push_f32(ggml.into(), var)
    }

    fn push_f16(&mut self, name: String, var: Variable<'a>) -> Result<(), MappingError> {
        let data =
            convert::to_f16_bytes(var.dtype, var.data).ok_or_else(|| unsupported(&name, &var))?;
        self.out.push(Tensor {
            name,
            shape: var.shape,
            element: Element::F16,
            data,
        });
        Ok(())
    }

    fn push_f32(&mut self, name: String, var: Variable<'a>) -> Result<(), MappingError> {
        let data =
            convert::to_f32_bytes(var.dtype, var.data).ok_or_else(|| unsupported(&name, &var))?;
        self.out.push(Tensor {
            name,
            shape: var.shape,
            element: Element::F32,
            data,
        });
        Ok(())
    }
}

fn unsupported(name: &str, var: &Variable) -> MappingError {
    MappingError::UnsupportedDtype {
        name: name.into(),
        dtype: var.dtype,
    }
}

/// Splits a fused projection into `N` equal parts along its outermost dimension.
fn split<'a, const N: usize>(
    var: &Variable<'a>,
    name: &str,
) -> Result<[Variable<'a>; N], MappingError> {
    let rows = var.shape.first().copied().unwrap_or(0);
    if rows == 0 || rows % N != 0 {
        return Err(MappingError::BadShape {
            name: name.into(),
            shape: var.shape.clone(),
            expected: format!("an outer dimension divisible into {N} parts"),
        });
    }
    let part_bytes = var.data.len() / N;
    let mut shape = var.shape.clone();
    shape[0] = rows / N;
    Ok(std::array::from_fn(|i| Variable {
        shape: shape.clone(),
        dtype: var.dtype,
        data: &var.data[i * part_bytes..(i + 1) * part_bytes],
    }))
}

fn check_zero(bias: &Variable, name: &str) -> Result<(), MappingError> {
    let values = convert::to_f32(bias.dtype, bias.data).ok_or_else(|| unsupported(name, bias))?;
    if values.iter().all(|&v| v == 0.0) {
        Ok(())
    } else {
        Err(MappingError::NonZeroKeyBias { name: name.into() })
    }
}
