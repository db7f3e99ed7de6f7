/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// In development the API runs apart (scripts/run-api.sh, port 8000); these
// are its path prefixes. In production Pamps serves both from one origin.
const api = process.env.PAMPS_API ?? "http://127.0.0.1:8000";
const apiPaths = [
  "/post/",
  "/user/",
  "/token",
  "/refresh_token",
  "/logout",
  "/health",
];

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    sourcemap: false,
  },
  server: {
    proxy: Object.fromEntries(apiPaths.map((path) => [path, api])),
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test/setup.ts"],
    restoreMocks: true,
  },
});
