package memd

// IsLocalURIForTest exposes isLocalURI to the external tests.
var IsLocalURIForTest = isLocalURI
