
require VERCEL_TOKEN VERCEL_ORG_ID VERCEL_PROJECT_ID
cd "$root"
if [ "$destroy" = "true" ]; then
  npx --yes vercel@latest alias rm "$host" --yes --token "$VERCEL_TOKEN"
  exit 0
fi
if [ "$environment" = "production" ]; then
  npx --yes vercel@latest pull --yes --environment=production --token "$VERCEL_TOKEN"
  npx --yes vercel@latest build --prod --token "$VERCEL_TOKEN"
  deployment="$(npx --yes vercel@latest deploy --prebuilt --prod --token "$VERCEL_TOKEN")"
else
  npx --yes vercel@latest pull --yes --environment=preview --token "$VERCEL_TOKEN"
  npx --yes vercel@latest build --token "$VERCEL_TOKEN"
  deployment="$(npx --yes vercel@latest deploy --prebuilt --token "$VERCEL_TOKEN")"
  npx --yes vercel@latest alias set "$deployment" "$host" --token "$VERCEL_TOKEN"
fi
echo "deployed $deployment"
smoke
