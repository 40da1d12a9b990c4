
: "${NOMAD_ADDR:?}" "${NOMAD_TOKEN:?}"
job="${slug}-${environment}"
current="$(nomad job inspect -t '{{ '{{' }}.Version{{ '}}' }}' "$job")"
nomad job revert "$job" "$((current - 1))"
