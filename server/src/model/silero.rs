//! Silero VAD's ONNX export → whisper.cpp's VAD model file. Takes the 16 kHz weights of the file
//! faster-whisper bundles (`faster_whisper/assets/silero_vad_v6.onnx`, its LSTM as an ONNX `LSTM`
//! node) or of silero-vad's `silero_vad_16k_op15.onnx` (PyTorch's names and layout), and writes
//! the 15 tensors whisper.cpp's VAD loads, in the order and types its own converter writes
//! (docs/plans/silero-vad-import.md has the format and the mapping).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::atomic::AtomicFile;
use super::ggml;
use super::mapping::{Element, Tensor};
use super::onnx::{self, FloatTensor, Graph, OnnxError};
use super::wheel;

/// Hidden size of Silero's LSTM: each of its four gates is this many rows.
const HIDDEN: usize = 128;

/// Silero's version of input files known by their SHA-256 (whisper.cpp only logs it).
const KNOWN_INPUTS: &[(&str, [usize; 3])] = &[
    // faster-whisper 1.2.1, faster_whisper/assets/silero_vad_v6.onnx.
    (
        "4cbf549b8326f60f80f2536d9eefeb450a9abe83365a098031c89719f1be17d2",
        [6, 0, 0],
    ),
];

/// Encoder convolutions: (out, in, kernel) of each.
const ENCODER: [[usize; 3]; 4] = [[128, 129, 3], [64, 128, 3], [64, 64, 3], [128, 64, 3]];

#[derive(Debug, thiserror::Error)]
pub enum VadImportError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Onnx { path: PathBuf, source: OnnxError },
    #[error("{}: not Silero VAD's 16 kHz model: {message}", path.display())]
    NotSilero { path: PathBuf, message: String },
    #[error(
        "{}: Silero's version of this file is not known; give it as --silero-version (such as 6.2.0)",
        path.display()
    )]
    UnknownVersion { path: PathBuf },
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VadImportSummary {
    pub version: [usize; 3],
    /// Where the LSTM's weights came from: an ONNX `LSTM` node, or PyTorch's names.
    pub layout: &'static str,
    pub tensors: usize,
    pub bytes: u64,
}

/// Converts `input` (ONNX, or a wheel holding it: `wheel`) into whisper.cpp's VAD file at
/// `output`, written atomically.
/// `version` is Silero's, as the file records it; known inputs need none.
pub fn import_silero_vad(
    input: &Path,
    output: &Path,
    version: Option<[usize; 3]>,
) -> Result<VadImportSummary, VadImportError> {
    let path = || input.to_path_buf();
    let mut bytes = std::fs::read(input).map_err(|source| VadImportError::Read {
        path: path(),
        source,
    })?;
    if wheel::is_zip(&bytes) {
        bytes = wheel::silero_onnx(&bytes).map_err(|message| VadImportError::NotSilero {
            path: path(),
            message,
        })?;
    }
    let version = version
        .or_else(|| known_version(&bytes))
        .ok_or_else(|| VadImportError::UnknownVersion { path: path() })?;
    let graph = onnx::parse(&bytes).map_err(|source| VadImportError::Onnx {
        path: path(),
        source,
    })?;
    let (tensors, layout) = vad_tensors(&graph).map_err(|message| VadImportError::NotSilero {
        path: path(),
        message,
    })?;
    let write_error = |source| VadImportError::Write {
        path: output.to_path_buf(),
        source,
    };
    let mut file = AtomicFile::create(output).map_err(write_error)?;
    let written = ggml::write_vad(file.writer(), version, &tensors).map_err(write_error)?;
    file.commit(output).map_err(write_error)?;
    Ok(VadImportSummary {
        version,
        layout,
        tensors: tensors.len(),
        bytes: written,
    })
}

/// faster-whisper's bundled Silero model inside the Python environment at `prefix` (a venv):
/// `lib/python*/site-packages/faster_whisper/assets/silero_vad_v6.onnx`.
pub fn faster_whisper_onnx(prefix: &Path) -> Option<PathBuf> {
    std::fs::read_dir(prefix.join("lib"))
        .ok()?
        .filter_map(Result::ok)
        .map(|python| {
            python
                .path()
                .join("site-packages/faster_whisper/assets/silero_vad_v6.onnx")
        })
        .find(|onnx| onnx.is_file())
}

/// Parses "6.2.0" into its three numbers.
pub fn parse_version(text: &str) -> Option<[usize; 3]> {
    let parts: Vec<usize> = text
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

fn known_version(bytes: &[u8]) -> Option<[usize; 3]> {
    let digest = format!("{:x}", Sha256::digest(bytes));
    KNOWN_INPUTS
        .iter()
        .find(|(sha, _)| *sha == digest)
        .map(|(_, version)| *version)
}

/// The graph's float tensors by their name without an exporter's prefix.
struct Named<'g>(HashMap<&'g str, &'g FloatTensor>);

impl<'g> Named<'g> {
    fn of(graph: &'g Graph) -> Self {
        let strip = |name: &'g str| {
            name.strip_prefix("_model.")
                .or_else(|| name.strip_prefix("model."))
                .unwrap_or(name)
        };
        Self(graph.tensors.iter().map(|(k, v)| (strip(k), v)).collect())
    }

    /// The one tensor under any of `names`, of exactly `shape`.
    fn one(&self, names: &[String], shape: &[usize]) -> Result<&'g FloatTensor, String> {
        let found: Vec<_> = names
            .iter()
            .filter_map(|n| self.0.get(n.as_str()))
            .collect();
        match found.as_slice() {
            [tensor] => exact(tensor, shape, &names[0]),
            [] => Err(format!("no tensor named {}", names.join(" or "))),
            _ => Err(format!("more than one of {}", names.join(", "))),
        }
    }
}

fn exact<'g>(
    tensor: &'g FloatTensor,
    shape: &[usize],
    name: &str,
) -> Result<&'g FloatTensor, String> {
    if tensor.shape == shape {
        Ok(tensor)
    } else {
        Err(format!(
            "{name} has shape {:?}, whisper.cpp's VAD needs {shape:?}",
            tensor.shape
        ))
    }
}

fn names(forms: &[&str], index: usize) -> Vec<String> {
    forms
        .iter()
        .map(|f| f.replace("{i}", &index.to_string()))
        .collect()
}

fn tensor(name: &str, shape: Vec<usize>, element: Element, values: &[f32]) -> Tensor<'static> {
    let data: Vec<u8> = match element {
        Element::F16 => values
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect(),
        _ => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    };
    Tensor {
        name: name.to_string(),
        shape,
        element,
        data: Cow::Owned(data),
    }
}

/// The 15 tensors of whisper.cpp's VAD, in its converter's order, and the LSTM's layout.
fn vad_tensors(graph: &Graph) -> Result<(Vec<Tensor<'static>>, &'static str), String> {
    let named = Named::of(graph);
    let mut out = Vec::with_capacity(15);
    for (i, [outputs, inputs, kernel]) in ENCODER.into_iter().enumerate() {
        let weight = named.one(
            &names(
                &[
                    "encoder.{i}.reparam_conv.weight",
                    "encoder.conv_layers.{i}.weight",
                    "encoder.{i}.weight",
                ],
                i,
            ),
            &[outputs, inputs, kernel],
        )?;
        let bias = named.one(
            &names(
                &[
                    "encoder.{i}.reparam_conv.bias",
                    "encoder.conv_layers.{i}.bias",
                    "encoder.{i}.bias",
                ],
                i,
            ),
            &[outputs],
        )?;
        let prefix = format!("_model.encoder.{i}.reparam_conv");
        out.push(tensor(
            &format!("{prefix}.weight"),
            weight.shape.clone(),
            Element::F16,
            &weight.values,
        ));
        out.push(tensor(
            &format!("{prefix}.bias"),
            bias.shape.clone(),
            Element::F32,
            &bias.values,
        ));
    }
    let (lstm, layout) = lstm(graph, &named)?;
    for (name, shape, values) in lstm {
        out.push(tensor(
            &format!("_model.decoder.rnn.{name}"),
            shape,
            Element::F32,
            &values,
        ));
    }
    let last = |part: &str| {
        ["decoder.decoder.2", "decoder.conv1d", "output"]
            .map(|layer| format!("{layer}.{part}"))
            .to_vec()
    };
    let weight = named.one(&last("weight"), &[1, HIDDEN, 1])?;
    let bias = named.one(&last("bias"), &[1])?;
    out.push(tensor(
        "_model.decoder.decoder.2.weight",
        vec![HIDDEN],
        Element::F16,
        &weight.values,
    ));
    out.push(tensor(
        "_model.decoder.decoder.2.bias",
        vec![],
        Element::F32,
        &bias.values,
    ));
    let basis = named.one(
        &[
            "stft.forward_basis_buffer".to_string(),
            "encoder.feature_extractor.forward_basis_buffer".to_string(),
        ],
        &[258, 1, 256],
    )?;
    out.push(tensor(
        "_model.stft.forward_basis_buffer",
        basis.shape.clone(),
        Element::F16,
        &basis.values,
    ));
    Ok((out, layout))
}

type LstmTensors = Vec<(&'static str, Vec<usize>, Vec<f32>)>;

/// The LSTM's weight_ih, weight_hh, bias_ih and bias_hh in PyTorch's layout (gates i, f, g, o),
/// from PyTorch's names or from the inputs of the graph's one ONNX `LSTM` node.
fn lstm(graph: &Graph, named: &Named<'_>) -> Result<(LstmTensors, &'static str), String> {
    let gates = 4 * HIDDEN;
    let torch = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"];
    if named.0.contains_key("decoder.rnn.weight_ih") {
        let mut out = Vec::new();
        for name in torch {
            let shape: &[usize] = if name.starts_with("weight") {
                &[gates, HIDDEN]
            } else {
                &[gates]
            };
            let t = named.one(&[format!("decoder.rnn.{name}")], shape)?;
            out.push((name, t.shape.clone(), t.values.clone()));
        }
        return Ok((out, "pytorch"));
    }
    let nodes: Vec<_> = graph.nodes.iter().filter(|n| n.op_type == "LSTM").collect();
    let [node] = nodes.as_slice() else {
        return Err(format!(
            "expected one LSTM node or decoder.rnn tensors, found {} LSTM nodes",
            nodes.len()
        ));
    };
    let input = |index: usize, shape: &[usize]| {
        let name = node.input.get(index).filter(|n| !n.is_empty());
        let name = name.ok_or_else(|| format!("the LSTM node has no input {index}"))?;
        let t = graph
            .tensors
            .get(name)
            .ok_or_else(|| format!("the LSTM's input {name} is not a constant"))?;
        exact(t, shape, name)
    };
    let w = input(1, &[1, gates, HIDDEN])?;
    let r = input(2, &[1, gates, HIDDEN])?;
    let b = input(3, &[1, 2 * gates])?;
    let (b_ih, b_hh) = b.values.split_at(gates);
    Ok((
        vec![
            (
                "weight_ih",
                vec![gates, HIDDEN],
                torch_gate_order(&w.values, HIDDEN),
            ),
            (
                "weight_hh",
                vec![gates, HIDDEN],
                torch_gate_order(&r.values, HIDDEN),
            ),
            ("bias_ih", vec![gates], torch_gate_order(b_ih, 1)),
            ("bias_hh", vec![gates], torch_gate_order(b_hh, 1)),
        ],
        "onnx-lstm",
    ))
}

/// ONNX's LSTM stores its gates' rows as i, o, f, c; PyTorch (and whisper.cpp) as i, f, g(=c), o.
/// `row` is the values per row.
fn torch_gate_order(values: &[f32], row: usize) -> Vec<f32> {
    let block = HIDDEN * row;
    let gate = |g: usize| &values[g * block..(g + 1) * block];
    [gate(0), gate(2), gate(3), gate(1)].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onnx_gate_order_becomes_pytorchs() {
        // Gate g's rows all hold g: i=0, o=1, f=2, c=3 in ONNX's order.
        let onnx: Vec<f32> = (0..4).flat_map(|g| vec![g as f32; HIDDEN * 2]).collect();
        let torch = torch_gate_order(&onnx, 2);
        let first_of = |g: usize| torch[g * HIDDEN * 2];
        assert_eq!(
            [first_of(0), first_of(1), first_of(2), first_of(3)],
            [0.0, 2.0, 3.0, 1.0]
        );
    }

    #[test]
    fn versions_are_three_numbers() {
        assert_eq!(parse_version("6.2.0"), Some([6, 2, 0]));
        assert_eq!(parse_version("6.2"), None);
        assert_eq!(parse_version("v6.2.0"), None);
    }
}
