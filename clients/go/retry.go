package memd

import (
	"encoding/json"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// RetryPolicy says how calls that fail with UNAVAILABLE (the server is unreachable or
// draining) are retried. It becomes the connection's default gRPC service config, so
// grpc-go does the retrying: attempt n+1 starts after a random delay in
// [0, min(InitialBackoff*Multiplier^(n-1), MaxBackoff)).
//
// Every RPC is retried except StoreStream (BulkStore): on an error the batches
// acknowledged before it stay committed and the error is returned with the count. A
// stream (Search, List pages) is retried only before its first response. The call's
// context deadline bounds all its attempts together. A retried Store of memories
// without keys can store them twice if the first attempt committed just before the
// connection broke: give keys when that matters.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt; grpc-go caps it at 5. Below 2: no retries.
	MaxAttempts int
	// InitialBackoff is the upper bound of the first delay.
	InitialBackoff time.Duration
	// MaxBackoff caps the upper bound of every delay.
	MaxBackoff time.Duration
	// Multiplier grows the bound after every attempt.
	Multiplier float64
}

// DefaultRetryPolicy is what Dial uses (the same as the Python client's default).
var DefaultRetryPolicy = RetryPolicy{
	MaxAttempts:    4,
	InitialBackoff: 50 * time.Millisecond,
	MaxBackoff:     2 * time.Second,
	Multiplier:     2,
}

// ServiceName is the gRPC service of memd's API.
const ServiceName = "memd.v1.MemoryService"

// ServiceConfig returns the gRPC service config (JSON) that applies the policy to every
// memd RPC except StoreStream.
func (p RetryPolicy) ServiceConfig() string {
	type name struct {
		Service string `json:"service"`
		Method  string `json:"method,omitempty"`
	}
	type retryPolicy struct {
		MaxAttempts          int      `json:"maxAttempts"`
		InitialBackoff       string   `json:"initialBackoff"`
		MaxBackoff           string   `json:"maxBackoff"`
		BackoffMultiplier    float64  `json:"backoffMultiplier"`
		RetryableStatusCodes []string `json:"retryableStatusCodes"`
	}
	type methodConfig struct {
		Name        []name       `json:"name"`
		RetryPolicy *retryPolicy `json:"retryPolicy,omitempty"`
	}
	// The method-specific entry comes first: grpc-go picks the most specific name,
	// other implementations the first that matches.
	configs := []methodConfig{{Name: []name{{Service: ServiceName, Method: "StoreStream"}}}}
	if p.MaxAttempts >= 2 {
		seconds := func(d, floor time.Duration) string {
			if d < floor {
				d = floor
			}
			return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
		}
		mult := p.Multiplier
		if mult <= 0 {
			mult = 1
		}
		configs = append(configs, methodConfig{
			Name: []name{{Service: ServiceName}},
			RetryPolicy: &retryPolicy{
				MaxAttempts:          p.MaxAttempts,
				InitialBackoff:       seconds(p.InitialBackoff, time.Millisecond),
				MaxBackoff:           seconds(p.MaxBackoff, time.Millisecond),
				BackoffMultiplier:    mult,
				RetryableStatusCodes: []string{"UNAVAILABLE"},
			},
		})
	}
	b, _ := json.Marshal(struct {
		MethodConfig []methodConfig `json:"methodConfig"`
	}{configs})
	return string(b)
}

// WithRetry is a Dial option replacing DefaultRetryPolicy with p.
func WithRetry(p RetryPolicy) grpc.DialOption {
	return grpc.WithDefaultServiceConfig(p.ServiceConfig())
}

// WithoutRetry is a Dial option turning automatic retries off: a call failing with
// UNAVAILABLE returns ErrUnavailable at once.
func WithoutRetry() grpc.DialOption { return grpc.WithDisableRetry() }

// DefaultDialOptions are the options Dial starts from: plaintext, a 64 MiB receive
// limit and DefaultRetryPolicy. Use them with grpc.NewClient and NewClient to build
// your own connection (options given later override them).
func DefaultDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(DefaultMaxRecvBytes)),
		WithRetry(DefaultRetryPolicy),
	}
}
