// Every failure of a request becomes an ApiError whose message is a sentence
// a person can act on; 422s also say which field is wrong.
export type ErrorContext = "login" | "default";

export class ApiError extends Error {
  readonly status: number;
  readonly fields: Record<string, string>;
  readonly retryAfter: number | null;

  constructor(
    status: number,
    message: string,
    fields: Record<string, string> = {},
    retryAfter: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }
}

export const NETWORK_DOWN =
  "Network down: Pamps could not be reached. Check your connection and try again.";
export const SERVER_BUSY = "Server busy, please try again in a moment.";

interface FieldError {
  loc?: (string | number)[];
  msg?: string;
}

export function retryAfterSeconds(value: string | null): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date)
    ? null
    : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

export function tooManyAttempts(seconds: number | null): string {
  const minutes = Math.max(1, Math.ceil((seconds ?? 60) / 60));
  return `Too many attempts, try again in ${minutes} ${minutes === 1 ? "minute" : "minutes"}.`;
}

function fieldMessage(msg: string): string {
  // Pydantic prefixes custom checks with "Value error, ".
  const text = msg.replace(/^Value error, /, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function fieldErrors(detail: unknown): Record<string, string> {
  const fields: Record<string, string> = {};
  if (!Array.isArray(detail)) return fields;
  for (const item of detail as FieldError[]) {
    const loc = item.loc ?? [];
    const name =
      loc.length > 1 && loc[0] !== "path" ? String(loc[loc.length - 1]) : "";
    if (name && item.msg && !(name in fields))
      fields[name] = fieldMessage(item.msg);
  }
  return fields;
}

function detailText(detail: unknown): string | null {
  if (typeof detail === "string" && detail)
    return detail.endsWith(".") ? detail : `${detail}.`;
  if (Array.isArray(detail)) {
    const first = (detail as FieldError[])[0];
    if (first?.msg) return fieldMessage(first.msg);
  }
  return null;
}

export function errorFromResponse(
  response: Response,
  body: unknown,
  context: ErrorContext = "default",
): ApiError {
  const status = response.status;
  const detail = (body as { detail?: unknown } | null)?.detail;
  const retryAfter = retryAfterSeconds(response.headers.get("Retry-After"));
  switch (status) {
    case 401:
      return new ApiError(
        status,
        context === "login"
          ? "Wrong username or password."
          : "Your session has ended. Please log in again.",
      );
    case 403:
      return new ApiError(
        status,
        detailText(detail) ?? "You are not allowed to do that.",
      );
    case 404:
      return new ApiError(status, detailText(detail) ?? "Not found.");
    case 409:
      return new ApiError(
        status,
        detailText(detail) ?? "That is already taken.",
      );
    case 413:
      return new ApiError(status, "That is too large to send.");
    case 422: {
      const fields = fieldErrors(detail);
      const message = Object.keys(fields).length
        ? "Please correct the fields marked below."
        : (detailText(detail) ?? "That was not accepted.");
      return new ApiError(status, message, fields);
    }
    case 429:
      return new ApiError(status, tooManyAttempts(retryAfter), {}, retryAfter);
    case 503:
      return new ApiError(status, SERVER_BUSY, {}, retryAfter);
    default:
      if (status >= 500) {
        return new ApiError(
          status,
          `Something went wrong on the server (error ${status}).`,
        );
      }
      return new ApiError(
        status,
        detailText(detail) ?? `The request failed (error ${status}).`,
      );
  }
}

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  // fetch rejects with a TypeError when the network or the server is unreachable.
  return new ApiError(0, NETWORK_DOWN);
}
