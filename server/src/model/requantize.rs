//! Quantising a model file's f16 matrices while it loads, so that the weight type is a server
//! setting and not a second file to publish, pin and download.

use super::ggml;
use super::ggml_read::{self, GgmlReadError};
use super::mapping::Tensor;
use super::quantize::{QuantizeError, Weights};

#[derive(Debug, thiserror::Error)]
pub enum RequantizeError {
    #[error(transparent)]
    Read(#[from] GgmlReadError),
    #[error(transparent)]
    Quantize(#[from] QuantizeError),
    /// A dimension or length that does not fit the format's i32 fields.
    #[error("cannot encode the model: {0}")]
    Encode(#[from] std::io::Error),
}

/// `file` re-encoded with `weights`, or `None` when it is to be loaded as it is: f16 asked
/// for, or a file that is not plain f16 (already quantised, or f32), which is left alone.
pub fn requantize(file: &[u8], weights: Weights) -> Result<Option<Vec<u8>>, RequantizeError> {
    if weights == Weights::F16 {
        return Ok(None);
    }
    if usize::try_from(ggml_read::ftype(file)?) != Ok(Weights::F16.ftype()) {
        return Ok(None);
    }
    let parsed = ggml_read::read(file)?;
    let tensors = quantize_in_parallel(parsed.tensors, weights)?;
    let mut out = Vec::with_capacity(file.len());
    ggml::rewrite(&mut out, parsed.header, weights, &tensors)?;
    Ok(Some(out))
}

/// `weights.apply` on every tensor, spread over the CPUs (large-v3 holds 1.5 billion weights:
/// seconds of start-up on one core). The order is kept.
fn quantize_in_parallel(
    tensors: Vec<Tensor<'_>>,
    weights: Weights,
) -> Result<Vec<Tensor<'_>>, QuantizeError> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_worker = tensors.len().div_ceil(workers).max(1);
    let mut chunks: Vec<Vec<Tensor>> = Vec::new();
    let mut rest = tensors.into_iter().peekable();
    while rest.peek().is_some() {
        chunks.push(rest.by_ref().take(per_worker).collect());
    }
    let done: Vec<Result<Vec<Tensor>, QuantizeError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| scope.spawn(move || chunk.into_iter().map(|t| weights.apply(t)).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut out = Vec::new();
    for chunk in done {
        out.extend(chunk?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header with the given ftype and nothing after it (no mel filters, no tensors).
    fn bare_header(ftype: i32) -> Vec<u8> {
        let mut file = ggml::MAGIC.to_le_bytes().to_vec();
        for value in [0i32; 10].into_iter().chain([ftype, 0, 0, 0]) {
            file.extend_from_slice(&value.to_le_bytes());
        }
        file
    }

    #[test]
    fn f16_asked_for_or_a_file_already_quantised_loads_as_it_is() {
        assert!(matches!(
            requantize(&bare_header(1), Weights::F16),
            Ok(None)
        ));
        assert!(matches!(
            requantize(&bare_header(2007), Weights::Q8_0),
            Ok(None)
        ));
        assert!(matches!(
            requantize(&bare_header(0), Weights::Q8_0),
            Ok(None)
        ));
    }

    #[test]
    fn an_f16_file_is_rewritten_with_the_q8_0_ftype() {
        let out = requantize(&bare_header(1), Weights::Q8_0)
            .expect("a valid empty model")
            .expect("f16 to q8_0");
        assert_eq!(ggml_read::ftype(&out), Ok(2007));
        assert_eq!(out.len(), bare_header(1).len());
    }

    /// The fuzzer's input (docs/fuzzing.md, finding 4): an f16 header, then a 2-D f16 tensor
    /// whose rows hold no weights. ggml's quantiser divided by the row length (SIGFPE).
    #[test]
    fn an_empty_matrix_is_an_error_not_a_division_by_zero() {
        let file: &[u8] =
            b"lmgg\x03\x00\x00\x00\x01\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x01\x00\
            \x00\x00\x01\x00\x00\x00\x02\x00\x00lmgg\x03\x00\x00\x00\x00\x00\xfd\x00\x00\
            \x01\x00\x00\x00\x00\x00\x00\x00\x00\xfd\x00\x00\x01\x00\x00\x00\x02\x00\x00\
            \x00\x01\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\
            \x00\x00\x0e\x0f";
        assert!(matches!(
            requantize(file, Weights::Q8_0),
            Err(RequantizeError::Quantize(QuantizeError::Empty { .. }))
        ));
    }

    #[test]
    fn a_broken_file_is_an_error_not_a_panic() {
        let mut cut = bare_header(1);
        cut.truncate(50);
        assert!(matches!(
            requantize(&cut, Weights::Q8_0),
            Err(RequantizeError::Read(GgmlReadError::Truncated(_)))
        ));
    }
}
