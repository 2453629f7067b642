//! The mel filter bank whisper.cpp reads from the model file.
//!
//! OpenAI ships it as `mel_filters.npz`, made by `librosa.filters.mel(sr=16000, n_fft=400,
//! n_mels=N)`: Slaney's mel scale (linear below 1 kHz, logarithmic above), triangular filters,
//! Slaney area normalisation. This recomputes it the way librosa does, including its rounding
//! to f32 before normalising, which reproduces the shipped values to within 2e-9.

pub const SAMPLE_RATE: f64 = 16_000.0;
pub const N_FFT: usize = 400;

#[derive(Debug, Clone, PartialEq)]
pub struct MelFilters {
    pub n_mels: usize,
    /// FFT bins per filter: `N_FFT / 2 + 1`.
    pub n_bins: usize,
    /// Row-major, one row of `n_bins` weights per mel band.
    pub data: Vec<f32>,
}

pub fn slaney(n_mels: usize) -> MelFilters {
    let n_bins = N_FFT / 2 + 1;
    // numpy's rfftfreq: bin index times 1 / (n * d).
    let bin_hz = 1.0 / (N_FFT as f64 * (1.0 / SAMPLE_RATE));
    let fft_freqs: Vec<f64> = (0..n_bins).map(|i| i as f64 * bin_hz).collect();
    let mel_freqs: Vec<f64> = linspace(hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2.0), n_mels + 2)
        .into_iter()
        .map(mel_to_hz)
        .collect();

    let mut data = Vec::with_capacity(n_mels * n_bins);
    for m in 0..n_mels {
        let (lo, mid, hi) = (mel_freqs[m], mel_freqs[m + 1], mel_freqs[m + 2]);
        let norm = 2.0 / (hi - lo);
        data.extend(fft_freqs.iter().map(|&f| {
            let rising = -(lo - f) / (mid - lo);
            let falling = (hi - f) / (hi - mid);
            // librosa stores the triangle as f32, then scales that f32 by the f64 norm.
            // numpy's `maximum(0, x)` keeps x when they compare equal, so OpenAI's table holds
            // -0.0 at band 0, bin 0; `f64::max` may return either zero depending on the build.
            let peak = rising.min(falling);
            let triangle = if peak < 0.0 { 0.0 } else { peak as f32 };
            (f64::from(triangle) * norm) as f32
        }));
    }
    MelFilters {
        n_mels,
        n_bins,
        data,
    }
}

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// numpy's linspace: start + i * step, with the last point exactly `stop`.
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    let step = (stop - start) / (n - 1) as f64;
    (0..n)
        .map(|i| {
            if i == n - 1 {
                stop
            } else {
                start + i as f64 * step
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries of OpenAI's `mel_filters.npz`, read with numpy: (mel band, FFT bin, weight).
    const MEL_80_SAMPLES: [(usize, usize, f32); 7] = [
        (0, 1, 0.024_862_595),
        (1, 1, 0.001_990_822),
        (1, 2, 0.022_871_772),
        (10, 11, 0.004_954_375),
        (40, 43, 0.014_735_566),
        (79, 188, 0.001_299_398_4),
        (79, 200, 0.0),
    ];
    const MEL_128_SAMPLES: [(usize, usize, f32); 2] =
        [(0, 1, 0.012_373_987), (127, 192, 0.001_617_171_7)];

    fn assert_samples(n_mels: usize, samples: &[(usize, usize, f32)]) {
        let bank = slaney(n_mels);
        assert_eq!(bank.data.len(), n_mels * bank.n_bins);
        for &(m, bin, want) in samples {
            let got = bank.data[m * bank.n_bins + bin];
            assert!(
                (got - want).abs() < 1e-8,
                "mel {m} bin {bin}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn matches_openai_mel_80() {
        assert_eq!(slaney(80).n_bins, 201);
        assert_samples(80, &MEL_80_SAMPLES);
    }

    #[test]
    fn band_0_bin_0_is_negative_zero_as_in_openai_table() {
        assert_eq!(slaney(80).data[0].to_bits(), (-0.0f32).to_bits());
        assert_eq!(slaney(80).data[1].to_bits(), 0.024_862_595f32.to_bits());
    }

    #[test]
    fn matches_openai_mel_128() {
        assert_samples(128, &MEL_128_SAMPLES);
    }

    #[test]
    fn every_band_has_one_peak_and_no_negative_weight() {
        let bank = slaney(128);
        for row in bank.data.chunks(bank.n_bins) {
            assert!(row.iter().all(|&w| w >= 0.0));
            assert!(row.iter().any(|&w| w > 0.0));
        }
    }

    #[test]
    fn mel_scale_round_trips() {
        for hz in [0.0, 500.0, 1000.0, 4321.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
    }
}
