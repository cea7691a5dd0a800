// Runs fingerprint.js's pure functions for tests/web/test_fingerprint_js.py, under Node.
// Usage: node fingerprint_harness.js PATH/TO/fingerprint.js < calls.json
// calls.json: [{"fn": "bitAgreement", "args": [...], "items": [0, 1]}, ...] where "items" lists
// the arguments to turn into Uint32Arrays first (with toItems). Prints one JSON list of
// {"ok": result} or {"error": message}; typed arrays come back as plain lists.
"use strict";
const fs = require("fs");
const path = require("path");

require(path.resolve(process.argv[2]));
const api = globalThis.EarmarkFingerprint;

function plain(value) {
  if (ArrayBuffer.isView(value)) {
    return Array.from(value);
  }
  if (value && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value)) {
      out[key] = plain(value[key]);
    }
    return out;
  }
  return value;
}

const calls = JSON.parse(fs.readFileSync(0, "utf8"));
const results = calls.map((call) => {
  try {
    const args = call.args.map((arg, i) =>
      (call.items || []).includes(i) ? api.toItems(arg) : arg
    );
    return { ok: plain(api[call.fn](...args)) };
  } catch (error) {
    return { error: String(error.message) };
  }
});
process.stdout.write(JSON.stringify(results));
