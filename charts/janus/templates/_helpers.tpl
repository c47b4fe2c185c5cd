{{/*
Labels of every object: which component, and that it is part of Janus.
Selectors use app.kubernetes.io/name alone, so they never change.
Call as (include "janus.labels" (list . "janus-apiserver")).
*/}}
{{- define "janus.labels" -}}
{{- $root := index . 0 -}}
{{- $labels := dict "app.kubernetes.io/part-of" "janus" -}}
{{- with index . 1 }}{{ $_ := set $labels "app.kubernetes.io/name" . }}{{ end -}}
{{- toYaml (merge $labels $root.Values.commonLabels) -}}
{{- end -}}

{{/* The image reference: a digest pins it, else the tag (default appVersion). */}}
{{- define "janus.image" -}}
{{- $root := index . 0 -}}
{{- $image := index . 1 -}}
{{- if $image.digest -}}
{{ $image.repository }}@{{ $image.digest }}
{{- else -}}
{{ $image.repository }}:{{ $image.tag | default $root.Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* Pod Security "restricted": the pod's part. */}}
{{- define "janus.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Pod Security "restricted": the container's part. */}}
{{- define "janus.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Scheduling fields shared by the Deployments; call with a component's values. */}}
{{- define "janus.scheduling" -}}
{{- with .priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The Service name the aggregator checks the certificate for. */}}
{{- define "janus.serviceDNSName" -}}
janus-apiserver.{{ .Release.Namespace }}.svc
{{- end -}}

{{/* Whether janus-apiserver needs the self-managed certificate's RBAC. */}}
{{- define "janus.selfManagedRBAC" -}}
{{- if or (eq .Values.tls.mode "self-managed") .Values.tls.selfManaged.alwaysGrantRBAC }}true{{ end -}}
{{- end -}}

{{/* The Secret holding the API port's certificate files (not self-managed). */}}
{{- define "janus.tlsSecretName" -}}
{{- if eq .Values.tls.mode "cert-manager" -}}
janus-apiserver-tls
{{- else -}}
{{ .Values.tls.existingSecret.name }}
{{- end -}}
{{- end -}}

{{/* Checks across values that the schema cannot express. */}}
{{- define "janus.validate" -}}
{{- if and (eq .Values.datastore.type "sqlite") (gt (int .Values.apiserver.replicas) 1) }}
{{- fail "apiserver.replicas > 1 needs datastore.type postgres or etcd: SQLite is one process's file" }}
{{- end }}
{{- if and (eq .Values.datastore.type "postgres") (not .Values.datastore.postgres.existingSecret) }}
{{- fail "datastore.type postgres needs datastore.postgres.existingSecret (a Secret whose key holds postgres://...)" }}
{{- end }}
{{- if and (eq .Values.datastore.type "etcd") (not .Values.datastore.etcd.servers) }}
{{- fail "datastore.type etcd needs datastore.etcd.servers" }}
{{- end }}
{{- if and (include "janus.peering" .) (include "janus.peerOnTunnelCert" .) (not .Values.peering.serverName) }}
{{- fail "peering with tunnel.existingSecret needs peering.serverName: the name the tunnel certificate is issued for" }}
{{- end }}
{{- if and (eq .Values.tls.mode "cert-manager") (not .Values.tls.certManager.issuerRef.name) }}
{{- fail "tls.mode cert-manager needs tls.certManager.issuerRef.name" }}
{{- end }}
{{- if and .Values.networkPolicy.enabled (not .Values.networkPolicy.apiServerCIDRs) }}
{{- fail "networkPolicy.enabled needs networkPolicy.apiServerCIDRs: the addresses the kube-apiserver calls janus-apiserver from" }}
{{- end }}
{{- if and (or .Values.tunnel.ingress.enabled .Values.tunnel.gateway.enabled) (not .Values.tunnel.enabled) }}
{{- fail "tunnel.ingress and tunnel.gateway need tunnel.enabled" }}
{{- end }}
{{- if and .Values.tunnel.ingress.enabled (not .Values.tunnel.ingress.host) }}
{{- fail "tunnel.ingress.enabled needs tunnel.ingress.host" }}
{{- end }}
{{- if and .Values.tunnel.gateway.enabled (or (not .Values.tunnel.gateway.host) (not .Values.tunnel.gateway.parentRefs)) }}
{{- fail "tunnel.gateway.enabled needs tunnel.gateway.host and tunnel.gateway.parentRefs" }}
{{- end }}
{{- if .Values.console.enabled }}
{{- if not .Values.console.oidc.issuerURL }}
{{- fail "console.enabled needs console.oidc.issuerURL" }}
{{- end }}
{{- if not .Values.console.oidc.clientID }}
{{- fail "console.enabled needs console.oidc.clientID" }}
{{- end }}
{{- if not .Values.console.publicURL }}
{{- fail "console.enabled needs console.publicURL" }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Whether the replicas peer their agent tunnels: peering.enabled true, or
auto with apiserver.replicas > 1.
*/}}
{{- define "janus.peering" -}}
{{- $p := .Values.peering.enabled -}}
{{- if eq (toString $p) "auto" -}}
{{- if gt (int .Values.apiserver.replicas) 1 }}true{{ end -}}
{{- else if $p }}true{{ end -}}
{{- end -}}

{{/* The Secret holding the peer token: the user's, or the chart's own. */}}
{{- define "janus.peerTokenSecretName" -}}
{{- .Values.peering.tokenSecret.name | default "janus-apiserver-peer-token" -}}
{{- end -}}

{{/* Whether peers reach each other on the tunnel port's own certificate. */}}
{{- define "janus.peerOnTunnelCert" -}}
{{- if and .Values.tunnel.enabled .Values.tunnel.existingSecret }}true{{ end -}}
{{- end -}}
