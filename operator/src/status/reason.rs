//! Every reason this operator writes into a condition, and whether it is a problem: the Event
//! published when Ready changes takes its type from here, not from the reason's spelling.

use kube::runtime::events::EventType;

/// A condition's `reason`: a CamelCase word a user (or an alert) can match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    // Ready
    AllReplicasReady,
    ReplicasNotReady,
    ScaledToZero,
    ModelDownloading,
    ModelLoading,
    // Ready and Degraded: the user has to act.
    InvalidSpec,
    Unschedulable,
    ModelDownloadFailed,
    ImagePullFailed,
    ServerCrashLooping,
    // Progressing
    RollingOut,
    RolloutComplete,
    // Degraded
    ProgressDeadlineExceeded,
    /// A child could not be applied (or removed) on the API server.
    ApplyFailed,
    AsExpected,
    // MonitoringReady
    MonitoringDisabled,
    MonitoringApplied,
    MonitoringCrdsMissing,
    // AutoscalingReady
    AutoscalingDisabled,
    ScalingOnCpu,
    ScalingOnInFlight,
    KedaMissing,
}

impl Reason {
    /// The `reason` string as written to the API server.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::AllReplicasReady => "AllReplicasReady",
            Reason::ReplicasNotReady => "ReplicasNotReady",
            Reason::ScaledToZero => "ScaledToZero",
            Reason::ModelDownloading => "ModelDownloading",
            Reason::ModelLoading => "ModelLoading",
            Reason::InvalidSpec => "InvalidSpec",
            Reason::Unschedulable => "Unschedulable",
            Reason::ModelDownloadFailed => "ModelDownloadFailed",
            Reason::ImagePullFailed => "ImagePullFailed",
            Reason::ServerCrashLooping => "ServerCrashLooping",
            Reason::RollingOut => "RollingOut",
            Reason::RolloutComplete => "RolloutComplete",
            Reason::ProgressDeadlineExceeded => "ProgressDeadlineExceeded",
            Reason::ApplyFailed => "ApplyFailed",
            Reason::AsExpected => "AsExpected",
            Reason::MonitoringDisabled => "MonitoringDisabled",
            Reason::MonitoringApplied => "MonitoringApplied",
            Reason::MonitoringCrdsMissing => "MonitoringCRDsMissing",
            Reason::AutoscalingDisabled => "AutoscalingDisabled",
            Reason::ScalingOnCpu => "ScalingOnCPU",
            Reason::ScalingOnInFlight => "ScalingOnInFlight",
            Reason::KedaMissing => "KEDAMissing",
        }
    }

    /// Whether a user has to do something about it (a Warning Event) or it is a step on the way
    /// (a Normal one).
    pub fn event_type(self) -> EventType {
        match self {
            Reason::AllReplicasReady
            | Reason::ReplicasNotReady
            | Reason::ScaledToZero
            | Reason::ModelDownloading
            | Reason::ModelLoading
            | Reason::RollingOut
            | Reason::RolloutComplete
            | Reason::AsExpected
            | Reason::MonitoringDisabled
            | Reason::MonitoringApplied
            | Reason::AutoscalingDisabled
            | Reason::ScalingOnCpu
            | Reason::ScalingOnInFlight => EventType::Normal,
            Reason::InvalidSpec
            | Reason::Unschedulable
            | Reason::ModelDownloadFailed
            | Reason::ImagePullFailed
            | Reason::ServerCrashLooping
            | Reason::ProgressDeadlineExceeded
            | Reason::ApplyFailed
            | Reason::MonitoringCrdsMissing
            | Reason::KedaMissing => EventType::Warning,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Ready reasons the operator published as Normal before the reasons were an enum
    /// (Ready=True, or one of these four); everything else on Ready was a Warning.
    #[test]
    fn ready_reasons_keep_their_event_types() {
        let normal = [
            Reason::AllReplicasReady,
            Reason::ReplicasNotReady,
            Reason::ScaledToZero,
            Reason::ModelDownloading,
            Reason::ModelLoading,
        ];
        let warning = [
            Reason::InvalidSpec,
            Reason::Unschedulable,
            Reason::ModelDownloadFailed,
            Reason::ImagePullFailed,
            Reason::ServerCrashLooping,
        ];
        for r in normal {
            assert_eq!(r.event_type(), EventType::Normal, "{r:?}");
        }
        for r in warning {
            assert_eq!(r.event_type(), EventType::Warning, "{r:?}");
        }
    }
}
