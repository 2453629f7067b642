//! The few parts of an ONNX model (`onnx.proto`) that hold Silero VAD's weights: the graph's
//! initializers, its `Constant` nodes' values and its nodes' inputs. prost decodes them; the
//! message types below declare only the fields read, so everything else is skipped.

use std::collections::HashMap;

use prost::Message;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OnnxError {
    #[error("not an ONNX model: {0}")]
    Decode(String),
    #[error("the ONNX model has no graph")]
    NoGraph,
    #[error("tensor {name:?} keeps its data outside the model file")]
    ExternalData { name: String },
    #[error("tensor {name:?} is not float32 (ONNX data type {data_type})")]
    NotFloat { name: String, data_type: i32 },
    #[error("tensor {name:?} has a negative dimension")]
    NegativeDimension { name: String },
    #[error("tensor {name:?} holds {actual} values, but its shape needs {expected}")]
    SizeMismatch {
        name: String,
        expected: usize,
        actual: usize,
    },
}

#[derive(Clone, PartialEq, Message)]
pub struct ModelProto {
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "4")]
    pub op_type: String,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(int64, tag = "3")]
    pub i: i64,
    #[prost(message, optional, tag = "5")]
    pub t: Option<TensorProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    #[prost(string, tag = "8")]
    pub name: String,
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
    #[prost(int32, tag = "14")]
    pub data_location: i32,
}

/// ONNX's `TensorProto.DataType.FLOAT`.
pub const FLOAT: i32 = 1;
/// ONNX's `TensorProto.DataLocation.EXTERNAL`.
const EXTERNAL: i32 = 1;

/// A float tensor, its shape outermost first.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatTensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// A decoded model's graph: its float tensors by name (initializers and `Constant` outputs) and
/// its nodes.
#[derive(Debug)]
pub struct Graph {
    pub tensors: HashMap<String, FloatTensor>,
    pub nodes: Vec<NodeProto>,
}

/// Decodes an ONNX model file's bytes.
pub fn parse(bytes: &[u8]) -> Result<Graph, OnnxError> {
    let model = ModelProto::decode(bytes).map_err(|e| OnnxError::Decode(e.to_string()))?;
    let graph = model.graph.ok_or(OnnxError::NoGraph)?;
    let mut tensors = HashMap::new();
    for tensor in &graph.initializer {
        if tensor.data_type == FLOAT {
            tensors.insert(tensor.name.clone(), float_tensor(tensor)?);
        }
    }
    for node in graph.node.iter().filter(|n| n.op_type == "Constant") {
        let value = node.attribute.iter().find(|a| a.name == "value");
        if let (Some(tensor), Some(output)) =
            (value.and_then(|a| a.t.as_ref()), node.output.first())
            && tensor.data_type == FLOAT
        {
            let named = TensorProto {
                name: output.clone(),
                ..tensor.clone()
            };
            tensors.insert(output.clone(), float_tensor(&named)?);
        }
    }
    Ok(Graph {
        tensors,
        nodes: graph.node,
    })
}

/// A float32 tensor's values, from `raw_data` (little-endian) or `float_data`.
fn float_tensor(tensor: &TensorProto) -> Result<FloatTensor, OnnxError> {
    let name = || tensor.name.clone();
    if tensor.data_location == EXTERNAL {
        return Err(OnnxError::ExternalData { name: name() });
    }
    if tensor.data_type != FLOAT {
        return Err(OnnxError::NotFloat {
            name: name(),
            data_type: tensor.data_type,
        });
    }
    let shape = tensor
        .dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| OnnxError::NegativeDimension { name: name() })?;
    let expected = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    let mismatch = |actual| OnnxError::SizeMismatch {
        name: name(),
        expected: expected.unwrap_or(usize::MAX),
        actual,
    };
    let values: Vec<f32> = if tensor.raw_data.is_empty() {
        tensor.float_data.clone()
    } else if tensor.raw_data.len().is_multiple_of(4) {
        tensor
            .raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    } else {
        return Err(mismatch(tensor.raw_data.len() / 4));
    };
    if expected != Some(values.len()) {
        return Err(mismatch(values.len()));
    }
    Ok(FloatTensor { shape, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn tensor(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
        TensorProto {
            dims: dims.to_vec(),
            data_type: FLOAT,
            float_data: Vec::new(),
            name: name.into(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            data_location: 0,
        }
    }

    fn model(initializers: Vec<TensorProto>, nodes: Vec<NodeProto>) -> Vec<u8> {
        ModelProto {
            graph: Some(GraphProto {
                node: nodes,
                initializer: initializers,
            }),
        }
        .encode_to_vec()
    }

    #[test]
    fn initializers_and_constants_are_read_with_their_shapes() {
        let constant = NodeProto {
            input: vec![],
            output: vec!["c".into()],
            op_type: "Constant".into(),
            attribute: vec![AttributeProto {
                name: "value".into(),
                i: 0,
                t: Some(tensor("", &[2], &[5.0, 6.0])),
            }],
        };
        let bytes = model(
            vec![tensor("w", &[2, 2], &[1.0, 2.0, 3.0, 4.0])],
            vec![constant],
        );
        let graph = parse(&bytes).expect("parses");
        assert_eq!(graph.tensors["w"].shape, [2, 2]);
        assert_eq!(graph.tensors["w"].values, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(graph.tensors["c"].values, [5.0, 6.0]);
        assert_eq!(graph.nodes.len(), 1);
    }

    #[test]
    fn float_data_stands_in_for_raw_data() {
        let mut t = tensor("w", &[3], &[]);
        t.float_data = vec![1.0, 2.0, 3.0];
        let graph = parse(&model(vec![t], vec![])).expect("parses");
        assert_eq!(graph.tensors["w"].values, [1.0, 2.0, 3.0]);
    }

    #[test]
    fn bad_models_are_refused_by_name() {
        assert!(matches!(parse(b"\x07garbage"), Err(OnnxError::Decode(_))));
        assert_eq!(
            parse(&ModelProto { graph: None }.encode_to_vec()).err(),
            Some(OnnxError::NoGraph)
        );
        let short = tensor("w", &[2, 2], &[1.0]);
        assert!(matches!(
            parse(&model(vec![short], vec![])),
            Err(OnnxError::SizeMismatch { expected: 4, .. })
        ));
        let mut external = tensor("w", &[1], &[1.0]);
        external.data_location = EXTERNAL;
        assert!(matches!(
            parse(&model(vec![external], vec![])),
            Err(OnnxError::ExternalData { .. })
        ));
    }
}
