//! Reader for CTranslate2's `model.bin`: a flat list of named, typed, shaped variables.
//!
//! Parsing borrows from the file's bytes, so a 75 MB model is never copied tensor by tensor.

use std::collections::HashMap;

/// The only `model.bin` layout this reader understands.
const FORMAT_VERSION: u32 = 6;
const WHISPER_SPEC: &str = "WhisperSpec";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Ct2Error {
    #[error("not a CTranslate2 model: format version {found}, expected {FORMAT_VERSION}")]
    BadVersion { found: u32 },
    #[error("not a Whisper model: spec name {found:?}, expected {WHISPER_SPEC:?}")]
    BadSpec { found: String },
    #[error("file is truncated: needed {needed} bytes at offset {offset}, file has {len}")]
    Truncated {
        offset: usize,
        needed: usize,
        len: usize,
    },
    #[error("variable {variable:?} has unknown dtype code {code}")]
    UnknownDtype { variable: String, code: u8 },
    #[error("variable {variable:?} holds {actual} bytes, but its shape and dtype need {expected}")]
    SizeMismatch {
        variable: String,
        expected: usize,
        actual: usize,
    },
    #[error("a name at offset {offset} is not valid UTF-8")]
    BadName { offset: usize },
    #[error("{extra} unexpected bytes after the end of the model at offset {offset}")]
    TrailingBytes { offset: usize, extra: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl DType {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::BF16,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::BF16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable<'a> {
    /// Outermost dimension first, as CTranslate2 (and numpy) write it.
    pub shape: Vec<usize>,
    pub dtype: DType,
    /// Little-endian element bytes, exactly `shape.product() * dtype.size()` long.
    pub data: &'a [u8],
}

#[derive(Debug)]
pub struct Ct2Model<'a> {
    pub variables: HashMap<String, Variable<'a>>,
    /// Alias name → the variable it shares weights with.
    pub aliases: HashMap<String, String>,
}

/// Parses a whole `model.bin`; every byte must belong to the model.
pub fn parse(buf: &[u8]) -> Result<Ct2Model<'_>, Ct2Error> {
    let mut r = Cursor { buf, pos: 0 };
    let version = r.u32()?;
    if version != FORMAT_VERSION {
        return Err(Ct2Error::BadVersion { found: version });
    }
    let spec = r.string()?;
    if spec != WHISPER_SPEC {
        return Err(Ct2Error::BadSpec { found: spec });
    }
    let _spec_revision = r.u32()?;
    // The counts are not trusted to size the maps: a few bytes could ask for any amount.
    let count = r.u32()? as usize;
    let mut variables = HashMap::new();
    for _ in 0..count {
        let (name, variable) = read_variable(&mut r)?;
        variables.insert(name, variable);
    }
    let alias_count = r.u32()? as usize;
    let mut aliases = HashMap::new();
    for _ in 0..alias_count {
        let alias = r.string()?;
        let target = r.string()?;
        aliases.insert(alias, target);
    }
    if r.pos != buf.len() {
        return Err(Ct2Error::TrailingBytes {
            offset: r.pos,
            extra: buf.len() - r.pos,
        });
    }
    Ok(Ct2Model { variables, aliases })
}

fn read_variable<'a>(r: &mut Cursor<'a>) -> Result<(String, Variable<'a>), Ct2Error> {
    let name = r.string()?;
    let rank = r.u8()?;
    let shape = (0..rank)
        .map(|_| r.u32().map(|d| d as usize))
        .collect::<Result<Vec<_>, _>>()?;
    let code = r.u8()?;
    let dtype = DType::from_code(code).ok_or_else(|| Ct2Error::UnknownDtype {
        variable: name.clone(),
        code,
    })?;
    let byte_count = r.u32()? as usize;
    let expected = shape
        .iter()
        .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d));
    if expected != Some(byte_count) {
        return Err(Ct2Error::SizeMismatch {
            variable: name,
            expected: expected.unwrap_or(usize::MAX),
            actual: byte_count,
        });
    }
    let data = r.take(byte_count)?;
    Ok((name, Variable { shape, dtype, data }))
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Ct2Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or(Ct2Error::Truncated {
                offset: self.pos,
                needed: n,
                len: self.buf.len(),
            })?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Ct2Error> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, Ct2Error> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, Ct2Error> {
        self.array().map(u32::from_le_bytes)
    }

    /// u16 length (counting a trailing NUL), then the bytes.
    fn string(&mut self) -> Result<String, Ct2Error> {
        let offset = self.pos;
        let len = u16::from_le_bytes(self.array()?) as usize;
        let bytes = self.take(len)?;
        let text = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        String::from_utf8(text.to_vec()).map_err(|_| Ct2Error::BadName { offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u16 + 1).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }

    /// Offsets in `sample()`: version 4, spec 2+12, revision 4, count 4, name 2+2, rank 1.
    const DIM_AT: usize = 31;
    const DTYPE_AT: usize = DIM_AT + 4;
    /// The variable count: after version 4, spec 2+12, revision 4.
    const COUNT_AT: usize = 22;

    /// A minimal model: one f16 variable of shape [2] and one alias.
    fn sample() -> Vec<u8> {
        let mut out = 6u32.to_le_bytes().to_vec();
        string(&mut out, "WhisperSpec");
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        string(&mut out, "w");
        out.push(1);
        out.extend_from_slice(&2u32.to_le_bytes());
        out.push(4);
        out.extend_from_slice(&4u32.to_le_bytes());
        out.extend_from_slice(&[0x00, 0x3c, 0x00, 0x40]);
        out.extend_from_slice(&1u32.to_le_bytes());
        string(&mut out, "alias");
        string(&mut out, "w");
        out
    }

    #[test]
    fn parses_variables_and_aliases() {
        let buf = sample();
        let model = parse(&buf).expect("valid sample");
        let w = &model.variables["w"];
        assert_eq!(w.shape, vec![2]);
        assert_eq!(w.dtype, DType::F16);
        assert_eq!(w.data, &[0x00, 0x3c, 0x00, 0x40]);
        assert_eq!(model.aliases["alias"], "w");
    }

    #[test]
    fn every_truncation_is_reported_as_truncated() {
        let buf = sample();
        for len in 0..buf.len() {
            let err = parse(&buf[..len]).expect_err("truncated input must fail");
            assert!(
                matches!(err, Ct2Error::Truncated { .. }),
                "len {len}: {err}"
            );
        }
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut buf = sample();
        let end = buf.len();
        buf.extend_from_slice(b"junk");
        assert_eq!(
            parse(&buf).unwrap_err(),
            Ct2Error::TrailingBytes {
                offset: end,
                extra: 4
            }
        );
    }

    #[test]
    fn wrong_version_is_rejected() {
        let mut buf = sample();
        buf[0] = 5;
        assert_eq!(parse(&buf).unwrap_err(), Ct2Error::BadVersion { found: 5 });
    }

    #[test]
    fn wrong_spec_is_rejected() {
        let mut buf = sample();
        buf[6] = b'X';
        assert!(matches!(parse(&buf), Err(Ct2Error::BadSpec { .. })));
    }

    #[test]
    fn unknown_dtype_is_rejected() {
        let mut buf = sample();
        buf[DTYPE_AT] = 9;
        assert_eq!(
            parse(&buf).unwrap_err(),
            Ct2Error::UnknownDtype {
                variable: "w".into(),
                code: 9
            }
        );
    }

    #[test]
    fn byte_count_must_match_shape() {
        let mut buf = sample();
        // Shape [3] of f16 would need 6 bytes; the file still says 4.
        buf[DIM_AT] = 3;
        assert!(matches!(parse(&buf), Err(Ct2Error::SizeMismatch { .. })));
    }

    #[test]
    fn huge_counts_are_a_truncated_file_not_a_huge_allocation() {
        // Found by the ct2_model fuzz target: a count sized the maps before any variable was
        // read, so a 30-byte file asked for hundreds of GB and aborted the process.
        let mut buf = sample();
        buf[COUNT_AT..COUNT_AT + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        // What follows the one variable is read as the next: any error will do.
        assert!(parse(&buf).is_err());
        let mut buf = sample();
        // The alias count sits before the alias "alias" (2+6) and its target "w" (2+2).
        let alias_count_at = buf.len() - 12 - 4;
        buf[alias_count_at..alias_count_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(parse(&buf), Err(Ct2Error::Truncated { .. })));
    }
}
