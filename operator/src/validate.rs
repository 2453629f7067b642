//! Stage 1 of a reconcile: the checks the API server's schema cannot do (the catalogue lives
//! here, not in the CRD), as a pure function from the spec to [`Valid`], the single input of
//! the build stage. A spec that fails them is reported in status and never reaches `build`.

use whisper_crds::WhisperServiceSpec;

use crate::{
    build::Owner,
    catalogue::{self, Catalogue},
    config::Config,
};

/// A spec the operator can deploy, with what it refers to resolved: everything `build` reads.
#[derive(Clone, Debug)]
pub struct Valid<'a> {
    pub owner: &'a Owner,
    pub spec: &'a WhisperServiceSpec,
    pub resolved: Resolved,
}

/// The spec's model and image, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub model_url: String,
    pub model_sha256: String,
    pub image: String,
}

/// Why a spec cannot be deployed; shown to the user in the Degraded condition.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error(
        "metadata.name {0:?} cannot name the Service: it must be a DNS-1035 label (at most 63 \
         lowercase letters, digits or '-', starting with a letter and not ending with '-')"
    )]
    Name(String),
    #[error("spec.model {0:?} is neither a catalogue model ({1}) nor an http(s) URL")]
    UnknownModel(String, String),
    #[error("spec.modelSha256 is required when spec.model is a URL")]
    MissingSha256,
}

/// Resolves the model (catalogue names through the configured catalogue) and the image (the
/// configured server image unless the spec names one), or says why the spec is unusable.
pub fn validate<'a>(
    owner: &'a Owner,
    spec: &'a WhisperServiceSpec,
    config: &Config,
) -> Result<Valid<'a>, Invalid> {
    // The CRD refuses such names too; this covers clusters whose CRD predates that rule.
    if !is_dns_label(&owner.name) {
        return Err(Invalid::Name(owner.name.clone()));
    }
    let resolved = resolve(spec, &config.server_image, &config.catalogue)?;
    Ok(Valid {
        owner,
        spec,
        resolved,
    })
}

/// Whether `name` can name a Service (and be a label value): a DNS-1035 label.
fn is_dns_label(name: &str) -> bool {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    starts_with_letter
        && name.len() <= 63
        && !name.ends_with('-')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn resolve(
    spec: &WhisperServiceSpec,
    default_image: &str,
    catalogue: &Catalogue,
) -> Result<Resolved, Invalid> {
    let image = spec
        .image
        .clone()
        .unwrap_or_else(|| default_image.to_string());
    if catalogue::is_url(&spec.model) {
        let sha = spec.model_sha256.clone().ok_or(Invalid::MissingSha256)?;
        return Ok(Resolved {
            model_url: spec.model.clone(),
            model_sha256: sha,
            image,
        });
    }
    let entry = catalogue
        .lookup(&spec.model)
        .ok_or_else(|| Invalid::UnknownModel(spec.model.clone(), catalogue.names().join(", ")))?;
    Ok(Resolved {
        model_url: entry.url.clone(),
        model_sha256: entry.sha256.clone(),
        image,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::spec_from_yaml;

    const IMG: &str = "ghcr.io/whisper-operator/whisper-server:0.1.0";

    #[test]
    fn catalogue_name_resolves_to_its_url_and_checksum_and_default_image() {
        let r = resolve(
            &spec_from_yaml("model: tiny.en"),
            IMG,
            &Catalogue::builtin(),
        )
        .expect("valid");
        assert!(r.model_url.ends_with("/ggml-tiny.en.bin"));
        assert_eq!(r.model_sha256.len(), 64);
        assert_eq!(r.image, IMG);
    }

    #[test]
    fn url_with_checksum_and_custom_image_is_taken_as_given() {
        let sha = "a".repeat(64);
        let spec = spec_from_yaml(&format!(
            "model: https://example.invalid/m.bin\nmodelSha256: {sha}\nimage: my/img:1"
        ));
        let r = resolve(&spec, IMG, &Catalogue::builtin()).expect("valid");
        assert_eq!(r.model_url, "https://example.invalid/m.bin");
        assert_eq!(r.model_sha256, sha);
        assert_eq!(r.image, "my/img:1");
    }

    #[test]
    fn unknown_model_name_is_invalid_with_the_catalogue_in_the_message() {
        let err = resolve(&spec_from_yaml("model: huge"), IMG, &Catalogue::builtin())
            .expect_err("invalid");
        let msg = err.to_string();
        assert!(
            msg.contains("\"huge\"") && msg.contains("tiny.en, base, large-v3-turbo"),
            "{msg}"
        );
    }

    #[test]
    fn names_that_cannot_name_a_service_are_invalid() {
        for name in ["a", "tiny-en", "w2", &"a".repeat(63)] {
            assert!(is_dns_label(name), "{name}");
        }
        for name in ["", "1st", "a.b", "a-", "A", "a_b", &"a".repeat(64)] {
            assert!(!is_dns_label(name), "{name}");
        }
    }

    #[test]
    fn url_without_checksum_is_invalid() {
        let err = resolve(
            &spec_from_yaml("model: http://x.invalid/m.bin"),
            IMG,
            &Catalogue::builtin(),
        )
        .expect_err("invalid");
        assert_eq!(err, Invalid::MissingSha256);
    }
}
