
for service in app{% if has_worker %} worker{% endif %}; do
  docker service rollback "${slug}-${environment}_${service}"
done
