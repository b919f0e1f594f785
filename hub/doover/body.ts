// Request bodies for the Doover-compatible API: JSON, optionally gzip-compressed
// (pydoover's DataClient gzips every JSON body of 50 bytes or more, `Content-Encoding: gzip`).
// Both the bytes on the wire and the bytes after inflating are bounded, so a small gzip bomb
// cannot make the hub allocate more than `maxInflated`.
import type { IncomingMessage } from "node:http";
import { gunzip } from "node:zlib";
import { TagwireError } from "../../bindings/core/errors.js";
import { parseJsonBody } from "../json-body.js";
import { DooverHttpError } from "./errors.js";

export interface BodyLimits {
  /** Bytes read from the socket. */
  maxWire: number;
  /** Bytes after decompression (and the JSON text limit without compression). */
  maxInflated: number;
  maxDepth: number;
}

function readRaw(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(new TagwireError("TAGWIRE_ERR_SIZE", `request body of ${declared} bytes (limit ${limit})`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new TagwireError("TAGWIRE_ERR_SIZE", `request body over ${limit} bytes`));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on("error", reject);
  });
}

function inflate(bytes: Buffer, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gunzip(bytes, { maxOutputLength: limit }, (err, out) => {
      if (!err) return resolve(out);
      if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) {
        reject(new TagwireError("TAGWIRE_ERR_SIZE", `gzip body inflates to more than ${limit} bytes`));
      } else reject(new TagwireError("TAGWIRE_ERR_PAYLOAD", `body is not valid gzip: ${err.message}`));
    });
  });
}

/** The JSON body of a request; `undefined` when there is none. */
export async function readJsonBody(req: IncomingMessage, limits: BodyLimits): Promise<unknown> {
  const encoding = String(req.headers["content-encoding"] ?? "identity")
    .trim()
    .toLowerCase();
  if (encoding !== "identity" && encoding !== "gzip" && encoding !== "x-gzip") {
    throw new DooverHttpError(415, "TAGWIRE_ERR_ENCODING", `Content-Encoding ${encoding} is not supported (use gzip or none)`);
  }
  const raw = await readRaw(req, encoding === "identity" ? limits.maxInflated : limits.maxWire);
  if (raw.length === 0) return undefined;
  const bytes = encoding === "identity" ? raw : await inflate(raw, limits.maxInflated);
  return parseJsonBody(bytes.toString("utf8"), limits.maxDepth);
}
