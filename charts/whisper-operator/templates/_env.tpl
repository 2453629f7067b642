{{/*
The operator's configuration, one environment variable per operator flag. The e2e suite's local
operator reads these from the installed Deployment, so both run with the same settings.
*/}}
{{- define "whisper-operator.env" -}}
- name: WHISPER_OPERATOR_LISTEN
  value: {{ printf "0.0.0.0:%d" (int .Values.metricsPort) | quote }}
- name: WHISPER_OPERATOR_NAMESPACES
  value: {{ join "," .Values.operator.watchNamespaces | quote }}
- name: WHISPER_OPERATOR_LEADER_ELECTION
  value: {{ include "whisper-operator.leaderElection" . | quote }}
- name: WHISPER_OPERATOR_LEASE_NAME
  value: {{ include "whisper-operator.leaseName" . | quote }}
{{- with .Values.operator.serverImage }}
- name: WHISPER_OPERATOR_SERVER_IMAGE
  value: {{ . | quote }}
{{- end }}
{{- with .Values.operator.modelCatalogue }}
- name: WHISPER_OPERATOR_MODEL_CATALOGUE
  value: {{ toJson . | quote }}
{{- end }}
- name: WHISPER_OPERATOR_LOG_FORMAT
  value: {{ .Values.operator.logFormat | quote }}
- name: RUST_LOG
  value: {{ .Values.operator.logLevel | quote }}
{{- end -}}
