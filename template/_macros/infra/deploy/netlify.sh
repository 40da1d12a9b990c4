
require NETLIFY_AUTH_TOKEN NETLIFY_SITE_ID
cd "$root"
if [ "$destroy" = "true" ]; then
  echo "Netlify deploy previews are immutable; nothing to remove for $environment"
  exit 0
fi
if [ "$environment" = "production" ]; then
  npx --yes netlify-cli@latest deploy --build --prod --site "$NETLIFY_SITE_ID" --auth "$NETLIFY_AUTH_TOKEN"
  smoke
else
  npx --yes netlify-cli@latest deploy --build --alias "$environment" --site "$NETLIFY_SITE_ID" --auth "$NETLIFY_AUTH_TOKEN" --json >"${TMPDIR:-/tmp}/netlify-deploy.json"
  smoke "$(jq -r '.deploy_url' "${TMPDIR:-/tmp}/netlify-deploy.json")"
fi
