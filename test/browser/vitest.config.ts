import { defineConfig } from "vitest/config";

// The browser tests run apart from `npx vitest run` (scripts/test-browser.sh
// builds the dashboard bundle and checks for Chromium first), one file at a
// time because each case starts Chromium and the demo engine.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.browser.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
