// Package validate checks the Kubernetes manifests in deploy/kubernetes without a
// cluster: every YAML document is decoded strictly (unknown, duplicate and
// wrongly-cased fields fail, as the API server's strict field validation does) into
// the official API types, the properties the deployment relies on are asserted, and
// the memd configuration the manifests carry is checked by memd itself.
//
// Run it with `make deploy-test` at the repository root, or `go test ./...` here
// (MEMD_TEST_PYTHON: the Python with memd installed; default the repository's .venv).
package validate
