//! What each server pod last said about why it is not serving ([`super::signal::pod`]), by the
//! service it belongs to. The pod watch writes it before it wakes the service, so a reconcile
//! reads the pods from the API only when one of them has something to explain: a pod's status
//! can change before its Deployment's status counts it, and the Deployment is no guide to that.

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
};

/// A server pod: namespace, the service it serves (its label), its name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PodPlace {
    pub namespace: String,
    pub service: String,
    pub pod: String,
}

#[derive(Default)]
struct Board {
    /// (namespace, service) -> pod name -> its last signal; 0 entries are not kept.
    telling: HashMap<(String, String), HashMap<String, u64>>,
    /// Every pod's last signal, 0 included, so a change from or to 0 is seen.
    last: HashMap<PodPlace, u64>,
    /// The pods shown by the relisting in progress, if one is.
    relisted: Option<HashSet<PodPlace>>,
}

#[derive(Default)]
pub struct PodBoard {
    board: Mutex<Board>,
}

impl PodBoard {
    /// Records a pod's signal; true when it differs from the last one (a pod first seen counts
    /// as having said 0).
    pub fn record(&self, place: PodPlace, signal: u64) -> bool {
        let mut board = self.lock();
        if let Some(seen) = board.relisted.as_mut() {
            seen.insert(place.clone());
        }
        let before = board.last.insert(place.clone(), signal).unwrap_or(0);
        board.set_telling(&place, signal);
        before != signal
    }

    /// Forgets a deleted pod.
    pub fn forget(&self, place: &PodPlace) {
        let mut board = self.lock();
        board.last.remove(place);
        board.set_telling(place, 0);
    }

    /// A relisting of the pods begins: pods it does not show are forgotten when it ends.
    pub fn relisting_starts(&self) {
        self.lock().relisted = Some(HashSet::new());
    }

    pub fn relisted(&self) {
        let mut board = self.lock();
        let Some(seen) = board.relisted.take() else {
            return;
        };
        let gone: Vec<PodPlace> = board
            .last
            .keys()
            .filter(|p| !seen.contains(*p))
            .cloned()
            .collect();
        for place in gone {
            board.last.remove(&place);
            board.set_telling(&place, 0);
        }
    }

    /// Whether some pod of the service has something to say about why it is not serving.
    pub fn has_news(&self, namespace: &str, service: &str) -> bool {
        self.lock()
            .telling
            .contains_key(&(namespace.to_string(), service.to_string()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Board {
    fn set_telling(&mut self, place: &PodPlace, signal: u64) {
        let key = (place.namespace.clone(), place.service.clone());
        if signal != 0 {
            self.telling
                .entry(key)
                .or_default()
                .insert(place.pod.clone(), signal);
        } else if let Some(pods) = self.telling.get_mut(&key) {
            pods.remove(&place.pod);
            if pods.is_empty() {
                self.telling.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(pod: &str) -> PodPlace {
        PodPlace {
            namespace: "ns".into(),
            service: "tiny".into(),
            pod: pod.into(),
        }
    }

    #[test]
    fn a_quiet_pod_is_no_news_and_a_telling_one_is_until_it_is_quiet_again() {
        let board = PodBoard::default();
        assert!(!board.record(place("a"), 0));
        assert!(!board.has_news("ns", "tiny"));
        assert!(board.record(place("a"), 7));
        assert!(!board.record(place("a"), 7));
        assert!(board.has_news("ns", "tiny"));
        assert!(!board.has_news("other", "tiny"));
        assert!(board.record(place("a"), 0));
        assert!(!board.has_news("ns", "tiny"));
    }

    #[test]
    fn a_deleted_pod_is_forgotten_and_its_service_has_no_news() {
        let board = PodBoard::default();
        board.record(place("a"), 7);
        board.record(place("b"), 9);
        board.forget(&place("a"));
        assert!(board.has_news("ns", "tiny"));
        board.forget(&place("b"));
        assert!(!board.has_news("ns", "tiny"));
        assert!(
            board.record(place("b"), 9),
            "a pod seen again is news again"
        );
    }

    #[test]
    fn a_relisting_forgets_the_pods_it_does_not_show() {
        let board = PodBoard::default();
        board.record(place("gone"), 7);
        board.record(place("kept"), 0);
        board.relisting_starts();
        assert!(!board.record(place("kept"), 0));
        board.relisted();
        assert!(!board.has_news("ns", "tiny"));
        assert!(board.record(place("gone"), 7));
    }
}
