{{/*
What the operator does in the namespaces it manages: exactly the calls in operator/src, no
wildcards (charts/test.sh checks; the e2e suite runs the operator with only these).
Children are written by server-side apply (PATCH), which Kubernetes authorizes as `create` when
the object does not exist yet, hence create + patch.
*/}}
{{- define "whisper-operator.managedRules" -}}
# Watched by the controller; patched to add/remove the dashboard finalizer.
- apiGroups: ["whisper-operator.io"]
  resources: ["whisperservices"]
  verbs: ["get", "list", "watch", "patch"]
# Status is written by server-side apply on the status subresource.
- apiGroups: ["whisper-operator.io"]
  resources: ["whisperservices/status"]
  verbs: ["patch"]
# Children carry controller owner references with blockOwnerDeletion, which clusters running the
# OwnerReferencesPermissionEnforcement admission plugin allow only with this.
- apiGroups: ["whisper-operator.io"]
  resources: ["whisperservices/finalizers"]
  verbs: ["update"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["list", "watch", "create", "patch"]
# Dashboard ConfigMaps: deleted when the dashboard is switched off or moves namespace.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["list", "watch", "create", "patch", "delete"]
# Read to explain pods that cannot be scheduled.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["list", "watch", "create", "patch", "delete"]
# Only with more than one replica; deleted when scaled back to one.
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["list", "watch", "create", "patch", "delete"]
# Applied only when the cluster serves them; deleted when switched off; watched (their metadata)
# so that one deleted or edited by someone else is put back.
- apiGroups: ["monitoring.coreos.com"]
  resources: ["servicemonitors", "prometheusrules"]
  verbs: ["list", "watch", "create", "patch", "delete"]
# KEDA's ScaledObject, for autoscaling signal InFlight, handled like the monitoring kinds.
- apiGroups: ["keda.sh"]
  resources: ["scaledobjects"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}
