
# The previous release sits in the staging slot after a swap: swap back.
az functionapp deployment slot swap --resource-group "rg-${slug}-${environment}" --name "${slug}-${environment}" \
  --slot staging --target-slot production --output none
