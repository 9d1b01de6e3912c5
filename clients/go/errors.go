package memd

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors, one per status code the server documents. Every error returned by
// a Client method that came from the server is an *Error, which matches the sentinel of
// its code with errors.Is:
//
//	if errors.Is(err, memd.ErrNotFound) { ... }
var (
	// ErrInvalidArgument: a malformed request or item; nothing was changed.
	ErrInvalidArgument = errors.New("memd: invalid argument")
	// ErrNotFound: a key or named object does not exist.
	ErrNotFound = errors.New("memd: not found")
	// ErrAlreadyExists: what the call would create exists (a Transfer's key in its
	// target namespace); nothing was changed.
	ErrAlreadyExists = errors.New("memd: already exists")
	// ErrResourceExhausted: the store is full, a limit was exceeded, or a message was
	// larger than the server accepts; nothing was changed.
	ErrResourceExhausted = errors.New("memd: resource exhausted")
	// ErrUnavailable: the server is unreachable or shutting down; retry later or
	// elsewhere. Acknowledged work stays committed.
	ErrUnavailable = errors.New("memd: unavailable")
	// ErrDataLoss: a memory's value is in the object-storage archive and its object is
	// missing, corrupted or sealed with a key the daemon is not given (docs/archive.md).
	ErrDataLoss = errors.New("memd: data loss")
	// ErrFailedPrecondition: the server's store is closed.
	ErrFailedPrecondition = errors.New("memd: failed precondition")
	// ErrInternal: a storage failure or a server bug; the failed batch was not committed.
	ErrInternal = errors.New("memd: internal error")
	// ErrUnauthenticated: the daemon requires a token (WithToken) and got none, or one
	// that is unknown, expired or revoked.
	ErrUnauthenticated = errors.New("memd: unauthenticated")
	// ErrPermissionDenied: the token is valid but has no grant for this action on this
	// namespace; nothing was changed.
	ErrPermissionDenied = errors.New("memd: permission denied")
)

var sentinels = map[codes.Code]error{
	codes.InvalidArgument:    ErrInvalidArgument,
	codes.NotFound:           ErrNotFound,
	codes.AlreadyExists:      ErrAlreadyExists,
	codes.ResourceExhausted:  ErrResourceExhausted,
	codes.Unavailable:        ErrUnavailable,
	codes.FailedPrecondition: ErrFailedPrecondition,
	codes.DataLoss:           ErrDataLoss,
	codes.Internal:           ErrInternal,
	codes.Unauthenticated:    ErrUnauthenticated,
	codes.PermissionDenied:   ErrPermissionDenied,
}

// Error is a failed RPC: the operation, the gRPC status code and the server's message.
//
// errors.Is(err, ErrX) matches the sentinel of Code; a cancelled or timed-out call also
// matches context.Canceled or context.DeadlineExceeded. status.Code(err) and
// status.FromError(err) see the original gRPC status.
type Error struct {
	// Op is the Client method, e.g. "Store".
	Op string
	// Code is the gRPC status code.
	Code codes.Code
	// Message is the server's human-readable reason. Branch on Code, not on it.
	Message string
	st      *status.Status
}

func (e *Error) Error() string {
	return fmt.Sprintf("memd: %s: %s: %s", e.Op, e.Code, e.Message)
}

// Is reports whether target is the sentinel (or context error) of e.Code.
func (e *Error) Is(target error) bool {
	if s, ok := sentinels[e.Code]; ok && target == s {
		return true
	}
	switch e.Code {
	case codes.Canceled:
		return target == context.Canceled
	case codes.DeadlineExceeded:
		return target == context.DeadlineExceeded
	}
	return false
}

// GRPCStatus returns the original status, for status.FromError and status.Code.
func (e *Error) GRPCStatus() *status.Status { return e.st }

// wrap turns an error from a gRPC call into an *Error (nil stays nil; errors that are
// not gRPC statuses, e.g. a context error raised before the call, are kept as they are).
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var me *Error
	if errors.As(err, &me) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("memd: %s: %w", op, err)
	}
	return &Error{Op: op, Code: st.Code(), Message: st.Message(), st: st}
}

// ItemError is why one item of a Store batch failed while the rest were stored.
// It matches the sentinel of its Code with errors.Is, like Error.
type ItemError struct {
	// Index is the item's position in the slice passed to Store or BulkStore.
	Index int
	// Code is the status code of the failure, e.g. codes.InvalidArgument.
	Code codes.Code
	// Message is the server's reason.
	Message string
}

func (e *ItemError) Error() string {
	return fmt.Sprintf("memd: item %d: %s: %s", e.Index, e.Code, e.Message)
}

// Is reports whether target is the sentinel of e.Code.
func (e *ItemError) Is(target error) bool {
	s, ok := sentinels[e.Code]
	return ok && target == s
}
