import { BerthError } from "../errors.js";

/** The session cookie secret is missing or too weak. */
export class SessionSecretError extends BerthError {
  static readonly code = "session-secret";
  constructor(detail: string) {
    super(
      SessionSecretError.code,
      `${detail}; set BERTH_SECRET to a random string of at least 32 characters, the same on every node of the cluster ` +
        `(e.g. BERTH_SECRET=$(openssl rand -base64 32)); to rotate, list the new secret first: BERTH_SECRET=new,old`,
    );
    this.name = "SessionSecretError";
  }
}

/** The app module serves no HTTP routes, or exports something else under `http`. */
export class HttpAppError extends BerthError {
  static readonly code = "http-app";
  constructor(detail: string) {
    super(HttpAppError.code, `${detail}; export the routes from the app module: export const http = defineHttp((app) => { app.get(...) }) (see docs/guides/http.md)`);
    this.name = "HttpAppError";
  }
}
