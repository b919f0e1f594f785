// The page's link to the hub: one RemoteSession over the page's own WebSocket, to the origin
// that served the page. The session reconnects by itself (backoff with jitter, capped at 5 s
// here) and resubscribes; this module turns its states into what the top bar shows, and handles
// the token: from `?token=` (then removed from the address bar), else remembered in
// localStorage, else none. A hub that refuses the hello (TAGWIRE_ERR_AUTH) ends the session;
// the page then asks for a token and starts a new one.
import { connectSession } from "../../bindings/client/connect.js";
import type { RemoteSession, RemoteSessionEvent } from "../../bindings/client/remote-session.js";
import { TagwireError } from "../../bindings/core/errors.js";
import { randomId } from "../../bindings/protocol/ids.js";

export type ConnectionState = "connecting" | "online" | "reconnecting" | "auth" | "closed";

export interface TokenClaims {
  agentId: string;
  role: string;
  grants: string[];
  expiresAt: number;
}

const STORAGE_KEY = "tagwire.token";

/** The claims of a tagwire token (read only: the hub checks the signature). */
export function readClaims(token: string): TokenClaims | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== "tw1") return undefined;
  try {
    const json = atob(parts[1]!.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const c = JSON.parse(new TextDecoder().decode(bytes)) as { a?: unknown; r?: unknown; g?: unknown; e?: unknown };
    if (typeof c.a !== "string" || typeof c.r !== "string") return undefined;
    return {
      agentId: c.a,
      role: c.r,
      grants: Array.isArray(c.g) ? c.g.filter((g): g is string => typeof g === "string") : [],
      expiresAt: typeof c.e === "number" ? c.e : Infinity,
    };
  } catch {
    return undefined;
  }
}

function storedToken(): string | undefined {
  try {
    return localStorage.getItem(STORAGE_KEY) ?? undefined;
  } catch {
    return undefined; // storage disabled
  }
}

function storeToken(token: string | undefined): void {
  try {
    if (token) localStorage.setItem(STORAGE_KEY, token);
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage disabled: the token lives for this page only
  }
}

/** Takes `?token=` from the address (and removes it, so it is not bookmarked or shared). */
function tokenFromAddress(): string | undefined {
  const url = new URL(location.href);
  const token = url.searchParams.get("token");
  if (token === null) return undefined;
  url.searchParams.delete("token");
  history.replaceState(null, "", url.pathname + url.search + url.hash);
  return token;
}

/** A hello the hub refused: no retry helps, only another token. */
function isRefusal(error: unknown): error is TagwireError {
  return error instanceof TagwireError && (error.code === "TAGWIRE_ERR_AUTH" || error.code === "TAGWIRE_ERR_FORBIDDEN");
}

export interface ConnectionHandlers {
  /** A new session exists (at start and after a new token): subscribe on it. */
  session(session: RemoteSession): void;
  state(state: ConnectionState, detail: string): void;
  /** The hub wants a token (none, or the one given was refused). */
  needToken(reason: string): void;
  /** The hub refused a subscription (a pattern the token may not read). */
  subscriptionRefused(event: Extract<RemoteSessionEvent, { type: "subscriptionRefused" }>): void;
  /** Errors nobody awaits (a listener that threw, a malformed frame). */
  error(error: unknown, context: string): void;
}

export class HubConnection {
  /** ws:// or wss:// of the page's origin. */
  readonly url: string;
  session: RemoteSession | undefined;
  token: string | undefined;
  claims: TokenClaims | undefined;
  agentId = `viewer-${randomId()}`;
  state: ConnectionState = "connecting";
  private readonly handlers: ConnectionHandlers;
  private generation = 0;

  constructor(handlers: ConnectionHandlers, url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/`) {
    this.url = url;
    this.handlers = handlers;
    const fromAddress = tokenFromAddress();
    if (fromAddress) storeToken(fromAddress);
    this.setToken(fromAddress ?? storedToken());
  }

  /** Opens a session with the current token (closing the previous one). */
  start(): void {
    const old = this.session;
    this.session = undefined;
    if (old) void old.close(0);
    const generation = ++this.generation;
    if (this.claims && this.claims.expiresAt * 1000 <= Date.now()) {
      this.setState("auth", "token expired");
      this.handlers.needToken(`The stored token expired on ${new Date(this.claims.expiresAt * 1000).toLocaleString()}.`);
      return;
    }
    this.setState("connecting", `connecting to ${this.url}`);
    void connectSession(this.url, {
      agentId: this.agentId,
      ...(this.token ? { token: this.token } : {}),
      connectTimeoutMs: 0,
      backoff: { initialMs: 400, maxMs: 5000 },
      pingIntervalMs: 10_000,
      pingTimeoutMs: 5_000,
      onError: (error, context) => {
        if (isRefusal(error) && context.startsWith("connecting")) return; // the state shows it
        this.handlers.error(error, context);
      },
    }).then((session) => {
      if (generation !== this.generation) {
        void session.close(0);
        return;
      }
      this.session = session;
      // Before `handlers.session` subscribes, so no refusal goes to the generic error path.
      session.onEvent((event) => {
        if (generation === this.generation && event.type === "subscriptionRefused") this.handlers.subscriptionRefused(event);
      });
      session.onState((state, detail) => {
        if (generation !== this.generation) return;
        if (isRefusal(detail)) {
          this.setState("auth", detail.message);
          this.handlers.needToken(this.token ? `The hub refused the token: ${detail.message}.` : "This hub requires a token.");
          return;
        }
        if (state === "online") this.setState("online", "connected");
        else if (state === "offline") this.setState("reconnecting", detail && "reason" in detail ? String(detail.reason ?? "") : "");
        else if (state === "closed") this.setState("closed", "closed");
      });
      this.handlers.session(session);
    });
  }

  /** Uses `token` from now on (remembered in this browser) and reconnects. */
  useToken(token: string | undefined): void {
    storeToken(token);
    this.setToken(token);
    this.start();
  }

  private setToken(token: string | undefined): void {
    this.token = token || undefined;
    this.claims = this.token ? readClaims(this.token) : undefined;
    // With auth on, the hello must name the token's agent.
    if (this.claims) this.agentId = this.claims.agentId;
  }

  private setState(state: ConnectionState, detail: string): void {
    this.state = state;
    this.handlers.state(state, detail);
  }
}
