{{/* Names: 63 chars max (DNS label), release name alone when it already contains the chart name. */}}
{{- define "unmute-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "unmute-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "unmute-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "unmute-operator.labels" -}}
helm.sh/chart: {{ include "unmute-operator.chart" . }}
{{ include "unmute-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: unmute-operator
{{- end }}

{{/* Selector labels: immutable on a Deployment, so nothing that changes between versions. */}}
{{- define "unmute-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "unmute-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "unmute-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "unmute-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "unmute-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
What the operator does in each namespace it manages: exactly the resources and verbs the code
uses (test/unit/packaging/rbac.test.ts derives them from the renderers and fails on a gap).
Shared by the ClusterRole (all namespaces) and the per-namespace Roles (watchNamespaces).
*/}}
{{- define "unmute-operator.managerRules" -}}
# The CRs: read them, hold their drain finalizer (server-side apply of metadata.finalizers only),
# write status (server-side apply on /status), and the owner references with blockOwnerDeletion on
# everything below (checked against /finalizers where OwnerReferencesPermissionEnforcement is on).
- apiGroups: ["unmute.sh"]
  resources: ["unmutedeployments"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["unmute.sh"]
  resources: ["unmutedeployments/status"]
  verbs: ["patch"]
- apiGroups: ["unmute.sh"]
  resources: ["unmutedeployments/finalizers"]
  verbs: ["update"]
# Objects rendered from each CR: cached by informers, server-side applied (patch, and create when
# absent), deleted when the CR no longer implies them. Never updated with PUT.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["services", "configmaps"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses", "networkpolicies"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["monitoring.coreos.com"]
  resources: ["servicemonitors", "podmonitors", "prometheusrules"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["grafana.integreatly.org"]
  resources: ["grafanadashboards"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Backend pods: session metrics per pod, and the serving label and deletion cost that drain one.
# No create: the operator never makes bare pods.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["get", "list", "watch"]
# Referenced Secrets (HF token, LLM API key) are only checked to exist and hold the key: no list/watch.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
# Events on the CRs (events.k8s.io/v1; repeats of a series are merge-patched).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/* Leader election: the release's own Lease in the release namespace (create cannot be limited by name). */}}
{{- define "unmute-operator.leaderElectionRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["create"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  resourceNames: [{{ include "unmute-operator.fullname" . | quote }}]
  verbs: ["get", "update"]
{{- end }}

{{- define "unmute-operator.namespaced" -}}
{{- if gt (len .Values.watchNamespaces) 0 }}true{{ end }}
{{- end }}
