//! Sending a computed status to the API server, and the Event when Ready changes.

use kube::{
    Api, Resource,
    api::{Patch, PatchParams},
    runtime::events::Event,
};
use serde_json::json;
use whisper_crds::{ConditionType, WhisperService, WhisperServiceStatus};

use super::{Cond, needs_update};
use crate::{
    build::Owner,
    context::Context,
    error::{Error, Result},
    labels,
};

/// Writes `new` (server-side apply on the status subresource) unless it says what is already
/// there; returns whether it wrote.
pub async fn write(
    ctx: &Context,
    ws: &WhisperService,
    owner: &Owner,
    new: &WhisperServiceStatus,
) -> Result<bool> {
    if !needs_update(ws.status.as_ref(), new) {
        return Ok(false);
    }
    let api: Api<WhisperService> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    let patch = json!({
        "apiVersion": format!("{}/{}", whisper_crds::GROUP, whisper_crds::VERSION),
        "kind": "WhisperService",
        "status": new,
    });
    api.patch_status(
        &owner.name,
        &PatchParams::apply(labels::MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(Error::Status)?;
    Ok(true)
}

/// Publishes an Event when `ready` differs in status or reason from the Ready condition `ws`
/// had; its type comes from the reason. Best effort: a failure to record one is logged and does
/// not fail the reconcile.
pub async fn publish_ready_change(ctx: &Context, ws: &WhisperService, ready: &Cond) {
    let before = ws.status.as_ref().and_then(|s| {
        s.conditions
            .iter()
            .find(|c| c.type_ == ConditionType::Ready.as_str())
    });
    let status = if ready.status { "True" } else { "False" };
    if before.is_some_and(|c| c.status == status && c.reason == ready.reason.as_str()) {
        return;
    }
    let event = Event {
        type_: ready.reason.event_type(),
        reason: ready.reason.as_str().to_string(),
        note: Some(ready.message.clone()),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &ws.object_ref(&())).await {
        tracing::warn!(error = %e, "could not publish event");
    }
}
