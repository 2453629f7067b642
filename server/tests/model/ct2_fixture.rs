//! A complete, tiny, synthetic CTranslate2 Whisper model (4-wide, one layer each), written the
//! way CTranslate2 writes `model.bin`, so import paths can be tested without the real weights.

use std::path::Path;

pub const N_STATE: usize = 4;
pub const N_MELS: usize = 2;
pub const N_AUDIO_CTX: usize = 6;
pub const N_TEXT_CTX: usize = 5;
pub const TOKENS: [&str; 7] = [
    "a",
    "Ġb",
    "Ċ",
    "Ã©",
    "<|endoftext|>",
    "<|startoftranscript|>",
    "<|notimestamps|>",
];
const F16: u8 = 4;
const I16: u8 = 2;

pub struct Variable {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: u8,
    pub data: Vec<u8>,
}

pub struct Ct2Fixture {
    pub variables: Vec<Variable>,
    pub aliases: Vec<(String, String)>,
}

impl Ct2Fixture {
    pub fn whisper() -> Self {
        let mut f = Ct2Fixture {
            variables: Vec::new(),
            aliases: vec![(
                "decoder/projection/weight".into(),
                "decoder/embeddings/weight".into(),
            )],
        };
        let n = N_STATE;
        f.float("encoder/position_encodings/encodings", &[N_AUDIO_CTX, n]);
        f.float("encoder/conv1/weight", &[n, N_MELS, 3]);
        f.float("encoder/conv1/bias", &[n]);
        f.float("encoder/conv2/weight", &[n, n, 3]);
        f.float("encoder/conv2/bias", &[n]);
        f.heads("encoder/num_heads");
        f.self_attention("encoder/layer_0/");
        f.ffn("encoder/layer_0/");
        f.norm("encoder/layer_norm");
        f.float("decoder/position_encodings/encodings", &[N_TEXT_CTX, n]);
        f.float("decoder/embeddings/weight", &[TOKENS.len(), n]);
        f.heads("decoder/num_heads");
        f.self_attention("decoder/layer_0/");
        f.norm("decoder/layer_0/attention/layer_norm");
        f.linear("decoder/layer_0/attention/linear_0", n);
        f.linear("decoder/layer_0/attention/linear_1", 2 * n);
        f.zero_part("decoder/layer_0/attention/linear_1/bias", 0, 2);
        f.linear("decoder/layer_0/attention/linear_2", n);
        f.ffn("decoder/layer_0/");
        f.norm("decoder/layer_norm");
        f
    }

    pub fn remove(&mut self, name: &str) {
        self.variables.retain(|v| v.name != name);
    }

    pub fn get_mut(&mut self, name: &str) -> &mut Variable {
        self.variables
            .iter_mut()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("fixture has no {name}"))
    }

    /// `model.bin` bytes: version 6, "WhisperSpec", revision 3, variables, aliases.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = 6u32.to_le_bytes().to_vec();
        string(&mut out, "WhisperSpec");
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(self.variables.len() as u32).to_le_bytes());
        for v in &self.variables {
            string(&mut out, &v.name);
            out.push(v.shape.len() as u8);
            for &d in &v.shape {
                out.extend_from_slice(&(d as u32).to_le_bytes());
            }
            out.push(v.dtype);
            out.extend_from_slice(&(v.data.len() as u32).to_le_bytes());
            out.extend_from_slice(&v.data);
        }
        out.extend_from_slice(&(self.aliases.len() as u32).to_le_bytes());
        for (alias, target) in &self.aliases {
            string(&mut out, alias);
            string(&mut out, target);
        }
        out
    }

    /// A full model directory: model.bin, config.json, tokenizer.json, vocabulary.txt.
    pub fn write_dir(&self, dir: &Path) {
        std::fs::create_dir_all(dir).expect("create fixture dir");
        std::fs::write(dir.join("model.bin"), self.to_bytes()).expect("write model.bin");
        std::fs::write(dir.join("config.json"), r#"{"suppress_ids": []}"#).expect("write config");
        let ids: serde_json::Map<String, serde_json::Value> = TOKENS
            .iter()
            .enumerate()
            .map(|(i, t)| (t.to_string(), i.into()))
            .collect();
        let tokenizer = serde_json::json!({"model": {"type": "BPE", "vocab": ids}});
        std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).expect("write tokenizer");
        std::fs::write(dir.join("vocabulary.txt"), TOKENS.join("\n") + "\n").expect("write vocab");
    }

    /// f16 values 0.25, 0.5, 0.75, ... so that every element of a tensor is distinct and non-zero.
    fn float(&mut self, name: &str, shape: &[usize]) {
        let count: usize = shape.iter().product();
        let data = (1..=count)
            .flat_map(|i| half::f16::from_f32(i as f32 * 0.25).to_le_bytes())
            .collect();
        self.variables.push(Variable {
            name: name.into(),
            shape: shape.to_vec(),
            dtype: F16,
            data,
        });
    }

    fn heads(&mut self, name: &str) {
        self.variables.push(Variable {
            name: name.into(),
            shape: vec![],
            dtype: I16,
            data: 2i16.to_le_bytes().to_vec(),
        });
    }

    fn norm(&mut self, prefix: &str) {
        self.float(&format!("{prefix}/gamma"), &[N_STATE]);
        self.float(&format!("{prefix}/beta"), &[N_STATE]);
    }

    fn linear(&mut self, prefix: &str, rows: usize) {
        self.float(&format!("{prefix}/weight"), &[rows, N_STATE]);
        self.float(&format!("{prefix}/bias"), &[rows]);
    }

    fn self_attention(&mut self, layer: &str) {
        self.norm(&format!("{layer}self_attention/layer_norm"));
        self.linear(&format!("{layer}self_attention/linear_0"), 3 * N_STATE);
        self.zero_part(&format!("{layer}self_attention/linear_0/bias"), 1, 3);
        self.linear(&format!("{layer}self_attention/linear_1"), N_STATE);
    }

    fn ffn(&mut self, layer: &str) {
        self.norm(&format!("{layer}ffn/layer_norm"));
        self.float(
            &format!("{layer}ffn/linear_0/weight"),
            &[4 * N_STATE, N_STATE],
        );
        self.float(&format!("{layer}ffn/linear_0/bias"), &[4 * N_STATE]);
        self.float(
            &format!("{layer}ffn/linear_1/weight"),
            &[N_STATE, 4 * N_STATE],
        );
        self.float(&format!("{layer}ffn/linear_1/bias"), &[N_STATE]);
    }

    /// Key biases are zero in every real checkpoint: part `index` of `parts` of a fused bias.
    fn zero_part(&mut self, name: &str, index: usize, parts: usize) {
        let data = &mut self.get_mut(name).data;
        let part = data.len() / parts;
        data[index * part..(index + 1) * part].fill(0);
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16 + 1).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}
