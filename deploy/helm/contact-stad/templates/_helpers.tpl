{{/* The release's base name: <release>-contact-stad, or the release name when it already says so. */}}
{{- define "kcc.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kcc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{/* The name of one service's objects (Deployment, Service, PDB, …): <fullname>-<service>. */}}
{{- define "kcc.serviceName" -}}
{{- printf "%s-%s" (include "kcc.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object but the selector ones. */}}
{{- define "kcc.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: contact-stad
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Labels of the objects all services share. */}}
{{- define "kcc.labels" -}}
{{ include "kcc.commonLabels" . }}
app.kubernetes.io/name: {{ include "kcc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector labels of one service's pods; never change them (a Deployment's selector is immutable). */}}
{{- define "kcc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kcc.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* Labels of one service's objects. */}}
{{- define "kcc.serviceLabels" -}}
{{ include "kcc.commonLabels" .root }}
{{ include "kcc.selectorLabels" . }}
{{- end -}}

{{- define "kcc.image" -}}
{{- $image := .root.Values.image -}}
{{- printf "%s%s/%s:%s" $image.registry $image.repository .name (default .root.Chart.AppVersion $image.tag) -}}
{{- end -}}

{{/* The env prefix of a service's own settings: KCC_INTAKE_, KCC_ROUTING_, … */}}
{{- define "kcc.envPrefix" -}}
{{- printf "KCC_%s_" (upper .name) -}}
{{- end -}}

{{/* Whether the chart mounts key files (a JWKS or a PEM public key) from its shared Secret; with
secrets.existingSecret the keys come from KCC_AUTH_JWKS_URL instead. */}}
{{- define "kcc.authFiles" -}}
{{- if and (not .Values.secrets.existingSecret) (or .Values.secrets.jwks .Values.secrets.publicKey) -}}true{{- end -}}
{{- end -}}

{{/* One service's own secret settings (non-empty ones), as YAML: secretEnv, and for intake the
webhook secrets per channel source (KCC_WEBHOOK_SECRETS, read by intake alone). */}}
{{- define "kcc.serviceSecretEnv" -}}
{{- $env := dict -}}
{{- range $key, $value := .svc.secretEnv -}}
{{- if ne (toString $value) "" -}}{{- $_ := set $env $key (toString $value) -}}{{- end -}}
{{- end -}}
{{- if .svc.webhookSecrets -}}
{{- $_ := set $env "KCC_WEBHOOK_SECRETS" (toJson .svc.webhookSecrets) -}}
{{- end -}}
{{- if $env -}}{{- toYaml $env -}}{{- end -}}
{{- end -}}

{{/* The name of one service's own Secret, when it has one. */}}
{{- define "kcc.serviceSecretName" -}}
{{- if .svc.existingSecret -}}
{{- .svc.existingSecret -}}
{{- else if include "kcc.serviceSecretEnv" . -}}
{{- include "kcc.serviceName" . -}}
{{- end -}}
{{- end -}}

{{/*
The autoscaling settings of one service: the global ones with the service's overrides, its lag
triggers as (topic, consumer group) pairs, and the replica ceiling checked against partitions.
Returned as YAML, read back with fromYaml.
*/}}
{{- define "kcc.autoscaling" -}}
{{- $global := .root.Values.autoscaling -}}
{{- $own := default (dict) .svc.autoscaling -}}
{{- $settings := mergeOverwrite (omit (deepCopy $global) "enabled" "kind") (omit (deepCopy $own) "topics") -}}
{{- $partitions := .root.Values.kafka.topicPartitions -}}
{{- $widest := 0 -}}
{{- $triggers := list -}}
{{- range $topic := default (list) $own.topics -}}
{{- if not (hasKey $partitions $topic) -}}
{{- fail (printf "services.%s.autoscaling.topics: %s is not in kafka.topicPartitions" $.name $topic) -}}
{{- end -}}
{{- $count := int (get $partitions $topic) -}}
{{- if gt $count $widest -}}{{- $widest = $count -}}{{- end -}}
{{- /* every service consumes each topic in a group of its own: <groupId>.<topic> */ -}}
{{- $group := printf "%s.%s" $.svc.groupId $topic -}}
{{- $triggers = append $triggers (dict "topic" $topic "group" $group "partitions" $count) -}}
{{- end -}}
{{- if and $triggers (gt (int $settings.maxReplicas) $widest) -}}
{{- fail (printf "services.%s: autoscaling maxReplicas %d is more than the %d partitions of its widest topic; replicas beyond that would sit idle" $.name (int $settings.maxReplicas) $widest) -}}
{{- end -}}
{{- if gt (int $settings.minReplicas) (int $settings.maxReplicas) -}}
{{- fail (printf "services.%s: autoscaling minReplicas %d is more than maxReplicas %d" $.name (int $settings.minReplicas) (int $settings.maxReplicas)) -}}
{{- end -}}
{{- $_ := set $settings "triggers" $triggers -}}
{{- $_ := set $settings "widest" $widest -}}
{{- toYaml $settings -}}
{{- end -}}
