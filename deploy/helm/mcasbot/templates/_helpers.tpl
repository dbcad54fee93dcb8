{{- define "mcasbot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mcasbot.fullname" -}}
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

{{- define "mcasbot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mcasbot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mcasbot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mcasbot.labels" -}}
helm.sh/chart: {{ include "mcasbot.chart" . }}
{{ include "mcasbot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "mcasbot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mcasbot.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "mcasbot.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Secret holding DATABASE_URL when database.kind is postgres. */}}
{{- define "mcasbot.databaseSecret" -}}
{{- default .Values.secrets.existingSecret .Values.database.postgres.existingSecret }}
{{- end }}

{{- define "mcasbot.tenantsConfigMap" -}}
{{- if .Values.tenants.existingConfigMap }}
{{- .Values.tenants.existingConfigMap }}
{{- else if .Values.tenants.content }}
{{- printf "%s-tenants" (include "mcasbot.fullname" .) }}
{{- end }}
{{- end }}

{{/*
Refusals the schema cannot express, with messages that say what to set.
*/}}
{{- define "mcasbot.validate" -}}
{{- $v := .Values }}
{{- if and (gt (int $v.replicaCount) 1) (ne $v.database.kind "postgres") }}
{{- fail (printf "replicaCount is %d, but replicas share state (issue claims, digest runs, request budgets) only through PostgreSQL: set database.kind=postgres and database.postgres.existingSecret (a Secret whose %q key holds postgres://…), or replicaCount=1" (int $v.replicaCount) $v.database.postgres.key) }}
{{- end }}
{{- if and (eq $v.database.kind "postgres") (not (include "mcasbot.databaseSecret" .)) }}
{{- fail "database.kind is postgres: set database.postgres.existingSecret (or secrets.existingSecret) to the Secret that holds DATABASE_URL" }}
{{- end }}
{{- if and $v.secrets.files (not $v.secrets.existingSecret) }}
{{- fail "secrets.files maps variables to keys of a Secret: set secrets.existingSecret to its name" }}
{{- end }}
{{- if and $v.tenants.content $v.tenants.existingConfigMap }}
{{- fail "tenants: set content or existingConfigMap, not both" }}
{{- end }}
{{- if and $v.workloadIdentity.enabled $v.serviceAccount.create (not $v.workloadIdentity.clientId) }}
{{- fail "workloadIdentity.enabled needs workloadIdentity.clientId (the Entra application or managed identity with a federated credential for this service account)" }}
{{- end }}
{{- if and $v.workloadIdentity.enabled (not $v.serviceAccount.create) (not $v.serviceAccount.name) }}
{{- fail "workloadIdentity.enabled with serviceAccount.create=false: set serviceAccount.name to your ServiceAccount annotated with azure.workload.identity/client-id" }}
{{- end }}
{{- if and $v.workloadIdentity.enabled (hasKey $v.config "AZURE_CLIENT_ID") }}
{{- fail "workloadIdentity.enabled: the webhook sets AZURE_CLIENT_ID from workloadIdentity.clientId; remove config.AZURE_CLIENT_ID" }}
{{- end }}
{{- end }}
