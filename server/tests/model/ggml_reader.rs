//! Reads a whisper.cpp ggml model file back, to check what the importer wrote.

pub struct GgmlTensor {
    pub name: String,
    /// 0 = f32, 1 = f16.
    pub ftype: i32,
    /// Innermost first, as ggml stores them.
    pub dims: Vec<usize>,
    pub data: std::ops::Range<usize>,
}

pub struct GgmlFile {
    pub hparams: [i32; 11],
    pub mel_shape: (usize, usize),
    pub mel: Vec<f32>,
    /// Byte range of the mel data within the file.
    pub mel_range: std::ops::Range<usize>,
    pub vocab: Vec<Vec<u8>>,
    pub tensors: Vec<GgmlTensor>,
}

pub fn read_ggml(buf: &[u8]) -> GgmlFile {
    let mut pos = 0;
    let i32_at = |pos: &mut usize| {
        let v = i32::from_le_bytes(buf[*pos..*pos + 4].try_into().expect("4 bytes"));
        *pos += 4;
        v
    };
    assert_eq!(i32_at(&mut pos) as u32, 0x6767_6d6c, "ggml magic");
    let hparams: [i32; 11] = std::array::from_fn(|_| i32_at(&mut pos));
    let mel_shape = (i32_at(&mut pos) as usize, i32_at(&mut pos) as usize);
    let mel_len = mel_shape.0 * mel_shape.1 * 4;
    let mel_range = pos..pos + mel_len;
    let mel = buf[mel_range.clone()]
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    pos += mel_len;
    let n_vocab = i32_at(&mut pos) as usize;
    let vocab = (0..n_vocab)
        .map(|_| {
            let len = i32_at(&mut pos) as usize;
            pos += len;
            buf[pos - len..pos].to_vec()
        })
        .collect();
    let mut tensors = Vec::new();
    while pos < buf.len() {
        let n_dims = i32_at(&mut pos) as usize;
        let name_len = i32_at(&mut pos) as usize;
        let ftype = i32_at(&mut pos);
        let dims: Vec<usize> = (0..n_dims).map(|_| i32_at(&mut pos) as usize).collect();
        let name = String::from_utf8(buf[pos..pos + name_len].to_vec()).expect("utf-8 name");
        pos += name_len;
        let size = dims.iter().product::<usize>() * if ftype == 0 { 4 } else { 2 };
        tensors.push(GgmlTensor {
            name,
            ftype,
            dims,
            data: pos..pos + size,
        });
        pos += size;
    }
    assert_eq!(pos, buf.len(), "tensor data runs past the end of the file");
    GgmlFile {
        hparams,
        mel_shape,
        mel,
        mel_range,
        vocab,
        tensors,
    }
}
