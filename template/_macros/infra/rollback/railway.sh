
: "${RAILWAY_TOKEN:?}"
cd "$root"
# Removing the latest deployment makes Railway serve the previous one again.
npx --yes @railway/cli@latest down --yes --service "$slug" --environment "$environment"
