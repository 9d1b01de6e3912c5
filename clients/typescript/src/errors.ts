import { status, type ServiceError } from "@grpc/grpc-js";

/**
 * A failed memd call: the operation, the gRPC status code and the server's message.
 * Every error a MemdClient method rejects with is a MemdError; the subclass tells the
 * code (`err instanceof NotFoundError`), `err.code` is the numeric `grpc.status`.
 */
export class MemdError extends Error {
  /** gRPC status code (`grpc.status.NOT_FOUND`, ...). */
  readonly code: status;
  /** The MemdClient method, e.g. "store". */
  readonly op: string;
  /** The server's human-readable reason. Branch on the class or `code`, not on it. */
  readonly details: string;
  /**
   * bulkStore only: how many leading items of the input were acknowledged (committed)
   * before the error; resend the rest.
   */
  acked?: number;

  constructor(op: string, code: status, details: string, options?: { cause?: unknown }) {
    super(`memd: ${op}: ${status[code] ?? code}: ${details}`, options);
    this.name = new.target.name;
    this.code = code;
    this.op = op;
    this.details = details;
  }
}

/** INVALID_ARGUMENT: a malformed request or item; nothing was changed. */
export class InvalidArgumentError extends MemdError {}
/** NOT_FOUND: a key or named object does not exist. */
export class NotFoundError extends MemdError {}
/** ALREADY_EXISTS: what the call would create exists (a Transfer's key in its target); nothing was changed. */
export class AlreadyExistsError extends MemdError {}
/** RESOURCE_EXHAUSTED: the store is full or a message/batch is over a limit. */
export class ResourceExhaustedError extends MemdError {}
/** UNAVAILABLE: the server is unreachable or draining; retry later or elsewhere. */
export class UnavailableError extends MemdError {}
/** DATA_LOSS: an archived value's object is missing, corrupted or sealed with an unknown key (docs/archive.md). */
export class DataLossError extends MemdError {}
/** FAILED_PRECONDITION: the server's store is closed. */
export class FailedPreconditionError extends MemdError {}
/** INTERNAL: a storage failure or a server bug; the failed batch was not committed. */
export class InternalError extends MemdError {}
/** DEADLINE_EXCEEDED: the call's deadline (timeoutMs) passed. */
export class DeadlineExceededError extends MemdError {}
/** CANCELLED: the call was cancelled (AbortSignal, or the client closed). */
export class CancelledError extends MemdError {}
/** UNIMPLEMENTED: the server does not know the RPC. */
export class UnimplementedError extends MemdError {}
/** UNAUTHENTICATED: the daemon requires a token and got none, or an unknown, expired or revoked one. */
export class UnauthenticatedError extends MemdError {}
/** PERMISSION_DENIED: the token is valid but has no grant for this action on this namespace. */
export class PermissionDeniedError extends MemdError {}

type ErrorClass = new (op: string, code: status, details: string, options?: { cause?: unknown }) => MemdError;

/** The class used for each status code; other codes map to MemdError itself. */
export const ERROR_CLASSES: ReadonlyMap<status, ErrorClass> = new Map<status, ErrorClass>([
  [status.INVALID_ARGUMENT, InvalidArgumentError],
  [status.NOT_FOUND, NotFoundError],
  [status.ALREADY_EXISTS, AlreadyExistsError],
  [status.RESOURCE_EXHAUSTED, ResourceExhaustedError],
  [status.UNAVAILABLE, UnavailableError],
  [status.FAILED_PRECONDITION, FailedPreconditionError],
  [status.DATA_LOSS, DataLossError],
  [status.INTERNAL, InternalError],
  [status.DEADLINE_EXCEEDED, DeadlineExceededError],
  [status.CANCELLED, CancelledError],
  [status.UNIMPLEMENTED, UnimplementedError],
  [status.UNAUTHENTICATED, UnauthenticatedError],
  [status.PERMISSION_DENIED, PermissionDeniedError],
]);

/** Builds the MemdError subclass of `code`. */
export function memdError(op: string, code: status, details: string, cause?: unknown): MemdError {
  const Cls = ERROR_CLASSES.get(code) ?? MemdError;
  return new Cls(op, code, details, cause === undefined ? undefined : { cause });
}

function isServiceError(e: unknown): e is ServiceError {
  return e instanceof Error && typeof (e as Partial<ServiceError>).code === "number" && "details" in e;
}

/** Turns whatever a grpc-js call failed with into a MemdError (kept as is if it is one). */
export function toMemdError(op: string, e: unknown): MemdError {
  if (e instanceof MemdError) return e;
  if (isServiceError(e)) return memdError(op, e.code, e.details, e);
  const msg = e instanceof Error ? e.message : String(e);
  return memdError(op, status.UNKNOWN, msg, e);
}
