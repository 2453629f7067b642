//! The thin apply step: server-side apply with one field manager, and deletes of children that
//! are no longer wanted.

use std::fmt::Debug;

use kube::{
    Api, Client,
    api::{DeleteParams, DynamicObject, Patch, PatchParams},
    core::ApiResource,
};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    error::{Error, Result},
    labels::MANAGER,
};

fn params() -> PatchParams {
    // force: this operator is the only intended writer of the fields it sets.
    PatchParams::apply(MANAGER).force()
}

/// Applies a typed object; returns what the API server stored.
pub async fn apply<K>(api: &Api<K>, name: &str, obj: &K, kind: &'static str) -> Result<K>
where
    K: Clone + DeserializeOwned + Serialize + Debug,
{
    api.patch(name, &params(), &Patch::Apply(obj))
        .await
        .map_err(|source| Error::Apply { kind, source })
}

/// Applies an object of a kind known only at run time (ServiceMonitor, PrometheusRule).
pub async fn apply_dynamic(
    client: &Client,
    resource: &ApiResource,
    namespace: &str,
    name: &str,
    obj: &serde_json::Value,
    kind: &'static str,
) -> Result<()> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, resource);
    api.patch(name, &params(), &Patch::Apply(obj))
        .await
        .map(drop)
        .map_err(|source| Error::Apply { kind, source })
}

/// Deletes `name` if it exists.
pub async fn delete_if_exists<K>(api: &Api<K>, name: &str, kind: &'static str) -> Result<()>
where
    K: Clone + DeserializeOwned + Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(source) => Err(Error::Delete { kind, source }),
    }
}
