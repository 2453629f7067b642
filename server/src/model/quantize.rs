//! Weight quantisation with ggml's own quantiser (the code whisper.cpp's `quantize` tool runs).
//!
//! Only the 2-D matrices whisper.cpp creates with the model's weight type are quantised: the
//! linear layers and the token embedding. Convolutions (3-D), biases, norms and positional
//! embeddings keep their types, as whisper.cpp's loader expects.

use std::borrow::Cow;

use whisper_rs::whisper_rs_sys as sys;

use super::convert;
use super::ct2::DType;
use super::mapping::{Element, QUANT_BLOCK, Tensor};

/// How the import stores the weight matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Weights {
    /// As the checkpoint holds them (whisper.cpp's own converter does the same).
    #[default]
    F16,
    /// 8-bit blocks of 32 with one f16 scale each: about half the bytes of f16.
    #[value(name = "q8_0")]
    Q8_0,
    /// 4-bit blocks of 32 with one f16 scale each. ggml repacks them for its 8x8 integer
    /// matrix kernels on AVX2 CPUs.
    #[value(name = "q4_0")]
    Q4_0,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QuantizeError {
    #[error("tensor {name:?}: shape {shape:?} holds no weights")]
    Empty { name: String, shape: Vec<usize> },
    #[error(
        "tensor {name:?}: rows of {row} weights are not a whole number of quantised blocks of 32"
    )]
    RowNotBlockAligned { name: String, row: usize },
    #[error("tensor {name:?}: {bytes} bytes are not the f16 data of shape {shape:?}")]
    DataSize {
        name: String,
        bytes: usize,
        shape: Vec<usize>,
    },
    #[error("tensor {name:?}: ggml wrote {written} bytes where {expected} were expected")]
    UnexpectedSize {
        name: String,
        written: usize,
        expected: usize,
    },
}

impl Weights {
    /// What the server runs with unless told otherwise: q8_0 on the CPU, where the decoder is
    /// bound by reading weights; f16 in the CUDA build (q8_0's gain there is unmeasured).
    pub fn default_for_serving() -> Self {
        if cfg!(feature = "cuda") {
            Self::F16
        } else {
            Self::Q8_0
        }
    }

    /// The file header's ftype: ggml's `GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR` plus the
    /// `ggml_ftype` for quantised files, plain 1 (mostly f16) otherwise.
    pub fn ftype(self) -> usize {
        match self {
            Self::F16 => 1,
            Self::Q8_0 => 2 * 1000 + 7,
            Self::Q4_0 => 2 * 1000 + 2,
        }
    }

    /// The element type its matrices are quantised to; none for f16.
    fn quantised(self) -> Option<Element> {
        match self {
            Self::F16 => None,
            Self::Q8_0 => Some(Element::Q8_0),
            Self::Q4_0 => Some(Element::Q4_0),
        }
    }

    /// `tensor` as this weight type wants it: quantised when it is a 2-D f16 matrix.
    pub fn apply<'a>(self, tensor: Tensor<'a>) -> Result<Tensor<'a>, QuantizeError> {
        match self.quantised() {
            Some(element) if tensor.shape.len() == 2 && tensor.element == Element::F16 => {
                quantise(tensor, element)
            }
            _ => Ok(tensor),
        }
    }
}

fn quantise(tensor: Tensor<'_>, element: Element) -> Result<Tensor<'static>, QuantizeError> {
    let (rows, row) = (tensor.shape[0], tensor.shape[1]);
    // ggml divides by the row length.
    if rows == 0 || row == 0 {
        return Err(QuantizeError::Empty {
            name: tensor.name,
            shape: tensor.shape,
        });
    }
    if row % QUANT_BLOCK != 0 {
        return Err(QuantizeError::RowNotBlockAligned {
            name: tensor.name,
            row,
        });
    }
    // ggml reads rows * row floats: anything shorter must stop here.
    let Some(weights) = convert::to_f32(DType::F16, &tensor.data).filter(|w| w.len() == rows * row)
    else {
        return Err(QuantizeError::DataSize {
            name: tensor.name,
            bytes: tensor.data.len(),
            shape: tensor.shape,
        });
    };
    let expected = element.bytes_for(rows * row);
    let mut out = vec![0u8; expected];
    // SAFETY: `weights` holds rows * row f32s and `out` the quantised size of as many; these
    // block types need no importance matrix, so null is allowed.
    let written = unsafe {
        sys::ggml_quantize_chunk(
            // The number a model file stores is ggml's own `ggml_type` (0 to 39).
            element.ggml_type() as sys::ggml_type,
            weights.as_ptr(),
            out.as_mut_ptr().cast(),
            0,
            rows as i64,
            row as i64,
            std::ptr::null(),
        )
    };
    if written != expected {
        return Err(QuantizeError::UnexpectedSize {
            name: tensor.name,
            written,
            expected,
        });
    }
    Ok(Tensor {
        name: tensor.name,
        shape: tensor.shape,
        element,
        data: Cow::Owned(out),
    })
}

#[cfg(test)]
mod tests {
    use super::super::mapping::{Q4_0_BLOCK_BYTES, Q8_0_BLOCK_BYTES};
    use super::*;

    fn f16_tensor(shape: Vec<usize>, values: &[f32]) -> Tensor<'static> {
        Tensor {
            name: "w".into(),
            shape,
            element: Element::F16,
            data: Cow::Owned(
                values
                    .iter()
                    .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                    .collect(),
            ),
        }
    }

    /// Decodes q8_0 blocks back to f32 (scale times each i8).
    fn dequantize_q8_0(data: &[u8]) -> Vec<f32> {
        data.chunks_exact(Q8_0_BLOCK_BYTES)
            .flat_map(|block| {
                let scale = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
                block[2..].iter().map(move |&q| f32::from(q as i8) * scale)
            })
            .collect()
    }

    /// Decodes q4_0 blocks back to f32: an f16 scale, then 16 bytes whose low nibbles are the
    /// block's first 16 weights and high nibbles its last 16, each stored plus 8.
    fn dequantize_q4_0(data: &[u8]) -> Vec<f32> {
        data.chunks_exact(Q4_0_BLOCK_BYTES)
            .flat_map(|block| {
                let scale = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
                let nibbles = &block[2..];
                let low = nibbles.iter().map(|&b| b & 0x0f);
                let high = nibbles.iter().map(|&b| b >> 4);
                low.chain(high)
                    .map(move |q| (f32::from(q) - 8.0) * scale)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn matrices_become_blocks_within_one_step_of_their_scale() {
        let values: Vec<f32> = (0..2 * 64).map(|i| ((i as f32) * 0.37).sin()).collect();
        type Dequantize = fn(&[u8]) -> Vec<f32>;
        // A block's scale is its largest magnitude over 127 (q8_0) or over 8 (q4_0).
        let cases: [(Weights, Element, usize, Dequantize, f32); 2] = [
            (
                Weights::Q8_0,
                Element::Q8_0,
                Q8_0_BLOCK_BYTES,
                dequantize_q8_0,
                127.0,
            ),
            (
                Weights::Q4_0,
                Element::Q4_0,
                Q4_0_BLOCK_BYTES,
                dequantize_q4_0,
                8.0,
            ),
        ];
        for (weights, element, block_bytes, dequantize, steps) in cases {
            let q = weights
                .apply(f16_tensor(vec![2, 64], &values))
                .expect("aligned rows");
            assert_eq!(q.element, element);
            assert_eq!(q.data.len(), 4 * block_bytes, "{weights:?}");
            for (got, want) in dequantize(&q.data).iter().zip(&values) {
                assert!(
                    (got - want).abs() <= 1.0 / steps + 1e-3,
                    "{weights:?}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn an_empty_matrix_is_refused_before_ggml_divides_by_its_row_length() {
        for shape in [vec![2, 0], vec![0, 32]] {
            let error = Weights::Q8_0
                .apply(f16_tensor(shape.clone(), &[]))
                .expect_err("no weights");
            assert_eq!(
                error,
                QuantizeError::Empty {
                    name: "w".into(),
                    shape
                }
            );
        }
    }

    #[test]
    fn vectors_convolutions_and_f16_files_are_left_alone() {
        let bias = f16_tensor(vec![64], &[0.5; 64]);
        assert_eq!(
            Weights::Q8_0.apply(bias).map(|t| t.element),
            Ok(Element::F16)
        );
        let conv = f16_tensor(vec![2, 2, 32], &[0.5; 128]);
        assert_eq!(
            Weights::Q8_0.apply(conv).map(|t| t.element),
            Ok(Element::F16)
        );
        let matrix = f16_tensor(vec![2, 32], &[0.5; 64]);
        assert_eq!(
            Weights::F16.apply(matrix).map(|t| t.element),
            Ok(Element::F16)
        );
    }

    #[test]
    fn data_shorter_than_the_shape_is_refused() {
        let short = f16_tensor(vec![2, 64], &[0.5; 100]);
        assert!(matches!(
            Weights::Q8_0.apply(short),
            Err(QuantizeError::DataSize { bytes: 200, .. })
        ));
    }

    #[test]
    fn rows_that_are_not_whole_blocks_are_refused() {
        let odd = f16_tensor(vec![2, 48], &[0.5; 96]);
        assert!(matches!(
            Weights::Q8_0.apply(odd),
            Err(QuantizeError::RowNotBlockAligned { row: 48, .. })
        ));
    }
}
