//! What this operator knows of each child it applies: the version it last saw and whether one of
//! its own writes is on the way. The watch filter asks it whether a child's change is news (a
//! deletion, someone else's edit, a rollout step) or the echo of the operator's own apply, which
//! must not wake the WhisperService again.

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
};

/// A child, by kind and place.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChildKey {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

impl ChildKey {
    pub fn new(kind: &'static str, namespace: &str, name: &str) -> Self {
        Self {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

/// What a watch event shows of a child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sighting {
    pub resource_version: Option<String>,
    /// `metadata.generation`, for kinds with a spec the API server versions.
    pub generation: Option<i64>,
    /// A hash of the part of the child's status the WhisperService's status depends on (0 for
    /// kinds whose status does not matter).
    pub signal: u64,
}

/// How a watch event came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Part of the listing a watch starts (or restarts) with.
    Listing,
    /// Created or changed.
    Changed,
    Deleted,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Entry {
    resource_version: Option<String>,
    generation: Option<i64>,
    signal: u64,
    writes_in_flight: u32,
    /// The last successful apply: a hash of what was sent, and the version it stored.
    applied: Option<(u64, Option<String>)>,
    /// The listing of its kind that last showed it.
    listing: u64,
}

/// The operator's record of its children; shared by the reconciles (which write) and the watch
/// filters (which read and update).
#[derive(Debug, Default)]
pub struct Ledger {
    entries: Mutex<HashMap<ChildKey, Entry>>,
    /// Kinds whose watch has listed every existing child at least once.
    listed: Mutex<HashSet<&'static str>>,
    /// The number of the listing each kind's watch is on (or last finished).
    listings: Mutex<HashMap<&'static str, u64>>,
}

impl Ledger {
    /// An apply of `key` starts; returns the resource version known before it.
    pub fn begin_write(&self, key: &ChildKey) -> Option<String> {
        let mut entries = self.lock();
        let entry = entries.entry(key.clone()).or_default();
        entry.writes_in_flight += 1;
        entry.resource_version.clone()
    }

    /// An apply of `key` ended; `stored` is the version and generation the API server answered
    /// with (`None` when the apply failed), `sent` a hash of what was applied.
    pub fn end_write(
        &self,
        key: &ChildKey,
        sent: u64,
        stored: Option<(Option<String>, Option<i64>)>,
    ) {
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(key) else {
            return;
        };
        entry.writes_in_flight = entry.writes_in_flight.saturating_sub(1);
        match stored {
            Some((resource_version, generation)) => {
                // Stored just now: it exists, whatever a listing under way will show.
                entry.listing = self.listing_of(key.kind);
                entry.applied = Some((sent, resource_version.clone()));
                entry.resource_version = resource_version;
                entry.generation = generation;
            }
            None => entry.applied = None,
        }
    }

    /// Whether applying `sent` (a hash of the object) to `key` would change nothing: it is what
    /// was last applied, and no version since has been seen.
    pub fn is_current(&self, key: &ChildKey, sent: u64) -> bool {
        self.lock().get(key).is_some_and(|e| {
            e.writes_in_flight == 0
                && e.applied.as_ref() == Some(&(sent, e.resource_version.clone()))
        })
    }

    /// Records what a watch event showed and returns whether it should wake the owner.
    pub fn observe(&self, key: &ChildKey, arrival: Arrival, seen: Sighting) -> bool {
        let mut entries = self.lock();
        if arrival == Arrival::Deleted {
            entries.remove(key);
            return true;
        }
        let listing = if arrival == Arrival::Listing {
            self.listing_of(key.kind)
        } else {
            entries.get(key).map_or(0, |e| e.listing)
        };
        let previous = entries.get(key);
        let wake = wakes(previous, arrival, &seen);
        let writes_in_flight = previous.map_or(0, |e| e.writes_in_flight);
        let applied = previous.and_then(|e| e.applied.clone());
        entries.insert(
            key.clone(),
            Entry {
                resource_version: seen.resource_version,
                generation: seen.generation,
                signal: seen.signal,
                writes_in_flight,
                applied,
                listing,
            },
        );
        wake
    }

    /// The watch of `kind` starts listing every child that exists (at its start, and again
    /// after it lost track, when deletions in between come as no event).
    pub fn listing_starts(&self, kind: &'static str) {
        *self
            .listings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(kind)
            .or_default() += 1;
    }

    /// The listing of `kind` is complete: what it did not show no longer exists.
    pub fn listed(&self, kind: &'static str) {
        let listing = self.listing_of(kind);
        self.lock()
            .retain(|k, e| k.kind != kind || e.listing == listing || e.writes_in_flight > 0);
        self.listed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(kind);
    }

    fn listing_of(&self, kind: &'static str) -> u64 {
        self.listings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(kind)
            .copied()
            .unwrap_or(0)
    }

    /// Whether `key` is known not to exist: its kind has been listed and nothing of it has been
    /// seen or written since.
    pub fn is_absent(&self, key: &ChildKey) -> bool {
        let listed = self
            .listed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(key.kind);
        listed && !self.lock().contains_key(key)
    }

    /// How many children it holds (for tests and the memory figures).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ChildKey, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether a change of a child (not a deletion) is news to its owner, given what was known.
fn wakes(known: Option<&Entry>, arrival: Arrival, seen: &Sighting) -> bool {
    let Some(known) = known else {
        // First sight. At the start of a watch every WhisperService is reconciled anyway; later,
        // a child this operator never wrote has appeared: look.
        return arrival == Arrival::Changed;
    };
    if seen.signal != known.signal {
        // A rollout step (or a new problem) the status reports, whoever caused it.
        return true;
    }
    if known.writes_in_flight > 0 || seen.resource_version == known.resource_version {
        // The echo of an apply (or something that apply overwrites), or nothing new.
        return false;
    }
    match (seen.generation, known.generation) {
        // Kinds with a generation: only a spec change is news; status is in the signal.
        (Some(now), Some(before)) => now != before,
        // Kinds without one: any change by someone else.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ChildKey {
        ChildKey {
            kind: "Deployment",
            namespace: "ns".into(),
            name: "tiny".into(),
        }
    }

    fn seen(rv: &str, generation: Option<i64>, signal: u64) -> Sighting {
        Sighting {
            resource_version: Some(rv.into()),
            generation,
            signal,
        }
    }

    #[test]
    fn the_echo_of_an_apply_does_not_wake_whether_it_comes_before_or_after_the_answer() {
        let ledger = Ledger::default();
        assert_eq!(ledger.begin_write(&key()), None);
        // The watch event comes while the apply is still waiting for its answer.
        assert!(!ledger.observe(&key(), Arrival::Changed, seen("10", Some(1), 0)));
        ledger.end_write(&key(), 1, Some((Some("10".into()), Some(1))));

        assert_eq!(ledger.begin_write(&key()).as_deref(), Some("10"));
        ledger.end_write(&key(), 1, Some((Some("11".into()), Some(2))));
        // The answer came first.
        assert!(!ledger.observe(&key(), Arrival::Changed, seen("11", Some(2), 0)));
    }

    #[test]
    fn a_spec_change_by_someone_else_wakes_and_a_status_only_change_does_not() {
        let ledger = Ledger::default();
        ledger.begin_write(&key());
        ledger.end_write(&key(), 1, Some((Some("10".into()), Some(1))));
        assert!(!ledger.observe(&key(), Arrival::Changed, seen("11", Some(1), 0)));
        assert!(ledger.observe(&key(), Arrival::Changed, seen("12", Some(2), 0)));
    }

    #[test]
    fn a_changed_signal_wakes_even_during_a_write() {
        let ledger = Ledger::default();
        ledger.begin_write(&key());
        assert!(ledger.observe(&key(), Arrival::Changed, seen("10", Some(1), 7)));
        assert!(!ledger.observe(&key(), Arrival::Changed, seen("11", Some(1), 7)));
    }

    #[test]
    fn kinds_without_generation_wake_on_any_foreign_change() {
        let ledger = Ledger::default();
        ledger.begin_write(&key());
        ledger.end_write(&key(), 1, Some((Some("10".into()), None)));
        assert!(!ledger.observe(&key(), Arrival::Changed, seen("10", None, 0)));
        assert!(ledger.observe(&key(), Arrival::Changed, seen("12", None, 0)));
    }

    #[test]
    fn deletion_always_wakes_and_forgets() {
        let ledger = Ledger::default();
        ledger.begin_write(&key());
        ledger.end_write(&key(), 1, Some((Some("10".into()), Some(1))));
        assert!(ledger.observe(&key(), Arrival::Deleted, seen("11", Some(1), 0)));
        assert!(ledger.is_empty());
    }

    #[test]
    fn the_starting_listing_is_recorded_without_waking_and_unknown_children_wake() {
        let ledger = Ledger::default();
        assert!(!ledger.observe(&key(), Arrival::Listing, seen("10", Some(1), 0)));
        assert_eq!(ledger.len(), 1);
        let other = ChildKey {
            name: "other".into(),
            ..key()
        };
        assert!(ledger.observe(&other, Arrival::Changed, seen("3", Some(1), 0)));
    }

    #[test]
    fn an_apply_is_current_until_another_version_is_seen_or_the_object_differs() {
        let ledger = Ledger::default();
        assert!(!ledger.is_current(&key(), 1));
        ledger.begin_write(&key());
        assert!(
            !ledger.is_current(&key(), 1),
            "not while the write is on its way"
        );
        ledger.end_write(&key(), 1, Some((Some("10".into()), None)));
        assert!(ledger.is_current(&key(), 1));
        assert!(!ledger.is_current(&key(), 2), "a different object");
        ledger.observe(&key(), Arrival::Changed, seen("10", None, 0));
        assert!(ledger.is_current(&key(), 1), "its own echo");
        ledger.observe(&key(), Arrival::Changed, seen("11", None, 0));
        assert!(!ledger.is_current(&key(), 1), "changed by someone else");
        ledger.begin_write(&key());
        ledger.end_write(&key(), 1, None);
        assert!(!ledger.is_current(&key(), 1), "a failed apply");
    }

    #[test]
    fn a_child_is_absent_only_once_its_kind_was_listed_and_while_nothing_of_it_was_seen() {
        let ledger = Ledger::default();
        assert!(!ledger.is_absent(&key()), "not listed yet");
        ledger.listed("Deployment");
        assert!(ledger.is_absent(&key()));
        ledger.begin_write(&key());
        assert!(!ledger.is_absent(&key()), "being written");
        ledger.observe(&key(), Arrival::Deleted, seen("11", Some(1), 0));
        assert!(ledger.is_absent(&key()), "deleted");
    }

    #[test]
    fn a_child_deleted_while_the_watch_was_away_is_forgotten_when_the_relisting_misses_it() {
        let ledger = Ledger::default();
        ledger.listing_starts("Deployment");
        ledger.begin_write(&key());
        ledger.end_write(&key(), 1, Some((Some("10".into()), Some(1))));
        ledger.listed("Deployment");
        assert!(
            ledger.is_current(&key(), 1),
            "the first listing keeps what is being written"
        );
        // The watch lost track; the child was deleted meanwhile and the new listing lacks it.
        ledger.listing_starts("Deployment");
        ledger.listed("Deployment");
        assert!(!ledger.is_current(&key(), 1), "applied again");
        assert!(ledger.is_absent(&key()));
    }

    #[test]
    fn a_child_the_relisting_shows_is_kept() {
        let ledger = Ledger::default();
        ledger.begin_write(&key());
        ledger.end_write(&key(), 1, Some((Some("10".into()), Some(1))));
        ledger.listing_starts("Deployment");
        ledger.observe(&key(), Arrival::Listing, seen("10", Some(1), 0));
        ledger.listed("Deployment");
        assert!(ledger.is_current(&key(), 1));
    }

    #[test]
    fn a_failed_apply_keeps_what_was_known() {
        let ledger = Ledger::default();
        ledger.begin_write(&key());
        ledger.end_write(&key(), 1, Some((Some("10".into()), Some(1))));
        ledger.begin_write(&key());
        ledger.end_write(&key(), 1, None);
        assert!(!ledger.observe(&key(), Arrival::Changed, seen("10", Some(1), 0)));
        assert!(ledger.observe(&key(), Arrival::Changed, seen("11", Some(2), 0)));
    }
}
