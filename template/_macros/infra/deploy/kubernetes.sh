{%- set ns_labels = i.fact('k8s_service_mesh', 'namespace_labels', {}) %}
{%- set ns_notes = i.fact('k8s_service_mesh', 'namespace_annotations', {}) %}

namespace="${slug}-${environment}"
if [ "$destroy" = "true" ]; then
  kubectl delete namespace "$namespace" --ignore-not-found --wait=false
  exit 0
fi
require_image
# Previews reuse the staging configuration in their own namespace and host.
source_env="$environment"
if [ "$preview" = "true" ]; then source_env="staging"; fi
repository="${image%:*}"
tag="${image##*:}"
kubectl create namespace "$namespace" --dry-run=client --output yaml | kubectl apply --filename -
kubectl label namespace "$namespace" --overwrite pod-security.kubernetes.io/enforce=restricted{% for key, value in ns_labels.items() %} {{ key }}={{ value }}{% endfor %}
{%- if ns_notes %}
kubectl annotate namespace "$namespace" --overwrite{% for key, value in ns_notes.items() %} {{ key }}={{ value }}{% endfor %}
{%- endif %}
{%- if secrets_manager in ('env_files', 'sops') %}
# Secrets: from the environment's .env file ({{ 'decrypted with sops' if secrets_manager == 'sops' else 'kept outside git' }}).
{%- if secrets_manager == 'sops' %}
sops --decrypt "$root/secrets/${source_env}.enc.env" >"${TMPDIR:-/tmp}/${namespace}.env"
{%- else %}
cp "$root/.env.${source_env}" "${TMPDIR:-/tmp}/${namespace}.env"
{%- endif %}
kubectl --namespace "$namespace" create secret generic "${slug}-secrets" --from-env-file "${TMPDIR:-/tmp}/${namespace}.env" \
  --dry-run=client --output yaml | kubectl apply --filename -
rm -f "${TMPDIR:-/tmp}/${namespace}.env"
{%- endif %}
{%- if gitops == 'argocd' and k8s_packaging == 'helm' %}
if [ "$preview" = "false" ]; then
  # Argo CD owns the release: pin the image on the Application, sync, wait for health.
  argocd app set "${slug}-${environment}" --helm-set "image.repository=${repository}" --helm-set "image.tag=${tag}"
  argocd app sync "${slug}-${environment}" --prune
  argocd app wait "${slug}-${environment}" --health --timeout 1800
  smoke
  exit 0
fi
{%- elif gitops == 'argocd' %}
if [ "$preview" = "false" ]; then
  argocd app set "${slug}-${environment}" --kustomize-image "web=${image}"
  argocd app sync "${slug}-${environment}" --prune
  argocd app wait "${slug}-${environment}" --health --timeout 1800
  smoke
  exit 0
fi
{%- elif gitops == 'flux' and k8s_packaging == 'helm' %}
if [ "$preview" = "false" ]; then
  kubectl --namespace flux-system patch helmrelease "${slug}-${environment}" --type merge \
    --patch "{\"spec\": {\"suspend\": false, \"values\": {\"image\": {\"repository\": \"${repository}\", \"tag\": \"${tag}\"}}}}"
  flux reconcile helmrelease "${slug}-${environment}" --namespace flux-system --with-source --timeout 30m
  smoke
  exit 0
fi
{%- endif %}
{%- if k8s_packaging == 'helm' %}
chart="$root/helm/${slug}"
helm upgrade --install "$slug" "$chart" --namespace "$namespace" \
  --values "$chart/values.yaml" --values "$chart/values-${source_env}.yaml" \
  --set "environment=${environment}" --set "host=${host}" \
  --set "image.repository=${repository}" --set "image.tag=${tag}" \
  {% if i.progressive %}--wait-for-jobs{% else %}--atomic --wait{% endif %} --timeout 15m
{%- elif k8s_packaging == 'kustomize' %}
kubectl apply --filename "$root/k8s/cluster"
kubectl kustomize "$root/k8s/overlays/${source_env}" |
  sed -e "s/${slug}-${source_env}/${namespace}/g" -e "s/ ${source_env}\.${domain}/ ${host}/g" |
  kubectl apply --server-side --filename -
{%- else %}
kubectl apply --filename "$root/k8s/cluster"
sed -e "s/${slug}-${source_env}/${namespace}/g" -e "s/ ${source_env}\.${domain}/ ${host}/g" "$root/k8s/${source_env}/manifests.yaml" |
  kubectl apply --server-side --filename -
{%- endif %}
{%- if k8s_packaging != 'helm' %}
{%- if i.progressive %}
kubectl argo rollouts set image "$slug" "web=${image}" --namespace "$namespace"
{%- else %}
kubectl --namespace "$namespace" set image "deployment/${slug}" "web=${image}"
{%- endif %}
{%- if has_worker %}
kubectl --namespace "$namespace" set image "deployment/${slug}-worker" "worker=${image}"
{%- endif %}
{%- endif %}
{%- if i.progressive %}
# Argo Rollouts walks the {{ deployment_strategy }} steps{% if i.analysis_provider %} and aborts on the error-rate analysis{% endif %}.
{%- if deployment_strategy == 'blue_green' %}
kubectl argo rollouts status "$slug" --namespace "$namespace" --timeout 30m || true
smoke "https://${host}" || { kubectl argo rollouts abort "$slug" --namespace "$namespace"; exit 1; }
kubectl argo rollouts promote "$slug" --namespace "$namespace"
{%- elif deployment_strategy == 'ab_testing' %}
echo "the experiment runs on X-Experiment: variant-b; promote with: kubectl argo rollouts promote $slug -n $namespace"
{%- endif %}
if ! kubectl argo rollouts status "$slug" --namespace "$namespace" --timeout 60m; then
  kubectl argo rollouts abort "$slug" --namespace "$namespace"
  exit 1
fi
{%- else %}
kubectl --namespace "$namespace" rollout status "deployment/${slug}" --timeout 15m
{%- endif %}
smoke
