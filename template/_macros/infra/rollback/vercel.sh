
: "${VERCEL_TOKEN:?}"
cd "$root"
npx --yes vercel@latest rollback --yes --token "$VERCEL_TOKEN"
