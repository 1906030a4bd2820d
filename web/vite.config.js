import { defineConfig } from "vite";

// `npm run dev` proxies the API to a running sluice (SLUICE_URL, default the demo's port), so the
// page can be worked on with hot reload; the CMake build runs `vite build` and embeds dist/.
const target = process.env.SLUICE_URL || "http://127.0.0.1:8080";

export default defineConfig({
  base: "/",
  build: {
    outDir: process.env.SLUICE_WEB_OUT || "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    // One small bundle: the dashboard is served from memory, inlining tiny files saves requests.
    assetsInlineLimit: 8192,
    reportCompressedSize: false,
    target: "es2022",
  },
  server: {
    proxy: {
      "/v1": { target, changeOrigin: false },
      "/metrics": target,
      "/health": target,
      "/ready": target,
    },
  },
});
