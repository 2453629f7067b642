//! Names and labels shared by every child of a WhisperService.

use std::collections::BTreeMap;

/// The field manager of every server-side apply, and the managed-by label value.
pub const MANAGER: &str = "whisper-operator";
/// Label carrying the owning WhisperService's name on every child and pod.
pub const SERVICE_LABEL: &str = "whisper-operator.io/service";
/// The server's container port and its name.
pub const HTTP_PORT: i32 = 8000;
pub const HTTP_PORT_NAME: &str = "http";

/// Labels that select a WhisperService's pods (stable: they are the Deployment's selector).
pub fn selector_labels(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            "whisper-server".to_string(),
        ),
        ("app.kubernetes.io/instance".to_string(), name.to_string()),
        (SERVICE_LABEL.to_string(), name.to_string()),
    ])
}

/// Labels on every child object.
pub fn common_labels(name: &str) -> BTreeMap<String, String> {
    let mut labels = selector_labels(name);
    labels.insert(
        "app.kubernetes.io/managed-by".to_string(),
        MANAGER.to_string(),
    );
    labels.insert(
        "app.kubernetes.io/component".to_string(),
        "transcription".to_string(),
    );
    labels
}

/// The selector as the string a scale subresource reports.
pub fn selector_string(name: &str) -> String {
    selector_labels(name)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_string_is_sorted_and_comma_separated() {
        assert_eq!(
            selector_string("a"),
            "app.kubernetes.io/instance=a,app.kubernetes.io/name=whisper-server,whisper-operator.io/service=a"
        );
    }

    #[test]
    fn common_labels_include_the_selector() {
        let common = common_labels("x");
        for (k, v) in selector_labels("x") {
            assert_eq!(common.get(&k), Some(&v));
        }
    }
}
