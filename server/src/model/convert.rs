//! Element conversions from CTranslate2's float dtypes to ggml's f16 and f32.
//!
//! Weights that are already f16 (the usual case) pass through as borrowed bytes; only the small
//! f32 tensors (biases, norms, positional embeddings) are converted element by element.

use std::borrow::Cow;

use half::{bf16, f16};

use super::ct2::DType;

/// Little-endian f16 bytes, or `None` for a dtype that is not a float.
pub fn to_f16_bytes(dtype: DType, data: &[u8]) -> Option<Cow<'_, [u8]>> {
    match dtype {
        DType::F16 => Some(Cow::Borrowed(data)),
        DType::F32 | DType::BF16 => {
            let values = to_f32(dtype, data)?;
            let mut halves = vec![f16::ZERO; values.len()];
            half::slice::HalfFloatSliceExt::convert_from_f32_slice(&mut halves[..], &values);
            Some(Cow::Owned(
                halves.iter().flat_map(|h| h.to_le_bytes()).collect(),
            ))
        }
        DType::I8 | DType::I16 | DType::I32 => None,
    }
}

/// Little-endian f32 bytes, or `None` for a dtype that is not a float.
pub fn to_f32_bytes(dtype: DType, data: &[u8]) -> Option<Cow<'_, [u8]>> {
    match dtype {
        DType::F32 => Some(Cow::Borrowed(data)),
        _ => Some(Cow::Owned(
            to_f32(dtype, data)?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        )),
    }
}

/// Decoded float values, or `None` for a dtype that is not a float.
pub fn to_f32(dtype: DType, data: &[u8]) -> Option<Vec<f32>> {
    let pairs = data.chunks_exact(2).map(|c| [c[0], c[1]]);
    Some(match dtype {
        DType::F32 => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        DType::F16 => pairs.map(|b| f16::from_le_bytes(b).to_f32()).collect(),
        DType::BF16 => pairs.map(|b| bf16::from_le_bytes(b).to_f32()).collect(),
        DType::I8 | DType::I16 | DType::I32 => return None,
    })
}

/// Value of an integer scalar (CTranslate2 stores e.g. `num_heads` as i16).
pub fn to_integer(dtype: DType, data: &[u8]) -> Option<i64> {
    match (dtype, data) {
        (DType::I8, &[a]) => Some(i64::from(a as i8)),
        (DType::I16, &[a, b]) => Some(i64::from(i16::from_le_bytes([a, b]))),
        (DType::I32, &[a, b, c, d]) => Some(i64::from(i32::from_le_bytes([a, b, c, d]))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_passes_through_borrowed() {
        let bytes = [0x00, 0x3c];
        assert!(matches!(
            to_f16_bytes(DType::F16, &bytes),
            Some(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn f32_becomes_f16_and_back() {
        let bytes: Vec<u8> = [1.0f32, -2.5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let halves = to_f16_bytes(DType::F32, &bytes).expect("float");
        assert_eq!(&halves[..], &[0x00, 0x3c, 0x00, 0xc1]);
        assert_eq!(to_f32(DType::F16, &halves), Some(vec![1.0, -2.5]));
        assert_eq!(
            to_f32_bytes(DType::F16, &halves).as_deref(),
            Some(&bytes[..])
        );
    }

    #[test]
    fn bf16_is_decoded() {
        assert_eq!(to_f32(DType::BF16, &[0x80, 0x3f]), Some(vec![1.0]));
    }

    #[test]
    fn integers_are_not_floats() {
        assert_eq!(to_f16_bytes(DType::I8, &[1]), None);
        assert_eq!(to_f32_bytes(DType::I32, &[0; 4]), None);
    }

    #[test]
    fn integer_scalars_decode_by_width() {
        assert_eq!(to_integer(DType::I16, &[6, 0]), Some(6));
        assert_eq!(to_integer(DType::I8, &[0xff]), Some(-1));
        assert_eq!(to_integer(DType::I32, &[8, 0, 0, 0]), Some(8));
        assert_eq!(to_integer(DType::I16, &[6]), None);
        assert_eq!(to_integer(DType::F16, &[0, 0x3c]), None);
    }
}
