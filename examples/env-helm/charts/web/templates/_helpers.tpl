{{/* Selector labels: stable across upgrades, so never include the chart version. */}}
{{- define "web.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "web.labels" -}}
{{ include "web.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* repo:tag, repo@digest or repo:tag@digest, whichever the values hold. */}}
{{- define "web.image" -}}
{{- $ref := .Values.image.repository -}}
{{- if .Values.image.tag }}{{ $ref = printf "%s:%s" $ref (toString .Values.image.tag) }}{{ end -}}
{{- if .Values.image.digest }}{{ $ref = printf "%s@%s" $ref .Values.image.digest }}{{ end -}}
{{- $ref -}}
{{- end }}
