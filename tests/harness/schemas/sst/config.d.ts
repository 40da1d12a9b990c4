// Written by prodready's test harness, not by SST: SST generates .sst/platform/config.d.ts only after
// `bun install` of the platform's dependencies, which needs a download. This is the same declaration,
// written from SST's documented config API (https://sst.dev/docs/reference/config/) and the platform
// sources `sst install` extracts from the CLI binary (src/config.ts, src/global.d.ts).
import "./src/global.d.ts";
import { AppInput, App, Config } from "./src/config";
import * as _aws from "@pulumi/aws";

declare global {
  // @ts-expect-error
  export import aws = _aws;
  interface Providers {
    providers?: {
      "aws"?: (_aws.ProviderArgs & { version?: string }) | boolean | string;
    };
  }
  export const $config: (
    input: Omit<Config, "app"> & {
      app(input: AppInput): Omit<App, "providers"> & Providers;
    },
  ) => Config;
}
