import { defineConfig } from "vite";

/** Where `npm run dev -w @mypay/console` sends API calls: a mesh started with `npm start`. */
const gateway = process.env.CONSOLE_DEV_GATEWAY ?? "http://127.0.0.1:8080";

export default defineConfig({
  // Served by the gateway under /console/; hashed file names under assets/ are cached for a year.
  base: "/console/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    // The gateway's CSP allows no inline script or data: script; keep every asset a file.
    assetsInlineLimit: 0,
  },
  server: {
    proxy: {
      "/api": gateway,
      "/mypay.": gateway,
    },
  },
});
