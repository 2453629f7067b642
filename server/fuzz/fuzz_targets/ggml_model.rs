//! Arbitrary bytes as a ggml model file: the header and tensor reader, then the q8_0
//! re-encoding the server applies at load (`model::requantize`). whisper.cpp is not involved.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whisper_server::model::{self, Weights};

fuzz_target!(|data: &[u8]| {
    // The reader alone, whatever ftype the header claims.
    let _ = model::read_ggml(data);
    // The load path: only an f16 file is read and re-encoded.
    let _ = model::requantize(data, Weights::Q8_0);
});
