package memd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// WithToken is a Dial option sending token as "authorization: Bearer <token>" on every
// call of the connection, Raw() calls included (a daemon with --auth required refuses
// calls without one: ErrUnauthenticated).
//
// Over TLS (WithTLS) the token goes anywhere; over a plaintext connection only to a
// loopback address or a Unix socket (a sidecar on the same host): a call to any other
// plaintext target fails with ErrUnauthenticated before the token leaves the process.
func WithToken(token string) grpc.DialOption {
	return grpc.WithPerRPCCredentials(bearer(token))
}

// bearer is the token as gRPC per-RPC credentials. RequireTransportSecurity is false
// so that grpc-go lets it ride on an insecure loopback connection; GetRequestMetadata
// then checks itself that a connection without privacy goes to a local peer.
type bearer string

func (b bearer) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	ri, _ := credentials.RequestInfoFromContext(ctx)
	if credentials.CheckSecurityLevel(ri.AuthInfo, credentials.PrivacyAndIntegrity) != nil {
		if len(uri) == 0 || !isLocalURI(uri[0]) {
			return nil, fmt.Errorf("memd: not sending the token in the clear to %v: use WithTLS", uri)
		}
	}
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// isLocalURI reports whether the request URI grpc-go passes to per-RPC credentials
// ("https://AUTHORITY/SERVICE") names a loopback host. A Unix-socket target's authority
// is "localhost".
func isLocalURI(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// TLSFiles names the PEM files of a TLS connection to memd; see LoadTLS.
type TLSFiles struct {
	// CA holds the certificates the server's must chain to; "": the system's roots.
	CA string
	// Cert and Key are this client's certificate and key, for a daemon that requires
	// client certificates (--tls-client-ca); both or neither.
	Cert, Key string
}

// LoadTLS reads f into a *tls.Config for WithTLS (TLS 1.2 or newer). Set the result's
// ServerName to check the server's certificate for a name other than the target's host.
func LoadTLS(f TLSFiles) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("memd: TLS CA: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("memd: TLS CA %s: no PEM certificate", f.CA)
		}
	}
	if (f.Cert == "") != (f.Key == "") {
		return nil, fmt.Errorf("memd: TLS client certificate and key go together (got cert %q, key %q)", f.Cert, f.Key)
	}
	if f.Cert != "" {
		pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("memd: TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// WithTLS is a Dial option connecting over TLS with cfg (from LoadTLS, or your own;
// nil: the system's roots) instead of plaintext.
func WithTLS(cfg *tls.Config) grpc.DialOption {
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(cfg))
}
