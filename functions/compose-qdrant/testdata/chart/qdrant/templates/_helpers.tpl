{{- define "qdrant.fullname" -}}
{{- default (printf "%s-qdrant" .Release.Name) .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}
