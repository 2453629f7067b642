//! Arbitrary bytes as a CTranslate2 `model.bin`: the variable reader, then the hyper-parameters
//! and the tensor mapping that the importer derives from it (no file is written).
#![no_main]

use libfuzzer_sys::fuzz_target;
use whisper_server::model;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = model::parse_ct2(data) else {
        return;
    };
    let Ok(hparams) = model::derive_hparams(&parsed) else {
        return;
    };
    let _ = model::ggml_tensors(&parsed, &hparams);
});
