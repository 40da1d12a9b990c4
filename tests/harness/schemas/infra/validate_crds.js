// Validates custom resources against the CRD schemas published as npm @kubernetes-models/*
// (generated from each project's CRDs: Argo Rollouts, Argo CD, Istio, cert-manager,
// External Secrets, Cilium, Flux). Input: a JSON array of {file, doc} on stdin.
// Output: one line per invalid or unknown resource; exit 1 when there is any.
"use strict";
const path = require("path");
const modules = process.argv[2];
const PACKAGES = {
  "argoproj.io": (kind) => (["Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun", "Experiment"].includes(kind) ? "argo-rollouts" : "argo-cd"),
  "networking.istio.io": () => "istio",
  "security.istio.io": () => "istio",
  "cert-manager.io": () => "cert-manager",
  "external-secrets.io": () => "external-secrets",
  "cilium.io": () => "cilium",
};
function packageOf(group, kind) {
  if (PACKAGES[group]) return PACKAGES[group](kind);
  if (group.endsWith(".toolkit.fluxcd.io")) return "flux-cd";
  return null;
}
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  let failed = 0;
  for (const { file, doc } of JSON.parse(input)) {
    const [group, version] = doc.apiVersion.split("/");
    const where = `${file}: ${doc.kind} ${doc.metadata && doc.metadata.name}`;
    const pkg = packageOf(group, doc.kind);
    if (!pkg) {
      console.log(`${where}: no schema known for ${doc.apiVersion}`);
      failed++;
      continue;
    }
    try {
      const mod = require(path.join(modules, "@kubernetes-models", pkg, group, version, doc.kind));
      const Model = mod[doc.kind] || mod.default;
      new Model(doc).validate();
    } catch (error) {
      console.log(`${where}: ${error.message.split("\n").slice(0, 6).join(" | ")}`);
      failed++;
    }
  }
  process.exit(failed ? 1 : 0);
});
