{{/* Labels of every object; selectors use app.kubernetes.io/name alone. */}}
{{- define "janus-agent.labels" -}}
{{- toYaml (merge (dict "app.kubernetes.io/name" "janus-agent" "app.kubernetes.io/part-of" "janus") .Values.commonLabels) -}}
{{- end -}}

{{- define "janus-agent.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The ConfigMap holding janus-apiserver's CA, if any. */}}
{{- define "janus-agent.caConfigMap" -}}
{{- if .Values.janusCA.pem }}janus-ca{{ else }}{{ .Values.janusCA.existingConfigMap }}{{ end -}}
{{- end -}}

{{/*
The Cluster object that registers this cluster in Janus, on the central
cluster: janus-apiserver accepts an agent for it only with a projected token
of this ServiceAccount signed by this issuer.
*/}}
{{- define "janus-agent.cluster" -}}
apiVersion: janus.infroware.io/v1alpha1
kind: Cluster
metadata:
  name: {{ .Values.clusterName }}
spec:
  displayName: {{ .Values.cluster.displayName | default .Values.clusterName }}
  agent:
    issuer: {{ .Values.cluster.issuer }}
    serviceAccount: {{ .Release.Namespace }}/janus-agent
  # Janus refuses these before asking; the agent refuses its own
  # --excluded-namespaces (and its namespace) whatever Janus asks.
  excludedNamespaces:
  {{- range (uniq (append .Values.cluster.excludedNamespaces .Release.Namespace)) }}
  - {{ . }}
  {{- end }}
  maxDuration: {{ .Values.cluster.maxDuration }}
  approval:
    required: {{ .Values.cluster.approvalsRequired }}
{{- end -}}
