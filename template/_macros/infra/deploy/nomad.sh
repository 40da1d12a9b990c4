
require NOMAD_ADDR NOMAD_TOKEN
job="${slug}-${environment}"
if [ "$destroy" = "true" ]; then
  nomad job stop -purge "$job"
  exit 0
fi
require_image
nomad job run -detach -var "image=${image}" -var "environment=${environment}" -var "host=${host}" "$root/nomad/${slug}.nomad.hcl"
deployment="$(nomad job deployments -latest -t '{{ '{{' }}.ID{{ '}}' }}' "$job")"
{%- if deployment_strategy != 'rolling' %}
# Canaries run beside the stable allocations until promoted.
for _ in $(seq 1 60); do
  healthy="$(nomad deployment status -t '{{ '{{' }}range .TaskGroups{{ '}}' }}{{ '{{' }}.HealthyAllocs{{ '}}' }}{{ '{{' }}end{{ '}}' }}' "$deployment")"
  [ "${healthy:-0}" -ge 1 ] && break
  sleep 10
done
if ! smoke; then
  nomad deployment fail "$deployment"
  exit 1
fi
sleep "$pause"
nomad deployment promote "$deployment"
{%- endif %}
nomad deployment status -monitor "$deployment"
smoke
