
namespace="${slug}-${environment}"
{%- if i.progressive %}
kubectl argo rollouts undo "$slug" --namespace "$namespace"
kubectl argo rollouts status "$slug" --namespace "$namespace" --timeout 30m
{%- elif k8s_packaging == 'helm' %}
helm rollback "$slug" --namespace "$namespace" --wait --timeout 15m
{%- else %}
kubectl --namespace "$namespace" rollout undo "deployment/${slug}"
kubectl --namespace "$namespace" rollout status "deployment/${slug}" --timeout 15m
{%- endif %}
{%- if has_worker and not (k8s_packaging == 'helm' and not i.progressive) %}
kubectl --namespace "$namespace" rollout undo "deployment/${slug}-worker"
{%- endif %}
